//! Cursor pagination for list routes.
//!
//! A client sends `limit` and the `cursor` from the previous page; the gateway passes the cursor
//! to the owning service as an opaque page token. The services encode their keyset position in
//! the token, so a page stays stable while rows are added.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::Problem;

/// Page size when the client sends none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 500;

/// Query parameters of every list route. Routes with filters repeat these two fields in their
/// own query struct (serde's `flatten` cannot parse numbers from a query string) and call
/// [`PageQuery::new`].
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged; absent for the first page.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Builds the page parameters of a route that has filters too.
    pub fn new(limit: Option<u32>, cursor: Option<String>) -> Self {
        Self { limit, cursor }
    }

    /// Returns the validated page size.
    ///
    /// # Errors
    /// A problem naming `limit` when it is 0 or above [`MAX_LIMIT`].
    pub fn limit(&self) -> Result<u32, Problem> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(limit) => Err(Problem::invalid_field(
                "limit",
                format!("{limit} is out of range: use a number from 1 to {MAX_LIMIT}"),
            )),
        }
    }

    /// Returns the cursor to pass on as a page token, empty for the first page.
    ///
    /// # Errors
    /// A problem naming `cursor` when it is not a token the gateway handed out.
    pub fn page_token(&self) -> Result<String, Problem> {
        let cursor = self.cursor.clone().unwrap_or_default();
        let valid = cursor.len() <= 512
            && cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.'));
        if valid {
            Ok(cursor)
        } else {
            Err(Problem::invalid_field(
                "cursor",
                "is not a cursor from a previous page: pass next_cursor unchanged",
            ))
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from items and the service's next page token (empty on the last page).
    pub fn new(items: Vec<T>, next_page_token: String) -> Self {
        Self {
            items,
            next_cursor: (!next_page_token.is_empty()).then_some(next_page_token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(PageQuery::default().limit().unwrap(), DEFAULT_LIMIT);
        let zero = PageQuery {
            limit: Some(0),
            cursor: None,
        };
        assert_eq!(zero.limit().unwrap_err().invalid_params[0].name, "limit");
        let too_big = PageQuery {
            limit: Some(MAX_LIMIT + 1),
            cursor: None,
        };
        assert!(too_big.limit().is_err());
    }

    #[test]
    fn foreign_cursor_is_rejected() {
        let query = PageQuery {
            limit: None,
            cursor: Some("'; drop table".into()),
        };
        assert_eq!(
            query.page_token().unwrap_err().invalid_params[0].name,
            "cursor"
        );
    }

    #[test]
    fn last_page_has_no_cursor() {
        let page = Page::new(vec![1, 2], String::new());
        let body = serde_json::to_value(&page).unwrap();
        assert!(body.get("next_cursor").is_none());
    }
}
