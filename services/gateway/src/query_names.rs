//! Rejection of query parameters a route does not take, named in the problem with the ones it
//! does take, so that a misspelt filter fails instead of being ignored. The names come from
//! the OpenAPI document, which is generated from the same code as the routes.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::{Problem, excerpt};

/// Query parameter names of each route, by (method in upper case, path template).
type RouteParameters = HashMap<(String, String), Vec<String>>;

/// Reads every operation's query parameter names out of the OpenAPI document.
fn route_parameters() -> &'static RouteParameters {
    static PARAMETERS: OnceLock<RouteParameters> = OnceLock::new();
    PARAMETERS.get_or_init(|| {
        let document = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        let mut parameters = RouteParameters::new();
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in paths {
            for (method, operation) in item.as_object().cloned().unwrap_or_default() {
                let names = operation["parameters"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter(|parameter| parameter["in"] == "query")
                            .filter_map(|parameter| parameter["name"].as_str())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                parameters.insert((method.to_ascii_uppercase(), path.clone()), names);
            }
        }
        parameters
    })
}

/// Middleware: rejects a request with 400 when its query string names a parameter that the
/// route's operation does not document.
pub async fn reject_unknown(request: Request, next: Next) -> Response {
    let Some(query) = request.uri().query().filter(|query| !query.is_empty()) else {
        return next.run(request).await;
    };
    let Some(route) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let key = (
        request.method().as_str().to_owned(),
        route.as_str().to_owned(),
    );
    let Some(known) = route_parameters().get(&key) else {
        return next.run(request).await;
    };
    let unknown = url_names(query).find(|name| !known.iter().any(|known| known == name));
    match unknown {
        None => next.run(request).await,
        Some(name) => {
            let fix = if known.is_empty() {
                "is not a parameter of this route, which takes none: remove it".to_owned()
            } else {
                format!(
                    "is not a parameter of this route: remove it, or use one of {}",
                    known.join(", ")
                )
            };
            Problem::invalid_field(&excerpt(&name), fix).into_response()
        }
    }
}

/// Returns the decoded names of a query string's parameters.
fn url_names(query: &str) -> impl Iterator<Item = String> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(name, _)| name.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded() {
        let names: Vec<String> = url_names("limit=5&credential%5Fid=x&flag").collect();
        assert_eq!(names, ["limit", "credential_id", "flag"]);
    }

    #[test]
    fn document_lists_the_order_filters() {
        let names = &route_parameters()[&("GET".to_owned(), "/v1/orders".to_owned())];
        assert!(names.contains(&"credential_id".to_owned()), "{names:?}");
        assert!(names.contains(&"cursor".to_owned()), "{names:?}");
    }
}
