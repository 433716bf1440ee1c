//! Reading and writing `orders` rows: lookups, the insert of a new order, the keyset listing,
//! and the conditional state changes that [`crate::orders::transition`] records with their
//! history and events.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::inventory_state::InventoryColumns;
use crate::state::OrderState;

/// Columns of `orders` in the order [`OrderRow`] reads them.
pub(crate) const COLUMNS: &str = "id, credential_id, submission_marker, \
    tracking_id, product, common_name, dns_names, organization, client_id, validity_days, \
    queue_for_approval, key_id, key_algorithm, csr_pem, public_key_spki, status, entrust_status, \
    certificate_id, serial_number, not_after, error, source, submitted_at, submit_attempts, \
    next_poll_at, poll_attempts, created_at, updated_at, renews_order_id, reissue_of_order_id, \
    replaces_certificate_id, submission_credential_id, not_before, deleted_at, inventory_state, \
    inventory_reason, inventory_message";

/// One order as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub credential_id: String,
    pub submission_marker: Option<String>,
    pub tracking_id: Option<i64>,
    pub product: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub client_id: Option<i32>,
    pub validity_days: Option<i32>,
    pub queue_for_approval: bool,
    pub key_id: Option<String>,
    pub key_algorithm: Option<String>,
    pub csr_pem: Option<String>,
    pub public_key_spki: Option<Vec<u8>>,
    #[sqlx(try_from = "String")]
    pub status: OrderState,
    pub entrust_status: Option<String>,
    pub certificate_id: Option<Uuid>,
    pub serial_number: Option<String>,
    pub not_after: Option<OffsetDateTime>,
    pub error: Option<String>,
    pub source: String,
    pub submitted_at: Option<OffsetDateTime>,
    pub submit_attempts: i32,
    pub next_poll_at: Option<OffsetDateTime>,
    pub poll_attempts: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The order this one renews.
    pub renews_order_id: Option<Uuid>,
    /// The order this one reissues.
    pub reissue_of_order_id: Option<Uuid>,
    /// Certificate of the replaced order, for a renewal or reissue.
    pub replaces_certificate_id: Option<Uuid>,
    /// Credential that sends the submission when it is not `credential_id`.
    pub submission_credential_id: Option<String>,
    /// Start of the certificate's validity, once known.
    pub not_before: Option<OffsetDateTime>,
    /// When the order was deleted from Certitude; a deleted row is the tombstone of its
    /// tracking id.
    pub deleted_at: Option<OffsetDateTime>,
    /// Inventory state of the certificate, as the inventory last reported it.
    #[sqlx(flatten)]
    pub inventory: InventoryColumns,
}

/// Value of `source` for orders placed by Certitude; imported ones have `imported`.
pub const SOURCE_CREATED: &str = "created";

impl OrderRow {
    /// Tells whether Certitude placed this order (as opposed to importing it).
    pub fn is_created(&self) -> bool {
        self.source == SOURCE_CREATED
    }

    /// Returns the credential that talks to Entrust about this order: the one that submitted
    /// it, or the order's own.
    pub fn entrust_credential_id(&self) -> &str {
        self.submission_credential_id
            .as_deref()
            .unwrap_or(&self.credential_id)
    }

    /// Returns what this order replaces, when it is a renewal or a reissue.
    pub fn replacement(&self) -> Option<Replacement> {
        match (self.renews_order_id, self.reissue_of_order_id) {
            (Some(previous), _) => Some(Replacement::Renewal(previous)),
            (None, Some(previous)) => Some(Replacement::Reissue(previous)),
            (None, None) => None,
        }
    }
}

/// The kind of replacement an order is, with the id of the order it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    Renewal(Uuid),
    Reissue(Uuid),
}

impl Replacement {
    /// Returns the id of the replaced order.
    pub fn previous_order_id(self) -> Uuid {
        match self {
            Replacement::Renewal(id) | Replacement::Reissue(id) => id,
        }
    }

    /// Returns the name sent as `replacement` in CertificateIssued: `renewal` or `reissue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Replacement::Renewal(_) => "renewal",
            Replacement::Reissue(_) => "reissue",
        }
    }
}

/// A stored state name this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown order status {0:?} in the database")]
pub struct UnknownStateName(String);

impl TryFrom<String> for OrderState {
    type Error = UnknownStateName;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        OrderState::parse(&name).ok_or(UnknownStateName(name))
    }
}

/// A new order to insert as SUBMITTING, before its first submission to Entrust.
#[derive(Debug, Clone)]
pub struct NewOrderRow {
    pub id: Uuid,
    pub credential_id: String,
    pub idempotency_key: String,
    pub submission_marker: String,
    pub product: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub client_id: Option<i32>,
    pub validity_days: i32,
    pub queue_for_approval: bool,
    /// Key pair in the key source; `None` when the requester supplied the CSR.
    pub key_id: Option<String>,
    pub key_algorithm: String,
    pub csr_pem: String,
    pub public_key_spki: Vec<u8>,
}

