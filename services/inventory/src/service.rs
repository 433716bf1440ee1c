//! Starting the inventory: the database, NATS, the gRPC and health servers, the outbox relay
//! and the CertificateIssued consumer.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::config::CommonConfig;
use certitude_platform::consumer::{ConsumerSettings, run_consumer};
use certitude_platform::db::{self, DbSettings};
use certitude_platform::events::{self, Event, EventsSettings};
use certitude_platform::grpc::GrpcServer;
use certitude_platform::health::{self, NatsCheck, PostgresCheck, Readiness};
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::shutdown::Shutdown;
use certitude_proto::events::v1::CertificateIssued;
use certitude_proto::inventory::v1::inventory_service_server::InventoryServiceServer;
use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::grpc::InventoryApi;
use crate::ingest::{self, CertificateIssuedHandler};
use crate::key_service::KeyService;
use crate::tasks::{RunningService, Tasks};

/// The inventory's own migrations, applied after the platform's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name the inventory gives itself in event envelopes and in Postgres' `application_name`.
pub const SERVICE_NAME: &str = "inventory";

/// How long one readiness check of Postgres or NATS may take.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the service and returns at once, with every task spawned.
///
/// It connects to Postgres and NATS, applies the migrations unless `CERTITUDE_RUN_MIGRATIONS`
/// is false, and creates the event streams when they are missing. Then it binds the gRPC and
/// HTTP listeners; with port 0 the system picks a free port, and the bound addresses are
/// returned. Every task stops when `shutdown` fires. A task that fails stops the other tasks of
/// this service only, and [`RunningService::wait`] joins them.
///
/// # Errors
/// Fails when no master key is configured, or Postgres, NATS or a listener address cannot be
/// used.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let common = &config.common;
    let keyring = common
        .keyring()
        .context("the inventory seals private keys and needs a master key")?;
    let pool = connect_database(common).await?;
    let nats = async_nats::connect(common.nats_url.expose_secret())
        .await
        .with_context(|| format!("connecting to NATS at {} failed", common.nats_url))?;
    let jetstream = jetstream::new(nats.clone());
    let events = events_settings(common);
    events::ensure_streams(&jetstream, &events)
        .await
        .context("creating the event streams failed")?;

    let grpc_listener = bind(common.grpc_listen, "CERTITUDE_GRPC_LISTEN").await?;
    let http_listener = bind(common.http_listen, "CERTITUDE_HTTP_LISTEN").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let stop = shutdown.child();
    let mut tasks = Tasks::new(stop.clone());

    let keys = KeyService::new(pool.clone(), keyring, clock.clone(), config.keygen_slots());
    let api = InventoryApi::new(keys, pool.clone(), clock.clone());
    let grpc = GrpcServer::new().add_service(InventoryServiceServer::new(api));
    let grpc_stop = stop.cancelled();
    tasks.spawn("grpc-server", async move {
        grpc.serve(grpc_listener, grpc_stop).await?;
        Ok(())
    });

    let readiness = Readiness::new(
        vec![
            Box::new(PostgresCheck::new(pool.clone())),
            Box::new(NatsCheck::new(nats.clone())),
        ],
        READINESS_TIMEOUT,
    );
    let health_stop = stop.cancelled();
    tasks.spawn("health-server", async move {
        health::serve(http_listener, readiness, health_stop).await?;
        Ok(())
    });

    let relay = Relay::new(
        pool.clone(),
        jetstream.clone(),
        clock.clone(),
        &events,
        RelaySettings::default(),
    );
    let relay_stop = stop.token();
    tasks.spawn("outbox-relay", async move {
        relay.run(relay_stop).await;
        Ok(())
    });

    let outbox = Outbox::new(SERVICE_NAME, &events, clock.clone());
    let consumer = ConsumerSettings::new(
        &events,
        ingest::DURABLE_NAME,
        CertificateIssued::TYPE.subject(&events.subject_prefix),
    );
    let handler = CertificateIssuedHandler::new(outbox, clock.clone());
    let consumer_stop = stop.token();
    tasks.spawn("certificate-issued-consumer", async move {
        run_consumer(jetstream, pool, clock, consumer, handler, consumer_stop).await?;
        Ok(())
    });

    tracing::info!(grpc.address = %grpc_addr, http.address = %http_addr, "inventory started");
    Ok(RunningService::new(grpc_addr, http_addr, tasks))
}

async fn connect_database(common: &CommonConfig) -> anyhow::Result<PgPool> {
    let mut settings = DbSettings::new(
        SecretString::from(common.database_url.expose_secret()),
        common.db_schema.as_str(),
    );
    settings.max_connections = common.db_max_connections;
    settings.application_name = Some(format!("certitude-{SERVICE_NAME}"));
    let pool = db::connect(&settings)
        .await
        .with_context(|| format!("connecting to Postgres at {} failed", common.database_url))?;
    if common.run_migrations {
        db::migrate(&pool, &MIGRATOR)
            .await
            .with_context(|| format!("migrating schema {} failed", common.db_schema))?;
    }
    Ok(pool)
}

/// Returns the stream settings: the configured stream, subject prefix and dead-letter stream;
/// dead letters go to subjects under `<prefix>_dlq`.
fn events_settings(common: &CommonConfig) -> EventsSettings {
    let mut events =
        EventsSettings::new(common.event_stream.as_str(), common.subject_prefix.as_str());
    events.dead_letter_stream = common.dead_letter_stream.as_str().to_owned();
    events
}

async fn bind(address: std::net::SocketAddr, variable: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} (from {variable}) failed"))
}
