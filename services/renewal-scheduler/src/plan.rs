//! When a certificate renews: the policy's point in the lifetime, a jitter derived from the
//! certificate id, and the next opening of the maintenance window. Pure functions of their
//! inputs, so tests can probe leap days, month ends and daylight saving time changes.

use std::time::Duration as StdDuration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::policy::{MaintenanceWindow, RenewalTiming};

/// Days after its issue before Entrust renews a certificate.
pub const ENTRUST_RENEWAL_MIN_AGE: Duration = Duration::days(30);

/// The validity of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Lifetime {
    pub fn length(&self) -> Duration {
        self.not_after - self.not_before
    }

    /// Tells whether Entrust can never renew the certificate before it expires, because its
    /// whole lifetime is at most the 30 days Entrust waits after an issue.
    pub fn too_short_to_renew(&self) -> bool {
        self.length() <= ENTRUST_RENEWAL_MIN_AGE
    }
}

/// Returns the instant `timing` puts the renewal at, before jitter and window. A
/// days-before-expiry period longer than two thirds of the lifetime (one as long as the
/// lifetime included) is capped at a third of the lifetime. A renewal therefore never falls in
/// the first third of a lifetime, where each renewed certificate would renew again soon after
/// its issue.
pub fn renewal_point(lifetime: Lifetime, timing: RenewalTiming) -> OffsetDateTime {
    let length = lifetime.length();
    match timing {
        RenewalTiming::DaysBeforeExpiry(days) => {
            let before = Duration::days(i64::from(days));
            let before = if before * 3 > length * 2 {
                length / 3
            } else {
                before
            };
            lifetime.not_after - before
        }
        RenewalTiming::LifetimePercent(percent) => {
            lifetime.not_before + length * f64::from(percent) / 100.0
        }
        RenewalTiming::TwoThirdsOfLifetime => lifetime.not_before + length * 2 / 3,
    }
}

/// Returns a delay from zero up to `jitter`, the same for the same certificate, and at most a
/// tenth of the time left from `point` to expiry so jitter never pushes a renewal close to it.
pub fn jitter_for(
    certificate_id: Uuid,
    jitter: StdDuration,
    point: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Duration {
    let bound = Duration::try_from(jitter).unwrap_or(Duration::ZERO);
    let bound = bound.min((not_after - point) / 10);
    let bound_ms = u64::try_from(bound.whole_milliseconds()).unwrap_or(0);
    if bound_ms == 0 {
        return Duration::ZERO;
    }
    // The id's low 64 bits: random in UUIDv4 and v7, so the spread is even.
    let bytes = certificate_id.as_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    let offset = u64::from_be_bytes(low) % (bound_ms + 1);
    Duration::milliseconds(i64::try_from(offset).unwrap_or(0))
}

impl MaintenanceWindow {
    /// Returns the first instant at or after `at` that lies inside the window. Local hours that
    /// a daylight saving time change skips are resolved as Jiff's compatible disambiguation
    /// does (a skipped 02:00 becomes 03:00), so a window inside the gap is empty that day.
    pub fn next_open(&self, at: OffsetDateTime) -> OffsetDateTime {
        let Some(timestamp) = to_timestamp(at) else {
            return at;
        };
        let local = timestamp.to_zoned_datetime(self.time_zone.clone());
        let mut date = local.date();
        // Eight days reach every weekday once, whatever the start.
        for _ in 0..8 {
            if self.days.is_empty() || self.days.contains(&date.weekday()) {
                let start = self.instant_at(date, self.start_hour);
                let end = self.instant_at(date, self.end_hour);
                if let (Some(start), Some(end)) = (start, end)
                    && start < end
                    && timestamp < end
                {
                    return from_timestamp(start.max(timestamp)).unwrap_or(at);
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        at
    }

    /// Returns the instant of local hour `hour` (24 is the next midnight) on `date`.
    fn instant_at(&self, date: Date, hour: u8) -> Option<Timestamp> {
        let (date, hour) = if hour >= 24 {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, hour)
        };
        let civil = date.at(i8::try_from(hour).ok()?, 0, 0, 0);
        self.time_zone
            .to_ambiguous_timestamp(civil)
            .compatible()
            .ok()
    }
}

/// Returns the zone named `name` from the bundled IANA database, or `None` when it is unknown.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() || name.eq_ignore_ascii_case("UTC") {
        return Some(TimeZone::UTC);
    }
    TimeZone::get(name).ok()
}

fn to_timestamp(at: OffsetDateTime) -> Option<Timestamp> {
    let nanos = at.unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).ok()
}

