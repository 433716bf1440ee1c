//! Routes for the certificate inventory.

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

#[derive(Debug, Serialize)]
pub struct Certificate {
    id: String,
    subject: String,
    dns_names: Vec<String>,
    issuer: String,
    serial_number: String,
    not_before: String,
    not_after: String,
    key_type: String,
    sha256_fingerprint: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    order_id: String,
    status: String,
    certificate_pem: String,
    chain_pem: Vec<String>,
}

impl From<proto::Certificate> for Certificate {
    fn from(certificate: proto::Certificate) -> Self {
        Self {
            id: certificate.id,
            subject: certificate.subject,
            dns_names: certificate.dns_names,
            issuer: certificate.issuer,
            serial_number: certificate.serial_number,
            not_before: certificate.not_before,
            not_after: certificate.not_after,
            key_type: certificate.key_type,
            sha256_fingerprint: certificate.sha256_fingerprint,
            key_id: certificate.key_id,
            order_id: certificate.order_id,
            status: certificate.status,
            certificate_pem: certificate.certificate_pem,
            chain_pem: certificate.chain_pem,
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Page<Certificate>>, Problem> {
    principal.require(Role::Viewer)?;
    let response = state
        .clients
        .inventory
        .clone()
        .list_certificates(proto::ListCertificatesRequest {
            page_size: query.limit()?,
            page_token: query.page_token()?,
        })
        .await
        .or_problem()?;
    let items = response
        .certificates
        .into_iter()
        .map(Certificate::from)
        .collect();
    Ok(Json(Page::new(items, response.next_page_token)))
}

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
        .get_certificate(proto::GetCertificateRequest { id })
        .await
        .or_problem()?;
    Ok(Json(certificate.into()))
}
