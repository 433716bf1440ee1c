//! Placing a new order: the idempotency check, the key pair or the requester's CSR, the
//! SUBMITTING row, then the submission.

use certitude_proto::credential::v1::GetOrderingCatalogRequest;
use uuid::Uuid;

use super::catalog_check::{self, CatalogLimits, OrderFacts};
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
/// Steps: check the order against the synced catalog, generate the key pair (keyed by the
/// idempotency key) unless the requester supplied a CSR, commit the order as SUBMITTING with a
/// fresh marker, then submit it. A second request with the same key finds the row and never
/// reaches Entrust.
pub(crate) async fn create_order(
    core: &Core,
    request: &ValidOrderRequest,
) -> Result<OrderRow, OrderError> {
    if let Some(existing) =
        orders::find_by_idempotency_key(&core.pool, &request.idempotency_key).await?
    {
        return same_order(existing, request);
    }

    check_catalog(core, request).await?;
    let authority = core.credentials.authority(&request.credential_id).await?;
    let key = order_key(core, request).await?;

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
        public_key_spki: key.public_key_spki,
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

/// The key an order is placed with.
struct OrderKey {
    /// Key pair in the key source; `None` for a supplied CSR.
    key_id: Option<String>,
    csr_pem: String,
    /// SubjectPublicKeyInfo in DER, read from the CSR.
    public_key_spki: Vec<u8>,
}

/// Returns the supplied CSR, or else a key pair from the key source with its CSR.
async fn order_key(core: &Core, request: &ValidOrderRequest) -> Result<OrderKey, OrderError> {
    if let Some(csr) = &request.supplied_csr {
        return Ok(OrderKey {
            key_id: None,
            csr_pem: csr.csr_pem.clone(),
            public_key_spki: csr.public_key_spki.clone(),
        });
    }
    let key = core.keys.generate_key(&request.key_request()).await?;
    let public_key_spki = checked_public_key(&key.key_id, &key.csr_pem, &key.public_key_spki)?;
    Ok(OrderKey {
        key_id: Some(key.key_id),
        csr_pem: key.csr_pem,
        public_key_spki,
    })
}

/// Checks the order against the credential's synced catalog; see [`catalog_check`].
pub(super) async fn check_catalog(
    core: &Core,
    request: &ValidOrderRequest,
) -> Result<(), OrderError> {
    let catalog = core
        .credentials
        .ordering_catalog(GetOrderingCatalogRequest {
            credential_id: request.credential_id.clone(),
            dns_names: request.dns_names.clone(),
            organization: request.organization.clone().unwrap_or_default(),
            product_type: request.product.clone(),
        })
        .await?;
    let facts = OrderFacts {
        credential_id: &request.credential_id,
        product: &request.product,
        dns_names: &request.dns_names,
        organization: request.organization.as_deref(),
        client_id: request.client_id,
        validity_days: request.validity_days,
    };
    let limits = CatalogLimits {
        private_maximum_days: core.settings.private_max_validity_days,
    };
    catalog_check::check(&facts, &catalog, limits, core.now())
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
            detail: Some(match &row.key_id {
                Some(key_id) => format!("key {key_id} ({})", row.key_algorithm),
                None => format!("the requester's CSR ({})", row.key_algorithm),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(order))
}

/// Returns `existing` when it was made from the same order details (the supplied CSR among
/// them), and an error naming the idempotency key when the key was used for a different order.
fn same_order(existing: OrderRow, request: &ValidOrderRequest) -> Result<OrderRow, OrderError> {
    let same_key = match &request.supplied_csr {
        Some(csr) => {
            existing.key_id.is_none() && existing.csr_pem.as_deref() == Some(csr.csr_pem.as_str())
        }
        None => existing.key_id.is_some(),
    };
    let same = same_key
        && existing.credential_id == request.credential_id
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
pub(crate) fn checked_public_key(
    key_id: &str,
    csr_pem: &str,
    spki: &[u8],
) -> Result<Vec<u8>, OrderError> {
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