fn from_timestamp(at: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond()).ok()
}

/// Returns when the scheduler should act on a renewal planned at `renew_at`: not before
/// `now`, and inside the window when there is one.
pub fn due_time(
    renew_at: OffsetDateTime,
    now: OffsetDateTime,
    window: Option<&MaintenanceWindow>,
) -> OffsetDateTime {
    let earliest = renew_at.max(now);
    match window {
        Some(window) => window.next_open(earliest),
        None => earliest,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::Weekday;
    use time::macros::datetime;

    use super::*;

    fn lifetime(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Lifetime {
        Lifetime {
            not_before,
            not_after,
        }
    }

    fn window(days: Vec<Weekday>, start: u8, end: u8, zone: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days,
            start_hour: start,
            end_hour: end,
            time_zone_name: zone.to_owned(),
            time_zone: time_zone(zone).expect("a known zone"),
        }
    }

    #[test]
    fn default_renews_after_two_thirds() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2030-01-31 00:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::TwoThirdsOfLifetime);

        assert_eq!(point, datetime!(2030-01-21 00:00 UTC));
    }

    #[test]
    fn days_before_expiry_cross_leap_day() {
        let life = lifetime(
            datetime!(2027-03-01 00:00 UTC),
            datetime!(2028-03-01 00:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(1));

        assert_eq!(point, datetime!(2028-02-29 00:00 UTC));
    }

    #[test]
    fn days_before_expiry_across_month_end() {
        let life = lifetime(
            datetime!(2029-06-30 12:00 UTC),
            datetime!(2030-03-31 23:59:59 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(31));

        assert_eq!(point, datetime!(2030-02-28 23:59:59 UTC));
    }

    #[test]
    fn leap_day_issue_renews_by_share_of_lifetime() {
        let life = lifetime(
            datetime!(2028-02-29 10:00 UTC),
            datetime!(2028-05-29 10:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::LifetimePercent(50));

        assert_eq!(point, datetime!(2028-04-14 10:00 UTC));
    }

    #[test]
    fn period_longer_than_lifetime_is_capped() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2030-01-07 00:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(30));

        assert_eq!(point, datetime!(2030-01-05 00:00 UTC));
    }

    #[test]
    fn period_equal_to_lifetime_is_capped() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2030-01-31 00:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(30));

        assert_eq!(point, datetime!(2030-01-21 00:00 UTC));
    }

    #[test]
    fn period_just_under_lifetime_is_capped() {
        // 199 days and 17 minutes of lifetime, renewed 199 days before expiry.
        let life = lifetime(
            datetime!(2026-12-04 23:42 UTC),
            datetime!(2027-06-21 23:59 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(199));

        assert_eq!(point, life.not_after - life.length() / 3);
    }

    #[test]
    fn period_of_two_thirds_is_kept() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2030-01-31 00:00 UTC),
        );

        let point = renewal_point(life, RenewalTiming::DaysBeforeExpiry(20));

        assert_eq!(point, datetime!(2030-01-11 00:00 UTC));
    }

    #[test]
    fn seven_day_lifetime_cannot_renew() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2030-01-08 00:00 UTC),
        );

        assert!(life.too_short_to_renew());
    }

    #[test]
    fn year_lifetime_can_renew() {
        let life = lifetime(
            datetime!(2030-01-01 00:00 UTC),
            datetime!(2031-01-01 00:00 UTC),
        );

        assert!(!life.too_short_to_renew());
    }

    #[test]
    fn jitter_is_stable_and_bounded() {
        let id = Uuid::new_v4();
        let point = datetime!(2030-01-01 00:00 UTC);
        let not_after = datetime!(2030-03-01 00:00 UTC);
        let hour = StdDuration::from_secs(3600);

        let first = jitter_for(id, hour, point, not_after);
        let second = jitter_for(id, hour, point, not_after);

        assert_eq!(first, second);
        assert!(first >= Duration::ZERO, "{first}");
        assert!(first <= Duration::HOUR, "{first}");
    }

    #[test]
    fn jitter_spreads_one_instant() {
        let point = datetime!(2030-01-01 00:00 UTC);
        let not_after = datetime!(2030-03-01 00:00 UTC);
        let hour = StdDuration::from_secs(3600);

        let mut offsets: Vec<Duration> = (0..100)
            .map(|_| jitter_for(Uuid::now_v7(), hour, point, not_after))
            .collect();
        offsets.sort();
        offsets.dedup();

        assert!(offsets.len() > 90, "{} distinct offsets", offsets.len());
    }

    #[test]
    fn jitter_stays_within_tenth_of_remaining_time() {
        let point = datetime!(2030-01-01 00:00 UTC);
        let not_after = datetime!(2030-01-01 01:00 UTC);

        let offset = jitter_for(
            Uuid::new_v4(),
            StdDuration::from_secs(86_400),
            point,
            not_after,
        );

        assert!(offset <= Duration::minutes(6), "{offset}");
    }

    #[test]
    fn inside_window_stays() {
        let window = window(vec![], 1, 5, "UTC");

        let open = window.next_open(datetime!(2030-01-01 02:30 UTC));

        assert_eq!(open, datetime!(2030-01-01 02:30 UTC));
    }

    #[test]
    fn after_window_moves_to_next_day() {
        let window = window(vec![], 1, 5, "UTC");

        let open = window.next_open(datetime!(2030-01-31 06:00 UTC));

        assert_eq!(open, datetime!(2030-02-01 01:00 UTC));
    }

    #[test]
    fn window_days_skip_to_next_allowed_day() {
        // 2028-02-28 is a Monday; the window opens on Saturdays only, and 2028 has a 29 February.
        let window = window(vec![Weekday::Saturday], 22, 24, "UTC");

        let open = window.next_open(datetime!(2028-02-28 12:00 UTC));

        assert_eq!(open, datetime!(2028-03-04 22:00 UTC));
    }

    #[test]
    fn window_follows_spring_forward() {
        // Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 2030-03-31 (02:00 local to 03:00).
        let window = window(vec![], 1, 4, "Europe/Berlin");

        let before_change = window.next_open(datetime!(2030-03-30 23:00 UTC));
        let after_window = window.next_open(datetime!(2030-03-31 02:30 UTC));

        assert_eq!(before_change, datetime!(2030-03-31 00:00 UTC));
        assert_eq!(after_window, datetime!(2030-03-31 23:00 UTC));
    }

    #[test]
    fn window_in_skipped_hour_is_empty_that_day() {
        // 02:00 to 03:00 local does not exist in Berlin on 2030-03-31.
        let window = window(vec![], 2, 3, "Europe/Berlin");

        let open = window.next_open(datetime!(2030-03-30 23:30 UTC));

        assert_eq!(open, datetime!(2030-04-01 00:00 UTC));
    }

    #[test]
    fn window_follows_fall_back() {
        // Berlin moves from UTC+2 to UTC+1 at 01:00 UTC on 2030-10-27; 03:00 local is 02:00 UTC.
        let window = window(vec![], 3, 5, "Europe/Berlin");

        let open = window.next_open(datetime!(2030-10-26 23:00 UTC));

        assert_eq!(open, datetime!(2030-10-27 02:00 UTC));
    }

    #[test]
    fn due_time_is_never_in_the_past() {
        let now = datetime!(2030-05-01 10:00 UTC);

        let due = due_time(datetime!(2030-04-01 00:00 UTC), now, None);

        assert_eq!(due, now);
    }

    #[test]
    fn unknown_zone_is_none() {
        assert!(time_zone("Mars/Olympus_Mons").is_none());
    }
}
