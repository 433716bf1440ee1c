//! Auto-renewal policies: when a certificate renews, with which key, product and validity,
//! inside which maintenance window, and how often a failed renewal is tried again.

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use time::OffsetDateTime;
use uuid::Uuid;

/// Attempts of one renewal when the policy names none.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Upper bound of a policy's attempts.
pub const MAX_ATTEMPTS_LIMIT: u32 = 20;

/// When in its lifetime a certificate renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalTiming {
    /// This many days before expiry; capped at a third of the lifetime when it is longer than
    /// the lifetime.
    DaysBeforeExpiry(u32),
    /// When this percentage of the lifetime has passed, 1 to 99.
    LifetimePercent(u32),
    /// When two thirds of the lifetime have passed, the default.
    TwoThirdsOfLifetime,
}

/// Local hours on some days of the week, in one time zone, when renewals may run.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    /// Days the window opens on; every day when empty.
    pub days: Vec<Weekday>,
    /// First local hour of the window, 0 to 23.
    pub start_hour: u8,
    /// Local hour the window closes, after `start_hour`, 1 to 24.
    pub end_hour: u8,
    /// IANA name of the zone, such as `Europe/Berlin`.
    pub time_zone_name: String,
    pub time_zone: TimeZone,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: Uuid,
    pub order_id: Uuid,
    pub credential_id: String,
    /// Product of the order the policy applies to.
    pub order_product: String,
    pub enabled: bool,
    pub timing: RenewalTiming,
    pub rotate_key: bool,
    /// Product of the renewal; `None` keeps the order's.
    pub product: Option<String>,
    /// Validity of the renewal in days; `None` keeps the order's.
    pub validity_days: Option<u32>,
    pub window: Option<MaintenanceWindow>,
    pub max_attempts: u32,
    pub admin_credential_id: Option<String>,
    pub actor: String,
    pub renewals: u32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Policy {
    /// Returns whether renewals of this policy place a new order instead of renewing: Entrust
    /// renews an order with its own product only.
    pub fn changes_product(&self) -> bool {
        self.product
            .as_deref()
            .is_some_and(|product| product != self.order_product)
    }

    /// Returns the product renewals of this policy order.
    pub fn renewal_product(&self) -> &str {
        self.product.as_deref().unwrap_or(&self.order_product)
    }
}

/// Returns the three-letter name of `day` that the API uses, such as `MON`.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "MON",
        Weekday::Tuesday => "TUE",
        Weekday::Wednesday => "WED",
        Weekday::Thursday => "THU",
        Weekday::Friday => "FRI",
        Weekday::Saturday => "SAT",
        Weekday::Sunday => "SUN",
    }
}

/// Parses a three-letter day name in any case, such as `mon`.
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    let day = match name.trim().to_ascii_uppercase().as_str() {
        "MON" => Weekday::Monday,
        "TUE" => Weekday::Tuesday,
        "WED" => Weekday::Wednesday,
        "THU" => Weekday::Thursday,
        "FRI" => Weekday::Friday,
        "SAT" => Weekday::Saturday,
        "SUN" => Weekday::Sunday,
        _ => return None,
    };
    Some(day)
}