/// The link of a renewal or reissue to the order it replaces.
#[derive(Debug, Clone, Default)]
pub struct SuccessorLink {
    pub renews_order_id: Option<Uuid>,
    pub reissue_of_order_id: Option<Uuid>,
    pub replaces_certificate_id: Option<Uuid>,
    /// Administrator credential that submits it, when it is not the order's own.
    pub submission_credential_id: Option<String>,
}

/// Inserts `order` as SUBMITTING with its submission started at `now` and claimed until
/// `claimed_until`, so the reconciler leaves it to the request that submits it. Returns `None`
/// when another order already has the idempotency key.
pub async fn insert_submitting(
    conn: &mut PgConnection,
    order: &NewOrderRow,
    now: OffsetDateTime,
    claimed_until: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    insert_submitting_successor(conn, order, &SuccessorLink::default(), now, claimed_until).await
}

/// Inserts `order` as [`insert_submitting`] does, with `link` to the order it replaces.
pub async fn insert_submitting_successor(
    conn: &mut PgConnection,
    order: &NewOrderRow,
    link: &SuccessorLink,
    now: OffsetDateTime,
    claimed_until: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "INSERT INTO orders (id, credential_id, idempotency_key, submission_marker, product,
             common_name, dns_names, organization, client_id, validity_days, queue_for_approval,
             key_id, key_algorithm, csr_pem, public_key_spki, status, source, submitted_at,
             submit_attempts, claimed_until, next_poll_at, created_at, updated_at,
             renews_order_id, reissue_of_order_id, replaces_certificate_id,
             submission_credential_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'SUBMITTING',
             'created', $16, 1, $17, $17, $16, $16, $18, $19, $20, $21)
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(order.id)
        .bind(&order.credential_id)
        .bind(&order.idempotency_key)
        .bind(&order.submission_marker)
        .bind(&order.product)
        .bind(&order.common_name)
        .bind(&order.dns_names)
        .bind(&order.organization)
        .bind(order.client_id)
        .bind(order.validity_days)
        .bind(order.queue_for_approval)
        .bind(&order.key_id)
        .bind(&order.key_algorithm)
        .bind(&order.csr_pem)
        .bind(&order.public_key_spki)
        .bind(now)
        .bind(claimed_until)
        .bind(link.renews_order_id)
        .bind(link.reissue_of_order_id)
        .bind(link.replaces_certificate_id)
        .bind(&link.submission_credential_id)
        .fetch_optional(conn)
        .await
}

