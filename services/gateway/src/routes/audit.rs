//! `GET /v1/audit` and `GET /v1/audit/head`: the audit trail of changes, for admins.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, AuditRow, ChainHead};
use crate::auth::Principal;
use crate::extract::QueryParams;
use crate::openapi::enum_schema;
use crate::pagination::{Page, PageQuery};
use crate::problem::Problem;
use crate::tokens::Role;

/// Query of `GET /v1/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only the changes of this token.
    #[param(format = Uuid)]
    actor_token_id: Option<String>,
    #[param(value_type = Option<AuditedMethod>, inline)]
    method: Option<String>,
    #[param(value_type = Option<AuditOutcome>, inline)]
    outcome: Option<String>,
    /// Only changes at or after this time.
    #[param(format = DateTime)]
    from: Option<String>,
    /// Only changes before this time.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Rows per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    cursor: Option<String>,
}

/// Validated filters of `GET /v1/audit`.
#[derive(Debug)]
struct AuditFilter {
    actor_token_id: Option<Uuid>,
    method: Option<String>,
    outcome: Option<String>,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    before_sequence: Option<i64>,
    limit: u32,
}

impl AuditQuery {
    fn filter(self) -> Result<AuditFilter, Problem> {
        let page = PageQuery::new(self.limit, self.cursor);
        Ok(AuditFilter {
            actor_token_id: self
                .actor_token_id
                .map(|id| parse_uuid("actor_token_id", &id))
                .transpose()?,
            method: self
                .method
                .map(|method| parse_method(&method))
                .transpose()?,
            outcome: self
                .outcome
                .map(|outcome| parse_outcome(&outcome))
                .transpose()?,
            from: self
                .from
                .map(|time| parse_time("from", &time))
                .transpose()?,
            to: self.to.map(|time| parse_time("to", &time)).transpose()?,
            before_sequence: parse_cursor(&page.page_token()?)?,
            limit: page.limit()?,
        })
    }
}

fn parse_uuid(field: &str, value: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(value)
        .map_err(|_| Problem::invalid_field(field, format!("{value:?} is not a UUID")))
}

fn parse_method(value: &str) -> Result<String, Problem> {
    let method = value.to_ascii_uppercase();
    if matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        Ok(method)
    } else {
        Err(Problem::invalid_field(
            "method",
            format!("{value:?} is not recorded: use POST, PUT, PATCH or DELETE"),
        ))
    }
}

fn parse_outcome(value: &str) -> Result<String, Problem> {
    match value {
        "success" | "failure" => Ok(value.to_owned()),
        _ => Err(Problem::invalid_field(
            "outcome",
            format!("{value:?} is unknown: use success or failure"),
        )),
    }
}

fn parse_time(field: &str, value: &str) -> Result<OffsetDateTime, Problem> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        Problem::invalid_field(
            field,
            format!("{value:?} is not an RFC 3339 time such as 2026-12-04T00:00:00Z"),
        )
    })
}

/// Parses the cursor, which is the sequence of the last row of the previous page.
fn parse_cursor(token: &str) -> Result<Option<i64>, Problem> {
    if token.is_empty() {
        return Ok(None);
    }
    match token.parse::<i64>() {
        Ok(sequence) if sequence > 0 => Ok(Some(sequence)),
        _ => Err(Problem::invalid_field(
            "cursor",
            "is not a cursor from a previous page: pass next_cursor unchanged",
        )),
    }
}

