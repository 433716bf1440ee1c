//! ListCertificates' query: filters, sorts and keyset pagination over the `certificates` table.
//!
//! Every sort orders by one key column and then by id, in the same direction, and a page starts
//! after the `(key, id)` of the previous page's last row. Each sort has an index on
//! `(key, id)`, so a page costs the same at any depth. The text filter uses the trigram index on
//! `search_text` (the common name and DNS names in lower case, one per line).
//!
//! A page token carries the sort, a digest of the filters, the last row's key and its id, so a
//! token used with other filters or another sort is rejected instead of skipping rows.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certitude_platform::db::DbError;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::certificate_store::{CertificateRecord, InventoryState, Source, certificate_columns};

/// Column a list is sorted by; the id breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// When the inventory stored the certificate.
    CreatedAt,
    NotAfter,
    /// The common name in lower case, "" when there is none.
    CommonName,
}

impl SortField {
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::CreatedAt => "created_at",
            SortField::NotAfter => "not_after",
            SortField::CommonName => "common_name",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SortField::CreatedAt => "created_at",
            SortField::NotAfter => "not_after",
            SortField::CommonName => "common_name_key",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [
            SortField::CreatedAt,
            SortField::NotAfter,
            SortField::CommonName,
        ]
        .into_iter()
        .find(|field| field.as_str() == value)
    }

    /// Returns the direction used when a request names none: newest first for `created_at`,
    /// ascending for the others.
    pub fn default_direction(self) -> Direction {
        match self {
            SortField::CreatedAt => Direction::Descending,
            SortField::NotAfter | SortField::CommonName => Direction::Ascending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Ascending => "asc",
            Direction::Descending => "desc",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "asc" => Some(Direction::Ascending),
            "desc" => Some(Direction::Descending),
            _ => None,
        }
    }
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub direction: Direction,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self {
            field: SortField::CreatedAt,
            direction: Direction::Descending,
        }
    }
}

/// Key algorithm family of a certificate's public key, as stored in `key_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa,
    Ec,
    Other,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "EC",
            KeyType::Other => "OTHER",
        }
    }

    /// Parses `RSA`, `EC` or `OTHER` in any case.
    pub fn parse(value: &str) -> Option<Self> {
        [KeyType::Rsa, KeyType::Ec, KeyType::Other]
            .into_iter()
            .find(|key_type| key_type.as_str().eq_ignore_ascii_case(value))
    }
}

/// A status a certificate is listed with, as readers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusFilter {
    Active,
    /// Stored as expired, or stored as active with `not_after` passed.
    Expired,
    Revoked,
    Suspended,
    /// Replaced by a renewal or a reissue (`superseded_by` set), whatever its status.
    Superseded,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 5] = [
        StatusFilter::Active,
        StatusFilter::Expired,
        StatusFilter::Revoked,
        StatusFilter::Suspended,
        StatusFilter::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::Expired => "expired",
            StatusFilter::Revoked => "revoked",
            StatusFilter::Suspended => "suspended",
            StatusFilter::Superseded => "superseded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// Inventory states a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Held certificates only, the default.
    #[default]
    Held,
    Only(InventoryState),
    Any,
}

impl StateFilter {
    fn as_str(self) -> &'static str {
        match self {
            StateFilter::Held => InventoryState::Held.as_str(),
            StateFilter::Only(state) => state.as_str(),
            StateFilter::Any => "any",
        }
    }

    fn state(self) -> Option<InventoryState> {
        match self {
            StateFilter::Held => Some(InventoryState::Held),
            StateFilter::Only(state) => Some(state),
            StateFilter::Any => None,
        }
    }
}

/// Validated filters of a list; `None` and empty fields match every certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFilter {
    /// Substring of the common name or a DNS name, compared in lower case.
    pub text: Option<String>,
    /// Substring of the issuer, compared in lower case.
    pub issuer: Option<String>,
    /// Any of these statuses, sorted and without repeats.
    pub statuses: Vec<StatusFilter>,
    /// `not_after` after now and at most this many days ahead.
    pub expiring_within_days: Option<u32>,
    pub key_type: Option<KeyType>,
    pub source: Option<Source>,
    pub credential_id: Option<Uuid>,
    pub inventory_state: StateFilter,
}

