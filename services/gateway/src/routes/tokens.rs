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
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{IdPath, enum_schema};
use crate::pagination::{Page, PageQuery};
use crate::problem::Problem;
use crate::routes::credentials::created;
use crate::routes::parse_id;
use crate::tokens::{self, Role};

/// Maximum length of a token's name, in characters.
const MAX_NAME_LENGTH: usize = 100;

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Name of the token's user, such as `deploy-pipeline`: 1 to 100 printable characters after
    /// trimming.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(value_type = RoleName)]
    role: String,
    /// RFC 3339 time after which the token no longer authenticates, in the future; none for
    /// no expiry.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Token {
    id: Uuid,
    name: String,
    #[schema(value_type = RoleName)]
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// `null` for a token without expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    expires_at: Option<OffsetDateTime>,
    /// `null` until the token is revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    revoked_at: Option<OffsetDateTime>,
}

/// The response of `POST /v1/tokens`: the token with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    token: Token,
    /// The bearer token. Store it now: Certitude keeps only its digest.
    #[schema(pattern = "^ctk_[A-Za-z0-9_-]{43}$")]
    token_secret: String,
}

/// Query of `GET /v1/tokens`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Tokens per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
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
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "createToken",
    summary = "Create an API token",
    description = "The response contains `token_secret`, shown this once: only its SHA-256 digest is \
                   stored. Needs the admin role.",
    request_body = CreateToken,
    responses(
        (status = 201, description = "The token with its secret.", body = CreatedToken,
            headers(("Location" = String))),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "tokens",
    operation_id = "listTokens",
    summary = "List every token, newest first, never a secret",
    description = "Revoked and expired tokens are included. Needs the admin role.",
    params(ListQuery),
    responses((status = 200, description = "One page of tokens.", body = Page<Token>)),
)]
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
#[utoipa::path(
    delete,
    path = "/v1/tokens/{id}",
    tag = "tokens",
    operation_id = "revokeToken",
    summary = "Revoke a token at once",
    description = "Revoking a revoked token changes nothing. Needs the admin role.",
    params(IdPath),
    responses((status = 200, description = "The token with `revoked_at`.", body = Token)),
)]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Token>, Problem> {
    principal.require(Role::Admin)?;
    let id = parse_id("id", &id)?;
    let token = revoke_unless_last_admin(&state.pool, &id, state.clock.now())
        .await
        .map_err(|error| {
            tracing::error!(error = %error, token.id = %id, "revoking a token failed");
            Problem::unavailable("the token could not be revoked; try again")
        })?;
    let token = match token {
        Revocation::Revoked(token) => token,
        Revocation::NotFound => return Err(Problem::not_found(format!("token {id} not found"))),
        Revocation::LastAdmin => {
            return Err(Problem::conflict(format!(
                "token {id} is the last active admin token, and without it nobody could \
                 manage tokens: create another admin token first, then revoke this one"
            )));
        }
    };
    tracing::info!(
        token.id = %token.id,
        revoked_by = %principal.token_name,
        "revoked an API token"
    );
    Ok(Json(token))
}

/// Outcome of a revocation.
enum Revocation {
    Revoked(Token),
    NotFound,
    /// The token is the last active admin token, so it was left as it is.
    LastAdmin,
}

/// Revokes the token `id` unless it is the last active admin token. Revocations take one
/// lock in turn, so two admins revoking each other's tokens cannot both succeed.
async fn revoke_unless_last_admin(
    pool: &sqlx::PgPool,
    id: &str,
    now: time::OffsetDateTime,
) -> Result<Revocation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('certitude.gateway.token-revocation'))")
        .execute(&mut *tx)
        .await?;
    let active_admins: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM tokens
         WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if active_admins.len() == 1 && active_admins[0].to_string() == id {
        return Ok(Revocation::LastAdmin);
    }
    let statement = format!(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1::uuid
         RETURNING {COLUMNS}"
    );
    let token: Option<Token> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(token.map_or(Revocation::NotFound, Revocation::Revoked))
}

enum_schema!(
    /// Role of an API token.
    RoleName = &[Role::Viewer, Role::Operator, Role::Admin].map(Role::as_str)
);
