//! `GET /certificates`: search orders with filters, field selection, sorting and paging.
//!
//! Third-party certificates (trackingId 0, so first in the default order) are listed with the
//! orders; `isThirdParty=false` leaves them out. Serial numbers match ignoring case and leading
//! zeros, because clients strip leading zeros and ECS reports serials without them. `status`
//! matches the status derived at request time, so `status=EXPIRED` finds ACTIVE orders whose
//! certificate has expired.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::view::{DEFAULT_FIELDS, LIST_FIELDS, base_fields};
use crate::api::listing::{
    Direction, EQ_IN_OPS, EQ_OPS, Filter, FilterOp, ORDER_OPS, SortKey, TEXT_OPS, directed,
    parse_filter, parse_paging, parse_sort, query_pairs, sort_text, summary,
};
use crate::error::ApiError;
use crate::format::normalize_serial;
use crate::simulator::Simulator;
use crate::state::Order;

const SORTABLE: &[&str] = &[
    "trackingId",
    "status",
    "dn",
    "serialNumber",
    "issueDateTime",
    "expiresAfter",
    "signingAlg",
    "eku",
    "keySize",
    "keyType",
    "org",
    "certType",
    "domainUsed",
];

const TRACKING_TEXT: &[&str] = &[
    "tracking.trackingInfo",
    "tracking.requesterName",
    "tracking.requesterEmail",
    "tracking.requesterPhone",
    "tracking.additionalEmails",
];

/// Returns `{summary, certificates}` for the matching orders.
pub async fn list(
    State(sim): State<Arc<Simulator>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let received_at = sim.now();
    let mut offset = None;
    let mut limit = None;
    let mut sort = None;
    let mut fields = None;
    let mut filters = Vec::new();
    for (name, value) in query_pairs(query.as_deref()) {
        match name.as_str() {
            "offset" => offset = Some(value),
            "limit" => limit = Some(value),
            "sort" => sort = Some(value),
            "fields" => fields = Some(value),
            _ => filters.push(parse_filter(&name, &value, filter_ops(&name)?)?),
        }
    }
    let paging = parse_paging(offset.as_deref(), limit.as_deref())?;
    let mut sort_keys = parse_sort(sort.as_deref(), SORTABLE)?;
    if sort_keys.is_empty() {
        sort_keys.push(SortKey {
            field: "trackingId".to_owned(),
            direction: Direction::Asc,
        });
    }
    let selected = select_fields(fields.as_deref())?;

    let state = sim.state();
    let mut matching: Vec<&Order> = Vec::new();
    for order in state.records() {
        if all_match(&filters, order, received_at)? {
            matching.push(order);
        }
    }
    matching.sort_by(|a, b| compare(a, b, &sort_keys, received_at));
    let page: Vec<Value> = paging
        .page(&matching)
        .iter()
        .map(|order| {
            let mut all = base_fields(order, received_at);
            all.insert("uri".into(), json!(order.uri()));
            let item: serde_json::Map<String, Value> = all
                .into_iter()
                .filter(|(name, _)| selected.contains(&name.as_str()))
                .collect();
            Value::Object(item)
        })
        .collect();
    Ok(Json(json!({
        "summary": summary(received_at, started, paging, matching.len(), &sort_text(&sort_keys)),
        "certificates": page,
    })))
}

/// Returns the operators a filter parameter accepts, or a 400 for an unknown parameter.
fn filter_ops(name: &str) -> Result<&'static [FilterOp], ApiError> {
    let ops = match name {
        "trackingId" | "status" | "eku" | "keyType" | "certType" => EQ_IN_OPS,
        "dn" | "serialNumber" | "signingAlg" | "org" | "ou" | "domainUsed" => TEXT_OPS,
        "subjectAltName" => TEXT_OPS,
        "issueDateTime" | "expiresAfter" | "keySize" => ORDER_OPS,
        "isThirdParty" => EQ_OPS,
        _ if TRACKING_TEXT.contains(&name) || name.starts_with("tracking.customFields.") => {
            TEXT_OPS
        }
        _ => {
            return Err(ApiError::invalid(
                name,
                format!("{name} is not a query parameter of GET /certificates."),
            ));
        }
    };
    Ok(ops)
}