/// One audit row as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    #[schema(minimum = 1)]
    sequence: i64,
    /// When the response was ready.
    #[schema(format = DateTime)]
    occurred_at: String,
    /// The request's `x-request-id`.
    request_id: String,
    /// The token that made the change; never the token itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    actor_token_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    actor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    actor_role: Option<String>,
    method: String,
    /// The route template, such as `/v1/orders/{id}/revoke`.
    route: String,
    /// The path parameters as `name=value` joined by `&`, and `location=` the `Location`
    /// header of a created resource or started job.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target: Option<String>,
    /// The response's HTTP status.
    status: i16,
    /// `success` below status 400, `failure` from 400.
    #[schema(value_type = AuditOutcome)]
    outcome: String,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    prev_hash: String,
    /// SHA-256 over `prev_hash` and the row's other fields.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    hash: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            sequence: row.sequence,
            occurred_at: row.occurred_at.format(&Rfc3339).unwrap_or_default(),
            request_id: row.request_id,
            actor_token_id: row.actor_token_id,
            actor_name: row.actor_name,
            actor_role: row.actor_role,
            method: row.method,
            route: row.route,
            target: row.target,
            status: row.status,
            outcome: row.outcome,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// `GET /v1/audit`: one page of audit rows, newest first.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "audit",
    operation_id = "listAuditEntries",
    summary = "List the audit trail of changes, newest first",
    description = "Filters combine with AND. Needs the admin role.",
    params(AuditQuery),
    responses((status = 200, description = "One page of audit rows.", body = Page<AuditEntry>)),
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, Problem> {
    principal.require(Role::Admin)?;
    let filter = query.filter()?;

    let mut rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT * FROM audit_log
         WHERE ($1::uuid IS NULL OR actor_token_id = $1)
           AND ($2::text IS NULL OR method = $2)
           AND ($3::text IS NULL OR outcome = $3)
           AND ($4::timestamptz IS NULL OR occurred_at >= $4)
           AND ($5::timestamptz IS NULL OR occurred_at < $5)
           AND ($6::bigint IS NULL OR sequence < $6)
         ORDER BY sequence DESC
         LIMIT $7",
    )
    .bind(filter.actor_token_id)
    .bind(&filter.method)
    .bind(&filter.outcome)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.before_sequence)
    .bind(i64::from(filter.limit) + 1)
    .fetch_all(&state.pool)
    .await
    .map_err(|error| {
        tracing::error!(error = %error, "failed to list audit rows");
        Problem::unavailable("reading the audit trail failed; try again")
    })?;

    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| row.sequence.to_string())
    } else {
        None
    };
    let items = rows.into_iter().map(AuditEntry::from).collect();
    Ok(Json(Page::new(items, next_cursor.unwrap_or_default())))
}

/// The chain head as `GET /v1/audit/head` returns it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditHead)]
pub struct HeadResponse {
    /// Sequence of the last row; 0 while the trail is empty.
    #[schema(minimum = 0)]
    sequence: i64,
    /// Hash of the last row; 64 zeros while the trail is empty.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    hash: String,
    /// `SEQUENCE:HASH`, the value `certitude verify-audit --expected-head` takes.
    #[schema(pattern = "^[0-9]+:[0-9a-f]{64}$")]
    anchor: String,
}

/// `GET /v1/audit/head`: the sequence and hash of the last audit row.
#[utoipa::path(
    get,
    path = "/v1/audit/head",
    tag = "audit",
    operation_id = "getAuditHead",
    summary = "Get the sequence and hash of the audit trail's last row",
    description = "The anchor to keep outside the database. Needs the admin role.",
    responses((status = 200, description = "The chain head.", body = HeadResponse)),
)]
pub async fn head(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<HeadResponse>, Problem> {
    principal.require(Role::Admin)?;
    let head: ChainHead = audit::read_head(&state.pool).await.map_err(|error| {
        tracing::error!(error = %error, "failed to read the audit chain head");
        Problem::unavailable("reading the audit chain head failed; try again")
    })?;
    Ok(Json(HeadResponse {
        anchor: head.to_string(),
        sequence: head.sequence,
        hash: head.hash,
    }))
}

enum_schema!(
    /// HTTP method of a recorded change.
    AuditedMethod = &["POST", "PUT", "PATCH", "DELETE"]
);

enum_schema!(
    /// Outcome of a recorded change.
    AuditOutcome = &["success", "failure"]
);
