//! Renewals and reissues: a new Entrust order that replaces an existing one, placed through the
//! same machinery as a new order.
//!
//! The request's idempotency key finds the replacement made for it before anything else. A new
//! replacement gets its key pair: a new one from inventory, or for a renewal with `reuse_key`
//! the previous order's. An order placed with the requester's own CSR has no key pair in the
//! inventory, so `reuse_key` sends its stored CSR again and the renewal keeps an empty key id.
//! Without `reuse_key`, such an order gets a new key from inventory like any order. Its SUBMITTING row, with a fresh marker and the link to the replaced
//! order, is committed before Entrust is called, and [`crate::orders::submit::submit`] then
//! sends it. A lost response leaves it SUBMITTING for the reconciler, which looks it up by its
//! marker before it sends it again. The replaced order stays claimed while its replacement is
//! created, so two requests with different keys cannot both send one.

use certitude_proto::inventory::v1::KeyAlgorithm;
use entrust::model::TrackingId;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::authorize::{Acting, acting_credential, permission_denied_by_entrust};
use super::{Action, check_state, claim};
use crate::core::{Core, after};
use crate::error::OrderError;
use crate::orders::certificate::certificate_not_before;
use crate::orders::create::checked_public_key;
use crate::orders::submit::submit;
use crate::orders::transition::Step;
use crate::sources::{KeyRequest, key_algorithm_name, parse_key_algorithm};
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, NewOrderRow, OrderRow, Replacement, SuccessorLink};

/// Days after a certificate's issue before Entrust renews it.
const RENEWAL_MIN_AGE_DAYS: i64 = 30;

/// Whether a request renews or reissues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Renewal,
    Reissue,
}

impl Kind {
    fn action(self) -> Action {
        match self {
            Kind::Renewal => Action::Renew,
            Kind::Reissue => Action::Reissue,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Renewal => "renewal",
            Kind::Reissue => "reissue",
        }
    }

    /// Tells whether `replacement` is this kind of replacement of `order_id`.
    fn matches(self, replacement: Option<Replacement>, order_id: Uuid) -> bool {
        match (self, replacement) {
            (Kind::Renewal, Some(Replacement::Renewal(id)))
            | (Kind::Reissue, Some(Replacement::Reissue(id))) => id == order_id,
            _ => false,
        }
    }
}

/// A checked RenewOrder or ReissueOrder request.
#[derive(Debug, Clone)]
pub(crate) struct ReplaceRequest {
    pub kind: Kind,
    pub order_id: Uuid,
    pub admin_credential_id: Option<String>,
    pub actor: String,
    pub idempotency_key: String,
    /// Renew with the previous order's key pair; never set for a reissue.
    pub reuse_key: bool,
    /// Algorithm of the new key; `None` keeps the previous order's.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Validity of a renewal in days; `None` keeps the previous order's.
    pub validity_days: Option<u32>,
}

/// Renews or reissues the order `request` names and returns the new order, or returns the
/// replacement already made for the request's idempotency key.
pub(crate) async fn replace(core: &Core, request: &ReplaceRequest) -> Result<OrderRow, OrderError> {
    if let Some(existing) =
        orders::find_by_idempotency_key(&core.pool, &request.idempotency_key).await?
    {
        return same_replacement(existing, request);
    }

    let action = request.kind.action();
    let order = super::visible_order(core, request.order_id).await?;
    let tracking_id = check_state(&order, action)?;
    let has_csr = order.csr_pem.is_some() && order.public_key_spki.is_some();
    if request.reuse_key && !has_csr {
        return Err(OrderError::invalid(
            "reuse_key",
            format!(
                "order {} has no stored CSR (it was imported), so its key cannot be reused; \
                 renew it with a new key",
                order.id
            ),
        ));
    }
    let now = core.now();
    if request.kind == Kind::Renewal
        && let Some(issued_at) = order.not_before
    {
        check_renewal_date(order.id, issued_at, now)?;
    }
    let acting = acting_credential(
        core,
        &order,
        action,
        tracking_id,
        request.admin_credential_id.as_deref(),
    )
    .await?;
    if request.kind == Kind::Renewal
        && order.not_before.is_none()
        && let Some(issued_at) = issue_time_at_entrust(&acting, tracking_id).await?
    {
        check_renewal_date(order.id, issued_at, now)?;
    }

    let (order, claim) = claim(core, &order, action).await?;
    let result = replace_claimed(core, &order, request, &acting).await;
    // Superseding the order ended the claim already; this ends it in every other case.
    claim.release(core).await;
    result
}

