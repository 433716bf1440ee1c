//! The scheduler's gRPC API, `certitude.renewal.v1.RenewalService`.

use std::error::Error;

use certitude_proto::renewal::v1 as proto;
use certitude_proto::renewal::v1::renewal_service_server::RenewalService;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::expiry_store;

/// Serves RenewalService from the service's pool.
#[derive(Debug, Clone)]
pub struct RenewalApi {
    pool: PgPool,
}

impl RenewalApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[tonic::async_trait]
impl RenewalService for RenewalApi {
    async fn get_expiry(
        &self,
        request: Request<proto::GetExpiryRequest>,
    ) -> Result<Response<proto::CertificateExpiry>, Status> {
        let text = request.into_inner().certificate_id;
        let certificate_id = Uuid::parse_str(text.trim()).map_err(|_| {
            Status::invalid_argument(format!(
                "certificate_id: {text:?} is not a certificate id: pass a UUID"
            ))
        })?;
        let expiry = expiry_store::get(&self.pool, certificate_id)
            .await
            .map_err(|error| {
                log_failure(&error);
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
        }))
    }
}

fn rfc3339(instant: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0..=9999. X.509 times have four-digit years, and
    // the clock would have to be set outside them.
    instant.format(&Rfc3339).unwrap_or_default()
}

/// Logs a failed request once, with the error's causes.
fn log_failure(error: &(dyn Error + 'static)) {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %text, "GetExpiry failed");
}
