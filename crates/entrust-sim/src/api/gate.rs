//! The gate every `/enterprise/v2` request passes: HTTP Basic authentication against the
//! scenario's API users, then an entry in the request log with the final status.
//!
//! Missing or wrong credentials get a 401 ErrorResponse. The log keeps the user name only,
//! never the Authorization header or the key.

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;
use crate::model::Role;
use crate::request_log::LoggedRequest;
use crate::simulator::Simulator;

/// The authenticated API user of a request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user name.
    pub user_name: String,
    /// The user's role.
    pub role: Role,
}

/// Authenticates the request, runs it, and logs it.
pub async fn gate(State(sim): State<Arc<Simulator>>, mut request: Request, next: Next) -> Response {
    let received_at = sim.now();
    let method = request.method().to_string();
    // Inside the nested router the URI lacks the `/enterprise/v2` prefix; log the full one.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|original| original.0.clone())
        .unwrap_or_else(|| request.uri().clone());
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let credentials = basic_credentials(request.headers());
    let user_name = credentials.as_ref().map(|(user, _)| user.clone());

    let response = match authenticate(&sim, credentials) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    };

    let status = response.status().as_u16();
    tracing::debug!(http.method = %method, url.path = %path, http.status_code = status, "Simulated API request served");
    sim.log.record(LoggedRequest {
        time: received_at,
        method,
        path,
        query,
        status,
        user_name,
    });
    response
}

fn authenticate(
    sim: &Simulator,
    credentials: Option<(String, SecretString)>,
) -> Result<Caller, ApiError> {
    let Some((user_name, key)) = credentials else {
        return Err(ApiError::Unauthorized(
            "Authentication required: send HTTP Basic credentials with the API user name and \
             API key."
                .to_owned(),
        ));
    };
    let state = sim.state();
    let user = state.users.iter().find(|user| user.user_name == user_name);
    let matches = user.is_some_and(|user| {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            user.api_key.expose_secret().as_bytes(),
            key.expose_secret().as_bytes(),
        )
        .is_ok()
    });
    match user {
        Some(user) if matches => Ok(Caller {
            user_name: user.user_name.clone(),
            role: user.role,
        }),
        _ => Err(ApiError::Unauthorized(
            "Authentication failed: the API user name or API key is wrong.".to_owned(),
        )),
    }
}

/// Reads `Authorization: Basic base64(user:key)`. Anything else counts as no credentials.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, key) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(key)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn basic_header_is_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("demo-admin:key:with:colons");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );

        let (user, key) = basic_credentials(&headers).unwrap();

        assert_eq!(user, "demo-admin");
        assert_eq!(key.expose_secret(), "key:with:colons");
    }

    #[test]
    fn bearer_header_is_no_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );

        assert!(basic_credentials(&headers).is_none());
    }
}
