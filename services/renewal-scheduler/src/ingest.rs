//! Recording the expiry of each certificate that a CertificateIssued event announces.
//!
//! The durable consumer [`DURABLE_NAME`] runs [`ExpiryRecorder`] inside the platform's inbox
//! transaction, so a redelivered event has no second effect. A later event for the same
//! certificate leaves the first recorded expiry as it is. The expiry is the event's `not_after`,
//! or the certificate's own notAfter when the event has none.

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::db::DbError;
use certitude_platform::events::EnvelopeError;
use certitude_proto::events::v1::CertificateIssued;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::expiry_store::{self, CertificateExpiry};

/// Durable consumer name of the scheduler's CertificateIssued consumer.
pub const DURABLE_NAME: &str = "renewal-certificate-issued";

/// A CertificateIssued event whose expiry could not be recorded. The text goes to the
/// dead-letter headers.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the event is not a decodable CertificateIssued")]
    Payload(#[from] EnvelopeError),

    #[error("certificate_id {value:?} is not a UUID: the producer must name the certificate")]
    CertificateId {
        value: String,
        #[source]
        source: uuid::Error,
    },

    #[error("not_after of certificate {certificate_id} is out of range")]
    NotAfterRange {
        certificate_id: Uuid,
        #[source]
        source: time::error::ComponentRange,
    },

    #[error("certificate {certificate_id} has no not_after and no PEM block in certificate_pem")]
    Pem {
        certificate_id: Uuid,
        #[source]
        source: x509_parser::nom::Err<x509_parser::error::PEMError>,
    },

    #[error(
        "certificate {certificate_id} has no not_after and its certificate_pem is not a valid \
         X.509 certificate"
    )]
    Certificate {
        certificate_id: Uuid,
        #[source]
        source: x509_parser::nom::Err<x509_parser::error::X509Error>,
    },

    #[error("recording the expiry of certificate {certificate_id} failed")]
    Db {
        certificate_id: Uuid,
        #[source]
        source: DbError,
    },
}

/// Records each announced certificate's expiry.
#[derive(Debug, Clone)]
pub struct ExpiryRecorder {
    clock: SharedClock,
}

impl ExpiryRecorder {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), IngestError> {
        let issued: CertificateIssued = event.payload()?;
        let certificate_id = Uuid::parse_str(&issued.certificate_id).map_err(|source| {
            IngestError::CertificateId {
                value: issued.certificate_id.clone(),
                source,
            }
        })?;
        let expiry = CertificateExpiry {
            certificate_id,
            order_id: (!issued.order_id.is_empty()).then(|| issued.order_id.clone()),
            not_after: not_after(certificate_id, &issued)?,
            recorded_at: self.clock.now(),
        };

        let written = expiry_store::record(conn, &expiry)
            .await
            .map_err(|source| IngestError::Db {
                certificate_id,
                source,
            })?;
        if written {
            tracing::info!(
                certificate.id = %certificate_id,
                certificate.not_after = %expiry.not_after,
                "recorded certificate expiry"
            );
        } else {
            tracing::debug!(certificate.id = %certificate_id, "expiry already recorded");
        }
        Ok(())
    }
}

impl EventHandler for ExpiryRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.record(conn, event).await.map_err(BoxError::from)
    }
}

/// Returns the event's `not_after`, or the notAfter of its certificate when the event has none.
fn not_after(
    certificate_id: Uuid,
    issued: &CertificateIssued,
) -> Result<OffsetDateTime, IngestError> {
    if let Some(timestamp) = &issued.not_after {
        let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
        return OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|source| {
            IngestError::NotAfterRange {
                certificate_id,
                source,
            }
        });
    }
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(issued.certificate_pem.as_bytes()).map_err(|source| {
            IngestError::Pem {
                certificate_id,
                source,
            }
        })?;
    let certificate = pem
        .parse_x509()
        .map_err(|source| IngestError::Certificate {
            certificate_id,
            source,
        })?;
    Ok(certificate.validity().not_after.to_datetime())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const CRYPTOGRAPHY_IO: &str =
        include_str!("../../../tests/fixtures/x509/pem/cryptography.io.pem");

    fn issued(not_after: Option<prost_types::Timestamp>) -> CertificateIssued {
        CertificateIssued {
            certificate_id: Uuid::now_v7().to_string(),
            certificate_pem: CRYPTOGRAPHY_IO.to_owned(),
            not_after,
            ..CertificateIssued::default()
        }
    }

    #[test]
    fn event_not_after_wins() {
        let given = datetime!(2030-02-28 10:00:00.5 UTC);
        let event = issued(Some(certitude_platform::events::timestamp(given)));

        assert_eq!(not_after(Uuid::nil(), &event).expect("in range"), given);
    }

    #[test]
    fn missing_not_after_is_read_from_the_certificate() {
        let event = issued(None);

        assert_eq!(
            not_after(Uuid::nil(), &event).expect("the certificate parses"),
            datetime!(2018-11-16 01:15:03 UTC)
        );
    }

    #[test]
    fn missing_not_after_and_garbage_pem_fail() {
        let mut event = issued(None);
        event.certificate_pem = "not a certificate".to_owned();

        let error = not_after(Uuid::nil(), &event).expect_err("nothing to read");

        assert!(matches!(error, IngestError::Pem { .. }), "{error}");
    }
}
