//! Identifiers of orders and certificates.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

/// The CA's identifier of an order.
///
/// ECS uses a 32-bit integer; reissues and renewals get a new one. Tracking id 0 marks
/// certificates the account has on record but did not order
/// through ECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingId(u32);

impl TrackingId {
    /// Wraps a numeric tracking id.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// Returns the numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for TrackingId {
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl fmt::Display for TrackingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TrackingId {
    type Err = ParseIntError;

    /// Parses a decimal tracking id; leading zeros are allowed, as in `05559124`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Self)
    }
}

/// A certificate serial number as upper-case hexadecimal without leading zeros.
///
/// This is the form ECS returns and searches by. Separators (`:`, spaces) and a `0x` prefix are
/// removed when parsing. A value with non-hexadecimal characters is kept upper-cased, so a
/// malformed serial from the CA still round-trips instead of failing the whole response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber(String);

impl SerialNumber {
    /// Normalizes a hexadecimal serial number written in any common notation.
    pub fn parse(value: &str) -> Self {
        let compact: String = value
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
            .collect();
        let digits = compact
            .strip_prefix("0x")
            .or_else(|| compact.strip_prefix("0X"))
            .unwrap_or(&compact)
            .to_ascii_uppercase();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Self(digits);
        }
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() {
            Self("0".to_owned())
        } else {
            Self(significant.to_owned())
        }
    }

    /// Builds the serial from its big-endian bytes, as stored in a certificate.
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02X}")).collect();
        Self::parse(&hex)
    }

    /// Returns the normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SerialNumber {
    fn from(value: &str) -> Self {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_drops_leading_zeros_and_upper_cases() {
        assert_eq!(SerialNumber::parse("00a1b2c3").as_str(), "A1B2C3");
    }

    #[test]
    fn serial_accepts_colon_notation_and_prefix() {
        assert_eq!(SerialNumber::parse("0x00:1f:ee").as_str(), "1FEE");
        assert_eq!(SerialNumber::parse("0a 0b").as_str(), "A0B");
    }

    #[test]
    fn serial_of_zero_stays_zero() {
        assert_eq!(SerialNumber::parse("0000").as_str(), "0");
    }

    #[test]
    fn serial_keeps_non_hex_value_upper_cased() {
        assert_eq!(SerialNumber::parse("abc-xyz").as_str(), "ABCXYZ");
    }

    #[test]
    fn serial_from_bytes_matches_text_form() {
        let serial = SerialNumber::from_be_bytes(&[0x00, 0x23, 0x90, 0x10, 0xfb]);

        assert_eq!(serial, SerialNumber::parse("239010fb"));
    }

    #[test]
    fn tracking_id_parses_zero_padded_text() {
        assert_eq!(
            "05559124".parse::<TrackingId>(),
            Ok(TrackingId::new(5_559_124))
        );
    }
}
