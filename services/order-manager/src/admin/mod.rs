//! Administrator operations on existing orders: approve, decline, suspend, resume and revoke
//! ([`lifecycle`]), renew and reissue ([`replace`]), and the deletion from Certitude
//! ([`delete`]).
//!
//! Every operation checks, before anything is sent to Entrust, that the order's status allows
//! it and that an administrator credential may act ([`authorize`]). It then claims the order
//! row for the length of the Entrust call (`claimed_until`, committed at once), so that a
//! second request on another replica and the poller leave the order alone meanwhile. The
//! outcome is recorded with its history entry and events in one transaction.

pub(crate) mod authorize;
pub(crate) mod delete;
pub(crate) mod lifecycle;
pub(crate) mod replace;

use entrust::model::{OrderDetail, TrackingId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::core::{Core, after};
use crate::error::OrderError;
use crate::events::{self, RevokedCertificate, StatusChange};
use crate::orders::transition::{self, Observation, Step};
use crate::state::OrderState;
use crate::store::claims;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, OrderRow, StateChange};

/// An operation that needs an Entrust administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Approve,
    Decline,
    Suspend,
    Resume,
    Renew,
    Reissue,
    Revoke,
}

impl Action {
    /// Returns the verb used in messages and as the history action, such as `approve`.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Decline => "decline",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Renew => "renew",
            Action::Reissue => "reissue",
            Action::Revoke => "revoke",
        }
    }

    /// Returns the states the action starts from and how a message names them. They follow
    /// what Entrust allows. Approve and decline need a PENDING order, suspend a READY or ACTIVE
    /// one, resume a SUSPENDED one, renew an ACTIVE, READY or EXPIRED one and reissue an ACTIVE
    /// or READY one. Revoke needs a certificate that is not pending, declined, revoked or
    /// expired.
    fn needed(self) -> (&'static [OrderState], &'static str) {
        match self {
            Action::Approve | Action::Decline => (
                &[OrderState::Pending],
                "a PENDING order awaiting approval (Entrust status PENDING or PENDING_QUORUM)",
            ),
            Action::Suspend | Action::Reissue => (&[OrderState::Issued], "an ISSUED order"),
            Action::Resume => (&[OrderState::Suspended], "a SUSPENDED order"),
            Action::Renew => (
                &[OrderState::Issued, OrderState::Expired],
                "an ISSUED or EXPIRED order",
            ),
            Action::Revoke => (
                &[OrderState::Issued, OrderState::Suspended],
                "an ISSUED or SUSPENDED order",
            ),
        }
    }
}

/// Returns the actor recorded in the history: the request's, or `api` when it names none.
pub(crate) fn actor_name(value: &str) -> String {
    match value.trim() {
        "" => "api".to_owned(),
        actor => actor.chars().take(200).collect(),
    }
}

/// Returns the order `id` unless it is unknown or deleted.
pub(crate) async fn visible_order(core: &Core, id: Uuid) -> Result<OrderRow, OrderError> {
    orders::get_visible(&core.pool, id)
        .await?
        .ok_or_else(|| OrderError::NotFound {
            kind: "order",
            id: id.to_string(),
        })
}

/// Describes an order's status for messages, with Entrust's status when it adds something:
/// `ISSUED`, or `PENDING (Entrust status APPROVED)`.
pub(crate) fn describe_status(order: &OrderRow) -> String {
    match order.entrust_status.as_deref() {
        Some(entrust) if !entrust.eq_ignore_ascii_case(order.status.as_str()) => {
            format!("{} (Entrust status {entrust})", order.status)
        }
        _ => order.status.as_str().to_owned(),
    }
}

/// Checks that `order`'s status allows `action` and returns its Entrust tracking id.
pub(crate) fn check_state(order: &OrderRow, action: Action) -> Result<TrackingId, OrderError> {
    let (states, needed) = action.needed();
    let awaiting_approval = order.entrust_status.as_deref().is_none_or(|status| {
        status.eq_ignore_ascii_case("PENDING") || status.eq_ignore_ascii_case("PENDING_QUORUM")
    });
    let approval = matches!(action, Action::Approve | Action::Decline);
    let tracking_id = order
        .tracking_id
        .and_then(|id| u32::try_from(id).ok())
        .filter(|id| *id != 0);
    match tracking_id {
        Some(id) if states.contains(&order.status) && (!approval || awaiting_approval) => {
            Ok(TrackingId::new(id))
        }
        _ => Err(OrderError::WrongState {
            order_id: order.id,
            action: action.verb(),
            current: describe_status(order),
            needed,
        }),
    }
}

/// A claim on an order row for one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    order_id: Uuid,
    until: OffsetDateTime,
}

impl Claim {
    /// Ends the claim unless a state change ended it already. A failure is logged: the claim
    /// then lapses at its end.
    pub async fn release(self, core: &Core) {
        if let Err(error) = claims::release(&core.pool, self.order_id, self.until).await {
            tracing::warn!(
                order.id = %self.order_id, error = %error,
                "releasing the claim on an order failed; it lapses on its own"
            );
        }
    }
}

