//! Conversions from stored rows to the messages of the contract, and the page tokens of
//! `ListOrders`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certitude_proto::order::v1::{ImportJob, Order, OrderHistoryEntry};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::OrderError;
use crate::orders::validate::ValidOrderRequest;
use crate::store::history::HistoryRow;
use crate::store::import_jobs::ImportJobRow;
use crate::store::inventory_state::{InventoryColumns, WAITING};
use crate::store::orders::{ListPosition, OrderRow};

/// Converts a stored order to the contract's `Order`.
pub(crate) fn order(row: OrderRow) -> Order {
    let inventory_message = inventory_message(&row.inventory);
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
        renews_order_id: id_text(row.renews_order_id),
        reissue_of_order_id: id_text(row.reissue_of_order_id),
        validity_days: row
            .validity_days
            .and_then(|days| u32::try_from(days).ok())
            .unwrap_or_default(),
        inventory_state: row.inventory.inventory_state.unwrap_or_default(),
        inventory_reason: row.inventory.inventory_reason.unwrap_or_default(),
        inventory_message,
    }
}

/// Start of the inventory's own message about a waiting certificate. The order's message
/// begins with its own summary, so this start is dropped to avoid saying it twice.
const INVENTORY_SUMMARY: &str = "issued, not in the inventory: ";

/// Returns the order's `inventory_message`: for a waiting certificate "issued, not in
/// inventory: <reason in words>: <the inventory's message>", empty otherwise.
fn inventory_message(columns: &InventoryColumns) -> String {
    if columns.inventory_state.as_deref() != Some(WAITING) {
        return String::new();
    }
    let reason = match columns.inventory_reason.as_deref() {
        Some(reason) if !reason.is_empty() => reason.replace('_', " "),
        _ => "waiting".to_owned(),
    };
    let message = columns.inventory_message.as_deref().unwrap_or_default();
    let detail = message.strip_prefix(INVENTORY_SUMMARY).unwrap_or(message);
    if detail.is_empty() {
        format!("issued, not in inventory: {reason}")
    } else {
        format!("issued, not in inventory: {reason}: {detail}")
    }
}

/// Status of the response to a validate-only request. No stored order has it.
pub(crate) const VALIDATED: &str = "VALIDATED";

/// Returns the response to a validate-only request that Entrust accepted: the checked request's
/// fields, status [`VALIDATED`], and no id, times or certificate, because nothing was stored.
pub(crate) fn validated_order(request: &ValidOrderRequest) -> Order {
    Order {
        credential_id: request.credential_id.clone(),
        product: request.product.clone(),
        common_name: request.common_name.clone(),
        dns_names: request.dns_names.clone(),
        status: VALIDATED.to_owned(),
        organization: request.organization.clone().unwrap_or_default(),
        client_id: request.client_id.unwrap_or_default(),
        key_algorithm: request.key_algorithm_name().to_owned(),
        validity_days: request.validity_days,
        ..Order::default()
    }
}

fn id_text(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// Converts a stored history step to the contract's `OrderHistoryEntry`.
pub(crate) fn history_entry(row: HistoryRow) -> OrderHistoryEntry {
    OrderHistoryEntry {
        at: rfc3339(row.at),
        actor: row.actor,
        action: row.action,
        from_status: row.from_status.unwrap_or_default(),
        to_status: row.to_status.unwrap_or_default(),
        outcome: row.outcome,
        detail: row.detail.unwrap_or_default(),
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
        restore_deleted: row.restore_deleted,
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
    use crate::store::inventory_state::IN_INVENTORY;

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

    fn columns(
        state: Option<&str>,
        reason: Option<&str>,
        message: Option<&str>,
    ) -> InventoryColumns {
        InventoryColumns {
            inventory_state: state.map(str::to_owned),
            inventory_reason: reason.map(str::to_owned),
            inventory_message: message.map(str::to_owned),
        }
    }

    #[test]
    fn waiting_message_names_reason_and_inventory_message() {
        let waiting = columns(
            Some(WAITING),
            Some("license_limit"),
            Some(
                "issued, not in the inventory: the license allows 3 certificates and 3 are \
                 held; it is added when a slot frees (raise the license or remove a certificate)",
            ),
        );

        assert_eq!(
            inventory_message(&waiting),
            "issued, not in inventory: license limit: the license allows 3 certificates and 3 \
             are held; it is added when a slot frees (raise the license or remove a certificate)"
        );
    }

    #[test]
    fn waiting_message_keeps_other_inventory_messages_whole() {
        let waiting = columns(Some(WAITING), Some("quarantine"), Some("checked by hand"));

        assert_eq!(
            inventory_message(&waiting),
            "issued, not in inventory: quarantine: checked by hand"
        );
    }

    #[test]
    fn waiting_message_without_reason_or_message() {
        let waiting = columns(Some(WAITING), None, None);

        assert_eq!(
            inventory_message(&waiting),
            "issued, not in inventory: waiting"
        );
    }

    #[test]
    fn held_or_unreported_certificate_has_no_message() {
        assert_eq!(
            inventory_message(&columns(Some(IN_INVENTORY), None, None)),
            ""
        );
        assert_eq!(inventory_message(&InventoryColumns::default()), "");
    }

    #[test]
    fn foreign_token_names_the_field() {
        let error = parse_page_token("bm90IGEgdG9rZW4").expect_err("not a position");

        assert!(error.to_string().starts_with("page_token: "), "{error}");
    }
}
