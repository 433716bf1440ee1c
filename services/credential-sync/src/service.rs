//! Starting the service: connect, migrate, bind the listeners, spawn every task; and waiting
//! for the tasks to stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::db::{self, DbSettings};
use certitude_platform::events::{self, EventsSettings};
use certitude_platform::grpc::GrpcServer;
use certitude_platform::health::{self, NatsCheck, PostgresCheck, Readiness};
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::shutdown::Shutdown;
use certitude_proto::credential::v1::credential_service_server::CredentialServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::entrust_api::EntrustAccess;
use crate::grpc::CredentialApi;
use crate::state::Deps;
use crate::sync::{SyncLauncher, run_schedule};

/// The service's own migrations, applied after the platform's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name of the service in events, logs and the Postgres application name.
pub const SERVICE_NAME: &str = "credential-sync";

/// Limit of each readiness check.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

type TaskResult = (&'static str, anyhow::Result<()>);

/// A started service: its bound addresses and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Address the gRPC server listens on.
    pub grpc_addr: SocketAddr,
    /// Address of the /healthz and /readyz server.
    pub http_addr: SocketAddr,
    tasks: JoinSet<TaskResult>,
    shutdown: Shutdown,
}

impl RunningService {
    /// Waits until every task has stopped and returns the first failure. A task that fails
    /// triggers the shutdown, so the others stop too instead of running on without it.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let (task, result) = match joined {
                Ok(outcome) => outcome,
                Err(error) => ("a task", Err(anyhow::Error::new(error))),
            };
            if let Err(error) = result {
                tracing::error!(error = ?error, "{task} of {SERVICE_NAME} failed; stopping");
                self.shutdown.trigger();
                first_error.get_or_insert(error.context(format!("{task} failed")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Starts the service and returns at once.
///
/// Connects to Postgres and NATS, applies the migrations unless disabled, and binds the gRPC
/// and HTTP listeners. Port 0 picks a free port, and the bound addresses are returned. Then it
/// spawns the gRPC server, the health server, the outbox relay and the sync schedule. Every
/// task stops when `shutdown` fires, and [`RunningService::wait`] joins them.
///
/// Fails when a master key, Postgres, NATS or a listener is missing or unusable.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let keyring = config.common.keyring()?;
    let pool = connect_database(&config).await?;
    let nats = connect_nats(&config).await?;
    let jetstream = jetstream::new(nats.clone());
    let events = events_settings(&config);
    events::ensure_streams(&jetstream, &events)
        .await
        .context("failed to create or update the event streams")?;

    let grpc_listener = bind(config.common.grpc_listen, "gRPC").await?;
    let http_listener = bind(config.common.http_listen, "HTTP").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let deps = Deps {
        pool: pool.clone(),
        keyring,
        outbox: Outbox::new(SERVICE_NAME, &events, clock.clone()),
        clock: clock.clone(),
        entrust: EntrustAccess::new(config.entrust_timeout, config.entrust_allow_loopback_http),
    };
    let syncs = SyncLauncher::new(deps.clone(), shutdown.token());
    let api = CredentialApi::new(deps, syncs.clone());
    let readiness = Readiness::new(
        vec![
            Box::new(PostgresCheck::new(pool.clone())),
            Box::new(NatsCheck::new(nats)),
        ],
        READINESS_TIMEOUT,
    );
    let relay = Relay::new(pool, jetstream, clock, &events, RelaySettings::default());

    let mut tasks = JoinSet::new();
    let grpc_shutdown = shutdown.cancelled();
    tasks.spawn(async move {
        let server = GrpcServer::new().add_service(CredentialServiceServer::new(api));
        let result = server.serve(grpc_listener, grpc_shutdown).await;
        ("the gRPC server", result.map_err(anyhow::Error::new))
    });
    let health_shutdown = shutdown.cancelled();
    tasks.spawn(async move {
        let result = health::serve(http_listener, readiness, health_shutdown).await;
        ("the health server", result.map_err(anyhow::Error::new))
    });
    let relay_shutdown = shutdown.token();
    tasks.spawn(async move {
        relay.run(relay_shutdown).await;
        ("the outbox relay", Ok(()))
    });
    let schedule = run_schedule(
        syncs.clone(),
        config.catalog_sync_interval,
        shutdown.token(),
    );
    tasks.spawn(async move {
        schedule.await;
        ("the sync schedule", Ok(()))
    });
    let runs_shutdown = shutdown.cancelled();
    tasks.spawn(async move {
        runs_shutdown.await;
        syncs.wait().await;
        ("the sync runs", Ok(()))
    });

    tracing::info!(
        grpc.address = %grpc_addr,
        http.address = %http_addr,
        "{SERVICE_NAME} started"
    );
    Ok(RunningService {
        grpc_addr,
        http_addr,
        tasks,
        shutdown,
    })
}

async fn connect_database(config: &Config) -> anyhow::Result<PgPool> {
    let common = &config.common;
    let mut settings = DbSettings::new(
        common.database_url.expose_secret().to_owned().into(),
        common.db_schema.as_str(),
    );
    settings.max_connections = common.db_max_connections;
    settings.application_name = Some(SERVICE_NAME.to_owned());
    let pool = db::connect(&settings).await.with_context(|| {
        format!(
            "failed to connect to Postgres at {} (schema {})",
            common.database_url, common.db_schema
        )
    })?;
    if common.run_migrations {
        db::migrate(&pool, &MIGRATOR)
            .await
            .with_context(|| format!("failed to migrate schema {}", common.db_schema))?;
    }
    Ok(pool)
}

async fn connect_nats(config: &Config) -> anyhow::Result<async_nats::Client> {
    let url = &config.common.nats_url;
    async_nats::ConnectOptions::new()
        .name(SERVICE_NAME)
        .connect(url.expose_secret())
        .await
        .with_context(|| format!("failed to connect to NATS at {url}"))
}

fn events_settings(config: &Config) -> EventsSettings {
    let common = &config.common;
    EventsSettings {
        dead_letter_stream: common.dead_letter_stream.as_str().to_owned(),
        ..EventsSettings::new(common.event_stream.as_str(), common.subject_prefix.as_str())
    }
}

async fn bind(address: SocketAddr, kind: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to bind the {kind} listener to {address}"))
}