/// Claims `order` for the length of one Entrust call, and returns the claimed row. Fails with
/// [`OrderError::Busy`] while another request or the poller has claimed it, with
/// [`OrderError::WrongState`] when its status no longer allows `action`, and with
/// [`OrderError::NotFound`] when it was deleted meanwhile.
pub(crate) async fn claim(
    core: &Core,
    order: &OrderRow,
    action: Action,
) -> Result<(OrderRow, Claim), OrderError> {
    let now = core.now();
    let until = whole_microseconds(after(now, core.settings.claim_lease));
    if let Some(claimed) =
        claims::claim_for_action(&core.pool, order.id, order.status, now, until).await?
    {
        let claim = Claim {
            order_id: order.id,
            until,
        };
        return Ok((claimed, claim));
    }
    let current = visible_order(core, order.id).await?;
    if current.status == order.status {
        return Err(OrderError::Busy { order_id: order.id });
    }
    check_state(&current, action)?;
    Err(OrderError::Busy { order_id: order.id })
}

/// Rounds down to whole microseconds, the precision Postgres stores, so the stored claim
/// compares equal to the value [`Claim::release`] binds.
fn whole_microseconds(instant: OffsetDateTime) -> OffsetDateTime {
    let nanoseconds = instant.nanosecond();
    instant
        .replace_nanosecond(nanoseconds - nanoseconds % 1_000)
        .unwrap_or(instant)
}

/// Facts a completed operation records beside the state change.
#[derive(Debug, Default)]
pub(crate) struct Record<'a> {
    /// Entrust's status after the operation.
    pub entrust_status: Option<&'a str>,
    /// History detail, such as the decline reason.
    pub detail: Option<String>,
    /// The revocation, for `CertificateRevoked`.
    pub revoked: Option<RevokedCertificate<'a>>,
}

/// Moves `order` to `to` with its history entry, `OrderStatusChanged` and, for a revocation,
/// `CertificateRevoked`, in one transaction. When the order left its state meanwhile, nothing
/// is written and the current row is returned.
pub(crate) async fn record_change(
    core: &Core,
    order: &OrderRow,
    to: OrderState,
    record: Record<'_>,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let now = core.now();
    let change = StateChange {
        entrust_status: record.entrust_status.map(str::to_owned),
        next_poll_at: (to == OrderState::Pending).then(|| after(now, core.settings.poll_interval)),
        ..StateChange::default()
    };
    let mut tx = core.pool.begin().await?;
    let Some(updated) =
        orders::change_state(&mut tx, order.id, order.status, to, &change, now).await?
    else {
        tx.rollback().await?;
        return current(core, order.id).await;
    };

    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: step.actor,
            action: step.action,
            from_status: Some(order.status),
            to_status: Some(to),
            outcome: outcome_name(to),
            detail: record.detail,
        },
    )
    .await?;

    let status_event = events::status_changed(
        &updated,
        StatusChange {
            tracking_id: updated.tracking_id,
            previous: order.status,
            status: to,
            entrust_status: updated.entrust_status.as_deref(),
            error: None,
        },
    );
    core.outbox.enqueue(&mut tx, status_event).await?;
    if let Some(revoked) = &record.revoked {
        core.outbox
            .enqueue(&mut tx, events::certificate_revoked(&updated, revoked))
            .await?;
    }
    tx.commit().await?;
    tracing::info!(
        order.id = %order.id, order.from = order.status.as_str(), order.to = to.as_str(),
        action = step.action, actor = step.actor, "order changed state"
    );
    Ok(updated)
}

/// Records a step that changed nothing in Certitude, such as a rejection by Entrust.
pub(crate) async fn record_unchanged(
    core: &Core,
    order: &OrderRow,
    outcome: &str,
    detail: String,
    step: Step<'_>,
) -> Result<(), OrderError> {
    let mut conn = core.pool.acquire().await?;
    history::record(
        &mut conn,
        HistoryEntry {
            order_id: order.id,
            at: core.now(),
            actor: step.actor,
            action: step.action,
            from_status: Some(order.status),
            to_status: Some(order.status),
            outcome,
            detail: Some(detail),
        },
    )
    .await?;
    Ok(())
}

/// Brings `order` in line with what Entrust reported in `detail`, as the poller would:
/// a pending order goes through [`transition::apply`] (which takes in its certificate), any
/// other order changes state without a new certificate. Returns the order as it is now.
pub(crate) async fn apply_detail(
    core: &Core,
    order: &OrderRow,
    detail: OrderDetail,
    step: Step<'_>,
) -> Result<OrderRow, OrderError> {
    let state = OrderState::from_entrust(&detail.status);
    if state == order.status {
        return Ok(order.clone());
    }
    if order.status == OrderState::Pending {
        return transition::apply(core, order, Observation::from_detail(detail), step).await;
    }
    let record = Record {
        entrust_status: Some(detail.status.as_str()),
        ..Record::default()
    };
    record_change(core, order, state, record, step).await
}