/// Parses `fields`: absent means the default set, `*` every field.
fn select_fields(fields: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let Some(fields) = fields.filter(|fields| !fields.trim().is_empty()) else {
        return Ok(DEFAULT_FIELDS.to_vec());
    };
    if fields.trim() == "*" {
        return Ok(LIST_FIELDS.to_vec());
    }
    fields
        .split(',')
        .map(|field| {
            let field = field.trim();
            LIST_FIELDS
                .iter()
                .find(|candidate| candidate.eq_ignore_ascii_case(field))
                .copied()
                .ok_or_else(|| {
                    ApiError::invalid(
                        "fields",
                        format!(
                            "{field:?} is not a certificate field; use * or some of {}.",
                            LIST_FIELDS.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

fn all_match(filters: &[Filter], order: &Order, now: OffsetDateTime) -> Result<bool, ApiError> {
    for filter in filters {
        if !matches(filter, order, now)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn matches(filter: &Filter, order: &Order, now: OffsetDateTime) -> Result<bool, ApiError> {
    let certificate = order.certificate.as_ref();
    let tracking = &order.tracking;
    let matched = match filter.name.as_str() {
        "trackingId" => filter.matches_ordered(
            Some(order.tracking_id),
            |text| text.parse().ok(),
            "an integer",
        )?,
        "status" => filter.matches_text(Some(order.status_at(now).as_str())),
        "dn" => filter.matches_text(Some(&order.dn)),
        "serialNumber" => filter.matches_normalized(
            certificate.map(|certificate| certificate.serial.as_str()),
            normalize_serial,
        ),
        "subjectAltName" => matches_subject_alt_name(filter, order),
        "issueDateTime" => filter.matches_instant(certificate.map(|c| c.not_before))?,
        "expiresAfter" => filter.matches_instant(certificate.map(|c| c.not_after))?,
        "signingAlg" => filter.matches_text(Some(&order.signing_alg)),
        "eku" => filter.matches_text(Some(&order.eku)),
        "keySize" => filter.matches_ordered(
            Some(i64::from(order.key.key_size)),
            |text| text.parse().ok(),
            "an integer",
        )?,
        "keyType" => filter.matches_text(Some(order.key.key_type.as_str())),
        "org" => filter.matches_text(order.org.as_deref()),
        "ou" => order.ou.iter().any(|unit| filter.matches_text(Some(unit))),
        "certType" => filter.matches_text(Some(&order.cert_type)),
        "domainUsed" => filter.matches_text(order.domain_used.as_deref()),
        "isThirdParty" => filter.matches_bool(order.third_party)?,
        "tracking.trackingInfo" => filter.matches_text(tracking.tracking_info.as_deref()),
        "tracking.requesterName" => filter.matches_text(tracking.requester_name.as_deref()),
        "tracking.requesterEmail" => filter.matches_text(tracking.requester_email.as_deref()),
        "tracking.requesterPhone" => filter.matches_text(tracking.requester_phone.as_deref()),
        "tracking.additionalEmails" => tracking
            .additional_emails
            .iter()
            .any(|email| filter.matches_text(Some(email))),
        name => {
            let field = name.trim_start_matches("tracking.customFields.");
            let value = tracking.custom_fields.get(field).map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
            filter.matches_text(value.as_deref())
        }
    };
    Ok(matched)
}

/// `con` and `in` match any single name; `eq` matches a single name or the whole list joined
/// with ", ".
fn matches_subject_alt_name(filter: &Filter, order: &Order) -> bool {
    let names: Vec<&str> = order
        .subject_alt_names
        .iter()
        .map(|name| name.value.as_str())
        .collect();
    match filter.op {
        FilterOp::Eq => filter.matches_text(Some(&names.join(", "))),
        _ => names.iter().any(|name| filter.matches_text(Some(name))),
    }
}

fn compare(a: &Order, b: &Order, keys: &[SortKey], now: OffsetDateTime) -> Ordering {
    for key in keys {
        let ordering = match key.field.as_str() {
            "status" => a.status_at(now).as_str().cmp(b.status_at(now).as_str()),
            "dn" => a.dn.cmp(&b.dn),
            "serialNumber" => serial_key(a).cmp(&serial_key(b)),
            "issueDateTime" => issued(a).cmp(&issued(b)),
            "expiresAfter" => expires(a).cmp(&expires(b)),
            "signingAlg" => a.signing_alg.cmp(&b.signing_alg),
            "eku" => a.eku.cmp(&b.eku),
            "keySize" => a.key.key_size.cmp(&b.key.key_size),
            "keyType" => a.key.key_type.as_str().cmp(b.key.key_type.as_str()),
            "org" => a.org.cmp(&b.org),
            "certType" => a.cert_type.cmp(&b.cert_type),
            "domainUsed" => a.domain_used.cmp(&b.domain_used),
            _ => a.tracking_id.cmp(&b.tracking_id),
        };
        let ordering = directed(ordering, key.direction);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.tracking_id.cmp(&b.tracking_id)
}

/// Orders serials numerically: shorter hex (after dropping leading zeros) is smaller.
fn serial_key(order: &Order) -> Option<(usize, String)> {
    order.certificate.as_ref().map(|certificate| {
        let serial = normalize_serial(&certificate.serial);
        (serial.len(), serial)
    })
}

fn issued(order: &Order) -> Option<OffsetDateTime> {
    order.certificate.as_ref().map(|c| c.not_before)
}

fn expires(order: &Order) -> Option<OffsetDateTime> {
    order.certificate.as_ref().map(|c| c.not_after)
}
