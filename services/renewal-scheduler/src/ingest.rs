//! Recording the expiry of each certificate that a CertificateIssued event announces.
//!
//! The durable consumer [`DURABLE_NAME`] runs [`ExpiryRecorder`] inside the platform's inbox
//! transaction, so a redelivered event has no second effect. A later event for the same
//! certificate leaves the first recorded expiry as it is. The expiry is the event's `not_after`,
//! or the certificate's own notAfter when the event has none.
//!
//! The same transaction continues the certificate's lineage: a certificate that replaces
//! another (`replaces_certificate_id`, or the order a scheduled replacement placed) gets the
//! next generation and silences its predecessor's renewal and warnings. It then plans the
//! certificate's renewal under its order's policy, holding the order's lock so that a policy
//! set or moved at the same time is seen by one of the two transactions.

use std::collections::{HashMap, HashSet};

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::db::DbError;
use certitude_platform::events::EnvelopeError;
use certitude_proto::events::v1::CertificateIssued;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::expiry_store::{self, NewCertificate};
use crate::schedule_store::{self, PlanSettings};
use crate::{audit_store, policy_store, warnings};

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

/// Records each announced certificate's expiry, lineage, warnings and renewal plan.
#[derive(Debug, Clone)]
pub struct ExpiryRecorder {
    clock: SharedClock,
    warning_days: Vec<u32>,
    plan: PlanSettings,
}

impl ExpiryRecorder {
    pub fn new(clock: SharedClock, warning_days: Vec<u32>, plan: PlanSettings) -> Self {
        Self {
            clock,
            warning_days,
            plan,
        }
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
        let order_id = (!issued.order_id.is_empty()).then(|| issued.order_id.clone());
        let not_after = not_after(certificate_id, &issued)?;
        let db_error = |source: sqlx::Error| IngestError::Db {
            certificate_id,
            source: DbError::from(source),
        };
        if let Some(order_id) = &order_id {
            schedule_store::lock_order(conn, order_id)
                .await
                .map_err(db_error)?;
        }
        let now = self.clock.now();
        let replaces = Uuid::parse_str(&issued.replaces_certificate_id).ok();
        let generation = self
            .predecessor_generation(conn, certificate_id, replaces, order_id.as_deref())
            .await
            .map_err(db_error)?;
        let expiry = NewCertificate {
            certificate_id,
            order_id: order_id.clone(),
            credential_id: (!issued.credential_id.is_empty()).then(|| issued.credential_id.clone()),
            not_before: not_before(&issued),
            not_after,
            recorded_at: now,
            generation: generation.map_or(0, |previous| previous + 1),
            replaces_certificate_id: replaces,
            next_warning_at: warnings::first_warning_at(not_after, &self.warning_days, now),
        };

        let written = expiry_store::record(&mut *conn, &expiry)
            .await
            .map_err(|source| IngestError::Db {
                certificate_id,
                source,
            })?;
        if !written {
            tracing::debug!(certificate.id = %certificate_id, "expiry already recorded");
            return Ok(());
        }
        tracing::info!(
            certificate.id = %certificate_id,
            certificate.not_after = %expiry.not_after,
            "recorded certificate expiry"
        );
        // An imported order that Entrust reports revoked brings its certificate in revoked:
        // no CertificateRevoked or OrderStatusChanged follows for it.
        if issued.order_status == "REVOKED" {
            schedule_store::mark_revoked(conn, certificate_id, now)
                .await
                .map_err(db_error)?;
            tracing::info!(
                certificate.id = %certificate_id,
                "the certificate entered revoked; it will not be renewed"
            );
            return Ok(());
        }
        if let Some(order_id) = &order_id {
            self.plan(conn, order_id, now).await.map_err(db_error)?;
        }
        Ok(())
    }

    /// Marks the certificate's predecessor replaced, fills in the audit of the attempt that
    /// placed the order, and returns the predecessor's generation.
    async fn predecessor_generation(
        &self,
        conn: &mut PgConnection,
        certificate_id: Uuid,
        replaces: Option<Uuid>,
        order_id: Option<&str>,
    ) -> Result<Option<i32>, sqlx::Error> {
        let now = self.clock.now();
        let order_uuid = order_id.and_then(|id| Uuid::parse_str(id).ok());
        if let Some(order_uuid) = order_uuid {
            audit_store::set_new_certificate(conn, order_uuid, certificate_id).await?;
        }
        if let Some(replaces) = replaces
            && let Some(generation) =
                schedule_store::mark_replaced(conn, replaces, certificate_id, now).await?
        {
            return Ok(Some(generation));
        }
        match order_uuid {
            Some(order_uuid) => schedule_store::generation_before_order(conn, order_uuid).await,
            None => Ok(None),
        }
    }

    /// Plans the renewal of the order's certificates under the order's policy, if any.
    async fn plan(
        &self,
        conn: &mut PgConnection,
        order_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        let Ok(order_uuid) = Uuid::parse_str(order_id) else {
            return Ok(());
        };
        let Some(policy) = policy_store::by_order(&mut *conn, order_uuid).await? else {
            return Ok(());
        };
        schedule_store::plan_order(conn, order_id, Some(&policy), now, self.plan).await?;
        Ok(())
    }
}

