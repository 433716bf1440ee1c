//! `GET /domains` and `GET /clients/{clientId}/domains`: paged domain lists.
//!
//! Each domain carries `verificationStatus`: the 2.1.0 schema names it `status`, but every client,
//! Entrust's own included, reads `verificationStatus`. Absent expiries are left out, never
//! sent as empty strings. The default order is `domainName:asc`.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::listing::{
    Direction, EQ_CON_OPS, EQ_IN_OPS, EQ_OPS, Filter, ORDER_OPS, SortKey, directed, parse_filter,
    parse_paging, parse_sort, query_pairs, sort_text, summary,
};
use super::path_integer;
use crate::error::ApiError;
use crate::format::timestamp;
use crate::simulator::Simulator;
use crate::state::Domain;

const SORTABLE: &[&str] = &[
    "domainName",
    "clientId",
    "verificationMethod",
    "verificationStatus",
    "ovEligible",
    "ovExpiry",
    "evEligible",
    "evExpiry",
];

/// Lists the domains of every client.
pub async fn list_all(
    State(sim): State<Arc<Simulator>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    list(&sim, None, query.as_deref())
}

/// Lists the domains of one client; 404 when the client does not exist.
pub async fn list_for_client(
    State(sim): State<Arc<Simulator>>,
    client_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let client_id = path_integer(client_id, "clientId")?;
    sim.state().known_client(client_id)?;
    list(&sim, Some(client_id), query.as_deref())
}

fn list(
    sim: &Simulator,
    client_id: Option<i64>,
    query: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let received_at = sim.now();
    let mut offset = None;
    let mut limit = None;
    let mut sort = None;
    let mut filters = Vec::new();
    for (name, value) in query_pairs(query) {
        let ops = match name.as_str() {
            "offset" => {
                offset = Some(value);
                continue;
            }
            "limit" => {
                limit = Some(value);
                continue;
            }
            "sort" => {
                sort = Some(value);
                continue;
            }
            "domainName" => EQ_CON_OPS,
            "verificationMethod" | "verificationStatus" => EQ_IN_OPS,
            "clientId" if client_id.is_none() => EQ_IN_OPS,
            "ovEligible" | "evEligible" => EQ_OPS,
            "ovExpiry" | "evExpiry" => ORDER_OPS,
            _ => {
                return Err(ApiError::invalid(
                    &name,
                    format!("{name} is not a query parameter of this domain list."),
                ));
            }
        };
        filters.push(parse_filter(&name, &value, ops)?);
    }
    let paging = parse_paging(offset.as_deref(), limit.as_deref())?;
    let mut sort_keys = parse_sort(sort.as_deref(), SORTABLE)?;
    if sort_keys.is_empty() {
        sort_keys.push(SortKey {
            field: "domainName".to_owned(),
            direction: Direction::Asc,
        });
    }

    let state = sim.state();
    let mut matching: Vec<&Domain> = Vec::new();
    for domain in state.domains.iter() {
        if client_id.is_some_and(|id| domain.client_id != id) {
            continue;
        }
        if all_match(&filters, domain)? {
            matching.push(domain);
        }
    }
    matching.sort_by(|a, b| compare(a, b, &sort_keys));
    let page: Vec<Value> = paging
        .page(&matching)
        .iter()
        .map(|domain| domain_json(domain))
        .collect();
    Ok(Json(json!({
        "summary": summary(received_at, started, paging, matching.len(), &sort_text(&sort_keys)),
        "domains": page,
    })))
}

fn all_match(filters: &[Filter], domain: &Domain) -> Result<bool, ApiError> {
    for filter in filters {
        let matched = match filter.name.as_str() {
            "domainName" => filter.matches_text(Some(&domain.domain_name)),
            "verificationMethod" => filter.matches_text(Some(domain.verification_method.as_str())),
            "verificationStatus" => filter.matches_text(Some(domain.verification_status.as_str())),
            "clientId" => filter.matches_ordered(
                Some(domain.client_id),
                |text| text.parse().ok(),
                "an integer",
            )?,
            "ovEligible" => filter.matches_bool(domain.ov_eligible)?,
            "evEligible" => filter.matches_bool(domain.ev_eligible)?,
            "ovExpiry" => filter.matches_instant(domain.ov_expiry)?,
            "evExpiry" => filter.matches_instant(domain.ev_expiry)?,
            _ => true,
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

fn compare(a: &Domain, b: &Domain, keys: &[SortKey]) -> Ordering {
    let by_expiry = |x: Option<OffsetDateTime>, y: Option<OffsetDateTime>| x.cmp(&y);
    for key in keys {
        let ordering = match key.field.as_str() {
            "clientId" => a.client_id.cmp(&b.client_id),
            "verificationMethod" => a
                .verification_method
                .as_str()
                .cmp(b.verification_method.as_str()),
            "verificationStatus" => a
                .verification_status
                .as_str()
                .cmp(b.verification_status.as_str()),
            "ovEligible" => a.ov_eligible.cmp(&b.ov_eligible),
            "evEligible" => a.ev_eligible.cmp(&b.ev_eligible),
            "ovExpiry" => by_expiry(a.ov_expiry, b.ov_expiry),
            "evExpiry" => by_expiry(a.ev_expiry, b.ev_expiry),
            _ => a.domain_name.cmp(&b.domain_name),
        };
        let ordering = directed(ordering, key.direction);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    (a.client_id, &a.domain_name).cmp(&(b.client_id, &b.domain_name))
}

/// Returns the wire form of a domain (the Domain model).
pub fn domain_json(domain: &Domain) -> Value {
    let mut object = Map::new();
    object.insert("domainName".into(), json!(domain.domain_name));
    object.insert(
        "verificationMethod".into(),
        json!(domain.verification_method),
    );
    object.insert(
        "verificationStatus".into(),
        json!(domain.verification_status),
    );
    object.insert("ovEligible".into(), json!(domain.ov_eligible));
    if let Some(expiry) = domain.ov_expiry {
        object.insert("ovExpiry".into(), json!(timestamp(expiry)));
    }
    object.insert("evEligible".into(), json!(domain.ev_eligible));
    if let Some(expiry) = domain.ev_expiry {
        object.insert("evExpiry".into(), json!(timestamp(expiry)));
    }
    object.insert("clientId".into(), json!(domain.client_id));
    Value::Object(object)
}
