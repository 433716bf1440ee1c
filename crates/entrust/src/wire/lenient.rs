//! Forgiving deserializers for values real ECS responses and clients spell in more than one way.
//!
//! Numbers may arrive as JSON numbers or numeric strings (tracking ids appear zero-padded), and
//! booleans as `true` or `"true"`. Explicit `null`s read as absent.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// Reads an optional unsigned integer written as a number or as decimal text.
///
/// Any other value (a negative or fractional number, a boolean, an object) reads as absent
/// rather than failing the whole response.
pub(crate) fn optional_u64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    let Some(value) = value else {
        return Ok(None);
    };
    Ok(match serde_json::from_value::<NumberOrText>(value) {
        Ok(NumberOrText::Number(number)) => Some(number),
        Ok(NumberOrText::Text(text)) => text.trim().parse().ok(),
        Err(_) => None,
    })
}

/// Reads an optional 32-bit unsigned integer; values out of range read as absent.
pub(crate) fn optional_u32<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    Ok(optional_u64(deserializer)?.and_then(|value| u32::try_from(value).ok()))
}

/// Reads an optional boolean written as a JSON boolean or as `"true"`/`"false"`.
pub(crate) fn optional_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    let Some(value) = value else {
        return Ok(None);
    };
    Ok(match serde_json::from_value::<BoolOrText>(value) {
        Ok(BoolOrText::Bool(flag)) => Some(flag),
        Ok(BoolOrText::Text(text)) if text.trim().eq_ignore_ascii_case("true") => Some(true),
        Ok(BoolOrText::Text(text)) if text.trim().eq_ignore_ascii_case("false") => Some(false),
        Ok(BoolOrText::Text(_)) | Err(_) => None,
    })
}

/// Reads a value whose explicit `null` means the type's default, such as an empty list.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "optional_u32")]
        id: Option<u32>,
        #[serde(default, deserialize_with = "optional_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "null_as_default")]
        names: Vec<String>,
    }

    fn parse(json: &str) -> Result<Sample, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_read_from_number_or_text() -> Result<(), serde_json::Error> {
        assert_eq!(parse(r#"{"id": 42}"#)?.id, Some(42));
        assert_eq!(parse(r#"{"id": "05559124"}"#)?.id, Some(5_559_124));
        assert_eq!(parse(r#"{"id": null}"#)?.id, None);
        assert_eq!(parse(r#"{"id": "n/a"}"#)?.id, None);
        assert_eq!(parse(r#"{"id": 99999999999}"#)?.id, None);
        assert_eq!(parse(r#"{"id": -3}"#)?.id, None);
        assert_eq!(parse(r#"{"id": 4.5}"#)?.id, None);
        assert_eq!(parse("{}")?.id, None);
        Ok(())
    }

    #[test]
    fn booleans_read_from_bool_or_text() -> Result<(), serde_json::Error> {
        assert_eq!(parse(r#"{"flag": true}"#)?.flag, Some(true));
        assert_eq!(parse(r#"{"flag": "False"}"#)?.flag, Some(false));
        assert_eq!(parse(r#"{"flag": "maybe"}"#)?.flag, None);
        Ok(())
    }

    #[test]
    fn null_list_reads_as_empty() -> Result<(), serde_json::Error> {
        assert!(parse(r#"{"names": null}"#)?.names.is_empty());
        assert_eq!(parse(r#"{"names": ["a"]}"#)?.names, vec!["a".to_owned()]);
        Ok(())
    }
}
