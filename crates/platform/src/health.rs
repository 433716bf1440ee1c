//! HTTP liveness and readiness probes: `/healthz` returns 200 while the process runs, and
//! `/readyz` returns 200 only when every readiness check passes (Postgres and NATS for the
//! services), else 503 with a JSON body naming each failing dependency.
//!
//! Entrust's reachability is deliberately not a readiness check: an Entrust outage must not
//! take every replica out of the load balancer. Report it as a metric instead.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

/// Error a readiness check returns; its message goes into the `/readyz` body.
pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// A dependency the service cannot serve without.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// Short name of the dependency, shown in the `/readyz` body (`postgres`, `nats`).
    fn name(&self) -> &str;

    /// Checks the dependency once. [`serve`] applies its own timeout around this call.
    async fn check(&self) -> Result<(), CheckError>;
}

/// Runs `SELECT 1` on a pool.
pub struct PostgresCheck {
    pool: sqlx::PgPool,
}

impl PostgresCheck {
    /// Creates a check named `postgres`.
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ReadinessCheck for PostgresCheck {
    fn name(&self) -> &str {
        "postgres"
    }

    async fn check(&self) -> Result<(), CheckError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Checks that a NATS client is connected and that the server responds to a flush (a PING
/// round trip).
pub struct NatsCheck {
    client: async_nats::Client,
}

impl NatsCheck {
    /// Creates a check named `nats`.
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ReadinessCheck for NatsCheck {
    fn name(&self) -> &str {
        "nats"
    }

    async fn check(&self) -> Result<(), CheckError> {
        let state = self.client.connection_state();
        if state != async_nats::connection::State::Connected {
            return Err(format!("client is not connected to NATS (state: {state})").into());
        }
        self.client.flush().await?;
        Ok(())
    }
}

/// The checks `/readyz` runs and how long each may take.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<[Box<dyn ReadinessCheck>]>,
    timeout: Duration,
    /// Whether the last `/readyz` call passed, so a change is logged once, not on every probe.
    was_ready: Arc<AtomicBool>,
}

impl Readiness {
    /// Creates a readiness probe from its checks; each check fails once `timeout` has passed.
    pub fn new(checks: Vec<Box<dyn ReadinessCheck>>, timeout: Duration) -> Self {
        Self {
            checks: checks.into(),
            timeout,
            was_ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Runs every check concurrently and returns the failures, in the order of the checks.
    pub async fn failures(&self) -> Vec<FailedCheck> {
        let runs = self.checks.iter().map(|check| async move {
            let outcome = tokio::time::timeout(self.timeout, check.check()).await;
            let error = match outcome {
                Ok(Ok(())) => return None,
                Ok(Err(error)) => error_chain(error.as_ref()),
                Err(_) => format!("timed out after {} ms", self.timeout.as_millis()),
            };
            Some(FailedCheck {
                dependency: check.name().to_owned(),
                error,
            })
        });
        let failures: Vec<FailedCheck> = futures::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        self.log_transition(&failures);
        failures
    }

    fn log_transition(&self, failures: &[FailedCheck]) {
        let ready = failures.is_empty();
        let was_ready = self.was_ready.swap(ready, Ordering::Relaxed);
        if was_ready && !ready {
            tracing::warn!(failures = ?failures, "service is not ready");
        } else if !was_ready && ready {
            tracing::info!("service is ready again");
        }
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A dependency that failed its readiness check.
#[derive(Clone, Debug, Serialize)]
pub struct FailedCheck {
    /// Name of the check, such as `postgres`.
    pub dependency: String,
    /// Failure message, with its causes.
    pub error: String,
}

/// Body of a `/readyz` response.
#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    failing: Vec<FailedCheck>,
}

/// Returns the axum router with `/healthz` and `/readyz`, for a service that serves other
/// HTTP routes on the same port.
pub fn router(readiness: Readiness) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

/// Serves `/healthz` and `/readyz` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight and returns.
pub async fn serve<F>(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: F,
) -> Result<(), HealthError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let address = listener.local_addr().map_err(HealthError::Serve)?;
    tracing::info!(http.address = %address, "health server listening");
    axum::serve(listener, router(readiness))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HealthError::Serve)?;
    tracing::info!(http.address = %address, "health server stopped");
    Ok(())
}

async fn healthz() -> StatusCode {
    StatusCode::OK
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let failing = readiness.failures().await;
    if failing.is_empty() {
        let body = ReadyBody {
            status: "ready",
            failing,
        };
        (StatusCode::OK, Json(body)).into_response()
    } else {
        let body = ReadyBody {
            status: "not_ready",
            failing,
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Errors of the health server.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The listener failed.
    #[error("health HTTP server failed")]
    Serve(#[source] std::io::Error),
}