impl CertificateFilter {
    /// Returns a short digest of the filters, which a page token carries.
    fn digest(&self) -> String {
        let statuses: Vec<&str> = self.statuses.iter().map(|s| s.as_str()).collect();
        let canonical = format!(
            "text={:?}\nissuer={:?}\nstatus={}\nexpiring={:?}\nkey_type={:?}\nsource={:?}\n\
             credential={:?}\nstate={}",
            self.text,
            self.issuer,
            statuses.join(","),
            self.expiring_within_days,
            self.key_type.map(KeyType::as_str),
            self.source.map(Source::as_str),
            self.credential_id,
            self.inventory_state.as_str(),
        );
        let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
        hex::encode(&hash.as_ref()[..8])
    }
}

/// The sort key of a row: a time for `created_at` and `not_after`, the lower-case common name
/// for `common_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Time(OffsetDateTime),
    Text(String),
}

/// Start of the next page: the key and id of the row it follows, with the sort and filters of
/// its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    filter_digest: String,
    pub key: SortKey,
    pub id: Uuid,
}

/// Reason a page token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The text is not a token of this service.
    Malformed,
    /// The token belongs to a list with another sort or other filters.
    OtherQuery,
}

const TOKEN_VERSION: &str = "v2";

impl Cursor {
    /// Encodes the cursor as an opaque page token: base64url (no padding) of
    /// `v2:<sort>:<direction>:<filter digest>:<id>:<key>`, the key in Unix microseconds or as
    /// text.
    pub fn to_token(&self) -> String {
        let key = match &self.key {
            SortKey::Time(time) => (time.unix_timestamp_nanos() / 1_000).to_string(),
            SortKey::Text(text) => text.clone(),
        };
        URL_SAFE_NO_PAD.encode(format!(
            "{TOKEN_VERSION}:{}:{}:{}:{}:{key}",
            self.sort.field.as_str(),
            self.sort.direction.as_str(),
            self.filter_digest,
            self.id
        ))
    }

    /// Decodes a page token made by [`Cursor::to_token`] and checks that it belongs to a list
    /// with `sort` and `filter`.
    pub fn from_token(
        token: &str,
        sort: Sort,
        filter: &CertificateFilter,
    ) -> Result<Self, TokenError> {
        let cursor = Self::decode(token).ok_or(TokenError::Malformed)?;
        if cursor.sort != sort || cursor.filter_digest != filter.digest() {
            return Err(TokenError::OtherQuery);
        }
        Ok(cursor)
    }

    fn decode(token: &str) -> Option<Self> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let mut parts = text.splitn(6, ':');
        if parts.next()? != TOKEN_VERSION {
            return None;
        }
        let field = SortField::parse(parts.next()?)?;
        let direction = Direction::parse(parts.next()?)?;
        let filter_digest = parts.next()?.to_owned();
        let id = Uuid::parse_str(parts.next()?).ok()?;
        let raw_key = parts.next()?;
        let key = match field {
            SortField::CreatedAt | SortField::NotAfter => {
                let micros: i128 = raw_key.parse().ok()?;
                SortKey::Time(
                    OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?,
                )
            }
            SortField::CommonName => SortKey::Text(raw_key.to_owned()),
        };
        Some(Self {
            sort: Sort { field, direction },
            filter_digest,
            key,
            id,
        })
    }
}

/// One listed row with its sort key of the common-name order.
#[derive(Debug, sqlx::FromRow)]
struct SearchRow {
    #[sqlx(flatten)]
    record: CertificateRecord,
    common_name_key: String,
}

/// One page of certificates, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePage {
    pub certificates: Vec<CertificateRecord>,
    /// `None` on the last page.
    pub next: Option<Cursor>,
}

