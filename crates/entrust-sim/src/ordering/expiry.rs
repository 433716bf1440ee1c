//! The expiry of a new certificate, from `certExpiryDate`, `certLifetime` and the account.
//!
//! When a request carries both fields (Keyfactor sends both), a pooling account uses the date
//! and any other account the lifetime. Without either, the certificate lives one year. A
//! certificate expires on its expiry date at 23:59:59 UTC.

use time::{Date, Duration, OffsetDateTime};

use crate::error::ApiError;
use crate::format::end_of_day;
use crate::scenario::AccountSettings;

/// Returns the end of validity of a new order placed at `now`, or a 400 naming the field whose
/// date is in the past or beyond the account maximum.
pub fn resolve_expiry(
    account: &AccountSettings,
    now: OffsetDateTime,
    expiry_date: Option<Date>,
    lifetime_years: Option<u8>,
) -> Result<OffsetDateTime, ApiError> {
    let today = now.date();
    let (date, field) = match (expiry_date, lifetime_years) {
        (Some(date), Some(_)) if account.pooling => (date, "certExpiryDate"),
        (_, Some(years)) => (add_years(today, years), "certLifetime"),
        (Some(date), None) => (date, "certExpiryDate"),
        (None, None) => (add_years(today, 1), "certLifetime"),
    };
    if date <= today {
        return Err(ApiError::invalid(
            field,
            format!("The certificate expiry date {date} must be after today ({today})."),
        ));
    }
    let max_date = today + Duration::days(i64::from(account.max_validity_days));
    if date > max_date {
        return Err(ApiError::invalid(
            field,
            format!(
                "The certificate expiry date {date} is beyond the account maximum of {} days \
                 ({max_date}); choose an earlier date or a shorter lifetime.",
                account.max_validity_days
            ),
        ));
    }
    Ok(end_of_day(date))
}

/// Adds whole years to a date; February 29 becomes February 28 in a common year.
fn add_years(date: Date, years: u8) -> Date {
    let year = date.year() + i32::from(years);
    date.replace_year(year)
        .or_else(|_| {
            date.replace_day(28)
                .and_then(|earlier| earlier.replace_year(year))
        })
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn account(pooling: bool) -> AccountSettings {
        AccountSettings {
            version: "test".to_owned(),
            first_tracking_id: 1,
            max_validity_days: 397,
            pooling,
            include_root_in_chain: false,
            rate_limit_quota: None,
            legacy_crl_reasons: false,
            domain_values_delay_seconds: 5,
            forbid_self_approval: false,
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-03-10 15:00 UTC);

    #[test]
    fn pooling_account_prefers_the_date() {
        let expiry =
            resolve_expiry(&account(true), NOW, Some(date!(2026 - 09 - 01)), Some(1)).unwrap();

        assert_eq!(expiry, datetime!(2026-09-01 23:59:59 UTC));
    }

    #[test]
    fn other_accounts_prefer_the_lifetime() {
        let expiry =
            resolve_expiry(&account(false), NOW, Some(date!(2026 - 09 - 01)), Some(1)).unwrap();

        assert_eq!(expiry, datetime!(2027-03-10 23:59:59 UTC));
    }

    #[test]
    fn default_is_one_year() {
        let expiry = resolve_expiry(&account(true), NOW, None, None).unwrap();

        assert_eq!(expiry, datetime!(2027-03-10 23:59:59 UTC));
    }

    #[test]
    fn beyond_maximum_is_rejected_naming_the_field() {
        let error = resolve_expiry(&account(true), NOW, None, Some(2)).unwrap_err();

        let body = error.body();
        assert_eq!(body.status, 400);
        assert_eq!(body.errors[0].field.as_deref(), Some("certLifetime"));
        assert!(body.errors[0].message.contains("397 days"));
    }

    #[test]
    fn past_date_is_rejected() {
        let error =
            resolve_expiry(&account(true), NOW, Some(date!(2026 - 03 - 10)), None).unwrap_err();

        assert_eq!(
            error.body().errors[0].field.as_deref(),
            Some("certExpiryDate")
        );
    }

    #[test]
    fn leap_day_lifetime_lands_on_february_28() {
        assert_eq!(add_years(date!(2028 - 02 - 29), 1), date!(2029 - 02 - 28));
    }
}