/// Creates and submits the replacement of the claimed `order`.
async fn replace_claimed(
    core: &Core,
    order: &OrderRow,
    request: &ReplaceRequest,
    acting: &Acting,
) -> Result<OrderRow, OrderError> {
    let action = request.kind.action();
    if let Some(unsettled) = orders::unsettled_successor(&core.pool, order.id).await? {
        let kind = if unsettled.renews_order_id.is_some() {
            "renewal"
        } else {
            "reissue"
        };
        return Err(OrderError::WrongState {
            order_id: order.id,
            action: action.verb(),
            current: format!(
                "{}, with {kind} order {} still {}",
                super::describe_status(order),
                unsettled.id,
                unsettled.status
            ),
            needed: "no other renewal or reissue in progress; wait until it settles, or send \
                     its idempotency key again to get it",
        });
    }

    let row = new_row(core, order, request).await?;
    let link = SuccessorLink {
        renews_order_id: (request.kind == Kind::Renewal).then_some(order.id),
        reissue_of_order_id: (request.kind == Kind::Reissue).then_some(order.id),
        replaces_certificate_id: order.certificate_id,
        submission_credential_id: acting.named.then(|| acting.credential_id.clone()),
    };
    let Some(replacement) = insert(core, order, &row, &link, request).await? else {
        // Another request with the same key inserted first.
        let existing = orders::find_by_idempotency_key(&core.pool, &request.idempotency_key)
            .await?
            .ok_or_else(|| OrderError::NotFound {
                kind: "order for idempotency key",
                id: request.idempotency_key.clone(),
            })?;
        return same_replacement(existing, request);
    };

    let step = Step {
        actor: &request.actor,
        action: action.verb(),
    };
    match submit(core, &replacement, acting.authority.as_ref(), step).await {
        Err(OrderError::Rejected {
            source: entrust::Error::PermissionDenied { .. },
            ..
        }) => Err(permission_denied_by_entrust(core, order, action, acting).await),
        result => result,
    }
}

/// Builds the SUBMITTING row of the replacement: the previous order's product and names, and
/// its key pair or a new one.
async fn new_row(
    core: &Core,
    order: &OrderRow,
    request: &ReplaceRequest,
) -> Result<NewOrderRow, OrderError> {
    let previous_algorithm = order.key_algorithm.as_deref().and_then(parse_key_algorithm);
    let algorithm = request
        .key_algorithm
        .or(previous_algorithm)
        .unwrap_or(KeyAlgorithm::EcdsaP256);
    let (key_id, csr_pem, public_key_spki, algorithm_name) = match (
        request.reuse_key,
        &order.key_id,
        &order.csr_pem,
        &order.public_key_spki,
    ) {
        // A supplied CSR's order has no key id, and its renewal has none either.
        (true, key_id, Some(csr_pem), Some(spki)) => (
            key_id.clone(),
            csr_pem.clone(),
            spki.clone(),
            order
                .key_algorithm
                .clone()
                .unwrap_or_else(|| key_algorithm_name(algorithm).to_owned()),
        ),
        _ => {
            let key_request = KeyRequest {
                idempotency_key: request.idempotency_key.clone(),
                algorithm,
                common_name: order.common_name.clone(),
                dns_names: order.dns_names.clone(),
                organization: order.organization.clone(),
            };
            let key = core.keys.generate_key(&key_request).await?;
            let spki = checked_public_key(&key.key_id, &key.csr_pem, &key.public_key_spki)?;
            let name = key_algorithm_name(algorithm).to_owned();
            (Some(key.key_id), key.csr_pem, spki, name)
        }
    };

    let default_validity = i32::try_from(core.settings.default_validity_days).unwrap_or(i32::MAX);
    let validity_days = match request.validity_days {
        Some(days) => i32::try_from(days).unwrap_or(i32::MAX),
        None => order.validity_days.unwrap_or(default_validity),
    };
    Ok(NewOrderRow {
        id: Uuid::now_v7(),
        credential_id: order.credential_id.clone(),
        idempotency_key: request.idempotency_key.clone(),
        submission_marker: format!("certitude-{}", Uuid::new_v4().simple()),
        product: order.product.clone(),
        common_name: order.common_name.clone(),
        dns_names: order.dns_names.clone(),
        organization: order.organization.clone(),
        client_id: order.client_id,
        validity_days,
        queue_for_approval: false,
        key_id,
        key_algorithm: algorithm_name,
        csr_pem,
        public_key_spki,
    })
}

