//! Importing one listed Entrust order: insert it, or update the order Certitude has for the
//! same (credential, tracking id), with the events of what changed, in one transaction.
//!
//! An order in ISSUED, or SUSPENDED, EXPIRED or REVOKED with a certificate, brings that
//! certificate in once: the order's detail is fetched, the certificate gets an id and
//! `CertificateIssued` is emitted, unless the order already has a certificate.

use entrust::CertificateAuthority;
use entrust::model::{IssuedCertificate, OrderSummary, TrackingId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::events::{self, EnteringCertificate, StatusChange};
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::imported::{self, ImportedOrderRow};
use crate::store::orders::{self, OrderRow, StateChange};

const ACTOR: &str = "import";
const ACTION: &str = "import";

/// Effect of importing one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upserted {
    /// The order was new to Certitude.
    Inserted { issued: bool },
    /// A known order changed state or received its certificate.
    Updated { issued: bool },
    /// A known order needed no change.
    Unchanged,
    /// The order is left alone: it has no tracking id, or Certitude placed it and it is still
    /// being placed or failed.
    Skipped,
}

impl Upserted {
    /// Tells whether a certificate entered Certitude.
    pub fn issued(self) -> bool {
        matches!(
            self,
            Upserted::Inserted { issued: true } | Upserted::Updated { issued: true }
        )
    }
}

/// Imports `summary`, an order of `credential_id` that `authority` listed.
pub(super) async fn import_order(
    core: &Core,
    authority: &dyn CertificateAuthority,
    credential_id: &str,
    summary: OrderSummary,
) -> Result<Upserted, OrderError> {
    // NOTE: records of certificates not ordered through Entrust all have tracking id 0, so
    // they have no key to upsert by and are not imported.
    if summary.tracking_id.get() == 0 {
        return Ok(Upserted::Skipped);
    }
    let tracking_id = i64::from(summary.tracking_id.get());
    let existing = {
        let mut conn = core.pool.acquire().await?;
        if let Some(marker) = &summary.tracking_marker
            && orders::marker_awaits_adoption(&mut conn, marker).await?
        {
            return Ok(Upserted::Skipped);
        }
        orders::find_by_tracking_id(&mut conn, credential_id, tracking_id).await?
    };
    if existing.as_ref().is_some_and(is_left_alone) {
        return Ok(Upserted::Skipped);
    }

    let state = OrderState::from_entrust(&summary.status);
    // Orders Certitude placed take their certificate only through the public key check.
    let needs_certificate = state.imports_certificate()
        && existing
            .as_ref()
            .is_none_or(|order| !order.is_created() && order.certificate_id.is_none());
    let certificate = if needs_certificate {
        fetch_certificate(authority, summary.tracking_id).await?
    } else {
        None
    };

    match existing {
        None => insert(core, credential_id, &summary, state, certificate.as_ref()).await,
        Some(order) => update(core, &order, &summary, state, certificate.as_ref()).await,
    }
}

/// Tells whether an import must leave the order alone: an order Certitude placed is the
/// poller's and the reconciler's while it is being placed, and one that failed (possibly after
/// Entrust issued a certificate with another key) stays failed.
fn is_left_alone(order: &OrderRow) -> bool {
    order.is_created()
        && matches!(
            order.status,
            OrderState::Submitting | OrderState::Pending | OrderState::Failed
        )
}

/// Fetches the order's certificate, when Entrust has one.
async fn fetch_certificate(
    authority: &dyn CertificateAuthority,
    tracking_id: TrackingId,
) -> Result<Option<IssuedCertificate>, OrderError> {
    let detail = authority
        .order(tracking_id)
        .await
        .map_err(OrderError::Entrust)?;
    Ok(detail
        .certificate_pem
        .map(|certificate_pem| IssuedCertificate {
            tracking_id,
            certificate_pem,
            chain_pem: detail.chain_pem,
            serial_number: detail.serial_number,
            expires_at: detail.expires_at,
        }))
}

