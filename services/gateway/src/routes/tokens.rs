//! `POST`, `GET` and `DELETE /v1/tokens`: API tokens, managed by admins.
//!
//! A new token is returned once, in the creation response; only its SHA-256 digest is stored,
//! so it cannot be shown again. Revoking a token keeps its row (with `revoked_at`), so the audit
//! trail can still name it.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::pagination::{Page, PageQuery};
use crate::problem::Problem;
use crate::routes::credentials::created;
use crate::routes::parse_id;
use crate::tokens::{self, Role};

/// Maximum length of a token's name, in characters.
const MAX_NAME_LENGTH: usize = 100;

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: String,
    /// RFC 3339 time after which the token no longer authenticates; none for no expiry.
    expires_at: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Token {
    id: Uuid,
    name: String,
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

/// The response of `POST /v1/tokens`: the token with its secret, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    token: Token,
    /// The bearer token. Store it now: Certitude keeps only its digest.
    token_secret: String,
}

/// Query of `GET /v1/tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

const COLUMNS: &str = "id, name, role, created_at, expires_at, revoked_at";

fn checked_name(name: &str) -> Result<String, Problem> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH || name.contains(char::is_control)
    {
        return Err(Problem::invalid_field(
            "name",
            format!(
                "use 1 to {MAX_NAME_LENGTH} printable characters that say who or what uses the \
                 token, such as \"deploy-pipeline\""
            ),
        ));
    }
    Ok(name.to_owned())
}

fn checked_expiry(
    expires_at: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, Problem> {
    let Some(text) = expires_at else {
        return Ok(None);
    };
    let expires_at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        Problem::invalid_field(
            "expires_at",
            "is not an RFC 3339 time: use a time such as 2027-06-30T00:00:00Z, or leave it out \
             for a token without expiry",
        )
    })?;
    if expires_at <= now {
        return Err(Problem::invalid_field(
            "expires_at",
            "is in the past: use a time in the future",
        ));
    }
    Ok(Some(expires_at))
}

/// `POST /v1/tokens`: creates a token and returns its secret once.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Admin)?;
    let name = checked_name(&body.name)?;
    let role: Role = body
        .role
        .parse()
        .map_err(|message: String| Problem::invalid_field("role", message))?;
    let now = state.clock.now();
    let expires_at = checked_expiry(body.expires_at.as_deref(), now)?;
    let secret = tokens::generate_token().map_err(|_| {
        tracing::error!("generating a token failed: the system random source is unavailable");
        Problem::internal()
    })?;

    let statement = format!(
        "INSERT INTO tokens (id, name, role, digest, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let token: Token = sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(Uuid::now_v7())
        .bind(&name)
        .bind(role.as_str())
        .bind(tokens::token_digest(&secret))
        .bind(now)
        .bind(expires_at)
        .fetch_one(&state.pool)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "storing a new token failed");
            Problem::unavailable("the token could not be stored; try again")
        })?;
    tracing::info!(
        token.id = %token.id,
        token.name = %token.name,
        token.role = %token.role,
        created_by = %principal.token_name,
        "created an API token"
    );
    let location = format!("/v1/tokens/{}", token.id);
    Ok(created(
        location,
        CreatedToken {
            token,
            token_secret: secret,
        },
    ))
}

/// `GET /v1/tokens`: every token, newest first, revoked and expired ones included.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Page<Token>>, Problem> {
    principal.require(Role::Admin)?;
    let page = PageQuery::new(query.limit, query.cursor);
    let limit = page.limit()?;
    let cursor = page.page_token()?;
    let before = if cursor.is_empty() {
        None
    } else {
        Some(Uuid::parse_str(&cursor).map_err(|_| {
            Problem::invalid_field(
                "cursor",
                "is not a cursor of this list: send the next_cursor of the previous page",
            )
        })?)
    };
    let statement = format!(
        "SELECT {COLUMNS} FROM tokens WHERE ($1::uuid IS NULL OR id < $1)
         ORDER BY id DESC LIMIT $2"
    );
    let mut rows: Vec<Token> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&state.pool)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "listing tokens failed");
            Problem::unavailable("the tokens could not be read; try again")
        })?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|token| token.id.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Json(Page::new(rows, next)))
}

/// `DELETE /v1/tokens/{id}`: revokes a token at once and returns it. Revoking a revoked token
/// changes nothing.
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Token>, Problem> {
    principal.require(Role::Admin)?;
    let id = parse_id("id", &id)?;
    let statement = format!(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1::uuid
         RETURNING {COLUMNS}"
    );
    let token: Option<Token> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(&id)
        .bind(state.clock.now())
        .fetch_optional(&state.pool)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, token.id = %id, "revoking a token failed");
            Problem::unavailable("the token could not be revoked; try again")
        })?;
    let token = token.ok_or_else(|| Problem::not_found(format!("token {id} not found")))?;
    tracing::info!(
        token.id = %token.id,
        revoked_by = %principal.token_name,
        "revoked an API token"
    );
    Ok(Json(token))
}
