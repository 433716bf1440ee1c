//! Routes for the certificate inventory: search, one certificate, removal.

use axum::Json;
use axum::extract::{Path, State};
use certitude_proto::inventory::v1 as proto;
use serde::Serialize;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::QueryParams;
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Query parameters of `GET /v1/certificates`.
const LIST_PARAMETERS: &str = "query, issuer, status, expiring_within_days, key_type, source, \
                               credential_id, inventory_state, sort, order, limit and cursor";

#[derive(Debug, Serialize)]
pub struct Certificate {
    id: String,
    subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    common_name: String,
    dns_names: Vec<String>,
    issuer: String,
    serial_number: String,
    not_before: String,
    not_after: String,
    key_type: String,
    key_bits: u32,
    sha256_fingerprint: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    order_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    credential_id: String,
    source: String,
    status: String,
    inventory_state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    waiting_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    waiting_message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    replaces_certificate_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    replacement: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    superseded_by: String,
    created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    admitted_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    removed_at: String,
    chain_status: String,
    certificate_pem: String,
    chain_pem: Vec<String>,
}

impl From<proto::Certificate> for Certificate {
    fn from(certificate: proto::Certificate) -> Self {
        Self {
            id: certificate.id,
            subject: certificate.subject,
            common_name: certificate.common_name,
            dns_names: certificate.dns_names,
            issuer: certificate.issuer,
            serial_number: certificate.serial_number,
            not_before: certificate.not_before,
            not_after: certificate.not_after,
            key_type: certificate.key_type,
            key_bits: certificate.key_bits,
            sha256_fingerprint: certificate.sha256_fingerprint,
            key_id: certificate.key_id,
            order_id: certificate.order_id,
            credential_id: certificate.credential_id,
            source: certificate.source,
            status: certificate.status,
            inventory_state: certificate.inventory_state,
            waiting_reason: certificate.waiting_reason,
            waiting_message: certificate.waiting_message,
            replaces_certificate_id: certificate.replaces_certificate_id,
            replacement: certificate.replacement,
            superseded_by: certificate.superseded_by,
            created_at: certificate.created_at,
            admitted_at: certificate.admitted_at,
            removed_at: certificate.removed_at,
            chain_status: certificate.chain_status,
            certificate_pem: certificate.certificate_pem,
            chain_pem: certificate.chain_pem,
        }
    }
}

/// `GET /v1/certificates`: one page of the inventory, filtered and sorted.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Json<Page<Certificate>>, Problem> {
    principal.require(Role::Viewer)?;
    let request = list_request(pairs)?;
    let response = state
        .clients
        .inventory
        .clone()
        .list_certificates(request)
        .await
        .or_problem()?;
    let items = response
        .certificates
        .into_iter()
        .map(Certificate::from)
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

/// Builds the ListCertificates request from the query string.
///
/// Numbers, UUIDs, `sort`, `order`, unknown and repeated parameters are checked here. The
/// inventory checks the text and choice filters, and its error names the parameter.
pub fn list_request(
    pairs: Vec<(String, String)>,
) -> Result<proto::ListCertificatesRequest, Problem> {
    let mut request = proto::ListCertificatesRequest::default();
    let mut limit = None;
    let mut cursor = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in pairs {
        if name != "status" && seen.contains(&name) {
            return Err(Problem::invalid_field(
                &name,
                "is given more than once: pass it once",
            ));
        }
        seen.push(name.clone());
        match name.as_str() {
            "query" => request.query = value,
            "issuer" => request.issuer = value,
            "status" => request.status.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|status| !status.is_empty())
                    .map(str::to_owned),
            ),
            "expiring_within_days" => {
                request.expiring_within_days = Some(number(&name, &value, "1 to 3650 days")?);
            }
            "key_type" => request.key_type = value,
            "source" => request.source = value,
            "credential_id" => request.credential_id = parse_id("credential_id", &value)?,
            "inventory_state" => request.inventory_state = value,
            "sort" => request.sort = sort(&value)?.into(),
            "order" => request.order = order(&value)?.into(),
            "limit" => limit = Some(number(&name, &value, "1 to 500")?),
            "cursor" => cursor = Some(value),
            _ => {
                return Err(Problem::invalid_field(
                    &name,
                    format!("is not a parameter of this route: use {LIST_PARAMETERS}"),
                ));
            }
        }
    }
    let page = PageQuery::new(limit, cursor);
    request.page_size = page.limit()?;
    request.page_token = page.page_token()?;
    Ok(request)
}