impl EventHandler for ExpiryRecorder {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.record(conn, event).await.map_err(BoxError::from)
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), BoxError> {
        self.record_batch(conn, events)
            .await
            .map_err(BoxError::from)
    }
}

/// A decoded event of a batch, with the certificate it announces.
struct Announced {
    issued: CertificateIssued,
    certificate_id: Uuid,
    order_id: Uuid,
    not_after: OffsetDateTime,
}

impl ExpiryRecorder {
    /// Records the certificates of `events` with the same effect as one
    /// [`ExpiryRecorder::record`] call each, using a few statements for all when each event
    /// names a distinct order and replaces no certificate, as an import's events do. Other
    /// batches are recorded one event at a time.
    async fn record_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), IngestError> {
        let mut announced = Vec::with_capacity(events.len());
        for event in events {
            let issued: CertificateIssued = event.payload()?;
            let Ok(order_id) = Uuid::parse_str(&issued.order_id) else {
                break;
            };
            if !issued.replaces_certificate_id.is_empty() {
                break;
            }
            let certificate_id = Uuid::parse_str(&issued.certificate_id).map_err(|source| {
                IngestError::CertificateId {
                    value: issued.certificate_id.clone(),
                    source,
                }
            })?;
            let not_after = not_after(certificate_id, &issued)?;
            announced.push(Announced {
                issued,
                certificate_id,
                order_id,
                not_after,
            });
        }
        let distinct: HashSet<Uuid> = announced.iter().map(|entry| entry.order_id).collect();
        if announced.len() < events.len().max(2) || distinct.len() < announced.len() {
            for event in events {
                self.record(conn, event).await?;
            }
            return Ok(());
        }

        let first = announced[0].certificate_id;
        let db_error = |source: sqlx::Error| IngestError::Db {
            certificate_id: first,
            source: DbError::from(source),
        };
        let order_texts: Vec<&str> = announced
            .iter()
            .map(|entry| entry.issued.order_id.as_str())
            .collect();
        schedule_store::lock_orders(conn, &order_texts)
            .await
            .map_err(db_error)?;
        let placed: Vec<(Uuid, Uuid)> = announced
            .iter()
            .map(|entry| (entry.order_id, entry.certificate_id))
            .collect();
        audit_store::set_new_certificates(conn, &placed)
            .await
            .map_err(db_error)?;
        let order_ids: Vec<Uuid> = announced.iter().map(|entry| entry.order_id).collect();
        let generations: HashMap<Uuid, i32> =
            schedule_store::generations_before_orders(conn, &order_ids)
                .await
                .map_err(db_error)?
                .into_iter()
                .collect();

        let now = self.clock.now();
        let expiries: Vec<NewCertificate> = announced
            .iter()
            .map(|entry| NewCertificate {
                certificate_id: entry.certificate_id,
                order_id: Some(entry.issued.order_id.clone()),
                credential_id: (!entry.issued.credential_id.is_empty())
                    .then(|| entry.issued.credential_id.clone()),
                not_before: not_before(&entry.issued),
                not_after: entry.not_after,
                recorded_at: now,
                generation: generations
                    .get(&entry.order_id)
                    .map_or(0, |previous| previous + 1),
                replaces_certificate_id: None,
                next_warning_at: warnings::first_warning_at(
                    entry.not_after,
                    &self.warning_days,
                    now,
                ),
            })
            .collect();
        let written: HashSet<Uuid> = expiry_store::record_many(&mut *conn, &expiries)
            .await
            .map_err(|source| IngestError::Db {
                certificate_id: first,
                source,
            })?
            .into_iter()
            .collect();
        let with_policies: HashSet<Uuid> =
            policy_store::orders_with_policies(&mut *conn, &order_ids)
                .await
                .map_err(db_error)?
                .into_iter()
                .collect();

        for (entry, expiry) in announced.iter().zip(&expiries) {
            if !written.contains(&entry.certificate_id) {
                tracing::debug!(certificate.id = %entry.certificate_id, "expiry already recorded");
                continue;
            }
            tracing::info!(
                certificate.id = %entry.certificate_id,
                certificate.not_after = %expiry.not_after,
                "recorded certificate expiry"
            );
            if entry.issued.order_status == "REVOKED" {
                schedule_store::mark_revoked(conn, entry.certificate_id, now)
                    .await
                    .map_err(db_error)?;
                tracing::info!(
                    certificate.id = %entry.certificate_id,
                    "the certificate entered revoked; it will not be renewed"
                );
            } else if with_policies.contains(&entry.order_id) {
                self.plan(conn, &entry.issued.order_id, now)
                    .await
                    .map_err(db_error)?;
            }
        }
        Ok(())
    }
}

/// Returns the start of validity of the event's certificate; `None` when the PEM does not
/// parse, in which case the recording time replaces it.
fn not_before(issued: &CertificateIssued) -> Option<OffsetDateTime> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(issued.certificate_pem.as_bytes()).ok()?;
    let certificate = pem.parse_x509().ok()?;
    Some(certificate.validity().not_before.to_datetime())
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
