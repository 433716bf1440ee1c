//! Placing a new order: the idempotency check, the key pair, the SUBMITTING row, then the
//! submission.

use uuid::Uuid;

use super::certificate::csr_public_key;
use super::submit::submit;
use super::transition::Step;
use super::validate::ValidOrderRequest;
use crate::core::{Core, after};
use crate::error::OrderError;
use crate::state::OrderState;
use crate::store::history::{self, HistoryEntry};
use crate::store::orders::{self, NewOrderRow, OrderRow};

/// Places the order `request` describes, or returns the order already made for its
/// idempotency key.
///
/// Steps: generate the key pair (keyed by the idempotency key), commit the order as SUBMITTING
/// with a fresh marker, then submit it. A second request with the same key finds the row and
/// never reaches Entrust.
pub(crate) async fn create_order(
    core: &Core,
    request: &ValidOrderRequest,
) -> Result<OrderRow, OrderError> {
    if let Some(existing) =
        orders::find_by_idempotency_key(&core.pool, &request.idempotency_key).await?
    {
        return same_order(existing, request);
    }

    let authority = core.credentials.authority(&request.credential_id).await?;
    let key = core.keys.generate_key(&request.key_request()).await?;
    let public_key_spki = checked_public_key(&key.key_id, &key.csr_pem, &key.public_key_spki)?;

    let row = NewOrderRow {
        id: Uuid::now_v7(),
        credential_id: request.credential_id.clone(),
        idempotency_key: request.idempotency_key.clone(),
        submission_marker: format!("certitude-{}", Uuid::new_v4().simple()),
        product: request.product.clone(),
        common_name: request.common_name.clone(),
        dns_names: request.dns_names.clone(),
        organization: request.organization.clone(),
        client_id: request.client_id,
        validity_days: i32::try_from(request.validity_days).unwrap_or(i32::MAX),
        queue_for_approval: request.queue_for_approval,
        key_id: key.key_id,
        key_algorithm: request.key_algorithm_name().to_owned(),
        csr_pem: key.csr_pem,
        public_key_spki,
    };
    let Some(order) = insert(core, &row, &request.actor).await? else {
        // Another request with the same key inserted first.
        let existing = orders::find_by_idempotency_key(&core.pool, &request.idempotency_key)
            .await?
            .ok_or_else(|| OrderError::NotFound {
                kind: "order for idempotency key",
                id: request.idempotency_key.clone(),
            })?;
        return same_order(existing, request);
    };

    let step = Step {
        actor: &request.actor,
        action: "submit",
    };
    submit(core, &order, authority.as_ref(), step).await
}

/// Inserts the SUBMITTING row with its first history entry, claimed for the length of a
/// submission so that the reconciler leaves it to this request.
async fn insert(
    core: &Core,
    row: &NewOrderRow,
    actor: &str,
) -> Result<Option<OrderRow>, OrderError> {
    let now = core.now();
    let claimed_until = after(now, core.settings.claim_lease);
    let mut tx = core.pool.begin().await?;
    let Some(order) = orders::insert_submitting(&mut tx, row, now, claimed_until).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    history::record(
        &mut tx,
        HistoryEntry {
            order_id: order.id,
            at: now,
            actor,
            action: "create",
            from_status: None,
            to_status: Some(OrderState::Submitting),
            outcome: "stored",
            detail: Some(format!("key {} ({})", row.key_id, row.key_algorithm)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(order))
}

/// Returns `existing` when it was made from the same order details, and an error naming the
/// idempotency key when the key was used for a different order.
fn same_order(existing: OrderRow, request: &ValidOrderRequest) -> Result<OrderRow, OrderError> {
    let same = existing.credential_id == request.credential_id
        && existing.product == request.product
        && existing.common_name == request.common_name
        && existing.dns_names == request.dns_names
        && existing.key_algorithm.as_deref() == Some(request.key_algorithm_name());
    if same {
        Ok(existing)
    } else {
        Err(OrderError::invalid(
            "idempotency_key",
            format!(
                "was already used for order {} with other details; use a new key for a new order",
                existing.id
            ),
        ))
    }
}

/// Returns the CSR's public key after checking that it is the key the key source reported.
fn checked_public_key(key_id: &str, csr_pem: &str, spki: &[u8]) -> Result<Vec<u8>, OrderError> {
    let from_csr = csr_public_key(csr_pem).map_err(|source| OrderError::UnparsableCsr {
        key_id: key_id.to_owned(),
        source,
    })?;
    if from_csr != spki {
        return Err(OrderError::CsrKeyMismatch {
            key_id: key_id.to_owned(),
        });
    }
    Ok(from_csr)
}
