//! The gateway: Certitude's REST API under `/v1`. It authenticates every request with a bearer
//! token, authorizes by role, validates input, and calls the services over gRPC. It holds no
//! certificate logic.

pub mod access;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod query_names;
pub mod routes;
pub mod tokens;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use certitude_platform::clock::SharedClock;
use certitude_platform::config::CommonConfig;
use certitude_platform::health;
use certitude_platform::service;
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry::{metrics, set_parent_from_headers};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::clients::ServiceClients;

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Default Postgres schema of the gateway's tables (tokens and the audit trail).
pub const DEFAULT_SCHEMA: &str = "gateway";

/// The gateway's Postgres `application_name` and NATS connection name.
const APPLICATION_NAME: &str = "certitude-gateway";

/// The gateway's settings.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gateway", about = "Certitude's REST API")]
#[command(mut_arg(
    CommonConfig::DB_SCHEMA_ARG,
    CommonConfig::schema_default(DEFAULT_SCHEMA)
))]
pub struct Config {
    #[command(flatten)]
    pub common: CommonConfig,

    /// Address and port of the REST API.
    #[arg(long, env = "CERTITUDE_API_LISTEN", default_value = "0.0.0.0:8000")]
    pub api_listen: SocketAddr,

    /// gRPC URL of credential-sync.
    #[arg(
        long,
        env = "CERTITUDE_CREDENTIAL_SYNC_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub credential_sync_url: String,

    /// gRPC URL of order-manager.
    #[arg(
        long,
        env = "CERTITUDE_ORDER_MANAGER_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub order_manager_url: String,

    /// gRPC URL of inventory.
    #[arg(
        long,
        env = "CERTITUDE_INVENTORY_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub inventory_url: String,

    /// gRPC URL of renewal-scheduler.
    #[arg(
        long,
        env = "CERTITUDE_RENEWAL_SCHEDULER_URL",
        default_value = clients::DEFAULT_RENEWAL_SCHEDULER_URL
    )]
    pub renewal_scheduler_url: String,

    /// Deadline of each call to a service, in seconds.
    #[arg(long, env = "CERTITUDE_SERVICE_TIMEOUT_SECS", default_value = "60")]
    pub service_timeout_secs: u64,

    /// How often the audit chain head is logged at info level, to be kept outside the
    /// database as an anchor for `certitude verify-audit --expected-head`, such as 1m or 30s.
    #[arg(long, env = "CERTITUDE_AUDIT_HEAD_LOG_INTERVAL", default_value = "1m",
        value_parser = certitude_platform::config::positive_duration)]
    pub audit_head_log_interval: Duration,

    /// Requests per second each API token may send to this replica (0 turns the limit off).
    /// Each replica counts on its own: with N replicas behind a balancer a token may send up
    /// to N times this rate.
    #[arg(long, env = "CERTITUDE_API_RATE_LIMIT", default_value_t = limits::DEFAULT_RATE_PER_SECOND)]
    pub api_rate_limit: u32,

    /// Requests a token may send at once, above its rate, before it gets 429.
    #[arg(long, env = "CERTITUDE_API_RATE_BURST", default_value_t = limits::DEFAULT_BURST)]
    pub api_rate_burst: u32,

    /// Maximum time a request may take before the gateway returns 504, such as 90s or 2m.
    /// Keep it above CERTITUDE_SERVICE_TIMEOUT_SECS so a service's own error comes first.
    #[arg(long, env = "CERTITUDE_API_REQUEST_TIMEOUT", default_value = "90s",
        value_parser = certitude_platform::config::positive_duration)]
    pub api_request_timeout: Duration,

    /// Admin token stored (hashed) at start, so a new installation can create other tokens.
    #[arg(long, env = "CERTITUDE_BOOTSTRAP_ADMIN_TOKEN", hide_env_values = true,
        value_parser = parse_secret)]
    pub bootstrap_admin_token: Option<SecretString>,
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    if value.len() < 16 {
        return Err("must be at least 16 characters long".to_owned());
    }
    Ok(SecretString::from(value))
}

/// State shared by every request handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub clients: ServiceClients,
    pub clock: SharedClock,
}

