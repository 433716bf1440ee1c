//! The hash chain of `audit_log` and how rows are appended to it.
//!
//! Row `n` stores `prev_hash`, the hash of row `n - 1` (64 zeros for row 1), and
//! `hash = SHA-256(prev_hash || canonical fields)`, where `prev_hash` enters as its 64
//! lower-case hexadecimal characters.
//!
//! The canonical serialization is the tag `certitude-audit-v1`, then the fields in this order:
//! sequence, `occurred_at` in Unix microseconds, `request_id`, `actor_token_id`, `actor_name`,
//! `actor_role`, `method`, `route`, `target`, `status` and `outcome`. Numbers are written in
//! decimal. Each field is a presence byte (0 for NULL, then nothing more), an 8-byte big-endian
//! length and the UTF-8 text, so no two different rows serialize alike.
//!
//! A changed field, a removed row or rows removed at the end show when the chain is walked
//! again and compared with an anchored head.

use std::fmt;

use aws_lc_rs::digest;
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Principal;

/// `prev_hash` of the first row: 32 zero bytes in hexadecimal.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Tag at the start of every serialized row, so a future format cannot hash alike.
const FORMAT_TAG: &[u8] = b"certitude-audit-v1";

/// Whether a change succeeded, from its HTTP status: below 400 is a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// Returns the outcome of a response with `status`.
    pub fn of_status(status: u16) -> Self {
        if status < 400 {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    /// Returns the stored name of the outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// A change to record, before it gets its place in the chain.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub occurred_at: OffsetDateTime,
    pub request_id: String,
    /// The authenticated caller; `None` for a change without a token.
    pub actor: Option<Principal>,
    pub method: String,
    /// The route template, such as `/v1/orders/{id}/revoke`.
    pub route: String,
    /// The path parameters and the created resource's `Location`, such as `id=0191...`.
    pub target: Option<String>,
    pub status: u16,
}

/// A stored row of `audit_log`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub sequence: i64,
    pub occurred_at: OffsetDateTime,
    pub request_id: String,
    pub actor_token_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub actor_role: Option<String>,
    pub method: String,
    pub route: String,
    pub target: Option<String>,
    pub status: i16,
    pub outcome: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// Computes the hash the row must store: SHA-256 over `prev_hash` and the canonical
    /// serialization of every other field, in lower-case hexadecimal.
    pub fn compute_hash(&self) -> String {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(self.prev_hash.as_bytes());
        context.update(&self.canonical_fields());
        hex::encode(context.finish())
    }

    fn canonical_fields(&self) -> Vec<u8> {
        let micros = self.occurred_at.unix_timestamp_nanos() / 1_000;
        let token_id = self.actor_token_id.map(|id| id.to_string());
        let fields: [Option<&str>; 11] = [
            Some(&self.sequence.to_string()),
            Some(&micros.to_string()),
            Some(&self.request_id),
            token_id.as_deref(),
            self.actor_name.as_deref(),
            self.actor_role.as_deref(),
            Some(&self.method),
            Some(&self.route),
            self.target.as_deref(),
            Some(&self.status.to_string()),
            Some(&self.outcome),
        ];
        let mut bytes = FORMAT_TAG.to_vec();
        for field in fields {
            write_field(&mut bytes, field);
        }
        bytes
    }
}

fn write_field(bytes: &mut Vec<u8>, field: Option<&str>) {
    match field {
        None => bytes.push(0),
        Some(text) => {
            bytes.push(1);
            // A usize fits in a u64 on every platform Rust supports, so the length is exact.
            let length = u64::try_from(text.len()).unwrap_or(u64::MAX);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
    }
}

/// The last row of the chain: its sequence (0 while the chain is empty) and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: String,
}

/// `SEQUENCE:HASH`, the form in which the head is logged and passed to `verify-audit`.
impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.sequence, self.hash)
    }
}

