//! Certificate validity: the maximum a public TLS certificate may have on its order date, and
//! the expiry date sent to Entrust.
//!
//! The CA/Browser Forum Baseline Requirements (ballot SC-081) shorten the maximum validity of
//! publicly trusted TLS certificates in steps: 398 days for certificates issued before
//! 2026-03-15, 200 days from then, 100 days from 2027-03-15 and 47 days from 2029-03-15.

use time::macros::{date, offset};
use time::{Date, Duration, OffsetDateTime};

/// Products whose certificates chain to a private root, outside the public maximum.
pub const PRIVATE_PRODUCTS: &[&str] = &["PRIVATE_SSL"];

/// Each step of the public maximum: the first issue date it applies to and the days allowed.
const PUBLIC_MAXIMUM_STEPS: [(Date, u32); 3] = [
    (date!(2029 - 03 - 15), 47),
    (date!(2027 - 03 - 15), 100),
    (date!(2026 - 03 - 15), 200),
];

/// Maximum validity of a public TLS certificate issued before the first step.
const PUBLIC_MAXIMUM_BEFORE_STEPS: u32 = 398;

/// Returns the maximum validity in days of a public TLS certificate ordered on `order_date`.
pub fn public_maximum_days(order_date: Date) -> u32 {
    PUBLIC_MAXIMUM_STEPS
        .iter()
        .find(|(from, _)| order_date >= *from)
        .map_or(PUBLIC_MAXIMUM_BEFORE_STEPS, |(_, days)| *days)
}

/// Returns the maximum validity in days of `product` ordered on `order_date`; private
/// products have `private_maximum_days`.
pub fn maximum_days(product: &str, order_date: Date, private_maximum_days: u32) -> u32 {
    if PRIVATE_PRODUCTS.contains(&product) {
        private_maximum_days
    } else {
        public_maximum_days(order_date)
    }
}

/// Returns the order date as Entrust counts it: the calendar date in US Eastern time, which
/// Entrust uses for a `certExpiryDate` without a time.
///
/// The date is taken at UTC-5 (Eastern Standard Time) all year. During daylight saving time
/// (UTC-4) this is the same date except from 04:00 to 05:00 UTC, when it is one day earlier, so
/// the expiry date can come out one day short but never one day past the maximum.
pub fn order_date(now: OffsetDateTime) -> Date {
    now.to_offset(offset!(-5)).date()
}

/// Returns the expiry date of a certificate ordered at `now` for `validity_days`, counted in
/// calendar days from the order date, so 29 February and month ends need no special case.
pub fn expiry_date(now: OffsetDateTime, validity_days: u32) -> Date {
    let order_date = order_date(now);
    order_date
        .checked_add(Duration::days(i64::from(validity_days)))
        .unwrap_or(Date::MAX)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn public_maximum_follows_each_step() {
        assert_eq!(public_maximum_days(date!(2026 - 03 - 14)), 398);
        assert_eq!(public_maximum_days(date!(2026 - 03 - 15)), 200);
        assert_eq!(public_maximum_days(date!(2027 - 03 - 14)), 200);
        assert_eq!(public_maximum_days(date!(2027 - 03 - 15)), 100);
        assert_eq!(public_maximum_days(date!(2029 - 03 - 14)), 100);
        assert_eq!(public_maximum_days(date!(2029 - 03 - 15)), 47);
        assert_eq!(public_maximum_days(date!(2040 - 01 - 01)), 47);
    }

    #[test]
    fn private_products_use_configured_maximum() {
        let today = date!(2026 - 12 - 04);

        assert_eq!(maximum_days("PRIVATE_SSL", today, 825), 825);
        assert_eq!(maximum_days("STANDARD_SSL", today, 825), 200);
    }

    #[test]
    fn expiry_counts_calendar_days_across_leap_day() {
        assert_eq!(
            expiry_date(datetime!(2028-02-28 12:00 UTC), 1),
            date!(2028 - 02 - 29)
        );
        assert_eq!(
            expiry_date(datetime!(2028-02-29 12:00 UTC), 47),
            date!(2028 - 04 - 16)
        );
        assert_eq!(
            expiry_date(datetime!(2027-02-28 12:00 UTC), 1),
            date!(2027 - 03 - 01)
        );
    }

    #[test]
    fn expiry_handles_month_and_year_ends() {
        assert_eq!(
            expiry_date(datetime!(2026-01-31 12:00 UTC), 30),
            date!(2026 - 03 - 02)
        );
        assert_eq!(
            expiry_date(datetime!(2026-12-31 12:00 UTC), 200),
            date!(2027 - 07 - 19)
        );
    }

    #[test]
    fn order_date_is_the_eastern_date() {
        // 03:00 UTC is still the previous evening in New York.
        assert_eq!(
            order_date(datetime!(2026-12-04 03:00 UTC)),
            date!(2026 - 12 - 03)
        );
        assert_eq!(
            order_date(datetime!(2026-12-04 05:00 UTC)),
            date!(2026 - 12 - 04)
        );
        // An instant with another offset is converted, not read as local time.
        assert_eq!(
            order_date(datetime!(2026-12-04 09:00 +09:00)),
            date!(2026 - 12 - 03)
        );
    }

    #[test]
    fn expiry_from_late_evening_stays_within_maximum() {
        // 23:30 on 14 March in New York is 03:30 UTC on 15 March: the order date is 14 March.
        let now = datetime!(2026-03-15 03:30 UTC);

        let expiry = expiry_date(now, 200);

        assert_eq!(expiry, date!(2026 - 09 - 30));
        assert!(expiry - order_date(now) <= Duration::days(200));
    }
}
