//! API tokens: how they are made, stored and checked.
//!
//! A token is 32 random bytes shown once to its creator as `ctk_` followed by base64url. Only its
//! SHA-256 digest is stored, so a leaked table does not leak usable tokens; a lookup hashes the
//! presented token and compares digests in the database index.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Prefix that marks a Certitude API token, so secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "ctk_";

/// What a token's holder may do. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything except secrets.
    Viewer,
    /// Also adds credentials, syncs, imports and orders.
    Operator,
    /// Also deletes orders, exports private keys and manages tokens.
    Admin,
}

impl Role {
    /// Returns the stored and displayed name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: use viewer, operator or admin"
            )),
        }
    }
}

/// Generates a new token; the caller shows it once and stores only [`token_digest`].
pub fn generate_token() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0_u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Returns the lower-case hexadecimal SHA-256 digest under which a token is stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Extracts the token from an `Authorization: Bearer ...` header value.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_differ_and_carry_prefix() {
        let first = generate_token().unwrap();
        let second = generate_token().unwrap();

        assert_ne!(first, second);
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(first.len(), TOKEN_PREFIX.len() + 43);
    }

    #[test]
    fn digest_is_stable_and_hides_token() {
        let digest = token_digest("ctk_example");
        assert_eq!(digest, token_digest("ctk_example"));
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains("example"));
    }

    #[test]
    fn bearer_header_parses() {
        assert_eq!(bearer_token("Bearer ctk_abc"), Some("ctk_abc"));
        assert_eq!(bearer_token("bearer  ctk_abc "), Some("ctk_abc"));
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn roles_are_ordered_by_rights() {
        assert!(Role::Admin > Role::Operator);
        assert!(Role::Operator > Role::Viewer);
        assert_eq!("operator".parse::<Role>().unwrap(), Role::Operator);
        assert!("root".parse::<Role>().is_err());
    }
}
