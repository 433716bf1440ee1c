//! Deleting a credential: ask order-manager whether orders still use it (unless forced), then
//! delete it with its CredentialRemoved event.

use certitude_platform::db::DbError;
use uuid::Uuid;

use super::{Credential, changes, events, store};
use crate::error::{ServiceError, error_chain};
use crate::order_manager::{OrderCountError, OrderCounter};
use crate::state::Deps;

/// Deletes the credential `id` with its sealed secrets, catalog and sync runs, and returns it
/// as it was.
///
/// Unless `force` is set, `orders` first counts the orders that use the credential: any order
/// makes the call fail with FAILED_PRECONDITION, and a failed count with UNAVAILABLE. A sync
/// run still fetching for the credential finds the credential gone when it ends, and records
/// nothing. Fails with NOT_FOUND for an unknown credential.
// NOTE: an order placed between the count and the deletion keeps the deleted credential's id;
// order-manager only learns of the deletion from CredentialRemoved.
#[tracing::instrument(skip_all, fields(credential.id = %id, force))]
pub async fn delete_credential(
    deps: &Deps,
    orders: &dyn OrderCounter,
    id: Uuid,
    force: bool,
) -> Result<Credential, ServiceError> {
    let credential = store::get(&deps.pool, id).await?;
    if !force {
        let count = orders
            .count_orders(id)
            .await
            .map_err(|error| count_error(id, error))?;
        if count > 0 {
            return Err(ServiceError::FailedPrecondition {
                message: format!(
                    "credential {id} ({}) is used by {count} order(s) in order-manager: delete \
                     it once no order uses it, or set force to delete it anyway (those orders \
                     can then no longer reach Entrust)",
                    credential.name
                ),
                source: None,
            });
        }
    }

    let mut tx = deps.pool.begin().await.map_err(DbError::from)?;
    let deleted = changes::delete(&mut tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("credential", id.to_string()))?;
    deps.outbox
        .enqueue(&mut tx, events::removed(&deleted, force))
        .await?;
    tx.commit().await.map_err(DbError::from)?;
    deps.entrust.forget_client(id);
    tracing::info!("deleted Entrust credential {}", deleted.name);
    Ok(deleted)
}

fn count_error(id: Uuid, error: OrderCountError) -> ServiceError {
    let reason = error_chain(&error);
    match error {
        OrderCountError::Unavailable { .. } => ServiceError::Unavailable {
            message: format!(
                "the orders that use credential {id} could not be counted ({reason}): retry \
                 once order-manager is reachable, or set force to delete without the check"
            ),
            source: None,
        },
        OrderCountError::Failed { .. } => ServiceError::OrderManager(error),
    }
}
