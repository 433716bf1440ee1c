//! Starting the service: connect, migrate, bind the listeners, spawn every task; and waiting
//! for the tasks to stop.

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
use certitude_proto::credential::v1::credential_service_server::CredentialServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::entrust_api::EntrustAccess;
use crate::grpc::CredentialApi;
use crate::order_manager::{GrpcOrderCounter, OrderCounter};
use crate::state::Deps;
use crate::sync::{SyncLauncher, run_schedule};

/// The service's own migrations, applied after the platform's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name of the service in events and logs, and its Postgres application name and NATS
/// connection name.
pub const SERVICE_NAME: &str = "credential-sync";

/// A started service: its bound addresses and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Address the gRPC server listens on.
    pub grpc_addr: SocketAddr,
    /// Address of the /healthz and /readyz server.
    pub http_addr: SocketAddr,
    tasks: ServiceTasks,
}

impl RunningService {
    /// Waits until every task has stopped and returns the first failure. A task that fails
    /// triggers the shutdown, so the others stop too instead of running on without it.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.tasks.wait().await?;
        Ok(())
    }
}

/// Starts the service and returns at once, counting a credential's orders with order-manager
/// at `CERTITUDE_ORDER_MANAGER_URL` (connected on first use).
///
/// Connects to Postgres and NATS, applies the migrations unless disabled, and binds the gRPC
/// and HTTP listeners. Port 0 picks a free port, and the bound addresses are returned. Then it
/// spawns the gRPC server, the health server, the outbox relay and the sync schedule. Every
/// task stops when `shutdown` fires, and [`RunningService::wait`] joins them.
///
/// Fails when a master key, Postgres, NATS, a listener or the order-manager URL is missing or
/// unusable.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let channel = connect_lazy(&config.order_manager_url, config.service_call_timeout)
        .context("CERTITUDE_ORDER_MANAGER_URL is not a usable gRPC endpoint")?;
    let orders = GrpcOrderCounter::new(channel, config.order_manager_url.clone());
    start_with_orders(config, clock, shutdown, Arc::new(orders)).await
}

/// Starts the service as [`start`] does, with `orders` counting the orders that use a
/// credential before its deletion, such as an in-process stand-in for order-manager.
pub async fn start_with_orders(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
    orders: Arc<dyn OrderCounter>,
) -> anyhow::Result<RunningService> {
    let keyring = config.common.keyring()?;
    let Backends {
        pool,
        nats,
        jetstream,
        events,
    } = Backends::connect(&config.common, SERVICE_NAME, &MIGRATOR).await?;

    let grpc_listener = service::bind(config.common.grpc_listen, "CERTITUDE_GRPC_LISTEN").await?;
    let http_listener = service::bind(config.common.http_listen, "CERTITUDE_HTTP_LISTEN").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let deps = Deps {
        pool: pool.clone(),
        keyring,
        outbox: Outbox::new(SERVICE_NAME, &events, clock.clone()),
        clock: clock.clone(),
        entrust: EntrustAccess::new(config.entrust_timeout, config.entrust_allow_loopback_http)
            .with_verify_timeout(config.entrust_verify_timeout)
            .with_allowed_hosts(&config.entrust_allowed_hosts),
    };
    let syncs = SyncLauncher::new(deps.clone(), shutdown.token());
    let api = CredentialApi::new(deps, syncs.clone(), orders);
    let readiness = service::readiness(pool.clone(), nats);
    let gauge_pool = pool.clone();
    let gauge_clock = clock.clone();
    let relay = Relay::new(pool, jetstream, clock, &events, RelaySettings::default());

    // A failing task triggers `shutdown` itself, so it stops everything that shares it, not
    // this service alone as a child shutdown would.
    let mut tasks = ServiceTasks::new(shutdown.clone());
    let grpc_shutdown = shutdown.cancelled();
    tasks.spawn("grpc-server", async move {
        let server = GrpcServer::new().add_service(CredentialServiceServer::new(api));
        server.serve(grpc_listener, grpc_shutdown).await?;
        Ok(())
    });
    let health_shutdown = shutdown.cancelled();
    tasks.spawn("health-server", async move {
        health::serve(http_listener, readiness, health_shutdown).await?;
        Ok(())
    });
    let gauge_stop = shutdown.token();
    tasks.spawn("database-gauges", async move {
        let gauges = metrics::outbox_gauges();
        metrics::run_database_gauges(gauge_pool, gauge_clock, SERVICE_NAME, gauges, gauge_stop)
            .await;
        Ok(())
    });
    let relay_shutdown = shutdown.token();
    tasks.spawn("outbox-relay", async move {
        relay.run(relay_shutdown).await;
        Ok(())
    });
    let schedule = run_schedule(
        syncs.clone(),
        config.catalog_sync_interval,
        shutdown.token(),
    );
    tasks.spawn("sync-schedule", async move {
        schedule.await;
        Ok(())
    });
    let runs_shutdown = shutdown.cancelled();
    tasks.spawn("sync-runs", async move {
        runs_shutdown.await;
        syncs.wait().await;
        Ok(())
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
    })
}
