//! The `x-request-id` header: every response carries the id of its request, and the audit trail
//! and the request's span record it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

/// Header that carries the request id in both directions.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Maximum length of an incoming request id that is kept; a longer one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request, as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Middleware that keeps the caller's `x-request-id` when it is 1 to 128 visible ASCII
/// characters, or else sets a new UUIDv7, and returns it in the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_valid(id))
        .map(str::to_owned);
    let id = incoming.unwrap_or_else(|| Uuid::now_v7().to_string());
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));

    request
        .headers_mut()
        .insert(REQUEST_ID_HEADER.clone(), header.clone());
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER.clone(), header);
    response
}

fn is_valid(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_validation() {
        assert!(is_valid("0191d2a0-0000-7000-8000-000000000001"));
        assert!(is_valid("abc"));
        assert!(!is_valid(""));
        assert!(!is_valid("has space"));
        assert!(!is_valid(&"x".repeat(MAX_REQUEST_ID_LEN + 1)));
    }
}
