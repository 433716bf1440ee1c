//! Storing the certificates of several CertificateIssued events with a few statements for all.
//!
//! An import announces thousands of certificates that name no key and replace no other. For
//! such a batch the handler reads the recorded states of all their orders at once and lets
//! [`Lifecycle::store_many`] write them together. A batch with a key to check or a certificate
//! that replaces another, or one the license cannot hold in full, takes the per-event path, so
//! the rules of [`Lifecycle::store`] stay in one place.

use certitude_platform::consumer::ReceivedEvent;
use certitude_proto::events::v1::CertificateIssued;
use sqlx::PgConnection;

use super::{CertificateIssuedHandler, IngestError, Parsed, log_outcome, rule_of};
use crate::order_status;

impl CertificateIssuedHandler {
    /// Stores the certificates of `events`, in order, with the same effect as one
    /// [`CertificateIssuedHandler::store`] call each.
    pub(super) async fn store_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), IngestError> {
        let mut issued = Vec::with_capacity(events.len());
        for event in events {
            issued.push(event.payload::<CertificateIssued>()?);
        }
        let plain = issued
            .iter()
            .all(|event| event.key_id.is_empty() && event.replaces_certificate_id.is_empty());
        if events.len() < 2 || !plain {
            return self.store_each(conn, events).await;
        }

        let count = events.len();
        let order_ids: Vec<&str> = issued
            .iter()
            .map(|event| event.order_id.as_str())
            .filter(|id| !id.is_empty())
            .collect();
        let db_error = |source| IngestError::BatchDb {
            count,
            source: Box::new(source),
        };
        order_status::lock_orders(conn, &order_ids)
            .await
            .map_err(db_error)?;
        let recorded = order_status::recorded_states(conn, &order_ids)
            .await
            .map_err(db_error)?;

        let now = self.clock.now();
        let mut certificates = Vec::with_capacity(count);
        for event in &issued {
            let parsed = Parsed::of(event, &self.verified_chains)?;
            let rule = rule_of(event, recorded.get(&event.order_id).map(String::as_str));
            certificates.push(parsed.into_new_certificate(event, None, rule, now));
        }
        let stored = self
            .lifecycle
            .store_many(conn, &certificates, now)
            .await
            .map_err(|source| IngestError::BatchStore {
                count,
                source: Box::new(source),
            })?;
        match stored {
            Some(outcomes) => {
                for (certificate, outcome) in certificates.iter().zip(&outcomes) {
                    log_outcome(certificate.id, outcome);
                }
                Ok(())
            }
            None => self.store_each(conn, events).await,
        }
    }

    async fn store_each(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), IngestError> {
        for event in events {
            self.store(conn, event).await?;
        }
        Ok(())
    }
}