/// Builds the query of one page: up to `limit` rows of `filter` in `sort` order after
/// `after`, with statuses and expiry judged at `now`.
pub fn page_query(
    filter: &CertificateFilter,
    sort: Sort,
    after: Option<&Cursor>,
    now: OffsetDateTime,
    limit: u32,
) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new(concat!(
        "SELECT ",
        certificate_columns!(),
        ", common_name_key FROM certificates WHERE TRUE"
    ));
    // Values of a closed set go into the SQL as literals rather than parameters, so the plan
    // is made for the value itself: the planner can then use the partial index of waiting
    // certificates and the column statistics of each value.
    if let Some(state) = filter.inventory_state.state() {
        query.push(format_args!(" AND inventory_state = '{}'", state.as_str()));
    }
    if let Some(text) = &filter.text {
        // NOTE: pg_trgm extracts no trigram from a text shorter than 3 characters, so such a
        // filter gets no help from the trigram index and reads rows in sort order instead.
        query
            .push(" AND search_text LIKE lower(")
            .push_bind(contains_pattern(text))
            .push(")");
    }
    if let Some(issuer) = &filter.issuer {
        // ILIKE on the column itself, unlike LIKE on lower(issuer), lets the planner estimate
        // the match from the column's statistics.
        query
            .push(" AND issuer ILIKE ")
            .push_bind(contains_pattern(issuer));
    }
    push_statuses(&mut query, &filter.statuses, now);
    if let Some(days) = filter.expiring_within_days {
        query
            .push(" AND not_after > ")
            .push_bind(now)
            .push(" AND not_after <= ")
            .push_bind(now + Duration::days(i64::from(days)));
    }
    if let Some(key_type) = filter.key_type {
        query.push(format_args!(" AND key_type = '{}'", key_type.as_str()));
    }
    if let Some(source) = filter.source {
        query.push(format_args!(" AND source = '{}'", source.as_str()));
    }
    if let Some(credential_id) = filter.credential_id {
        query
            .push(" AND credential_id = ")
            .push_bind(credential_id.to_string());
    }

    let column = sort.field.column();
    let (comparison, order) = match sort.direction {
        Direction::Ascending => (">", "ASC"),
        Direction::Descending => ("<", "DESC"),
    };
    if let Some(cursor) = after {
        query.push(format_args!(" AND ({column}, id) {comparison} ("));
        match &cursor.key {
            SortKey::Time(time) => query.push_bind(*time),
            SortKey::Text(text) => query.push_bind(text.clone()),
        };
        query.push(", ").push_bind(cursor.id).push(")");
    }
    query
        .push(format_args!(
            " ORDER BY {column} {order}, id {order} LIMIT "
        ))
        .push_bind(i64::from(limit));
    query
}

/// Returns one page of up to `page_size` certificates (see [`page_query`]).
pub async fn list_page(
    executor: impl PgExecutor<'_>,
    filter: &CertificateFilter,
    sort: Sort,
    after: Option<&Cursor>,
    now: OffsetDateTime,
    page_size: u32,
) -> Result<CertificatePage, DbError> {
    // One row more than the page shows whether another page follows.
    let mut query = page_query(filter, sort, after, now, page_size.saturating_add(1));
    // Not a named prepared statement: Postgres then plans each page with its own values. A
    // generic plan would not see how many rows a text pattern matches, and could pick a scan
    // of a trigram index that reads a large share of the table.
    let mut rows: Vec<SearchRow> = query
        .build_query_as()
        .persistent(false)
        .fetch_all(executor)
        .await?;
    let next = if rows.len() > page_size as usize {
        rows.truncate(page_size as usize);
        rows.last().map(|last| Cursor {
            sort,
            filter_digest: filter.digest(),
            key: match sort.field {
                SortField::CreatedAt => SortKey::Time(last.record.created_at),
                SortField::NotAfter => SortKey::Time(last.record.not_after),
                SortField::CommonName => SortKey::Text(last.common_name_key.clone()),
            },
            id: last.record.id,
        })
    } else {
        None
    };
    Ok(CertificatePage {
        certificates: rows.into_iter().map(|row| row.record).collect(),
        next,
    })
}