/// Returns the order with `id`, deleted or not.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM orders WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Returns the order with `id` and locks its row until the caller's transaction ends.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM orders WHERE id = $1 FOR UPDATE");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Returns the order with `id` unless it was deleted.
pub async fn get_visible(pool: &PgPool, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM orders WHERE id = $1 AND deleted_at IS NULL");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Returns the order created for `idempotency_key`.
pub async fn find_by_idempotency_key(
    pool: &PgPool,
    idempotency_key: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!("SELECT {COLUMNS} FROM orders WHERE idempotency_key = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(idempotency_key)
        .fetch_optional(pool)
        .await
}

/// Position in the listing: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPosition {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// Returns up to `limit` orders after `after`, newest first, of one credential or of all.
/// Deleted orders are left out.
pub async fn list(
    pool: &PgPool,
    credential_id: Option<&str>,
    after: Option<ListPosition>,
    limit: u32,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let statement = format!(
        "SELECT {COLUMNS} FROM orders
         WHERE ($1::text IS NULL OR credential_id = $1)
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           AND deleted_at IS NULL
         ORDER BY created_at DESC, id DESC
         LIMIT $4"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(credential_id)
        .bind(after.map(|position| position.created_at))
        .bind(after.map(|position| position.id))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
}

/// A move of an order to another state, with what became known on the way. `None` fields keep
/// their stored value.
#[derive(Debug, Clone, Default)]
pub struct StateChange {
    pub tracking_id: Option<i64>,
    pub entrust_status: Option<String>,
    pub certificate_id: Option<Uuid>,
    pub serial_number: Option<String>,
    pub not_after: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    /// The new error text; `None` clears it.
    pub error: Option<String>,
    /// The next check; `None` when nothing is left to check.
    pub next_poll_at: Option<OffsetDateTime>,
}

/// Moves the order `id` from `from` to `to`, releasing any claim, and returns the new row.
/// Returns `None`, changing nothing, when the order is no longer in `from` or was deleted:
/// another replica or request moved it first, so the caller must not report the change.
pub async fn change_state(
    conn: &mut PgConnection,
    id: Uuid,
    from: OrderState,
    to: OrderState,
    change: &StateChange,
    now: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders
         SET status = $3, tracking_id = COALESCE($4, tracking_id),
             entrust_status = COALESCE($5, entrust_status),
             certificate_id = COALESCE($6, certificate_id),
             serial_number = COALESCE($7, serial_number), not_after = COALESCE($8, not_after),
             error = $9, next_poll_at = $10, poll_attempts = 0, claimed_until = NULL,
             updated_at = $11, not_before = COALESCE($12, not_before)
         WHERE id = $1 AND status = $2 AND deleted_at IS NULL
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(change.tracking_id)
        .bind(&change.entrust_status)
        .bind(change.certificate_id)
        .bind(&change.serial_number)
        .bind(change.not_after)
        .bind(&change.error)
        .bind(change.next_poll_at)
        .bind(now)
        .bind(change.not_before)
        .fetch_optional(conn)
        .await
}

/// Leaves a SUBMITTING order for the reconciler after a submission that did not settle it:
/// `reached_entrust` false means the order is known not to have reached Entrust, so the
/// reconciler may submit it again without looking for it first. Returns whether the order was
/// still SUBMITTING.
pub async fn park_submission(
    conn: &mut PgConnection,
    id: Uuid,
    reached_entrust: bool,
    error: &str,
    next_poll_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE orders
         SET submitted_at = CASE WHEN $2 THEN submitted_at ELSE NULL END, error = $3,
             next_poll_at = $4, poll_attempts = 0, claimed_until = NULL, updated_at = $5
         WHERE id = $1 AND status = 'SUBMITTING'",
    )
    .bind(id)
    .bind(reached_entrust)
    .bind(error)
    .bind(next_poll_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Records the start of another submission of a SUBMITTING order at `now` and extends its
/// claim to `claimed_until`. Returns the row, or `None` when the order left SUBMITTING.
pub async fn begin_resubmission(
    conn: &mut PgConnection,
    id: Uuid,
    now: OffsetDateTime,
    claimed_until: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders
         SET submitted_at = $2, submit_attempts = submit_attempts + 1, claimed_until = $3,
             updated_at = $2
         WHERE id = $1 AND status = 'SUBMITTING'
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(now)
        .bind(claimed_until)
        .fetch_optional(conn)
        .await
}

/// Marks the order `id` deleted by `actor` at `now`, unless it is deleted already, still
/// SUBMITTING or claimed by a replica or request. Returns the row as it is afterwards, or
/// `None`.
pub async fn mark_deleted(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders
         SET deleted_at = $2, deleted_by = $3, next_poll_at = NULL, updated_at = $2
         WHERE id = $1 AND deleted_at IS NULL AND status <> 'SUBMITTING'
           AND (claimed_until IS NULL OR claimed_until < $2)
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(now)
        .bind(actor)
        .fetch_optional(conn)
        .await
}

/// Brings back the deleted order `id`, scheduling a PENDING one for the poller at
/// `next_poll_at`. Returns whether it was deleted.
pub async fn restore(
    conn: &mut PgConnection,
    id: Uuid,
    next_poll_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let restored = sqlx::query(
        "UPDATE orders
         SET deleted_at = NULL, deleted_by = NULL, updated_at = $3,
             next_poll_at = CASE WHEN status = 'PENDING' THEN $2 ELSE next_poll_at END
         WHERE id = $1 AND deleted_at IS NOT NULL",
    )
    .bind(id)
    .bind(next_poll_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(restored.rows_affected() == 1)
}

/// Records Entrust's status of an order that stays in `expected` (an approved order whose
/// certificate comes later), schedules its next check at `next_poll_at` and releases any
/// claim. Returns the new row, or `None` when the order left `expected` or was deleted.
pub async fn note_entrust_status(
    conn: &mut PgConnection,
    id: Uuid,
    expected: OrderState,
    entrust_status: &str,
    next_poll_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "UPDATE orders
         SET entrust_status = $3, next_poll_at = $4, poll_attempts = 0, claimed_until = NULL,
             updated_at = $5
         WHERE id = $1 AND status = $2 AND deleted_at IS NULL
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(expected.as_str())
        .bind(entrust_status)
        .bind(next_poll_at)
        .bind(now)
        .fetch_optional(conn)
        .await
}

/// Returns a renewal or reissue of the order `id` that Entrust has not settled yet
/// (SUBMITTING or PENDING), if any.
pub async fn unsettled_successor(pool: &PgPool, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    let statement = format!(
        "SELECT {COLUMNS} FROM orders
         WHERE (renews_order_id = $1 OR reissue_of_order_id = $1)
           AND status IN ('SUBMITTING', 'PENDING') AND deleted_at IS NULL
         ORDER BY created_at
         LIMIT 1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await
}
