//! Starting the inventory: the database, NATS, the gRPC and health servers, the outbox relay
//! and the CertificateIssued and OrderStatusChanged consumers.

use std::net::SocketAddr;

use anyhow::Context;
use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{ConsumerSettings, run_consumer};
use certitude_platform::events::Event;
use certitude_platform::grpc::GrpcServer;
use certitude_platform::health;
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::service::{self, Backends, ServiceTasks};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry::metrics;
use certitude_proto::events::v1::{CertificateIssued, OrderStatusChanged};
use certitude_proto::inventory::v1::inventory_service_server::InventoryServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::deployments::Deployments;
use crate::grpc::InventoryApi;
use crate::ingest::{self, CertificateIssuedHandler};
use crate::key_service::KeyService;
use crate::lifecycle::Lifecycle;
use crate::order_status::{self, OrderStatusChangedHandler};

/// The inventory's own migrations, applied after the platform's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name the inventory gives itself in event envelopes; `certitude-inventory` is its Postgres
/// `application_name` and NATS connection name.
pub const SERVICE_NAME: &str = "inventory";

/// A started service: the addresses it listens on and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Bound address of the gRPC server.
    pub grpc_addr: SocketAddr,
    /// Bound address of the HTTP server for `/healthz` and `/readyz`.
    pub http_addr: SocketAddr,
    tasks: ServiceTasks,
}

impl RunningService {
    /// Waits until every task has stopped (after the shutdown fires, or after one task failed
    /// and stopped the others) and returns the first failure.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.tasks.wait().await?;
        Ok(())
    }
}

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
    let application_name = format!("certitude-{SERVICE_NAME}");
    let Backends {
        pool,
        nats,
        jetstream,
        events,
    } = Backends::connect(common, &application_name, &MIGRATOR).await?;

    let grpc_listener = service::bind(common.grpc_listen, "CERTITUDE_GRPC_LISTEN").await?;
    let http_listener = service::bind(common.http_listen, "CERTITUDE_HTTP_LISTEN").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let stop = shutdown.child();
    let mut tasks = ServiceTasks::new(stop.clone());

    let outbox = Outbox::new(SERVICE_NAME, &events, clock.clone());
    let lifecycle = Lifecycle::new(outbox.clone());
    let keys = KeyService::new(pool.clone(), keyring, clock.clone(), config.keygen_slots());
    let api = InventoryApi::new(
        keys,
        pool.clone(),
        clock.clone(),
        lifecycle.clone(),
        Deployments::new(outbox),
    );
    // ImportCertificateFiles carries up to 64 MiB of files, more than tonic's 4 MiB default.
    let inventory = InventoryServiceServer::new(api)
        .max_decoding_message_size(crate::grpc::MAX_IMPORT_REQUEST_BYTES);
    let grpc = GrpcServer::new().add_service(inventory);
    let grpc_stop = stop.cancelled();
    tasks.spawn("grpc-server", async move {
        grpc.serve(grpc_listener, grpc_stop).await?;
        Ok(())
    });

    let readiness = service::readiness(pool.clone(), nats);
    let health_stop = stop.cancelled();
    tasks.spawn("health-server", async move {
        health::serve(http_listener, readiness, health_stop).await?;
        Ok(())
    });

    let gauge_pool = pool.clone();
    let gauge_clock = clock.clone();
    let gauge_stop = stop.token();
    tasks.spawn("database-gauges", async move {
        let gauges = crate::gauges::all();
        metrics::run_database_gauges(gauge_pool, gauge_clock, SERVICE_NAME, gauges, gauge_stop)
            .await;
        Ok(())
    });
    let lag = metrics::run_consumer_lag(
        jetstream.clone(),
        events.stream.clone(),
        vec![
            crate::ingest::DURABLE_NAME,
            crate::order_status::DURABLE_NAME,
        ],
        stop.token(),
    );
    tasks.spawn("consumer-lag", async move {
        lag.await;
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

    // Two pulls at once: one checks certificates while the other's transaction runs, which
    // keeps up with a large import.
    let consumer = ConsumerSettings {
        concurrency: 2,
        ..ConsumerSettings::new(
            &events,
            ingest::DURABLE_NAME,
            CertificateIssued::TYPE.subject(&events.subject_prefix),
        )
    };
    let handler = CertificateIssuedHandler::new(lifecycle, clock.clone());
    let issued_consumer = run_consumer(
        jetstream.clone(),
        pool.clone(),
        clock.clone(),
        consumer,
        handler,
        stop.token(),
    );
    tasks.spawn("certificate-issued-consumer", async move {
        issued_consumer.await?;
        Ok(())
    });

    let consumer = ConsumerSettings::new(
        &events,
        order_status::DURABLE_NAME,
        OrderStatusChanged::TYPE.subject(&events.subject_prefix),
    );
    let handler = OrderStatusChangedHandler::new(clock.clone());
    let status_consumer = run_consumer(jetstream, pool, clock, consumer, handler, stop.token());
    tasks.spawn("order-status-changed-consumer", async move {
        status_consumer.await?;
        Ok(())
    });

    tracing::info!(grpc.address = %grpc_addr, http.address = %http_addr, "inventory started");
    Ok(RunningService {
        grpc_addr,
        http_addr,
        tasks,
    })
}