/// Appends `event` as the next row of the chain and returns the new head.
///
/// The head row is locked with `SELECT ... FOR UPDATE` in the transaction of the insert, so
/// gateways appending at the same time wait for each other and the chain stays one sequence.
///
/// # Errors
/// The database error; nothing is stored then.
pub async fn append(pool: &PgPool, event: AuditEvent) -> Result<ChainHead, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let head: ChainHead =
        sqlx::query_as("SELECT sequence, hash FROM audit_chain_head WHERE singleton FOR UPDATE")
            .fetch_one(&mut *transaction)
            .await?;

    let row = chain_row(event, &head);
    sqlx::query(
        "INSERT INTO audit_log (sequence, occurred_at, request_id, actor_token_id, actor_name,
             actor_role, method, route, target, status, outcome, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(row.sequence)
    .bind(row.occurred_at)
    .bind(&row.request_id)
    .bind(row.actor_token_id)
    .bind(&row.actor_name)
    .bind(&row.actor_role)
    .bind(&row.method)
    .bind(&row.route)
    .bind(&row.target)
    .bind(row.status)
    .bind(&row.outcome)
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(&mut *transaction)
    .await?;
    sqlx::query("UPDATE audit_chain_head SET sequence = $1, hash = $2 WHERE singleton")
        .bind(row.sequence)
        .bind(&row.hash)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;

    Ok(ChainHead {
        sequence: row.sequence,
        hash: row.hash,
    })
}

/// Builds the row that follows `head`, with its time cut to the microseconds Postgres stores.
fn chain_row(event: AuditEvent, head: &ChainHead) -> AuditRow {
    let micros = event.occurred_at.unix_timestamp_nanos() / 1_000;
    let occurred_at =
        OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).unwrap_or(event.occurred_at);
    let status = i16::try_from(event.status).unwrap_or(i16::MAX);
    let mut row = AuditRow {
        sequence: head.sequence + 1,
        occurred_at,
        request_id: event.request_id,
        actor_token_id: event.actor.as_ref().map(|actor| actor.token_id),
        actor_name: event.actor.as_ref().map(|actor| actor.token_name.clone()),
        actor_role: event.actor.as_ref().map(|actor| actor.role.to_string()),
        method: event.method,
        route: event.route,
        target: event.target,
        status,
        outcome: Outcome::of_status(event.status).as_str().to_owned(),
        prev_hash: head.hash.clone(),
        hash: String::new(),
    };
    row.hash = row.compute_hash();
    row
}

/// Reads the current head of the chain.
///
/// # Errors
/// The database error.
pub async fn read_head(pool: &PgPool) -> Result<ChainHead, sqlx::Error> {
    sqlx::query_as("SELECT sequence, hash FROM audit_chain_head WHERE singleton")
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Role;

    fn event() -> AuditEvent {
        AuditEvent {
            occurred_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            request_id: "request-1".to_owned(),
            actor: Some(Principal {
                token_id: Uuid::nil(),
                token_name: "ci".to_owned(),
                role: Role::Operator,
            }),
            method: "POST".to_owned(),
            route: "/v1/orders/{id}/revoke".to_owned(),
            target: Some("id=0191d2a0-0000-7000-8000-000000000001".to_owned()),
            status: 200,
        }
    }

    fn genesis() -> ChainHead {
        ChainHead {
            sequence: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }

    #[test]
    fn first_row_follows_genesis() {
        let row = chain_row(event(), &genesis());

        assert_eq!(row.sequence, 1);
        assert_eq!(row.prev_hash, GENESIS_HASH);
        assert_eq!(row.hash.len(), 64);
        assert_eq!(row.hash, row.compute_hash());
    }

    #[test]
    fn any_field_change_changes_hash() {
        let row = chain_row(event(), &genesis());
        let mut edited = row.clone();
        edited.status = 404;
        let mut moved = row.clone();
        moved.actor_name = None;
        moved.actor_role = Some("ci".to_owned());

        assert_ne!(edited.compute_hash(), row.hash);
        assert_ne!(moved.compute_hash(), row.hash);
    }

    #[test]
    fn absent_and_empty_fields_differ() {
        let mut absent = chain_row(event(), &genesis());
        absent.target = None;
        let mut empty = absent.clone();
        empty.target = Some(String::new());

        assert_ne!(absent.compute_hash(), empty.compute_hash());
    }

    #[test]
    fn outcome_follows_status() {
        assert_eq!(Outcome::of_status(201), Outcome::Success);
        assert_eq!(Outcome::of_status(302), Outcome::Success);
        assert_eq!(Outcome::of_status(404), Outcome::Failure);
        assert_eq!(Outcome::of_status(503), Outcome::Failure);
    }
}
