//! The scheduler's gRPC API, `certitude.renewal.v1.RenewalService`: expiries, policies, the
//! Auto-Renewal Audit and the forecast.

mod policies;
mod reports;

use std::error::Error;

use certitude_platform::clock::SharedClock;
use certitude_platform::outbox::Outbox;
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::renewal::v1 as proto;
use certitude_proto::renewal::v1::renewal_service_server::RenewalService;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::expiry_store;
use crate::schedule_store::PlanSettings;

/// Serves RenewalService from the service's pool, calling order-manager for order details.
#[derive(Debug, Clone)]
pub struct RenewalApi {
    pool: PgPool,
    clock: SharedClock,
    outbox: Outbox,
    orders: OrderServiceClient<Channel>,
    plan: PlanSettings,
}

impl RenewalApi {
    pub fn new(
        pool: PgPool,
        clock: SharedClock,
        outbox: Outbox,
        orders: OrderServiceClient<Channel>,
        plan: PlanSettings,
    ) -> Self {
        Self {
            pool,
            clock,
            outbox,
            orders,
            plan,
        }
    }
}

#[tonic::async_trait]
impl RenewalService for RenewalApi {
    async fn get_expiry(
        &self,
        request: Request<proto::GetExpiryRequest>,
    ) -> Result<Response<proto::CertificateExpiry>, Status> {
        let certificate_id = parse_id("certificate_id", &request.into_inner().certificate_id)?;
        let expiry = expiry_store::get(&self.pool, certificate_id)
            .await
            .map_err(|error| {
                log_failure("GetExpiry", &error);
                if error.is_unavailable() {
                    Status::unavailable("the scheduler's database is unavailable: retry later")
                } else {
                    Status::internal("internal error")
                }
            })?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no expiry recorded for certificate {certificate_id}"
                ))
            })?;

        Ok(Response::new(proto::CertificateExpiry {
            certificate_id: expiry.certificate_id.to_string(),
            not_after: rfc3339(expiry.not_after),
            order_id: expiry.order_id.unwrap_or_default(),
            recorded_at: rfc3339(expiry.recorded_at),
            next_renewal_at: expiry.renew_at.map(rfc3339).unwrap_or_default(),
        }))
    }

    async fn set_renewal_policy(
        &self,
        request: Request<proto::SetRenewalPolicyRequest>,
    ) -> Result<Response<proto::RenewalPolicy>, Status> {
        let policy = self.set_policy(request.into_inner()).await?;
        Ok(Response::new(policy))
    }

    async fn get_renewal_policy(
        &self,
        request: Request<proto::GetRenewalPolicyRequest>,
    ) -> Result<Response<proto::RenewalPolicy>, Status> {
        let policy = self.get_policy(request.into_inner()).await?;
        Ok(Response::new(policy))
    }

    async fn delete_renewal_policy(
        &self,
        request: Request<proto::DeleteRenewalPolicyRequest>,
    ) -> Result<Response<proto::RenewalPolicy>, Status> {
        let policy = self.disable_policy(request.into_inner()).await?;
        Ok(Response::new(policy))
    }

    async fn list_renewal_audit(
        &self,
        request: Request<proto::ListRenewalAuditRequest>,
    ) -> Result<Response<proto::ListRenewalAuditResponse>, Status> {
        let page = self.list_audit(request.into_inner()).await?;
        Ok(Response::new(page))
    }

    async fn get_renewal_forecast(
        &self,
        request: Request<proto::GetRenewalForecastRequest>,
    ) -> Result<Response<proto::GetRenewalForecastResponse>, Status> {
        let forecast = self.forecast(request.into_inner()).await?;
        Ok(Response::new(forecast))
    }
}

/// Parses the UUID in `field`, or fails with INVALID_ARGUMENT naming the field.
fn parse_id(field: &str, text: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        Status::invalid_argument(format!("{field}: {text:?} is not an id: pass a UUID"))
    })
}

fn rfc3339(instant: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0..=9999. X.509 times have four-digit years, and
    // the clock would have to be set outside them.
    instant.format(&Rfc3339).unwrap_or_default()
}

/// Maps a database error to UNAVAILABLE or an opaque INTERNAL, logging it once.
fn db_status(call: &str, error: sqlx::Error) -> Status {
    let error = certitude_platform::db::DbError::from(error);
    log_failure(call, &error);
    if error.is_unavailable() {
        Status::unavailable("the scheduler's database is unavailable: retry later")
    } else {
        Status::internal("internal error")
    }
}

/// Logs a failed request once, with the error's causes.
fn log_failure(call: &str, error: &(dyn Error + 'static)) {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %text, grpc.method = call, "request failed");
}
