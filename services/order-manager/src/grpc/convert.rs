//! Conversions from stored rows to the messages of the contract, and the page tokens of
//! `ListOrders`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certitude_proto::order::v1::{ImportJob, Order};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::OrderError;
use crate::store::import_jobs::ImportJobRow;
use crate::store::orders::{ListPosition, OrderRow};

/// Converts a stored order to the contract's `Order`.
pub(crate) fn order(row: OrderRow) -> Order {
    Order {
        id: row.id.to_string(),
        credential_id: row.credential_id,
        tracking_id: row.tracking_id.unwrap_or_default(),
        product: row.product,
        common_name: row.common_name,
        dns_names: row.dns_names,
        status: row.status.as_str().to_owned(),
        entrust_status: row.entrust_status.unwrap_or_default(),
        certificate_id: row
            .certificate_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        organization: row.organization.unwrap_or_default(),
        client_id: row.client_id.unwrap_or_default(),
        key_algorithm: row.key_algorithm.unwrap_or_default(),
        key_id: row.key_id.unwrap_or_default(),
        serial_number: row.serial_number.unwrap_or_default(),
        not_after: row.not_after.map(rfc3339).unwrap_or_default(),
        error: row.error.unwrap_or_default(),
        source: row.source,
    }
}

/// Converts a stored import job to the contract's `ImportJob`.
pub(crate) fn import_job(row: ImportJobRow) -> ImportJob {
    let count = |value: i32| u32::try_from(value).unwrap_or_default();
    ImportJob {
        id: row.id.to_string(),
        credential_id: row.credential_id,
        state: row.state,
        pages: count(row.pages),
        orders: count(row.orders),
        issued: count(row.issued),
        skipped: count(row.skipped),
        failed: count(row.failed),
        error: row.error.unwrap_or_default(),
        started_at: rfc3339(row.started_at),
        finished_at: row.finished_at.map(rfc3339).unwrap_or_default(),
        imported: count(row.imported),
        updated: count(row.updated),
    }
}

fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_default()
}

/// Parses an id field, naming the field when the value is not a UUID.
pub(crate) fn parse_id(field: &'static str, value: &str) -> Result<Uuid, OrderError> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        OrderError::invalid(
            field,
            format!("{value:?} is not an id; pass the id as returned, a UUID"),
        )
    })
}

/// Encodes a listing position as an opaque token: base64url of `<unix nanoseconds>,<id>`.
pub(crate) fn page_token(position: ListPosition) -> String {
    let text = format!(
        "{},{}",
        position.created_at.unix_timestamp_nanos(),
        position.id
    );
    URL_SAFE_NO_PAD.encode(text)
}

/// Decodes a token of [`page_token`]; an empty token is the first page.
pub(crate) fn parse_page_token(token: &str) -> Result<Option<ListPosition>, OrderError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        OrderError::invalid(
            "page_token",
            "is not a token from a previous page: pass next_page_token unchanged",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (nanos, id) = text.split_once(',').ok_or_else(invalid)?;
    let nanos: i128 = nanos.parse().map_err(|_| invalid())?;
    Ok(Some(ListPosition {
        created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid())?,
        id: Uuid::parse_str(id).map_err(|_| invalid())?,
    }))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn page_token_round_trips() {
        let position = ListPosition {
            created_at: datetime!(2026-02-28 23:59:59.123456 UTC),
            id: Uuid::now_v7(),
        };

        let parsed = parse_page_token(&page_token(position)).expect("the token parses");

        assert_eq!(parsed, Some(position));
    }

    #[test]
    fn empty_token_is_the_first_page() {
        assert_eq!(parse_page_token("").expect("empty is valid"), None);
    }

    #[test]
    fn foreign_token_names_the_field() {
        let error = parse_page_token("bm90IGEgdG9rZW4").expect_err("not a position");

        assert!(error.to_string().starts_with("page_token: "), "{error}");
    }
}