async fn insert(
    core: &Core,
    credential_id: &str,
    summary: &OrderSummary,
    state: OrderState,
    certificate: Option<&IssuedCertificate>,
) -> Result<Upserted, OrderError> {
    let now = core.now();
    let entrust_status = summary.status.as_str().to_owned();
    let row = ImportedOrderRow {
        id: Uuid::now_v7(),
        credential_id: credential_id.to_owned(),
        tracking_id: i64::from(summary.tracking_id.get()),
        product: summary.product.clone().unwrap_or_default(),
        common_name: common_name(summary),
        dns_names: summary.dns_names.clone(),
        organization: summary.organization.clone(),
        status: state,
        entrust_status: entrust_status.clone(),
        certificate_id: certificate.map(|_| Uuid::now_v7()),
        serial_number: serial_of(summary, certificate),
        not_after: certificate
            .and_then(|c| c.expires_at)
            .or(summary.expires_at),
        next_poll_at: (state == OrderState::Pending)
            .then(|| after(now, core.settings.poll_interval)),
    };

    let mut tx = core.pool.begin().await?;
    if !imported::insert_imported(&mut tx, &row, now).await? {
        // Another writer recorded the tracking id meanwhile.
        tx.rollback().await?;
        return Ok(Upserted::Skipped);
    }
    record(
        &mut tx,
        row.id,
        None,
        state,
        "imported",
        now,
        Some(entrust_status.clone()),
    )
    .await?;
    let event = events::order_imported(
        row.id,
        credential_id,
        row.tracking_id,
        state,
        &entrust_status,
    );
    core.outbox.enqueue(&mut tx, event).await?;
    if let (Some(certificate), Some(certificate_id)) = (certificate, row.certificate_id) {
        let entering = imported_certificate(&row, certificate_id, certificate);
        core.outbox
            .enqueue(&mut tx, events::certificate_issued(&entering))
            .await?;
    }
    tx.commit().await?;
    Ok(Upserted::Inserted {
        issued: row.certificate_id.is_some(),
    })
}

async fn update(
    core: &Core,
    order: &OrderRow,
    summary: &OrderSummary,
    state: OrderState,
    certificate: Option<&IssuedCertificate>,
) -> Result<Upserted, OrderError> {
    let now = core.now();
    let entrust_status = summary.status.as_str().to_owned();
    let mut tx = core.pool.begin().await?;

    let moved = if order.status != state {
        let change = StateChange {
            entrust_status: Some(entrust_status.clone()),
            error: order.error.clone(),
            next_poll_at: (state == OrderState::Pending)
                .then(|| after(now, core.settings.poll_interval)),
            ..StateChange::default()
        };
        let Some(updated) =
            orders::change_state(&mut tx, order.id, order.status, state, &change, now).await?
        else {
            tx.rollback().await?;
            return Ok(Upserted::Skipped);
        };
        record(
            &mut tx,
            order.id,
            Some(order.status),
            state,
            "changed",
            now,
            Some(entrust_status.clone()),
        )
        .await?;
        let event = events::status_changed(
            &updated,
            StatusChange {
                tracking_id: updated.tracking_id,
                previous: order.status,
                status: state,
                entrust_status: Some(&entrust_status),
                error: None,
            },
        );
        core.outbox.enqueue(&mut tx, event).await?;
        true
    } else {
        if order.entrust_status.as_deref() != Some(entrust_status.as_str()) {
            imported::set_entrust_status(&mut tx, order.id, &entrust_status, now).await?;
        }
        false
    };

    let issued = match certificate {
        Some(certificate) => attach(core, &mut tx, order, state, certificate, now).await?,
        None => false,
    };
    tx.commit().await?;
    Ok(if moved || issued {
        Upserted::Updated { issued }
    } else {
        Upserted::Unchanged
    })
}

