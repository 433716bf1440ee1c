//! Wire formats shared by every endpoint: timestamps, dates, serial numbers and PEM.
//!
//! ECS writes `expiresAfter`, `issueDateTime` and the domain expiries as second-precision UTC with
//! a literal `Z` (`2026-01-31T23:59:59Z`), because clients such as Ansible parse them with that
//! rigid pattern. Only `summary.timestamp` carries milliseconds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::format_description::FormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const TIMESTAMP_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Formats `instant` as `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn timestamp(instant: OffsetDateTime) -> String {
    instant
        .to_offset(UtcOffset::UTC)
        .format(TIMESTAMP)
        .unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

/// Formats `instant` as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, the form of `summary.timestamp`.
pub fn timestamp_millis(instant: OffsetDateTime) -> String {
    instant
        .to_offset(UtcOffset::UTC)
        .format(TIMESTAMP_MILLIS)
        .unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

/// Formats `instant` as an HTTP date (RFC 9110 IMF-fixdate, `Tue, 22 May 2018 20:23:01 GMT`),
/// the form of the `Retry-After` header of domain requests.
pub fn http_date(instant: OffsetDateTime) -> String {
    instant
        .to_offset(UtcOffset::UTC)
        .format(HTTP_DATE)
        .unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

/// Parses a filter or request value that is either an RFC 3339 date-time or a bare
/// `YYYY-MM-DD` date (read as midnight UTC).
pub fn parse_instant(value: &str) -> Option<OffsetDateTime> {
    if let Ok(instant) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(instant);
    }
    Date::parse(value, DATE)
        .ok()
        .map(|date| PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
}

/// Parses `certExpiryDate`: a `YYYY-MM-DD` date is taken as is, and an RFC 3339 date-time is
/// converted to US Eastern time before its date is kept, as ECS documents.
pub fn parse_expiry_date(value: &str) -> Option<Date> {
    if let Ok(date) = Date::parse(value, DATE) {
        return Some(date);
    }
    let instant = OffsetDateTime::parse(value, &Rfc3339).ok()?;
    Some(instant.to_offset(us_eastern_offset(instant)).date())
}

/// Returns the UTC offset of US Eastern time at `instant`: UTC-4 from the second Sunday of March,
/// 02:00 EST, to the first Sunday of November, 02:00 EDT, and UTC-5 otherwise.
///
/// NOTE: these are the daylight-saving rules in force since 2007; earlier instants get them too.
pub fn us_eastern_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let dst_start = nth_sunday(year, Month::March, 2).map(|day| at_utc_hour(day, 7));
    let dst_end = nth_sunday(year, Month::November, 1).map(|day| at_utc_hour(day, 6));
    let in_dst = match (dst_start, dst_end) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    let hours = if in_dst { -4 } else { -5 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

fn nth_sunday(year: i32, month: Month, n: u8) -> Option<Date> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let days_to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
    let day = 1 + days_to_sunday + 7 * (n - 1);
    let date = Date::from_calendar_date(year, month, day).ok()?;
    debug_assert_eq!(date.weekday(), Weekday::Sunday);
    Some(date)
}

fn at_utc_hour(date: Date, hour: u8) -> OffsetDateTime {
    let time = Time::from_hms(hour, 0, 0).unwrap_or(Time::MIDNIGHT);
    PrimitiveDateTime::new(date, time).assume_utc()
}

/// Returns the instant a certificate that expires on `date` stops being valid: 23:59:59 UTC.
pub fn end_of_day(date: Date) -> OffsetDateTime {
    let time = Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT);
    PrimitiveDateTime::new(date, time).assume_utc()
}

/// Formats a DER serial number as ECS does: upper-case hex without leading zeros.
pub fn serial_hex(serial_der: &[u8]) -> String {
    normalize_serial(&hex::encode_upper(serial_der))
}

/// Normalizes a hex serial for comparison: upper case, leading zeros dropped ("0" stays "0").
pub fn normalize_serial(hex_serial: &str) -> String {
    let upper = hex_serial.trim().to_ascii_uppercase();
    let trimmed = upper.trim_start_matches('0');
    if trimmed.is_empty() && !upper.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Encodes DER bytes as PEM with the given label and 64-character lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn timestamp_has_second_precision_and_z() {
        let instant = datetime!(2026-01-31 23:59:59.734 +01:00);

        assert_eq!(timestamp(instant), "2026-01-31T22:59:59Z");
        assert_eq!(timestamp_millis(instant), "2026-01-31T22:59:59.734Z");
    }

    #[test]
    fn http_date_is_imf_fixdate_in_gmt() {
        let instant = datetime!(2018-05-22 16:23:01 -04:00);

        assert_eq!(http_date(instant), "Tue, 22 May 2018 20:23:01 GMT");
    }

    #[test]
    fn expiry_date_keeps_plain_dates() {
        assert_eq!(parse_expiry_date("2026-03-01"), Some(date!(2026 - 03 - 01)));
    }

    #[test]
    fn expiry_date_time_moves_to_eastern_day() {
        // 03:00 UTC in January is 22:00 EST the previous day.
        assert_eq!(
            parse_expiry_date("2026-01-15T03:00:00.00Z"),
            Some(date!(2026 - 01 - 14))
        );
        // 03:30 UTC in July is 23:30 EDT the previous day; 04:30 UTC is 00:30 EDT.
        assert_eq!(
            parse_expiry_date("2026-07-15T03:30:00Z"),
            Some(date!(2026 - 07 - 14))
        );
        assert_eq!(
            parse_expiry_date("2026-07-15T04:30:00Z"),
            Some(date!(2026 - 07 - 15))
        );
        // A .NET-style value with seven fraction digits and an offset.
        assert_eq!(
            parse_expiry_date("2026-07-15T10:00:00.1234567-07:00"),
            Some(date!(2026 - 07 - 15))
        );
    }

    #[test]
    fn expiry_date_rejects_local_date_time() {
        assert_eq!(parse_expiry_date("2026-07-15T10:00:00"), None);
        assert_eq!(parse_expiry_date("15/07/2026"), None);
    }

    #[test]
    fn eastern_offset_switches_on_dst_boundaries() {
        let hours = |instant| us_eastern_offset(instant).whole_hours();

        assert_eq!(hours(datetime!(2026-03-08 06:59 UTC)), -5);
        assert_eq!(hours(datetime!(2026-03-08 07:00 UTC)), -4);
        assert_eq!(hours(datetime!(2026-11-01 05:59 UTC)), -4);
        assert_eq!(hours(datetime!(2026-11-01 06:00 UTC)), -5);
    }

    #[test]
    fn serial_drops_leading_zeros_and_upper_cases() {
        assert_eq!(serial_hex(&[0x00, 0x0a, 0x01, 0xff]), "A01FF");
        assert_eq!(normalize_serial("000a01ff"), "A01FF");
        assert_eq!(normalize_serial("00"), "0");
    }

    #[test]
    fn pem_wraps_at_64_columns() {
        let pem = pem_encode("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();

        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
    }
}