/// Inserts the SUBMITTING replacement, claimed for its submission, with a history entry on it
/// and one on the order it replaces. Returns `None` when another order has the idempotency key.
async fn insert(
    core: &Core,
    order: &OrderRow,
    row: &NewOrderRow,
    link: &SuccessorLink,
    request: &ReplaceRequest,
) -> Result<Option<OrderRow>, OrderError> {
    let now = core.now();
    let claimed_until = after(now, core.settings.claim_lease);
    let verb = request.kind.action().verb();
    let noun = request.kind.noun();
    let mut tx = core.pool.begin().await?;
    let inserted =
        orders::insert_submitting_successor(&mut tx, row, link, now, claimed_until).await?;
    let Some(replacement) = inserted else {
        tx.rollback().await?;
        return Ok(None);
    };

    let key = match (request.reuse_key, &row.key_id) {
        (true, Some(key_id)) => format!("the previous key {key_id}"),
        (true, None) => format!("the previous order's supplied CSR ({})", row.key_algorithm),
        (false, key_id) => format!(
            "new key {} ({})",
            key_id.as_deref().unwrap_or_default(),
            row.key_algorithm
        ),
    };
    history::record(
        &mut tx,
        HistoryEntry {
            order_id: replacement.id,
            at: now,
            actor: &request.actor,
            action: verb,
            from_status: None,
            to_status: Some(replacement.status),
            outcome: "stored",
            detail: Some(format!("{noun} of order {} with {key}", order.id)),
        },
    )
    .await?;

    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor: &request.actor,
            action: verb,
            from_status: Some(order.status),
            to_status: Some(order.status),
            outcome: "requested",
            detail: Some(format!("{noun} order {}", replacement.id)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(replacement))
}

/// Returns `existing` when it is the same kind of replacement of the same order, and an error
/// naming the idempotency key when the key was used for something else.
fn same_replacement(existing: OrderRow, request: &ReplaceRequest) -> Result<OrderRow, OrderError> {
    if request
        .kind
        .matches(existing.replacement(), request.order_id)
    {
        return Ok(existing);
    }
    Err(OrderError::invalid(
        "idempotency_key",
        format!(
            "was already used for order {}, which is not a {} of order {}; use a new key for a \
             new request",
            existing.id,
            request.kind.noun(),
            request.order_id
        ),
    ))
}

/// Fails with [`OrderError::RenewalTooEarly`] when a certificate issued at `issued_at` is
/// younger than 30 days at `now`.
fn check_renewal_date(
    order_id: Uuid,
    issued_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    let renewable_from = issued_at + time::Duration::days(RENEWAL_MIN_AGE_DAYS);
    if now >= renewable_from {
        return Ok(());
    }
    Err(OrderError::RenewalTooEarly {
        order_id,
        issued_at: rfc3339(issued_at),
        renewable_from: rfc3339(renewable_from),
    })
}

fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_default()
}

/// Reads when Entrust issued the order's certificate, for an order whose issue time is not
/// stored (one imported before Certitude kept it): the listed issue time, or the certificate's
/// start of validity. `None` when Entrust reports neither.
async fn issue_time_at_entrust(
    acting: &Acting,
    tracking_id: TrackingId,
) -> Result<Option<OffsetDateTime>, OrderError> {
    let detail = acting
        .authority
        .order(tracking_id)
        .await
        .map_err(OrderError::Entrust)?;
    let from_certificate = detail
        .certificate_pem
        .as_deref()
        .and_then(|pem| certificate_not_before(pem).ok());
    Ok(detail.issued_at.or(from_certificate))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn renewal_before_30_days_names_the_date() {
        let issued_at = datetime!(2026-03-01 10:00 UTC);

        let error = check_renewal_date(Uuid::nil(), issued_at, datetime!(2026-03-20 10:00 UTC))
            .expect_err("19 days is too early");

        let message = error.to_string();
        assert!(
            message.contains("issued at 2026-03-01T10:00:00Z"),
            "{message}"
        );
        assert!(message.contains("from 2026-03-31T10:00:00Z"), "{message}");
    }

    #[test]
    fn renewal_from_30_days_is_allowed() {
        let issued_at = datetime!(2026-03-01 10:00 UTC);

        assert!(
            check_renewal_date(Uuid::nil(), issued_at, datetime!(2026-03-31 10:00 UTC)).is_ok()
        );
    }

    #[test]
    fn key_of_another_request_kind_is_rejected() {
        let mut existing =
            super::super::tests_support::order(crate::state::OrderState::Issued, None);
        let order_id = Uuid::now_v7();
        existing.renews_order_id = Some(order_id);
        let request = ReplaceRequest {
            kind: Kind::Reissue,
            order_id,
            admin_credential_id: None,
            actor: "api".into(),
            idempotency_key: "key-1".into(),
            reuse_key: false,
            key_algorithm: None,
            validity_days: None,
        };

        let error = same_replacement(existing.clone(), &request).expect_err("a renewal");
        let renewal = ReplaceRequest {
            kind: Kind::Renewal,
            ..request
        };

        assert!(
            error.to_string().starts_with("idempotency_key: "),
            "{error}"
        );
        assert!(same_replacement(existing, &renewal).is_ok());
    }
}
