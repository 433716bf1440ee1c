//! CountOrders: how many orders a credential has, for credential-sync to check before it
//! deletes the credential.

use certitude_proto::order::v1::{CountOrdersRequest, CountOrdersResponse};
use sqlx::PgPool;

use crate::error::OrderError;

/// Counts every order of the request's credential, whatever its state, leaving out deleted
/// ones. An unknown credential has none, so the count is 0 rather than NOT_FOUND:
/// order-manager keeps no list of credentials.
pub(crate) async fn count_orders(
    pool: &PgPool,
    request: &CountOrdersRequest,
) -> Result<CountOrdersResponse, OrderError> {
    let credential_id = request.credential_id.trim();
    if credential_id.is_empty() {
        return Err(OrderError::invalid(
            "credential_id",
            "is empty; name the credential whose orders to count",
        ));
    }
    // The index on (credential_id, created_at, id) serves this count.
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE credential_id = $1 AND deleted_at IS NULL",
    )
    .bind(credential_id)
    .fetch_one(pool)
    .await?;
    Ok(CountOrdersResponse {
        count: u64::try_from(count).unwrap_or_default(),
    })
}
