//! Importing listed Entrust orders: insert each, or update the order Certitude has for the same
//! (credential, tracking id), with the events of what changed.
//!
//! An order in ISSUED, or SUSPENDED, EXPIRED or REVOKED with a certificate, brings that
//! certificate in once: the order's detail is fetched, the certificate gets an id and
//! `CertificateIssued` is emitted, unless the order already has a certificate.
//!
//! An order deleted from Certitude is skipped, unless the import restores deleted orders: then
//! it comes back under its old id with its history, and `OrderImported` announces it again.
//!
//! A page is imported in two steps. [`read_known`] and [`plan`] decide what to write, and fetch
//! certificates from Entrust, with no transaction open. [`write`] then writes one planned order
//! inside the caller's transaction. Because it writes only through conditional statements, an
//! order that another writer changed since it was read is skipped rather than overwritten.

use std::collections::{HashMap, HashSet};

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
    /// A known order changed state or received its certificate, or a deleted one came back.
    Updated { issued: bool },
    /// A known order needed no change.
    Unchanged,
    /// The order is left alone: it has no tracking id, Certitude placed it and it is still
    /// being placed or failed, or it was deleted and the import does not restore it.
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

/// The orders Certitude already has for one page of the listing.
pub(super) struct Known {
    /// Orders by tracking id, deleted ones included.
    orders: HashMap<i64, OrderRow>,
    /// Tracking markers carried by orders that are still being submitted.
    awaiting_adoption: HashSet<String>,
}

/// Reads, in two statements, the orders of `credential_id` that the page `summaries` names.
pub(super) async fn read_known(
    core: &Core,
    credential_id: &str,
    summaries: &[OrderSummary],
) -> Result<Known, OrderError> {
    let tracking_ids: Vec<i64> = summaries
        .iter()
        .map(|summary| i64::from(summary.tracking_id.get()))
        .filter(|tracking_id| *tracking_id != 0)
        .collect();
    let markers: Vec<String> = summaries
        .iter()
        .filter_map(|summary| summary.tracking_marker.clone())
        .collect();
    let mut conn = core.pool.acquire().await?;
    let orders = imported::find_by_tracking_ids(&mut conn, credential_id, &tracking_ids).await?;
    let awaiting_adoption = imported::markers_awaiting_adoption(&mut conn, &markers).await?;
    Ok(Known {
        orders: orders
            .into_iter()
            .filter_map(|order| Some((order.tracking_id?, order)))
            .collect(),
        awaiting_adoption: awaiting_adoption.into_iter().collect(),
    })
}

/// One listed order to write, with its certificate when it brings one in.
pub(super) struct Planned {
    summary: OrderSummary,
    state: OrderState,
    existing: Option<OrderRow>,
    restoring: bool,
    certificate: Option<IssuedCertificate>,
    /// When the poller first checks the order, if it is new to Certitude and pending.
    first_check_at: Option<time::OffsetDateTime>,
}

impl Planned {
    /// Tells whether the order is new to Certitude and pending at Entrust, so that the poller
    /// will check it.
    pub fn is_new_pending(&self) -> bool {
        self.existing.is_none() && self.state == OrderState::Pending
    }

    /// Sets when the poller first checks the order (see [`Planned::is_new_pending`]).
    pub fn set_first_check_at(&mut self, at: time::OffsetDateTime) {
        self.first_check_at = Some(at);
    }

    /// Returns the order's Entrust tracking id.
    pub fn tracking_id(&self) -> u32 {
        self.summary.tracking_id.get()
    }

    /// Tells whether Certitude has no order for the tracking id, deleted or not.
    pub fn is_new(&self) -> bool {
        self.existing.is_none()
    }
}