fn number(name: &str, value: &str, range: &str) -> Result<u32, Problem> {
    value.trim().parse().map_err(|_| {
        Problem::invalid_field(name, format!("{value:?} is not a number: use {range}"))
    })
}

fn sort(value: &str) -> Result<proto::CertificateSort, Problem> {
    match value {
        "created_at" => Ok(proto::CertificateSort::CreatedAt),
        "not_after" => Ok(proto::CertificateSort::NotAfter),
        "common_name" => Ok(proto::CertificateSort::CommonName),
        other => Err(Problem::invalid_field(
            "sort",
            format!("{other:?} is not a sort: use created_at, not_after or common_name"),
        )),
    }
}

fn order(value: &str) -> Result<proto::SortOrder, Problem> {
    match value {
        "asc" => Ok(proto::SortOrder::Ascending),
        "desc" => Ok(proto::SortOrder::Descending),
        other => Err(Problem::invalid_field(
            "order",
            format!("{other:?} is not an order: use asc or desc"),
        )),
    }
}

/// `GET /v1/certificates/{id}`.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Certificate>, Problem> {
    principal.require(Role::Viewer)?;
    let id = parse_id("id", &id)?;
    let certificate = state
        .clients
        .inventory
        .clone()
        .get_certificate(proto::GetCertificateRequest {
            id,
            ..proto::GetCertificateRequest::default()
        })
        .await
        .or_problem()?;
    Ok(Json(certificate.into()))
}

/// `DELETE /v1/certificates/{id}`: takes the certificate out of the inventory and returns it.
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Certificate>, Problem> {
    principal.require(Role::Admin)?;
    let id = parse_id("id", &id)?;
    let certificate = state
        .clients
        .inventory
        .clone()
        .remove_certificate(proto::RemoveCertificateRequest {
            id,
            actor: principal.token_name.clone(),
        })
        .await
        .or_problem()?;
    Ok(Json(certificate.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn rejected_parameter(query: &[(&str, &str)]) -> String {
        let problem = list_request(pairs(query)).expect_err("the query is invalid");
        assert_eq!(problem.status, 400);
        problem.invalid_params[0].name.clone()
    }

    #[test]
    fn every_parameter_reaches_the_request() {
        let request = list_request(pairs(&[
            ("query", "shop"),
            ("issuer", "Entrust"),
            ("status", "active,expired"),
            ("status", "revoked"),
            ("expiring_within_days", "30"),
            ("key_type", "EC"),
            ("source", "order"),
            ("credential_id", "0191d2a0-0000-7000-8000-000000000000"),
            ("inventory_state", "waiting"),
            ("sort", "not_after"),
            ("order", "desc"),
            ("limit", "20"),
        ]))
        .unwrap();

        assert_eq!(request.query, "shop");
        assert_eq!(request.issuer, "Entrust");
        assert_eq!(request.status, ["active", "expired", "revoked"]);
        assert_eq!(request.expiring_within_days, Some(30));
        assert_eq!(request.key_type, "EC");
        assert_eq!(request.source, "order");
        assert_eq!(
            request.credential_id,
            "0191d2a0-0000-7000-8000-000000000000"
        );
        assert_eq!(request.inventory_state, "waiting");
        assert_eq!(request.sort, i32::from(proto::CertificateSort::NotAfter));
        assert_eq!(request.order, i32::from(proto::SortOrder::Descending));
        assert_eq!(request.page_size, 20);
    }

    #[test]
    fn invalid_parameters_are_named() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[("colour", "red")], "colour"),
            (&[("limit", "ten")], "limit"),
            (&[("limit", "0")], "limit"),
            (&[("expiring_within_days", "-1")], "expiring_within_days"),
            (&[("credential_id", "cred-1")], "credential_id"),
            (&[("sort", "serial")], "sort"),
            (&[("order", "up")], "order"),
            (&[("query", "a"), ("query", "b")], "query"),
        ];
        for (query, name) in cases {
            assert_eq!(rejected_parameter(query), name, "{query:?}");
        }
    }
}
