//! Keyset paging of list calls: page sizes and the opaque page tokens.
//!
//! A token is the base64url (unpadded) encoding of a JSON array of strings: the sort key of the
//! last entry of the previous page, such as `[created_at, id]`. Callers treat it as opaque.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ServiceError;

/// Bounds of one list call's page size.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// Size used when the request gives 0.
    pub default: u32,
    /// Largest size; larger requests are lowered to it.
    pub max: u32,
}

impl PageLimits {
    /// Returns the page size for a requested one: the default for 0, at most the maximum.
    pub fn size(&self, requested: u32) -> u32 {
        match requested {
            0 => self.default,
            size => size.min(self.max),
        }
    }
}

/// Encodes the sort key of a page's last entry as a page token.
pub fn encode_token(key: &[String]) -> String {
    // serde_json fails only on non-string map keys and failing `Serialize` impls, so a slice
    // of strings always serializes.
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a page token into a sort key of `parts` strings; an empty token means the first
/// page.
pub fn decode_token(token: &str, parts: usize) -> Result<Option<Vec<String>>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ServiceError::invalid(
            "page_token",
            "is not a token this list returned: pass the next_page_token of the previous \
             response, or an empty token for the first page",
        )
    };
    let json = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let key: Vec<String> = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if key.len() != parts {
        return Err(invalid());
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let key = vec!["example.com".to_owned(), "42".to_owned()];

        let decoded = decode_token(&encode_token(&key), 2).expect("the token decodes");

        assert_eq!(decoded, Some(key));
    }

    #[test]
    fn empty_token_is_first_page() {
        assert_eq!(decode_token("", 2).expect("empty is valid"), None);
    }

    #[test]
    fn foreign_token_is_invalid_argument() {
        for token in [
            "not base64!",
            "bm90IGpzb24",
            &encode_token(&["one".to_owned()]),
        ] {
            let error = decode_token(token, 2).expect_err("the token is not ours");

            assert!(error.to_string().starts_with("page_token: "), "{error}");
        }
    }

    #[test]
    fn size_defaults_and_caps() {
        let limits = PageLimits {
            default: 50,
            max: 500,
        };

        assert_eq!(limits.size(0), 50);
        assert_eq!(limits.size(7), 7);
        assert_eq!(limits.size(10_000), 500);
    }
}
