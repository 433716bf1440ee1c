//! Query parameters of list endpoints: paging, sorting, field selection, filters, and the
//! `summary` object every list response carries.
//!
//! `offset` is the index of the first item (default 0) and `limit` the page size (default 25,
//! 1 to 1000; anything else is a 400). A filter is `name=value` or `name=op:value` with `op` one
//! of `eq`, `in` (comma list), `con`, `gt`, `ge`, `lt`, `le`. A parameter may repeat, and all
//! filters must match. Text comparisons ignore ASCII case. Unknown parameters are a 400 that
//! names them, so a misspelt filter never silently widens a result.

use std::cmp::Ordering;
use std::time::Instant;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::format::{parse_instant, timestamp_millis};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 25;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;

/// Splits a raw query string into decoded name/value pairs, in order.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// A page: the index of its first item and its maximum item count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Index of the first item.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
}

impl Paging {
    /// Returns the items of this page.
    pub fn page<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        &items[start..end]
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One sort column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Field name as on the wire.
    pub field: String,
    /// Direction.
    pub direction: Direction,
}

/// Filter operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// Equal (the default).
    Eq,
    /// Equal to one of a comma-separated list.
    In,
    /// Contains.
    Con,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl FilterOp {
    fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::In => "in",
            FilterOp::Con => "con",
            FilterOp::Gt => "gt",
            FilterOp::Ge => "ge",
            FilterOp::Lt => "lt",
            FilterOp::Le => "le",
        }
    }
}

/// Operators of text fields that allow `eq`, `in` and `con`.
pub const TEXT_OPS: &[FilterOp] = &[FilterOp::Eq, FilterOp::In, FilterOp::Con];
/// Operators of enumerations and ids.
pub const EQ_IN_OPS: &[FilterOp] = &[FilterOp::Eq, FilterOp::In];
/// Operators of text fields that allow `eq` and `con`.
pub const EQ_CON_OPS: &[FilterOp] = &[FilterOp::Eq, FilterOp::Con];
/// Operators of booleans.
pub const EQ_OPS: &[FilterOp] = &[FilterOp::Eq];
/// Operators of dates and numbers.
pub const ORDER_OPS: &[FilterOp] = &[
    FilterOp::Eq,
    FilterOp::Gt,
    FilterOp::Ge,
    FilterOp::Lt,
    FilterOp::Le,
];

/// One filter parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Parameter name.
    pub name: String,
    /// Operator.
    pub op: FilterOp,
    /// Operand(s); several only for `in`.
    pub values: Vec<String>,
}

/// Parses `offset` and `limit`.
pub fn parse_paging(offset: Option<&str>, limit: Option<&str>) -> Result<Paging, ApiError> {
    let offset = match offset {
        None => 0,
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            ApiError::invalid(
                "offset",
                format!("offset {text:?} must be an integer of at least 0."),
            )
        })?,
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(value) if (1..=MAX_LIMIT).contains(&value) => value,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    format!("limit {text:?} must be an integer from 1 to {MAX_LIMIT}."),
                ));
            }
        },
    };
    Ok(Paging { offset, limit })
}

/// Parses `sort` (`field:asc|desc`, comma-separated) against the sortable fields.
pub fn parse_sort(value: Option<&str>, sortable: &[&str]) -> Result<Vec<SortKey>, ApiError> {
    let Some(value) = value.filter(|value| !value.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|part| {
            let (field, direction) = match part.trim().split_once(':') {
                Some((field, direction)) => (field.trim(), direction.trim()),
                None => (part.trim(), "asc"),
            };
            let direction = match direction.to_ascii_lowercase().as_str() {
                "asc" => Direction::Asc,
                "desc" => Direction::Desc,
                _ => {
                    return Err(ApiError::invalid(
                        "sort",
                        format!("sort direction {direction:?} must be asc or desc."),
                    ));
                }
            };
            let field = sortable
                .iter()
                .find(|candidate| candidate.eq_ignore_ascii_case(field))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "sort",
                        format!(
                            "{field:?} is not a sortable field; use one of {}.",
                            sortable.join(", ")
                        ),
                    )
                })?;
            Ok(SortKey {
                field: (*field).to_owned(),
                direction,
            })
        })
        .collect()
}