/// Gives `order`, now in `state`, the certificate and emits `CertificateIssued`, unless it has
/// one already.
async fn attach(
    core: &Core,
    conn: &mut PgConnection,
    order: &OrderRow,
    state: OrderState,
    certificate: &IssuedCertificate,
    now: time::OffsetDateTime,
) -> Result<bool, OrderError> {
    let certificate_id = Uuid::now_v7();
    let serial_number = certificate.serial_number.as_ref().map(|s| s.as_str());
    let attached = imported::attach_certificate(
        &mut *conn,
        order.id,
        certificate_id,
        serial_number,
        certificate.expires_at,
        now,
    )
    .await?;
    if !attached {
        return Ok(false);
    }
    let entering = EnteringCertificate {
        certificate_id,
        order_id: order.id,
        credential_id: &order.credential_id,
        tracking_id: i64::from(certificate.tracking_id.get()),
        key_id: None,
        certificate_pem: &certificate.certificate_pem,
        chain_pem: &certificate.chain_pem,
        serial_number,
        not_after: certificate.expires_at,
        order_status: state,
    };
    core.outbox
        .enqueue(&mut *conn, events::certificate_issued(&entering))
        .await?;
    Ok(true)
}

/// Describes the certificate of a newly imported order; imported certificates have no key of
/// Certitude's.
fn imported_certificate<'a>(
    row: &'a ImportedOrderRow,
    certificate_id: Uuid,
    certificate: &'a IssuedCertificate,
) -> EnteringCertificate<'a> {
    EnteringCertificate {
        certificate_id,
        order_id: row.id,
        credential_id: &row.credential_id,
        tracking_id: row.tracking_id,
        key_id: None,
        certificate_pem: &certificate.certificate_pem,
        chain_pem: &certificate.chain_pem,
        serial_number: row.serial_number.as_deref(),
        not_after: row.not_after,
        order_status: row.status,
    }
}

async fn record(
    conn: &mut PgConnection,
    order_id: Uuid,
    from_status: Option<OrderState>,
    to_status: OrderState,
    outcome: &str,
    at: time::OffsetDateTime,
    detail: Option<String>,
) -> Result<(), sqlx::Error> {
    history::record(
        conn,
        HistoryEntry {
            order_id,
            at,
            actor: ACTOR,
            action: ACTION,
            from_status,
            to_status: Some(to_status),
            outcome,
            detail,
        },
    )
    .await
}

fn serial_of(summary: &OrderSummary, certificate: Option<&IssuedCertificate>) -> Option<String> {
    certificate
        .and_then(|certificate| certificate.serial_number.as_ref())
        .or(summary.serial_number.as_ref())
        .map(|serial| serial.as_str().to_owned())
}

/// Returns the common name of the order's subject, or its first DNS name.
fn common_name(summary: &OrderSummary) -> String {
    summary
        .subject_dn
        .as_deref()
        .and_then(common_name_of_dn)
        .or_else(|| summary.dns_names.first().cloned())
        .unwrap_or_default()
}

/// Reads the `CN` attribute of a distinguished name written as `CN=...,O=...`.
fn common_name_of_dn(dn: &str) -> Option<String> {
    dn.split(',')
        .map(str::trim)
        .find_map(|part| {
            let (attribute, value) = part.split_once('=')?;
            attribute
                .trim()
                .eq_ignore_ascii_case("CN")
                .then(|| value.trim().to_owned())
        })
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_is_read_from_the_dn() {
        assert_eq!(
            common_name_of_dn("CN=www.example.com,OU=Web,O=Example Inc,C=CA"),
            Some("www.example.com".to_owned())
        );
        assert_eq!(
            common_name_of_dn("O=Example Inc, cn = shop.example.com"),
            Some("shop.example.com".to_owned())
        );
        assert_eq!(common_name_of_dn("O=Example Inc"), None);
    }

    #[test]
    fn only_inserted_or_updated_certificates_count_as_issued() {
        assert!(Upserted::Inserted { issued: true }.issued());
        assert!(Upserted::Updated { issued: true }.issued());
        assert!(!Upserted::Updated { issued: false }.issued());
        assert!(!Upserted::Unchanged.issued());
        assert!(!Upserted::Skipped.issued());
    }
}
