//! The role matrix: the least role each route needs, checked once per request before the body
//! is read, so that a token without the role gets 403 whatever it sends.
//!
//! docs/api.md contains the same table. A test keeps the two equal and calls every route with
//! every role.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::problem::Problem;
use crate::tokens::Role;

/// Every `/v1` route with the least role that may call it. A route missing here returns 500,
/// so a new route cannot be reached before its role is decided.
pub const ROUTE_ROLES: &[(&str, &str, Role)] = &[
    ("POST", "/v1/credentials", Role::Operator),
    ("GET", "/v1/credentials", Role::Viewer),
    ("GET", "/v1/credentials/{id}", Role::Viewer),
    ("PATCH", "/v1/credentials/{id}", Role::Operator),
    ("DELETE", "/v1/credentials/{id}", Role::Admin),
    ("POST", "/v1/credentials/{id}/syncs", Role::Operator),
    ("POST", "/v1/syncs", Role::Operator),
    ("GET", "/v1/syncs/{id}", Role::Viewer),
    ("GET", "/v1/credentials/{id}/organizations", Role::Viewer),
    ("GET", "/v1/credentials/{id}/domains", Role::Viewer),
    ("GET", "/v1/credentials/{id}/products", Role::Viewer),
    ("POST", "/v1/imports", Role::Operator),
    ("GET", "/v1/imports/{id}", Role::Viewer),
    ("POST", "/v1/orders", Role::Operator),
    ("GET", "/v1/orders", Role::Viewer),
    ("GET", "/v1/orders/{id}", Role::Viewer),
    ("DELETE", "/v1/orders/{id}", Role::Admin),
    ("POST", "/v1/orders/{id}/approve", Role::Operator),
    ("POST", "/v1/orders/{id}/decline", Role::Operator),
    ("POST", "/v1/orders/{id}/suspend", Role::Operator),
    ("POST", "/v1/orders/{id}/resume", Role::Operator),
    ("POST", "/v1/orders/{id}/renew", Role::Operator),
    ("POST", "/v1/orders/{id}/reissue", Role::Operator),
    ("POST", "/v1/orders/{id}/revoke", Role::Operator),
    ("GET", "/v1/orders/{id}/history", Role::Viewer),
    ("GET", "/v1/certificates", Role::Viewer),
    ("GET", "/v1/certificates/{id}", Role::Viewer),
    ("DELETE", "/v1/certificates/{id}", Role::Admin),
    ("POST", "/v1/certificates/import", Role::Operator),
    // The private key (`?part=key`) needs admin: the handler checks that part itself.
    ("GET", "/v1/certificates/{id}/export", Role::Viewer),
    ("POST", "/v1/certificates/{id}/export", Role::Admin),
    ("GET", "/v1/certificates/{id}/deployments", Role::Viewer),
    ("POST", "/v1/certificates/{id}/deployments", Role::Operator),
    (
        "POST",
        "/v1/certificates/{id}/deployments/{deployment_id}/confirm",
        Role::Operator,
    ),
    (
        "DELETE",
        "/v1/certificates/{id}/deployments/{deployment_id}",
        Role::Operator,
    ),
    ("GET", "/v1/deployments", Role::Viewer),
    ("GET", "/v1/license", Role::Viewer),
    ("PUT", "/v1/license", Role::Admin),
    ("GET", "/v1/orders/{id}/renewal-policy", Role::Viewer),
    ("PUT", "/v1/orders/{id}/renewal-policy", Role::Operator),
    ("DELETE", "/v1/orders/{id}/renewal-policy", Role::Operator),
    ("GET", "/v1/renewals/forecast", Role::Viewer),
    ("GET", "/v1/renewals/audit", Role::Viewer),
    ("POST", "/v1/tokens", Role::Admin),
    ("GET", "/v1/tokens", Role::Admin),
    ("DELETE", "/v1/tokens/{id}", Role::Admin),
    ("GET", "/v1/audit", Role::Admin),
    ("GET", "/v1/audit/head", Role::Admin),
    ("GET", "/v1/openapi.json", Role::Viewer),
];

/// Returns the least role that may call `method` on the route `path` (in its `{param}` form).
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    ROUTE_ROLES
        .iter()
        .find(|(route_method, route_path, _)| {
            *route_path == path && method.as_str() == *route_method
        })
        .map(|(_, _, role)| *role)
}

/// Middleware, after authentication: rejects the request with 403 unless the token's role is at
/// least the route's.
pub async fn authorize(request: Request, next: Next) -> Response {
    let Some(principal) = request.extensions().get::<Principal>() else {
        return Problem::unauthenticated("send a token as Authorization: Bearer <token>")
            .into_response();
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let needed = route
        .as_deref()
        .and_then(|route| required_role(request.method(), route));
    match needed {
        Some(needed) => match principal.require(needed) {
            Ok(()) => next.run(request).await,
            Err(problem) => problem.into_response(),
        },
        None => {
            tracing::error!(
                http.request.method = %request.method(),
                http.route = route.as_deref().unwrap_or_default(),
                "a route has no role in the role matrix"
            );
            Problem::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_appears_once() {
        let mut seen = std::collections::HashSet::new();
        for (method, path, _) in ROUTE_ROLES {
            assert!(
                seen.insert((method, path)),
                "{method} {path} is listed twice"
            );
            assert!(Method::from_bytes(method.as_bytes()).is_ok(), "{method}");
        }
    }

    #[test]
    fn lookup_matches_method_and_path() {
        assert_eq!(
            required_role(&Method::DELETE, "/v1/orders/{id}"),
            Some(Role::Admin)
        );
        assert_eq!(
            required_role(&Method::GET, "/v1/orders/{id}"),
            Some(Role::Viewer)
        );
        assert_eq!(required_role(&Method::PUT, "/v1/orders/{id}"), None);
    }
}