/// Formats sort keys the way `summary.sort` reports them (`trackingId:asc`).
pub fn sort_text(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|key| {
            let direction = match key.direction {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            };
            format!("{}:{direction}", key.field)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Applies a direction to an ascending comparison.
pub fn directed(ordering: Ordering, direction: Direction) -> Ordering {
    match direction {
        Direction::Asc => ordering,
        Direction::Desc => ordering.reverse(),
    }
}

/// Parses one filter parameter and checks its operator against `allowed`.
pub fn parse_filter(name: &str, raw: &str, allowed: &[FilterOp]) -> Result<Filter, ApiError> {
    let (op, operand) = match raw.split_once(':') {
        Some((prefix, rest)) => match prefix.to_ascii_lowercase().as_str() {
            "eq" => (FilterOp::Eq, rest),
            "in" => (FilterOp::In, rest),
            "con" => (FilterOp::Con, rest),
            "gt" => (FilterOp::Gt, rest),
            "ge" => (FilterOp::Ge, rest),
            "lt" => (FilterOp::Lt, rest),
            "le" => (FilterOp::Le, rest),
            _ => (FilterOp::Eq, raw),
        },
        None => (FilterOp::Eq, raw),
    };
    if !allowed.contains(&op) {
        let names: Vec<&str> = allowed.iter().map(|op| op.name()).collect();
        return Err(ApiError::invalid(
            name,
            format!(
                "The {} operator is not supported for {name}; use one of {}.",
                op.name(),
                names.join(", ")
            ),
        ));
    }
    let values = match op {
        FilterOp::In => operand
            .split(',')
            .map(|value| value.trim().to_owned())
            .collect(),
        _ => vec![operand.trim().to_owned()],
    };
    Ok(Filter {
        name: name.to_owned(),
        op,
        values,
    })
}

impl Filter {
    /// Matches a text value; `None` never matches.
    pub fn matches_text(&self, value: Option<&str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        let value = value.to_lowercase();
        let operand = |text: &String| text.to_lowercase();
        match self.op {
            FilterOp::Con => self
                .values
                .iter()
                .any(|text| value.contains(&operand(text))),
            _ => self.values.iter().any(|text| value == operand(text)),
        }
    }

    /// Matches a text value after normalizing both sides with `normalize`.
    pub fn matches_normalized(&self, value: Option<&str>, normalize: fn(&str) -> String) -> bool {
        let Some(value) = value else {
            return false;
        };
        let value = normalize(value);
        match self.op {
            FilterOp::Con => self
                .values
                .iter()
                .any(|text| value.contains(&normalize(text))),
            _ => self.values.iter().any(|text| value == normalize(text)),
        }
    }

    /// Matches an ordered value against operands parsed by `parse`; a bad operand is a 400.
    pub fn matches_ordered<T: PartialOrd>(
        &self,
        value: Option<T>,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<bool, ApiError> {
        let operands = self
            .values
            .iter()
            .map(|text| {
                parse(text).ok_or_else(|| {
                    ApiError::invalid(
                        &self.name,
                        format!("{} value {text:?} must be {expected}.", self.name),
                    )
                })
            })
            .collect::<Result<Vec<T>, ApiError>>()?;
        let Some(value) = value else {
            return Ok(false);
        };
        Ok(operands.iter().any(|operand| match self.op {
            FilterOp::Gt => value > *operand,
            FilterOp::Ge => value >= *operand,
            FilterOp::Lt => value < *operand,
            FilterOp::Le => value <= *operand,
            FilterOp::Eq | FilterOp::In | FilterOp::Con => value == *operand,
        }))
    }

    /// Matches an instant; operands are RFC 3339 date-times or `YYYY-MM-DD` dates.
    pub fn matches_instant(&self, value: Option<OffsetDateTime>) -> Result<bool, ApiError> {
        self.matches_ordered(value, parse_instant, "an RFC 3339 date-time")
    }

    /// Matches a boolean; operands are `true` or `false`.
    pub fn matches_bool(&self, value: bool) -> Result<bool, ApiError> {
        self.matches_ordered(
            Some(value),
            |text| match text.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true or false",
        )
    }
}

/// Builds the `summary` object of a list response.
pub fn summary(
    received_at: OffsetDateTime,
    started: Instant,
    paging: Paging,
    total: usize,
    sort: &str,
) -> Value {
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    json!({
        "timestamp": timestamp_millis(received_at),
        "elapsed": elapsed,
        "offset": paging.offset,
        "limit": paging.limit,
        "total": total,
        "sort": sort,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            parse_paging(None, None).unwrap(),
            Paging {
                offset: 0,
                limit: 25
            }
        );
        assert!(parse_paging(None, Some("0")).is_err());
        assert!(parse_paging(None, Some("1001")).is_err());
        assert!(parse_paging(Some("-1"), None).is_err());
        assert_eq!(parse_paging(Some("5"), Some("1000")).unwrap().limit, 1000);
    }

    #[test]
    fn page_past_the_end_is_empty() {
        let items = [1, 2, 3];
        let paging = Paging {
            offset: 3,
            limit: 2,
        };

        assert!(paging.page(&items).is_empty());
        assert_eq!(
            Paging {
                offset: 2,
                limit: 2
            }
            .page(&items),
            &[3]
        );
    }

    #[test]
    fn filter_operator_prefix_is_parsed() {
        let filter = parse_filter("status", "in:ACTIVE,PENDING", EQ_IN_OPS).unwrap();
        assert_eq!(filter.op, FilterOp::In);
        assert_eq!(filter.values, vec!["ACTIVE", "PENDING"]);

        // A date-time operand keeps its colons.
        let filter = parse_filter("expiresAfter", "ge:2026-01-01T00:00:00Z", ORDER_OPS).unwrap();
        assert_eq!(filter.values, vec!["2026-01-01T00:00:00Z"]);
        let filter = parse_filter("expiresAfter", "2026-01-01T00:00:00Z", ORDER_OPS).unwrap();
        assert_eq!(filter.op, FilterOp::Eq);
    }

    #[test]
    fn unsupported_operator_is_rejected() {
        let error = parse_filter("status", "con:ACT", EQ_IN_OPS).unwrap_err();

        assert_eq!(error.body().errors[0].field.as_deref(), Some("status"));
    }

    #[test]
    fn sort_rejects_unknown_fields_and_directions() {
        let sortable = ["trackingId", "status"];

        assert_eq!(
            sort_text(&parse_sort(Some("trackingid:DESC"), &sortable).unwrap()),
            "trackingId:desc"
        );
        assert!(parse_sort(Some("uri:asc"), &sortable).is_err());
        assert!(parse_sort(Some("status:up"), &sortable).is_err());
    }
}