/// A started gateway.
#[derive(Debug)]
pub struct RunningService {
    pub api_addr: SocketAddr,
    pub http_addr: SocketAddr,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl RunningService {
    /// Waits for every task to stop and returns the first error.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined
                .context("gateway task panicked")
                .and_then(|result| result);
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Connects to Postgres, migrates, stores the bootstrap token, binds the API and health
/// listeners and serves until `shutdown` fires.
pub async fn start(
    config: Config,
    clock: SharedClock,
    shutdown: Shutdown,
) -> anyhow::Result<RunningService> {
    let pool = service::connect_database(&config.common, APPLICATION_NAME, &MIGRATOR).await?;
    if let Some(token) = &config.bootstrap_admin_token {
        auth::store_bootstrap_token(&pool, token.expose_secret(), clock.now())
            .await
            .context("failed to store the bootstrap admin token")?;
    }
    let clients = ServiceClients::connect(
        &config.credential_sync_url,
        &config.order_manager_url,
        &config.inventory_url,
        Duration::from_secs(config.service_timeout_secs),
    )?
    .with_renewal_scheduler(
        &config.renewal_scheduler_url,
        Duration::from_secs(config.service_timeout_secs),
    )?;
    let nats = service::connect_nats(&config.common, APPLICATION_NAME).await?;

    let api_listener = service::bind(config.api_listen, "CERTITUDE_API_LISTEN").await?;
    let http_listener = service::bind(config.common.http_listen, "CERTITUDE_HTTP_LISTEN").await?;
    let api_addr = api_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let state = AppState {
        pool: pool.clone(),
        clients,
        clock,
    };
    let gauge_clock = state.clock.clone();
    let mut tasks = JoinSet::new();
    let api_shutdown = shutdown.cancelled();
    let limits = limits::Limits::new(
        config.api_rate_limit,
        config.api_rate_burst,
        config.api_request_timeout,
    );
    tasks.spawn(forget_idle_tokens(limits.clone(), shutdown.clone()));
    tasks.spawn(async move {
        tracing::info!(http.address = %api_addr, "REST API listening");
        axum::serve(api_listener, router_with_limits(state, limits))
            .with_graceful_shutdown(api_shutdown)
            .await
            .context("REST API server failed")
    });
    tasks.spawn(log_audit_head(
        pool.clone(),
        config.audit_head_log_interval,
        shutdown.clone(),
    ));
    let gauge_pool = pool.clone();
    let gauge_stop = shutdown.token();
    tasks.spawn(async move {
        let gauges = vec![audit::head_gauge()];
        metrics::run_database_gauges(gauge_pool, gauge_clock, "gateway", gauges, gauge_stop).await;
        Ok(())
    });
    let readiness = service::readiness(pool, nats);
    let health_shutdown = shutdown.cancelled();
    tasks.spawn(async move {
        health::serve(http_listener, readiness, health_shutdown)
            .await
            .context("health server failed")
    });

    Ok(RunningService {
        api_addr,
        http_addr,
        tasks,
    })
}

/// Lets the rate limiter forget idle tokens every minute until `shutdown` fires.
async fn forget_idle_tokens(limits: limits::Limits, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs(60));
    let stopped = shutdown.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return Ok(()),
            _ = ticks.tick() => limits.forget_idle_tokens(),
        }
    }
}

/// Logs the audit chain head every `interval` until `shutdown` fires. The log lines are the
/// anchor that `certitude verify-audit --expected-head` compares the chain with.
async fn log_audit_head(
    pool: PgPool,
    interval: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(interval);
    let stopped = shutdown.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return Ok(()),
            _ = ticks.tick() => {}
        }
        match audit::read_head(&pool).await {
            Ok(head) => tracing::info!(
                audit.sequence = head.sequence,
                audit.hash = %head.hash,
                audit.anchor = %head,
                "audit chain head"
            ),
            Err(error) => tracing::warn!(error = %error, "failed to read the audit chain head"),
        }
    }
}

/// Builds the API router with the default [`limits::Limits`], as [`router_with_limits`] does.
pub fn router(state: AppState) -> axum::Router {
    router_with_limits(state, limits::Limits::default())
}

/// Builds the API router: every `/v1` route behind authentication, the token's rate limit and
/// the role matrix, with an audit row per change (refusals included), a deadline, a request id
/// and a span per request.
pub fn router_with_limits(state: AppState, limits: limits::Limits) -> axum::Router {
    routes::v1()
        .route_layer(middleware::from_fn(query_names::reject_unknown))
        .route_layer(middleware::from_fn(access::authorize))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit::middleware::record,
        ))
        .route_layer(middleware::from_fn_with_state(
            limits.clone(),
            limits::limit_rate,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            limits,
            limits::enforce_deadline,
        ))
        .layer(middleware::from_fn(trace_request))
        .layer(middleware::from_fn(audit::request_id::assign))
        .fallback(|| async {
            problem::Problem::not_found("no such route; docs/api.md lists the routes")
        })
        .method_not_allowed_fallback(|| async { problem::Problem::method_not_allowed() })
        .with_state(state)
}

/// Runs each request in a span that continues the caller's trace and records the outcome.
async fn trace_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let span = tracing::info_span!(
        "http.request",
        otel.name = format!("{} {route}", request.method()),
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        http.request.id = tracing::field::Empty,
        token.id = tracing::field::Empty,
    );
    if let Some(id) = request.extensions().get::<audit::request_id::RequestId>() {
        span.record("http.request.id", id.0.as_str());
    }
    if let Err(error) = set_parent_from_headers(&span, request.headers()) {
        tracing::debug!(error = %error, "ignored an invalid trace context header");
    }
    async move {
        let response = next.run(request).await;
        tracing::Span::current().record("http.response.status_code", response.status().as_u16());
        response
    }
    .instrument(span)
    .await
}
