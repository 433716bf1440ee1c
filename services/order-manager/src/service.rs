//! Starting order-manager: Postgres, NATS, the gRPC and health servers, the outbox relay, the
//! poller, the portal reconcile, the event consumers, and the tasks that run imports.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use certitude_platform::clock::SharedClock;
use certitude_platform::grpc::{GrpcServer, connect_lazy};
use certitude_platform::health;
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::service::{self, Backends, ServiceTasks};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry::metrics;
use certitude_proto::order::v1::order_service_server::OrderServiceServer;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::{Core, Settings};
use crate::credential_cache::CacheConsumers;
use crate::grpc::OrderApi;
use crate::import::Importer;
use crate::sources::{CredentialSource, GrpcCredentialSource, GrpcKeySource, KeySource};
use crate::store::MIGRATIONS;
use crate::{inventory_events, poller, portal_reconcile, renewal_policies};

/// Name the service gives itself in event envelopes; `certitude-order-manager` is its Postgres
/// `application_name` and NATS connection name.
pub const SERVICE_NAME: &str = "order-manager";

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
/// (port 0 picks a free port, and the bound addresses are returned). It spawns every task and
/// returns at once: the gRPC server, the health server, the outbox relay, the poller, the
/// portal reconcile, and the event consumers. The consumers of CredentialUpdated and
/// CredentialRemoved drop cached credentials. The consumers of CertificateAddedToInventory and
/// CertificateRejected record whether each order's certificate is in the inventory.
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
    let application_name = format!("certitude-{SERVICE_NAME}");
    let Backends {
        pool,
        nats,
        jetstream,
        events,
    } = Backends::connect(common, &application_name, &MIGRATIONS).await?;

    let grpc_listener = service::bind(common.grpc_listen, "CERTITUDE_GRPC_LISTEN").await?;
    let http_listener = service::bind(common.http_listen, "CERTITUDE_HTTP_LISTEN").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let stop = shutdown.child();
    let mut tasks = ServiceTasks::new(stop.clone());
    let core = Core {
        pool: pool.clone(),
        clock: clock.clone(),
        outbox: Outbox::new(SERVICE_NAME, &events, clock.clone()),
        credentials: Arc::clone(&sources.credentials),
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

    let readiness = service::readiness(pool.clone(), nats);
    let health_stop = stop.cancelled();
    tasks.spawn("health-server", async move {
        health::serve(http_listener, readiness, health_stop).await?;
        Ok(())
    });

    let cache_consumers = CacheConsumers::create(&jetstream, &events, sources.credentials).await?;
    cache_consumers.spawn(&mut tasks, &stop);

    inventory_events::spawn_consumers(&mut tasks, &stop, &jetstream, &pool, &clock, &events);
    renewal_policies::spawn_consumer(&mut tasks, &stop, &jetstream, &pool, &clock, &events);

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
            crate::inventory_events::ADDED_DURABLE_NAME,
            crate::inventory_events::REJECTED_DURABLE_NAME,
            crate::renewal_policies::DURABLE_NAME,
        ],
        stop.token(),
    );
    tasks.spawn("consumer-lag", async move {
        lag.await;
        Ok(())
    });
    let relay = Relay::new(pool, jetstream, clock, &events, RelaySettings::default());
    let relay_stop = stop.token();
    tasks.spawn("outbox-relay", async move {
        relay.run(relay_stop).await;
        Ok(())
    });

    let reconcile_core = core.clone();
    let reconcile_stop = stop.token();
    tasks.spawn("portal-reconcile", async move {
        portal_reconcile::run(reconcile_core, reconcile_stop).await;
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
        tasks,
        imports,
    })
}

/// A started service: the addresses it listens on and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Bound address of the gRPC server.
    pub grpc_addr: SocketAddr,
    /// Bound address of the HTTP server for `/healthz` and `/readyz`.
    pub http_addr: SocketAddr,
    tasks: ServiceTasks,
    imports: TaskTracker,
}

impl RunningService {
    /// Waits until every task and running import has stopped (after the shutdown fires, or
    /// after one task failed and stopped the others) and returns the first failure.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.tasks.wait().await;
        self.imports.close();
        self.imports.wait().await;
        Ok(result?)
    }
}
