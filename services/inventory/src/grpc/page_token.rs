//! The opaque page token of ListDeployments: the keyset position of the last row of a page, as
//! base64url (no padding) of `v1:<created_at in Unix microseconds>:<id>`. ListCertificates has
//! tokens of its own, which carry the sort and filters (see [`crate::search`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

const VERSION: &str = "v1";

/// Encodes the position of the row created at `created_at` with `id` as a page token.
pub fn encode(created_at: OffsetDateTime, id: Uuid) -> String {
    let micros = created_at.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("{VERSION}:{micros}:{id}"))
}

/// Decodes a page token made by [`encode`] into its `created_at` and id; `None` when the text
/// is not such a token.
pub fn decode(token: &str) -> Option<(OffsetDateTime, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, ':');
    if parts.next()? != VERSION {
        return None;
    }
    let micros: i128 = parts.next()?.parse().ok()?;
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?;
    Some((created_at, id))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn token_round_trips_a_position() {
        let created_at = datetime!(2028-02-29 12:00:00.123456 UTC);
        let id = Uuid::now_v7();

        assert_eq!(decode(&encode(created_at, id)), Some((created_at, id)));
    }

    #[test]
    fn token_uses_only_url_safe_characters() {
        let token = encode(datetime!(2030-01-01 00:00:00 UTC), Uuid::now_v7());

        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{token}"
        );
    }

    #[test]
    fn foreign_text_is_not_a_token() {
        for token in ["", "abc", "!!!", &URL_SAFE_NO_PAD.encode("v2:1:x")] {
            assert_eq!(decode(token), None, "{token:?}");
        }
    }
}