/// Adds the condition that the certificate has any of `statuses` at `now`.
fn push_statuses(
    query: &mut QueryBuilder<Postgres>,
    statuses: &[StatusFilter],
    now: OffsetDateTime,
) {
    if statuses.is_empty() {
        return;
    }
    query.push(" AND (");
    for (index, status) in statuses.iter().enumerate() {
        if index > 0 {
            query.push(" OR ");
        }
        match status {
            StatusFilter::Active => {
                query
                    .push("(status = 'active' AND not_after > ")
                    .push_bind(now)
                    .push(")");
            }
            StatusFilter::Expired => {
                // A certificate is stored as expired only once its not_after has passed, so
                // every expired one has not_after <= now, a range the not_after index serves.
                query
                    .push("(status IN ('active', 'expired') AND not_after <= ")
                    .push_bind(now)
                    .push(")");
            }
            StatusFilter::Revoked => {
                query.push("status = 'revoked'");
            }
            StatusFilter::Suspended => {
                query.push("status = 'suspended'");
            }
            StatusFilter::Superseded => {
                query.push("superseded_by IS NOT NULL");
            }
        }
    }
    query.push(")");
}

/// Returns a LIKE pattern matching any text that contains `text`, with LIKE's wildcards and
/// its escape character in `text` escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn cursor(sort: Sort, key: SortKey, filter: &CertificateFilter) -> Cursor {
        Cursor {
            sort,
            filter_digest: filter.digest(),
            key,
            id: Uuid::now_v7(),
        }
    }

    #[test]
    fn token_round_trips_each_sort() {
        let filter = CertificateFilter {
            text: Some("shop".to_owned()),
            ..CertificateFilter::default()
        };
        let cases = [
            (
                SortField::CreatedAt,
                SortKey::Time(datetime!(2030-01-02 03:04:05.678901 UTC)),
            ),
            (
                SortField::NotAfter,
                SortKey::Time(datetime!(2031-05-01 00:00:00 UTC)),
            ),
            (
                SortField::CommonName,
                SortKey::Text("a:b:c.example.com".to_owned()),
            ),
        ];
        for (field, key) in cases {
            let sort = Sort {
                field,
                direction: Direction::Ascending,
            };
            let original = cursor(sort, key, &filter);

            let decoded = Cursor::from_token(&original.to_token(), sort, &filter);

            assert_eq!(decoded, Ok(original), "{field:?}");
        }
    }

    #[test]
    fn token_of_other_filters_is_rejected() {
        let filter = CertificateFilter::default();
        let sort = Sort::default();
        let token = cursor(sort, SortKey::Time(datetime!(2030-01-01 0:00 UTC)), &filter).to_token();
        let other_filter = CertificateFilter {
            issuer: Some("entrust".to_owned()),
            ..CertificateFilter::default()
        };
        let other_sort = Sort {
            direction: Direction::Ascending,
            ..sort
        };

        assert_eq!(
            Cursor::from_token(&token, sort, &other_filter),
            Err(TokenError::OtherQuery)
        );
        assert_eq!(
            Cursor::from_token(&token, other_sort, &filter),
            Err(TokenError::OtherQuery)
        );
    }

    #[test]
    fn foreign_text_is_not_a_token() {
        let filter = CertificateFilter::default();
        for token in ["", "abc", "!!!", &URL_SAFE_NO_PAD.encode("v1:1:x")] {
            assert_eq!(
                Cursor::from_token(token, Sort::default(), &filter),
                Err(TokenError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern("shop"), "%shop%");
    }

    #[test]
    fn descending_page_compares_below_the_cursor() {
        let filter = CertificateFilter::default();
        let sort = Sort {
            field: SortField::NotAfter,
            direction: Direction::Descending,
        };
        let after = cursor(sort, SortKey::Time(datetime!(2030-01-01 0:00 UTC)), &filter);

        let sql = page_query(
            &filter,
            sort,
            Some(&after),
            datetime!(2030-01-01 0:00 UTC),
            10,
        )
        .into_string();

        assert!(sql.contains("(not_after, id) < ("), "{sql}");
        assert!(sql.contains("ORDER BY not_after DESC, id DESC"), "{sql}");
        assert!(sql.contains("inventory_state = "), "{sql}");
    }
}
