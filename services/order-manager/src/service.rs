//! Starting order-manager: Postgres, NATS, the gRPC and health servers, the outbox relay, the
//! poller, and the tasks that run imports.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::config::CommonConfig;
use certitude_platform::db::{self, DbSettings};
use certitude_platform::events::{self, EventsSettings};
use certitude_platform::grpc::{GrpcServer, connect_lazy};
use certitude_platform::health::{self, NatsCheck, PostgresCheck, Readiness};
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::shutdown::Shutdown;
use certitude_proto::order::v1::order_service_server::OrderServiceServer;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::{Core, Settings};
use crate::grpc::OrderApi;
use crate::import::Importer;
use crate::poller;
use crate::sources::{CredentialSource, GrpcCredentialSource, GrpcKeySource, KeySource};
use crate::store::MIGRATIONS;

/// Name the service gives itself in event envelopes.
pub const SERVICE_NAME: &str = "order-manager";

/// How long one readiness check of Postgres or NATS may take.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The services order-manager depends on, as [`start_with_sources`] takes them.
#[derive(Debug, Clone)]
pub struct Sources {
    pub credentials: Arc<dyn CredentialSource>,
    pub keys: Arc<dyn KeySource>,
}

/// Starts the service with the gRPC sources: credential-sync at
/// `CERTITUDE_CREDENTIAL_SYNC_URL` and inventory at `CERTITUDE_INVENTORY_URL`, both connected
/// lazily. See [`start_with_sources`] for the rest.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let timeout = config.service_call_timeout;
    let credential_sync = connect_lazy(&config.credential_sync_url, timeout)
        .context("CERTITUDE_CREDENTIAL_SYNC_URL is not a usable gRPC endpoint")?;
    let inventory = connect_lazy(&config.inventory_url, timeout)
        .context("CERTITUDE_INVENTORY_URL is not a usable gRPC endpoint")?;
    let sources = Sources {
        credentials: Arc::new(GrpcCredentialSource::new(
            credential_sync,
            config.entrust_timeout,
            config.credential_cache_ttl,
        )),
        keys: Arc::new(GrpcKeySource::new(inventory)),
    };
    start_with_sources(config, clock, shutdown, sources).await
}

/// Connects to Postgres and NATS, applies the migrations (unless `CERTITUDE_RUN_MIGRATIONS` is
/// false) and creates the event streams when missing. Then binds the gRPC and HTTP listeners
/// (port 0 picks a free port, and the bound addresses are returned), spawns every task (gRPC
/// server, health server, outbox relay, poller) and returns at once.
///
/// Every task stops when `shutdown` fires; a task that fails stops the others of this service.
/// [`RunningService::wait`] joins them, and the imports still running.
///
/// # Errors
/// Fails when Postgres, NATS or a listener address cannot be used.
pub async fn start_with_sources(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
    sources: Sources,
) -> anyhow::Result<RunningService> {
    let common = &config.common;
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
    let core = Core {
        pool: pool.clone(),
        clock: clock.clone(),
        outbox: Outbox::new(SERVICE_NAME, &events, clock.clone()),
        credentials: sources.credentials,
        keys: sources.keys,
        settings: Settings::from_config(&config),
    };
    let imports = TaskTracker::new();
    let importer = Importer::new(core.clone(), imports.clone(), stop.token());

    let grpc = GrpcServer::new().add_service(OrderServiceServer::new(OrderApi::new(
        core.clone(),
        importer,
    )));
    let grpc_stop = stop.cancelled();
    tasks.spawn("grpc-server", async move {
        grpc.serve(grpc_listener, grpc_stop).await?;
        Ok(())
    });

    let readiness = Readiness::new(
        vec![
            Box::new(PostgresCheck::new(pool.clone())),
            Box::new(NatsCheck::new(nats)),
        ],
        READINESS_TIMEOUT,
    );
    let health_stop = stop.cancelled();
    tasks.spawn("health-server", async move {
        health::serve(http_listener, readiness, health_stop).await?;
        Ok(())
    });

    let relay = Relay::new(pool, jetstream, clock, &events, RelaySettings::default());
    let relay_stop = stop.token();
    tasks.spawn("outbox-relay", async move {
        relay.run(relay_stop).await;
        Ok(())
    });

    let poller_stop = stop.token();
    tasks.spawn("order-poller", async move {
        poller::run(core, poller_stop).await;
        Ok(())
    });

    tracing::info!(grpc.address = %grpc_addr, http.address = %http_addr, "order-manager started");
    Ok(RunningService {
        grpc_addr,
        http_addr,
        tasks: tasks.handles,
        imports,
    })
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
        db::migrate(&pool, &MIGRATIONS)
            .await
            .with_context(|| format!("migrating schema {} failed", common.db_schema))?;
    }
    Ok(pool)
}

/// Returns the configured stream, subject prefix and dead-letter stream; dead letters go to
/// subjects under `<prefix>_dlq`.
fn events_settings(common: &CommonConfig) -> EventsSettings {
    let mut events =
        EventsSettings::new(common.event_stream.as_str(), common.subject_prefix.as_str());
    events.dead_letter_stream = common.dead_letter_stream.as_str().to_owned();
    events
}

async fn bind(address: SocketAddr, variable: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} (from {variable}) failed"))
}

/// A started service: the addresses it listens on and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Bound address of the gRPC server.
    pub grpc_addr: SocketAddr,
    /// Bound address of the HTTP server for `/healthz` and `/readyz`.
    pub http_addr: SocketAddr,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    imports: TaskTracker,
}

impl RunningService {
    /// Waits until every task and running import has stopped (after the shutdown fires, or
    /// after one task failed and stopped the others) and returns the first failure.
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut first_error = None;
        for (name, handle) in self.tasks {
            let result = match handle.await {
                Ok(result) => result,
                Err(join_error) => {
                    Err(anyhow::Error::new(join_error).context(format!("task {name} panicked")))
                }
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        self.imports.close();
        self.imports.wait().await;
        first_error.map_or(Ok(()), Err)
    }
}

/// The tasks spawned so far, and the shutdown a failing task triggers.
struct Tasks {
    stop: Shutdown,
    handles: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Tasks {
    fn new(stop: Shutdown) -> Self {
        Self {
            stop,
            handles: Vec::new(),
        }
    }

    /// Spawns `task`; when it fails, the failure is logged once and the service stops.
    fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = self.stop.clone();
        let handle = tokio::spawn(async move {
            let result = task.await;
            if let Err(error) = &result {
                tracing::error!(
                    task = name,
                    error = format!("{error:#}"),
                    "service task failed; stopping the service"
                );
                stop.trigger();
            }
            result.map_err(|error| error.context(format!("task {name} failed")))
        });
        self.handles.push((name, handle));
    }
}