/// Decides what importing `summary` writes, given what Certitude has (`known`), and fetches
/// its certificate from `authority` when it brings one in. Returns `None` for an order the
/// import skips. An order deleted from Certitude comes back only when `restore_deleted`.
pub(super) async fn plan(
    authority: &dyn CertificateAuthority,
    known: &Known,
    summary: OrderSummary,
    restore_deleted: bool,
) -> Result<Option<Planned>, OrderError> {
    // NOTE: records of certificates not ordered through Entrust all have tracking id 0, so
    // they have no key to upsert by and are not imported.
    if summary.tracking_id.get() == 0 {
        return Ok(None);
    }
    if summary
        .tracking_marker
        .as_ref()
        .is_some_and(|marker| known.awaiting_adoption.contains(marker))
    {
        return Ok(None);
    }
    let existing = known
        .orders
        .get(&i64::from(summary.tracking_id.get()))
        .cloned();
    let restoring = existing
        .as_ref()
        .is_some_and(|order| order.deleted_at.is_some());
    if restoring && !restore_deleted {
        return Ok(None);
    }
    if !restoring && existing.as_ref().is_some_and(is_left_alone) {
        return Ok(None);
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
    Ok(Some(Planned {
        summary,
        state,
        existing,
        restoring,
        certificate,
        first_check_at: None,
    }))
}

/// Writes `planned`, an order of `credential_id`, inside the caller's transaction `conn`.
pub(super) async fn write(
    core: &Core,
    conn: &mut PgConnection,
    credential_id: &str,
    planned: &Planned,
) -> Result<Upserted, OrderError> {
    let certificate = planned.certificate.as_ref();
    match &planned.existing {
        None => insert(core, conn, credential_id, planned).await,
        Some(order) if planned.restoring => {
            restore(
                core,
                conn,
                order,
                &planned.summary,
                planned.state,
                certificate,
            )
            .await
        }
        Some(order) => {
            update(
                core,
                conn,
                order,
                &planned.summary,
                planned.state,
                certificate,
            )
            .await
        }
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

/// Writes the orders of `planned` that are new to Certitude with five statements in all,
/// inside the caller's transaction, as [`write`] does for each. Returns their outcomes in
/// order. Orders that Certitude has are left out, so the caller writes those with [`write`].
pub(super) async fn insert_new(
    core: &Core,
    conn: &mut PgConnection,
    credential_id: &str,
    planned: &[&Planned],
) -> Result<Vec<Upserted>, OrderError> {
    let now = core.now();
    let rows: Vec<ImportedOrderRow> = planned
        .iter()
        .map(|order| imported_row(core, credential_id, order))
        .collect();
    let inserted: HashSet<Uuid> = imported::insert_imported_many(&mut *conn, &rows, now)
        .await?
        .into_iter()
        .collect();

    let mut entries = Vec::with_capacity(inserted.len());
    let mut events = Vec::with_capacity(inserted.len() * 2);
    let mut outcomes = Vec::with_capacity(rows.len());
    for (row, order) in rows.iter().zip(planned) {
        if !inserted.contains(&row.id) {
            // Another writer recorded the tracking id meanwhile.
            outcomes.push(Upserted::Skipped);
            continue;
        }
        entries.push(HistoryEntry {
            order_id: row.id,
            at: now,
            actor: ACTOR,
            action: ACTION,
            from_status: None,
            to_status: Some(row.status),
            outcome: "imported",
            detail: Some(row.entrust_status.clone()),
        });
        events.push(events::order_imported(
            row.id,
            credential_id,
            row.tracking_id,
            row.status,
            &row.entrust_status,
        ));
        if let (Some(certificate), Some(certificate_id)) =
            (order.certificate.as_ref(), row.certificate_id)
        {
            let entering = imported_certificate(row, certificate_id, certificate);
            events.push(events::certificate_issued(&entering));
        }
        outcomes.push(Upserted::Inserted {
            issued: row.certificate_id.is_some(),
        });
    }
    history::record_many(&mut *conn, &entries).await?;
    core.outbox.enqueue_many(&mut *conn, events).await?;
    Ok(outcomes)
}

/// Describes the row of the planned order, new to Certitude. A pending one is first checked
/// when the import set, or one poll interval from now when the import set no time.
fn imported_row(core: &Core, credential_id: &str, planned: &Planned) -> ImportedOrderRow {
    let (summary, state) = (&planned.summary, planned.state);
    let certificate = planned.certificate.as_ref();
    ImportedOrderRow {
        id: Uuid::now_v7(),
        credential_id: credential_id.to_owned(),
        tracking_id: i64::from(summary.tracking_id.get()),
        product: summary.product.clone().unwrap_or_default(),
        common_name: common_name(summary),
        dns_names: summary.dns_names.clone(),
        organization: summary.organization.clone(),
        status: state,
        entrust_status: summary.status.as_str().to_owned(),
        certificate_id: certificate.map(|_| Uuid::now_v7()),
        serial_number: serial_of(summary, certificate),
        not_after: certificate
            .and_then(|c| c.expires_at)
            .or(summary.expires_at),
        not_before: summary.issued_at,
        next_poll_at: (state == OrderState::Pending).then(|| {
            planned
                .first_check_at
                .unwrap_or_else(|| after(core.now(), core.settings.poll_interval))
        }),
    }
}

async fn insert(
    core: &Core,
    tx: &mut PgConnection,
    credential_id: &str,
    planned: &Planned,
) -> Result<Upserted, OrderError> {
    let now = core.now();
    let (state, certificate) = (planned.state, planned.certificate.as_ref());
    let row = imported_row(core, credential_id, planned);
    let entrust_status = row.entrust_status.clone();

    if !imported::insert_imported(&mut *tx, &row, now).await? {
        // Another writer recorded the tracking id meanwhile.
        return Ok(Upserted::Skipped);
    }
    record(
        &mut *tx,
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
    core.outbox.enqueue(&mut *tx, event).await?;
    if let (Some(certificate), Some(certificate_id)) = (certificate, row.certificate_id) {
        let entering = imported_certificate(&row, certificate_id, certificate);
        core.outbox
            .enqueue(&mut *tx, events::certificate_issued(&entering))
            .await?;
    }
    Ok(Upserted::Inserted {
        issued: row.certificate_id.is_some(),
    })
}

/// Brings back the deleted `order` with `OrderImported`, then updates it as [`update`] does
/// (an order Certitude placed that is still being placed or failed keeps its state).
async fn restore(
    core: &Core,
    tx: &mut PgConnection,
    order: &OrderRow,
    summary: &OrderSummary,
    state: OrderState,
    certificate: Option<&IssuedCertificate>,
) -> Result<Upserted, OrderError> {
    let now = core.now();
    let entrust_status = summary.status.as_str().to_owned();
    let next_poll_at = after(now, core.settings.poll_interval);
    if !orders::restore(&mut *tx, order.id, next_poll_at, now).await? {
        return Ok(Upserted::Skipped);
    }
    history::record(
        &mut *tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: ACTOR,
            action: "restore",
            from_status: Some(order.status),
            to_status: Some(order.status),
            outcome: "restored",
            detail: Some(format!("Entrust status {entrust_status}")),
        },
    )
    .await?;
    let tracking_id = i64::from(summary.tracking_id.get());
    let event = events::order_imported(
        order.id,
        &order.credential_id,
        tracking_id,
        order.status,
        &entrust_status,
    );
    core.outbox.enqueue(&mut *tx, event).await?;
    if is_left_alone(order) {
        return Ok(Upserted::Updated { issued: false });
    }
    let issued = apply_update(core, tx, order, summary, state, certificate).await?;
    Ok(Upserted::Updated {
        issued: issued.is_some_and(|changed| changed.issued),
    })
}

async fn update(
    core: &Core,
    tx: &mut PgConnection,
    order: &OrderRow,
    summary: &OrderSummary,
    state: OrderState,
    certificate: Option<&IssuedCertificate>,
) -> Result<Upserted, OrderError> {
    // Nothing was written when another writer moved the order first.
    let Some(changed) = apply_update(core, tx, order, summary, state, certificate).await? else {
        return Ok(Upserted::Skipped);
    };
    Ok(if changed.moved || changed.issued {
        Upserted::Updated {
            issued: changed.issued,
        }
    } else {
        Upserted::Unchanged
    })
}

/// Changes that [`apply_update`] made.
#[derive(Debug, Clone, Copy)]
struct Changed {
    moved: bool,
    issued: bool,
}

/// Moves `order` to `state` and attaches `certificate`, with their events, inside the caller's
/// transaction. Returns `None` when another writer moved the order first.
async fn apply_update(
    core: &Core,
    tx: &mut PgConnection,
    order: &OrderRow,
    summary: &OrderSummary,
    state: OrderState,
    certificate: Option<&IssuedCertificate>,
) -> Result<Option<Changed>, OrderError> {
    let now = core.now();
    let entrust_status = summary.status.as_str().to_owned();

    let moved = if order.status != state {
        let change = StateChange {
            entrust_status: Some(entrust_status.clone()),
            error: order.error.clone(),
            next_poll_at: (state == OrderState::Pending)
                .then(|| after(now, core.settings.poll_interval)),
            ..StateChange::default()
        };
        let Some(updated) =
            orders::change_state(&mut *tx, order.id, order.status, state, &change, now).await?
        else {
            return Ok(None);
        };
        record(
            &mut *tx,
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
        core.outbox.enqueue(&mut *tx, event).await?;
        true
    } else {
        if order.entrust_status.as_deref() != Some(entrust_status.as_str()) {
            imported::set_entrust_status(&mut *tx, order.id, &entrust_status, now).await?;
        }
        false
    };

    let issued = match certificate {
        Some(certificate) => attach(core, &mut *tx, order, state, certificate, now).await?,
        None => false,
    };
    Ok(Some(Changed { moved, issued }))
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
        replaces: None,
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
        replaces: None,
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
