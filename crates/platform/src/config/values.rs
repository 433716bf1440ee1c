//! Setting types that validate themselves (schema, stream and subject names, URLs with
//! credentials) and the value parsers whose messages describe a valid value.
//!
//! Parser messages never repeat the rejected value: the caller adds it, except for settings
//! that may hold a secret.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::seal::Keyring;

/// A rejected setting value, with a message that describes the expected value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Longest Postgres identifier, in bytes (`NAMEDATALEN - 1`).
const MAX_POSTGRES_IDENTIFIER_LEN: usize = 63;

/// Name of a Postgres schema: lowercase ASCII letters, digits and `_`, starting with a letter or
/// `_`, at most 63 bytes, and not starting with `pg_`. Such a name needs no quoting in SQL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// Validates a schema name.
    pub fn parse(name: &str) -> Result<Self, ValueError> {
        let starts_well = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        let rest_valid = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !starts_well || !rest_valid || name.len() > MAX_POSTGRES_IDENTIFIER_LEN {
            return Err(ValueError::new(
                "expected a schema name of lowercase letters, digits and '_', starting with a \
                 letter or '_', at most 63 characters long",
            ));
        }
        if name.starts_with("pg_") {
            return Err(ValueError::new(
                "expected a schema name that does not start with 'pg_', a prefix Postgres \
                 reserves for system schemas",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// First token of every event subject (`certs` in `certs.v1.order.created`): ASCII letters,
/// digits and `_`, at most 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubjectPrefix(String);

impl SubjectPrefix {
    /// Validates a subject prefix.
    pub fn parse(prefix: &str) -> Result<Self, ValueError> {
        let valid = prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if prefix.is_empty() || prefix.len() > 64 || !valid {
            return Err(ValueError::new(
                "expected a subject prefix of ASCII letters, digits and '_' (one subject token, \
                 no '.', '*' or '>'), at most 64 characters long",
            ));
        }
        Ok(Self(prefix.to_owned()))
    }

    /// Returns the prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubjectPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Name of a JetStream stream: ASCII letters, digits, `_` and `-`, at most 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamName(String);

impl StreamName {
    /// Validates a stream name.
    pub fn parse(name: &str) -> Result<Self, ValueError> {
        let valid = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if name.is_empty() || name.len() > 64 || !valid {
            return Err(ValueError::new(
                "expected a stream name of ASCII letters, digits, '_' and '-', at most 64 \
                 characters long",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server URL that may carry a password (`postgres://user:secret@host/db`). `Debug` and
/// `Display` show it with the password replaced by `***`; [`ConnectionUrl::expose_secret`]
/// returns it whole, for the driver.
#[derive(Clone)]
pub struct ConnectionUrl {
    full: SecretString,
    redacted: String,
}

impl ConnectionUrl {
    /// Parses a URL whose scheme is one of `schemes`.
    pub fn parse(url: &str, schemes: &[&str]) -> Result<Self, ValueError> {
        Self::parse_list(url, schemes, false)
    }

    /// Parses a comma-separated list of URLs whose schemes are among `schemes`, as NATS
    /// clients take a list of cluster members.
    pub fn parse_comma_separated(urls: &str, schemes: &[&str]) -> Result<Self, ValueError> {
        Self::parse_list(urls, schemes, true)
    }

    fn parse_list(text: &str, schemes: &[&str], allow_list: bool) -> Result<Self, ValueError> {
        let pieces: Vec<&str> = if allow_list {
            text.split(',').map(str::trim).collect()
        } else {
            vec![text.trim()]
        };
        let redacted = pieces
            .iter()
            .map(|piece| redact(piece, schemes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            full: SecretString::from(pieces.join(",")),
            redacted: redacted.join(","),
        })
    }

    /// Returns the URL with its password, to hand to a database or NATS client.
    pub fn expose_secret(&self) -> &str {
        self.full.expose_secret()
    }
}

/// Checks one URL and returns it with its password replaced by `***`.
fn redact(url: &str, schemes: &[&str]) -> Result<String, ValueError> {
    let expected = || {
        ValueError::new(format!(
            "expected a URL whose scheme is {}",
            schemes.join(" or ")
        ))
    };
    let mut parsed = url::Url::parse(url).map_err(|_| expected())?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(expected());
    }
    if parsed.password().is_some() {
        // Cannot fail: a URL with a password has an authority that can hold another one.
        let _ = parsed.set_password(Some("***"));
    }
    Ok(parsed.to_string())
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted, f)
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Master keys read from the file named by `CERTITUDE_MASTER_KEY_FILE`.
#[derive(Clone, Debug)]
pub struct MasterKeyFile {
    /// Path of the file the keys were read from.
    pub path: PathBuf,
    /// The keys, first line current.
    pub keyring: Keyring,
}

pub(super) fn database_url(value: &str) -> Result<ConnectionUrl, ValueError> {
    ConnectionUrl::parse(value, &["postgres", "postgresql"])
}

pub(super) fn nats_url(value: &str) -> Result<ConnectionUrl, ValueError> {
    ConnectionUrl::parse_comma_separated(value, &["nats", "tls", "ws", "wss"])
}

pub(super) fn schema_name(value: &str) -> Result<SchemaName, ValueError> {
    SchemaName::parse(value)
}

pub(super) fn subject_prefix(value: &str) -> Result<SubjectPrefix, ValueError> {
    SubjectPrefix::parse(value)
}

pub(super) fn stream_name(value: &str) -> Result<StreamName, ValueError> {
    StreamName::parse(value)
}

pub(super) fn max_connections(value: &str) -> Result<u32, ValueError> {
    let count: u32 = value
        .trim()
        .parse()
        .map_err(|_| ValueError::new("expected a whole number"))?;
    if !(1..=10_000).contains(&count) {
        return Err(ValueError::new("expected a whole number from 1 to 10000"));
    }
    Ok(count)
}

/// Parses the number of copies JetStream keeps of each message: 1 to 5, the range NATS accepts
/// for a stream's `num_replicas`.
pub(super) fn stream_replicas(value: &str) -> Result<usize, ValueError> {
    let count: usize = value
        .trim()
        .parse()
        .map_err(|_| ValueError::new("expected a whole number"))?;
    if !(1..=5).contains(&count) {
        return Err(ValueError::new(
            "expected a whole number from 1 to 5 (3 for a 3-node NATS cluster)",
        ));
    }
    Ok(count)
}

/// Parses a boolean setting: `true`, `1`, `yes` or `on`, or `false`, `0`, `no` or `off`, in any
/// case. A value parser for `#[arg(value_parser = ...)]` with `action = ArgAction::Set`.
pub fn boolean(value: &str) -> Result<bool, ValueError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ValueError::new("expected true or false")),
    }
}

/// Parses a duration greater than zero in humantime's notation, such as `500ms`, `30s`, `15m`,
/// `6h` or `1h 30m`. A value parser for `#[arg(value_parser = ...)]`.
pub fn positive_duration(value: &str) -> Result<Duration, ValueError> {
    let duration = humantime::parse_duration(value.trim())
        .map_err(|_| ValueError::new("expected a duration such as 500ms, 30s, 15m or 6h"))?;
    if duration.is_zero() {
        return Err(ValueError::new("expected a duration greater than zero"));
    }
    Ok(duration)
}

pub(super) fn socket_addr(value: &str) -> Result<SocketAddr, ValueError> {
    value.trim().parse().map_err(|_| {
        ValueError::new("expected an IP address and port, such as 0.0.0.0:8080 or [::]:8080")
    })
}

pub(super) fn optional_url(value: &str) -> Result<String, ValueError> {
    url::Url::parse(value.trim())
        .map(|_| value.trim().to_owned())
        .map_err(|_| ValueError::new("expected a URL, such as http://127.0.0.1:4317"))
}

pub(super) fn master_keys(value: &str) -> Result<Keyring, ValueError> {
    Keyring::parse_list(value).map_err(|error| ValueError::new(error.to_string()))
}

pub(super) fn master_key_file(value: &str) -> Result<MasterKeyFile, ValueError> {
    let path = PathBuf::from(value);
    let text = secrecy::zeroize::Zeroizing::new(
        std::fs::read_to_string(&path)
            .map_err(|error| ValueError::new(format!("failed to read the file: {error}")))?,
    );
    let keyring =
        Keyring::parse_lines(&text).map_err(|error| ValueError::new(error.to_string()))?;
    Ok(MasterKeyFile { path, keyring })
}

pub(super) fn log_filter(value: &str) -> Result<String, ValueError> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|error| {
            ValueError::new(format!(
                "expected tracing filter directives, such as info or \
                 info,certitude_platform=debug ({error})"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_duration_reads_humantime_units() {
        assert_eq!(
            positive_duration("250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            positive_duration(" 6h ").ok(),
            Some(Duration::from_secs(6 * 60 * 60))
        );
        assert_eq!(
            positive_duration("1h 30m").ok(),
            Some(Duration::from_secs(90 * 60))
        );
    }

    #[test]
    fn positive_duration_rejects_zero() {
        let error = positive_duration("0s").expect_err("zero is not positive");

        assert_eq!(error.to_string(), "expected a duration greater than zero");
    }

    #[test]
    fn positive_duration_rejects_text_without_unit() {
        for value in ["soon", "30", ""] {
            let error = positive_duration(value).expect_err("not a humantime duration");

            assert!(
                error.to_string().starts_with("expected a duration such as"),
                "{value:?}: {error}"
            );
        }
    }

    #[test]
    fn boolean_accepts_spellings_in_any_case() {
        for value in ["true", "1", "YES", " On "] {
            assert_eq!(boolean(value).ok(), Some(true), "{value:?}");
        }
        for value in ["false", "0", "No", "OFF"] {
            assert_eq!(boolean(value).ok(), Some(false), "{value:?}");
        }
    }

    #[test]
    fn boolean_rejects_other_words() {
        let error = boolean("maybe").expect_err("not a boolean");

        assert_eq!(error.to_string(), "expected true or false");
    }
}
