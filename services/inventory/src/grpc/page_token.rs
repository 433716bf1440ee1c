//! The opaque page token of ListCertificates: the keyset position of the last certificate of a
//! page, as base64url (no padding) of `v1:<created_at in Unix microseconds>:<id>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate_store::Position;

const VERSION: &str = "v1";

/// Encodes a position as a page token.
pub fn encode(position: Position) -> String {
    let micros = position.created_at.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("{VERSION}:{micros}:{}", position.id))
}

/// Decodes a page token made by [`encode`]; `None` when the text is not such a token.
pub fn decode(token: &str) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, ':');
    if parts.next()? != VERSION {
        return None;
    }
    let micros: i128 = parts.next()?.parse().ok()?;
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?;
    Some(Position { created_at, id })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn token_round_trips_a_position() {
        let position = Position {
            created_at: datetime!(2028-02-29 12:00:00.123456 UTC),
            id: Uuid::now_v7(),
        };

        assert_eq!(decode(&encode(position)), Some(position));
    }

    #[test]
    fn token_uses_only_url_safe_characters() {
        let token = encode(Position {
            created_at: datetime!(2030-01-01 00:00:00 UTC),
            id: Uuid::now_v7(),
        });

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
