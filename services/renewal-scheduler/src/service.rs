//! Starting the renewal scheduler: the database, NATS, the gRPC and health servers, the
//! CertificateIssued, CertificateRevoked, OrderStatusChanged and OrderDeleted consumers, the
//! outbox relay and the renewal loop.

use std::net::SocketAddr;

use anyhow::Context;
use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{ConsumerSettings, EventHandler, run_consumer};
use certitude_platform::events::{Event, EventsSettings};
use certitude_platform::grpc::{GrpcServer, connect_lazy};
use certitude_platform::health;
use certitude_platform::outbox::{Outbox, Relay, RelaySettings};
use certitude_platform::service::{self, Backends, ServiceTasks};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry::metrics;
use certitude_proto::events::v1::{
    CertificateIssued, CertificateRevoked, OrderDeleted, OrderStatusChanged,
};
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::renewal::v1::renewal_service_server::RenewalServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::deletions::{self, OrderDeletionRecorder};
use crate::grpc::RenewalApi;
use crate::ingest::{self, ExpiryRecorder};
use crate::renewer::{Renewer, RenewerSettings};
use crate::revocations::{self, OrderRevocationRecorder, RevocationRecorder};
use crate::schedule_store::PlanSettings;

/// The scheduler's own migrations, applied after the platform's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Name of the scheduler; `certitude-renewal-scheduler` is its Postgres `application_name` and
/// NATS connection name.
pub const SERVICE_NAME: &str = "renewal-scheduler";

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
/// Fails when Postgres, NATS or a listener address cannot be used.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let common = &config.common;
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

    let orders = connect_lazy(&config.order_manager_url, config.service_call_timeout)
        .context("CERTITUDE_ORDER_MANAGER_URL is not a usable gRPC endpoint")?;
    let orders = OrderServiceClient::new(orders);
    let outbox = Outbox::new(SERVICE_NAME, &events, clock.clone());
    let plan = PlanSettings {
        jitter: config.jitter,
    };

    let api = RenewalApi::new(
        pool.clone(),
        clock.clone(),
        outbox.clone(),
        orders.clone(),
        plan,
    );
    let grpc = GrpcServer::new().add_service(RenewalServiceServer::new(api));
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

    let consumers = Consumers {
        jetstream: &jetstream,
        pool: &pool,
        clock: &clock,
        events: &events,
        stop: &stop,
    };
    let recorder = ExpiryRecorder::new(clock.clone(), config.warning_days.0.clone(), plan);
    consumers.spawn::<CertificateIssued, _>(
        &mut tasks,
        "certificate-issued-consumer",
        ingest::DURABLE_NAME,
        recorder,
    );
    consumers.spawn::<CertificateRevoked, _>(
        &mut tasks,
        "certificate-revoked-consumer",
        revocations::DURABLE_NAME,
        RevocationRecorder::new(clock.clone()),
    );
    consumers.spawn::<OrderStatusChanged, _>(
        &mut tasks,
        "order-status-changed-consumer",
        revocations::STATUS_DURABLE_NAME,
        OrderRevocationRecorder::new(clock.clone()),
    );
    consumers.spawn::<OrderDeleted, _>(
        &mut tasks,
        "order-deleted-consumer",
        deletions::DURABLE_NAME,
        OrderDeletionRecorder::new(clock.clone(), outbox.clone(), plan),
    );

    let gauge_pool = pool.clone();
    let gauge_clock = clock.clone();
    let gauge_stop = stop.token();
    tasks.spawn("database-gauges", async move {
        let gauges = metrics::outbox_gauges();
        metrics::run_database_gauges(gauge_pool, gauge_clock, SERVICE_NAME, gauges, gauge_stop)
            .await;
        Ok(())
    });
    let lag = metrics::run_consumer_lag(
        jetstream.clone(),
        events.stream.clone(),
        vec![
            ingest::DURABLE_NAME,
            revocations::DURABLE_NAME,
            revocations::STATUS_DURABLE_NAME,
            deletions::DURABLE_NAME,
        ],
        stop.token(),
    );
    tasks.spawn("consumer-lag", async move {
        lag.await;
        Ok(())
    });

    let relay = Relay::new(
        pool.clone(),
        jetstream,
        clock.clone(),
        &events,
        RelaySettings::default(),
    );
    let relay_stop = stop.token();
    tasks.spawn("outbox-relay", async move {
        relay.run(relay_stop).await;
        Ok(())
    });

    let settings = RenewerSettings {
        scan_interval: config.scan_interval,
        batch_size: config.batch_size,
        claim_lease: config.claim_lease,
        credential_concurrency: config.credential_concurrency,
        plan,
        retry_backoff: config.retry_backoff,
        retry_max_backoff: config.retry_max_backoff,
        warning_days: config.warning_days.0.clone(),
        fault_point: config.fault_point.clone(),
    };
    let renewer = Renewer::new(pool, clock, outbox, orders, settings);
    let renewer_stop = stop.token();
    tasks.spawn("renewal-loop", async move {
        renewer.run(renewer_stop).await;
        Ok(())
    });

    tracing::info!(
        grpc.address = %grpc_addr,
        http.address = %http_addr,
        "renewal scheduler started"
    );
    Ok(RunningService {
        grpc_addr,
        http_addr,
        tasks,
    })
}

/// The connections, clock, stream settings and shutdown that every durable consumer of the
/// scheduler uses.
struct Consumers<'a> {
    jetstream: &'a async_nats::jetstream::Context,
    pool: &'a sqlx::PgPool,
    clock: &'a SharedClock,
    events: &'a EventsSettings,
    stop: &'a Shutdown,
}

impl Consumers<'_> {
    /// Runs `handler` as the durable consumer `durable_name` of event `M`, as task `task`.
    fn spawn<M: Event, H: EventHandler>(
        &self,
        tasks: &mut ServiceTasks,
        task: &'static str,
        durable_name: &str,
        handler: H,
    ) {
        let settings = ConsumerSettings::new(
            self.events,
            durable_name,
            M::TYPE.subject(&self.events.subject_prefix),
        );
        let consumer = run_consumer(
            self.jetstream.clone(),
            self.pool.clone(),
            self.clock.clone(),
            settings,
            handler,
            self.stop.token(),
        );
        tasks.spawn(task, async move {
            consumer.await?;
            Ok(())
        });
    }
}
