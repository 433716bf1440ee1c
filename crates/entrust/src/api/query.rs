//! The query string of `GET /certificates`: paging, field selection, sorting and filters.
//!
//! ECS filters read `name=value` or `name=op:value` with the operators `eq` (the default),
//! `in` (a comma list), `con` (contains) and `gt`, `ge`, `lt`, `le` (dates and numbers).
//! Several filters on one field are sent as repeated parameters.

use time::OffsetDateTime;
use time::macros::format_description;

use super::bodies::invalid;
use crate::error::Error;
use crate::model::{Comparison, FieldSelection, OrderFilter, OrderQuery, TextMatch};

/// The operators a field supports.
#[derive(Clone, Copy)]
enum Supports {
    /// `eq` and `in` only.
    ListOnly,
    /// `eq`, `in` and `con`.
    Text,
}

/// Writes an exact-match filter value. A value containing `:` gets an explicit `eq:` prefix
/// so its own colon is not read as an operator.
fn equals_value(value: &str) -> String {
    if value.contains(':') {
        format!("eq:{value}")
    } else {
        value.to_owned()
    }
}

fn any_of(field: &'static str, values: &[String]) -> Result<String, Error> {
    if values.is_empty() {
        return Err(invalid(
            "filters",
            format!("the {field} filter lists no value: give at least one"),
        ));
    }
    if let Some(value) = values.iter().find(|value| value.contains(',')) {
        return Err(invalid(
            "filters",
            format!(
                "the {field} value {value:?} contains a comma, which ECS reads as a list \
                 separator: match it with Contains instead"
            ),
        ));
    }
    Ok(format!("in:{}", values.join(",")))
}

fn text_value(field: &'static str, text: &TextMatch, supports: Supports) -> Result<String, Error> {
    match (text, supports) {
        (TextMatch::Equals(value), _) => Ok(equals_value(value)),
        (TextMatch::AnyOf(values), _) => any_of(field, values),
        (TextMatch::Contains(value), Supports::Text) => Ok(format!("con:{value}")),
        (TextMatch::Contains(_), Supports::ListOnly) => Err(invalid(
            "filters",
            format!("ECS cannot search {field} by substring: use Equals or AnyOf"),
        )),
    }
}

fn operator(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::Equal => "eq",
        Comparison::Greater => "gt",
        Comparison::GreaterOrEqual => "ge",
        Comparison::Less => "lt",
        Comparison::LessOrEqual => "le",
    }
}

/// Formats an instant as ECS filter examples do: UTC with milliseconds,
/// `2018-01-01T00:00:00.000Z`.
fn filter_timestamp(instant: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(format)
        .unwrap_or_else(|_| instant.unix_timestamp().to_string())
}

/// Returns the wire parameter name and value of one filter.
fn filter_param(filter: &OrderFilter) -> Result<(String, String), Error> {
    let text = |name: &'static str, value: &TextMatch, supports| {
        text_value(name, value, supports).map(|value| (name.to_owned(), value))
    };
    match filter {
        OrderFilter::TrackingIds(ids) => {
            let values: Vec<String> = ids.iter().map(ToString::to_string).collect();
            Ok(("trackingId".to_owned(), any_of("trackingId", &values)?))
        }
        OrderFilter::SerialNumbers(serials) => {
            let values: Vec<String> = serials.iter().map(ToString::to_string).collect();
            Ok(("serialNumber".to_owned(), any_of("serialNumber", &values)?))
        }
        OrderFilter::SerialNumberContains(fragment) => Ok((
            "serialNumber".to_owned(),
            format!("con:{}", fragment.trim().to_ascii_uppercase()),
        )),
        OrderFilter::SubjectDn(value) => text("dn", value, Supports::Text),
        OrderFilter::SubjectAltName(value) => text("subjectAltName", value, Supports::Text),
        OrderFilter::IssuedAt(comparison, instant) => Ok((
            "issueDateTime".to_owned(),
            format!("{}:{}", operator(*comparison), filter_timestamp(*instant)),
        )),
        OrderFilter::ExpiresAt(comparison, instant) => Ok((
            "expiresAfter".to_owned(),
            format!("{}:{}", operator(*comparison), filter_timestamp(*instant)),
        )),
        OrderFilter::SigningAlgorithm(value) => text("signingAlg", value, Supports::Text),
        OrderFilter::Eku(value) => text("eku", value, Supports::ListOnly),
        OrderFilter::KeySize(comparison, bits) => Ok((
            "keySize".to_owned(),
            format!("{}:{bits}", operator(*comparison)),
        )),
        OrderFilter::KeyType(value) => text("keyType", value, Supports::ListOnly),
        OrderFilter::Organization(value) => text("org", value, Supports::Text),
        OrderFilter::OrganizationalUnit(value) => text("ou", value, Supports::Text),
        OrderFilter::Product(value) => text("certType", value, Supports::ListOnly),
        OrderFilter::TrackingInfo(value) => text("tracking.trackingInfo", value, Supports::Text),
        OrderFilter::RequesterName(value) => text("tracking.requesterName", value, Supports::Text),
        OrderFilter::RequesterEmail(value) => {
            text("tracking.requesterEmail", value, Supports::Text)
        }
        OrderFilter::RequesterPhone(value) => {
            text("tracking.requesterPhone", value, Supports::Text)
        }
        OrderFilter::AdditionalEmail(value) => {
            text("tracking.additionalEmails", value, Supports::Text)
        }
        OrderFilter::CustomField { name, value } => {
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric());
            if !valid {
                return Err(invalid(
                    "filters",
                    format!("custom field name {name:?} is not a field name such as text1"),
                ));
            }
            let value = text_value("tracking.customFields", value, Supports::Text)?;
            Ok((format!("tracking.customFields.{name}"), value))
        }
        OrderFilter::DomainUsed(value) => text("domainUsed", value, Supports::Text),
        OrderFilter::ThirdParty(flag) => Ok(("isThirdParty".to_owned(), flag.to_string())),
    }
}

/// Builds the query of `GET /certificates` for one page.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a filter the CA cannot express.
pub(crate) fn list_query(
    query: &OrderQuery,
    offset: u64,
    limit: u32,
) -> Result<Vec<(String, String)>, Error> {
    let mut params = vec![
        ("offset".to_owned(), offset.to_string()),
        ("limit".to_owned(), limit.to_string()),
    ];
    match &query.fields {
        FieldSelection::All => params.push(("fields".to_owned(), "*".to_owned())),
        FieldSelection::CaDefault => {}
        FieldSelection::Only(fields) => params.push(("fields".to_owned(), fields.join(","))),
    }
    if let Some(sort) = &query.sort {
        params.push(("sort".to_owned(), sort.clone()));
    }
    match query.statuses.as_slice() {
        [] => {}
        [status] => params.push(("status".to_owned(), status.as_str().to_owned())),
        statuses => {
            let values: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
            params.push(("status".to_owned(), format!("in:{}", values.join(","))));
        }
    }
    if let Some(marker) = &query.tracking_marker {
        params.push(("tracking.trackingInfo".to_owned(), equals_value(marker)));
    }
    if let Some(serial) = &query.serial_number {
        params.push(("serialNumber".to_owned(), serial.as_str().to_owned()));
    }
    for filter in &query.filters {
        params.push(filter_param(filter)?);
    }
    Ok(params)
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
