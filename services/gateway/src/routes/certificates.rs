//! Routes for the certificate inventory: search, one certificate, removal.

use axum::Json;
use axum::extract::{Path, State};
use certitude_proto::inventory::v1 as proto;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::QueryParams;
use crate::openapi::{IdPath, enum_schema};
use crate::pagination::{Page, PageQuery};
use crate::problem::{GrpcResultExt, Problem};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Query parameters of `GET /v1/certificates`.
const LIST_PARAMETERS: &str = "query, issuer, status, expiring_within_days, key_type, source, \
                               credential_id, inventory_state, sort, order, limit and cursor";

/// A certificate of the inventory with its chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct Certificate {
    #[schema(format = Uuid)]
    id: String,
    /// Subject distinguished name, such as `CN=www.example.com, O=Example Inc`.
    subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    common_name: String,
    dns_names: Vec<String>,
    issuer: String,
    /// Upper-case hexadecimal without leading zeros.
    serial_number: String,
    #[schema(format = DateTime)]
    not_before: String,
    #[schema(format = DateTime)]
    not_after: String,
    #[schema(value_type = KeyType)]
    key_type: String,
    /// Key size in bits: the RSA modulus or the EC field size; 0 when unknown.
    key_bits: u32,
    /// Upper-case hexadecimal SHA-256 of the DER encoding.
    #[schema(pattern = "^[0-9A-F]{64}$")]
    sha256_fingerprint: String,
    /// The inventory's private key of the certificate; absent when it has none.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    key_id: String,
    /// Absent for a certificate that came without an order.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    order_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    credential_id: String,
    #[schema(value_type = CertificateSource)]
    source: String,
    #[schema(value_type = CertificateStatus)]
    status: String,
    #[schema(value_type = InventoryState)]
    inventory_state: String,
    /// Reason a waiting certificate waits, such as `license_limit`.
    #[serde(skip_serializing_if = "String::is_empty")]
    waiting_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    waiting_message: String,
    /// The certificate this one replaces by renewal or reissue.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    replaces_certificate_id: String,
    /// Kind of replacement of `replaces_certificate_id`.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(value_type = Replacement)]
    replacement: String,
    /// The certificate that replaced this one by renewal or reissue.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    superseded_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// When the certificate entered the held inventory; absent while it waits.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    admitted_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
    removed_at: String,
    #[schema(value_type = ChainStatus)]
    chain_status: String,
    certificate_pem: String,
    /// Issuer certificates in PEM, nearest issuer first.
    chain_pem: Vec<String>,
}

/// Query parameters of `GET /v1/certificates`, for the API document. The handler reads the
/// pairs itself to reject unknown and repeated parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateListQuery {
    /// Case-insensitive substring of the common name or of one DNS name.
    #[param(max_length = 255)]
    pub query: Option<String>,
    /// Case-insensitive substring of the issuer distinguished name.
    #[param(max_length = 255)]
    pub issuer: Option<String>,
    /// Certificate statuses; the parameter may repeat, and each value may list several
    /// statuses separated by commas.
    #[param(value_type = Option<Vec<CertificateStatus>>, inline, style = Form, explode = true)]
    pub status: Option<Vec<String>>,
    /// Only certificates whose `not_after` lies after now and at most this many days ahead.
    #[param(minimum = 1, maximum = 3650)]
    pub expiring_within_days: Option<u32>,
    #[param(value_type = Option<KeyType>, inline)]
    pub key_type: Option<String>,
    #[param(value_type = Option<CertificateSource>, inline)]
    pub source: Option<String>,
    /// Only the certificates of this Entrust credential.
    #[param(format = Uuid)]
    pub credential_id: Option<String>,
    /// `held` by default; `any` lists every state.
    #[param(value_type = Option<InventoryStateFilter>, inline)]
    pub inventory_state: Option<String>,
    /// Sort key, `created_at` by default.
    #[param(value_type = Option<CertificateSort>, inline)]
    pub sort: Option<String>,
    /// `desc` for `created_at` and `asc` for the other keys by default.
    #[param(value_type = Option<SortOrder>, inline)]
    pub order: Option<String>,
    /// Certificates per page, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, unchanged, with the same filters and sort.
    #[param(max_length = 512, pattern = "^[A-Za-z0-9_.=-]*$")]
    pub cursor: Option<String>,
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
#[utoipa::path(
    get,
    path = "/v1/certificates",
    tag = "certificates",
    operation_id = "listCertificates",
    summary = "Search the certificate inventory",
    description = "Filters combine with AND. Unknown and repeated parameters are rejected, \
                   except `status`, which may repeat.",
    params(CertificateListQuery),
    responses((status = 200, description = "One page of certificates.",
               body = Page<Certificate>)),
)]
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
#[utoipa::path(
    get,
    path = "/v1/certificates/{id}",
    tag = "certificates",
    operation_id = "getCertificate",
    summary = "Get one certificate with its chain and key reference",
    params(IdPath),
    responses((status = 200, description = "The certificate.", body = Certificate)),
)]
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
#[utoipa::path(
    delete,
    path = "/v1/certificates/{id}",
    tag = "certificates",
    operation_id = "removeCertificate",
    summary = "Remove a certificate from the inventory",
    description = "The certificate stays readable with `inventory_state: removed` and frees its \
                   license slot. Needs the admin role.",
    params(IdPath),
    responses((status = 200, description = "The removed certificate.", body = Certificate)),
)]
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

enum_schema!(
    /// Key type of a certificate.
    KeyType = &["RSA", "EC", "OTHER"]
);

enum_schema!(
    /// Origin of a certificate: an order, or a file import.
    CertificateSource = &["order", "import"]
);

const CERTIFICATE_STATUSES: [&str; 5] = ["active", "expired", "revoked", "suspended", "superseded"];

enum_schema!(
    /// Status of a certificate.
    CertificateStatus = &CERTIFICATE_STATUSES
);

enum_schema!(
    /// Whether the inventory holds a certificate, stores it beyond the licensed count, or removed it.
    InventoryState = &["held", "waiting", "removed"]
);

enum_schema!(
    /// Inventory state to list, or `any`.
    InventoryStateFilter = &["held", "waiting", "removed", "any"]
);

enum_schema!(
    /// Kind of replacement of a certificate's predecessor.
    Replacement = &["renewal", "reissue"]
);

enum_schema!(
    /// Whether each certificate of the chain is signed by the next: `missing` when no chain was given.
    ChainStatus = &["verified", "broken", "missing"]
);

enum_schema!(
    /// Sort key of the certificate list.
    CertificateSort = &["created_at", "not_after", "common_name"]
);

enum_schema!(
    /// Sort direction.
    SortOrder = &["asc", "desc"]
);

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
