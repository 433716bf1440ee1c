//! Authentication of REST requests by bearer token, and authorization by role.

use axum::extract::{FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::problem::Problem;
use crate::tokens::{Role, bearer_token, token_digest};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: Uuid,
    pub token_name: String,
    pub role: Role,
}

impl Principal {
    /// Fails with 403 unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Problem> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this action needs the {needed} role; the token {:?} has {}",
                self.token_name, self.role
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            Problem::unauthenticated("send a token as Authorization: Bearer <token>")
        })
    }
}

/// Middleware that resolves the bearer token into a [`Principal`] or rejects the request with 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Some(token) = header.and_then(bearer_token) else {
        return Problem::unauthenticated("send a token as Authorization: Bearer <token>")
            .into_response();
    };
    match find_token(&state.pool, token, state.clock.now()).await {
        Ok(Some(principal)) => {
            tracing::Span::current()
                .record("token.id", tracing::field::display(principal.token_id));
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => Problem::unauthenticated(
            "the token is unknown, expired or revoked: ask an admin for a new one",
        )
        .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "failed to look up an API token");
            Problem::unavailable("token lookup failed; try again").into_response()
        }
    }
}

async fn find_token(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Principal>, sqlx::Error> {
    let row: Option<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, name, role FROM tokens
         WHERE digest = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(token_digest(token))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(token_id, token_name, role)| {
        role.parse().ok().map(|role| Principal {
            token_id,
            token_name,
            role,
        })
    }))
}

/// Stores the bootstrap admin token from the configuration, hashed, unless it is already there.
pub async fn store_bootstrap_token(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tokens (id, name, role, digest, created_at)
         VALUES ($1, 'bootstrap-admin', 'admin', $2, $3)
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(token_digest(token))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