async fn current(core: &Core, id: Uuid) -> Result<OrderRow, OrderError> {
    orders::get(&core.pool, id)
        .await?
        .ok_or_else(|| OrderError::NotFound {
            kind: "order",
            id: id.to_string(),
        })
}

fn outcome_name(state: OrderState) -> &'static str {
    match state {
        OrderState::Issued => "issued",
        OrderState::Pending => "pending",
        OrderState::Declined => "declined",
        OrderState::Suspended => "suspended",
        OrderState::Revoked => "revoked",
        OrderState::Superseded => "superseded",
        OrderState::Failed => "failed",
        _ => "changed",
    }
}

/// An order row for unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use time::macros::datetime;
    use uuid::Uuid;

    use crate::state::OrderState;
    use crate::store::inventory_state::InventoryColumns;
    use crate::store::orders::OrderRow;

    /// Returns an imported order with tracking id 4711 in `status`.
    pub fn order(status: OrderState, entrust_status: Option<&str>) -> OrderRow {
        OrderRow {
            id: Uuid::nil(),
            credential_id: "credential-1".into(),
            submission_marker: None,
            tracking_id: Some(4711),
            product: "STANDARD_SSL".into(),
            common_name: "www.example.com".into(),
            dns_names: vec!["www.example.com".into()],
            organization: None,
            client_id: None,
            validity_days: None,
            queue_for_approval: false,
            key_id: None,
            key_algorithm: None,
            csr_pem: None,
            public_key_spki: None,
            status,
            entrust_status: entrust_status.map(str::to_owned),
            certificate_id: None,
            serial_number: None,
            not_after: None,
            error: None,
            source: "imported".into(),
            submitted_at: None,
            submit_attempts: 0,
            next_poll_at: None,
            poll_attempts: 0,
            created_at: datetime!(2026-01-01 00:00 UTC),
            updated_at: datetime!(2026-01-01 00:00 UTC),
            renews_order_id: None,
            reissue_of_order_id: None,
            replaces_certificate_id: None,
            submission_credential_id: None,
            not_before: None,
            deleted_at: None,
            inventory: InventoryColumns::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::tests_support::order;
    use super::*;

    #[test]
    fn approval_needs_an_order_awaiting_approval() {
        let waiting = order(OrderState::Pending, Some("PENDING_QUORUM"));
        let approved = order(OrderState::Pending, Some("APPROVED"));

        assert_eq!(
            check_state(&waiting, Action::Approve).expect("allowed"),
            TrackingId::new(4711)
        );
        let error = check_state(&approved, Action::Approve).expect_err("already approved");
        assert_eq!(
            error.to_string(),
            "cannot approve order 00000000-0000-0000-0000-000000000000: its status is PENDING \
             (Entrust status APPROVED); approve needs a PENDING order awaiting approval (Entrust \
             status PENDING or PENDING_QUORUM)"
        );
    }

    #[test]
    fn wrong_state_names_current_and_needed_status() {
        let issued = order(OrderState::Issued, Some("ACTIVE"));

        let error = check_state(&issued, Action::Resume).expect_err("not suspended");

        let message = error.to_string();
        assert!(
            message.contains("its status is ISSUED (Entrust status ACTIVE)"),
            "{message}"
        );
        assert!(
            message.contains("resume needs a SUSPENDED order"),
            "{message}"
        );
    }

    #[test]
    fn each_action_accepts_its_states() {
        let cases = [
            (Action::Suspend, OrderState::Issued, true),
            (Action::Suspend, OrderState::Suspended, false),
            (Action::Resume, OrderState::Suspended, true),
            (Action::Renew, OrderState::Expired, true),
            (Action::Renew, OrderState::Superseded, false),
            (Action::Reissue, OrderState::Expired, false),
            (Action::Revoke, OrderState::Suspended, true),
            (Action::Revoke, OrderState::Revoked, false),
            (Action::Decline, OrderState::Issued, false),
        ];
        for (action, state, allowed) in cases {
            let result = check_state(&order(state, None), action);

            assert_eq!(result.is_ok(), allowed, "{action:?} from {state}");
        }
    }

    #[test]
    fn order_without_tracking_id_is_rejected() {
        let mut submitting = order(OrderState::Issued, None);
        submitting.tracking_id = None;

        assert!(check_state(&submitting, Action::Suspend).is_err());
    }

    #[test]
    fn blank_actor_is_api() {
        assert_eq!(actor_name("  "), "api");
        assert_eq!(actor_name("ops-token"), "ops-token");
    }

    #[test]
    fn claims_are_whole_microseconds() {
        let instant = datetime!(2026-03-01 12:00:00.123456789 UTC);

        assert_eq!(
            whole_microseconds(instant),
            datetime!(2026-03-01 12:00:00.123456 UTC)
        );
    }
}
