//! `POST /certificates`: validate a new order, then issue it, queue it for approval, or (with
//! `validateOnly`) stop after validation.
//!
//! Checks run in this order and the first failure is returned as a 400 naming its field:
//! certType, client, CSR, organization, OU, key, names and their domains, expiry, inventory.
//! Inventory is consumed when the order is accepted, whether issued or queued. Validation alone
//! consumes nothing and takes no tracking id.
//!
//! NOTE: consuming inventory when an order is queued, not when it is approved, is an assumption.
//! No ECS documentation states when a queued order is counted.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::expiry::resolve_expiry;
use super::request::{NewCertificateRequest, OrgChoice, read_new_request};
use super::subject::{check_domains, check_key, check_standard_ssl_names, resolve_names};
use super::{CertificateResponse, issue_certificate};
use crate::ca::TestCa;
use crate::cert_facts::{GeneralNameValue, format_subject_dn};
use crate::csr::{ParsedCsr, parse_csr};
use crate::error::ApiError;
use crate::model::{
    CERT_TYPES, CertificateStatus, Eku, UserTracking, VerificationStatus, is_ssl_type,
};
use crate::state::{InventoryShortage, Order, OrderCsr, SimState};

/// The result of `POST /certificates`.
#[derive(Debug)]
pub enum PlaceOutcome {
    /// `validateOnly` and the request is valid: 200.
    Validated,
    /// The certificate was issued: 201.
    Issued(CertificateResponse),
    /// The order waits for approval: 202.
    Queued {
        /// Tracking id of the pending order.
        tracking_id: i64,
    },
}

/// A validated order, ready to be stored.
struct Prepared {
    cert_type: String,
    client_id: i64,
    org: Option<String>,
    ou: Vec<String>,
    common_name: String,
    dns_names: Vec<String>,
    csr: ParsedCsr,
    eku: Eku,
    signing_alg: String,
    not_after: OffsetDateTime,
    domain_used: Option<String>,
    product: String,
    tracking: UserTracking,
}

/// Places a new order from a NewCertificateRequest body on behalf of API user `creator`.
pub fn place_new_order(
    state: &mut SimState,
    ca: &TestCa,
    now: OffsetDateTime,
    creator: &str,
    body: &Map<String, Value>,
) -> Result<PlaceOutcome, ApiError> {
    let request = read_new_request(body)?;
    let prepared = prepare(state, now, &request)?;
    if request.validate_only {
        return Ok(PlaceOutcome::Validated);
    }

    let tracking_id = state.take_tracking_id()?;
    state.inventory.consume(&prepared.product);
    let mut order = Order {
        tracking_id,
        status: CertificateStatus::Pending,
        dn: format_subject_dn(&prepared.common_name, &prepared.ou, prepared.org.as_deref()),
        cert_type: prepared.cert_type,
        client_id: prepared.client_id,
        common_name: prepared.common_name,
        org: prepared.org,
        ou: prepared.ou,
        subject_alt_names: prepared
            .dns_names
            .iter()
            .map(GeneralNameValue::dns)
            .collect(),
        key: prepared.csr.key,
        signing_alg: prepared.signing_alg,
        eku: prepared.eku.as_str().to_owned(),
        csr: Some(OrderCsr {
            pem: prepared.csr.pem,
            spki_der: prepared.csr.spki_der,
        }),
        certificate: None,
        requested_expiry: prepared.not_after,
        tracking: prepared.tracking,
        deactivated_on: None,
        creator_name: creator.to_owned(),
        decline_reason: None,
        domain_used: prepared.domain_used,
        consumed_product: Some(prepared.product),
    };

    let outcome = if request.queue_for_approval {
        PlaceOutcome::Queued { tracking_id }
    } else {
        let include_root = state.account.include_root_in_chain;
        PlaceOutcome::Issued(issue_certificate(&mut order, ca, now, include_root)?)
    };
    state.orders.insert(tracking_id, order);
    Ok(outcome)
}

fn prepare(
    state: &SimState,
    now: OffsetDateTime,
    request: &NewCertificateRequest,
) -> Result<Prepared, ApiError> {
    let common = &request.common;
    let cert_type = check_cert_type(request.cert_type.as_deref())?;
    check_client(state, common.client_id)?;

    let csr_text = common
        .csr
        .as_deref()
        .ok_or_else(|| ApiError::invalid("csr", "csr is required for a new certificate."))?;
    let csr = parse_csr(csr_text).map_err(|error| ApiError::invalid("csr", format!("{error}.")))?;
    let org = resolve_org(state, &cert_type, common.client_id, &common.org, &csr)?;
    let ou = match &common.ou {
        Some(units) if units.len() > 1 => {
            return Err(ApiError::invalid(
                "ou",
                "A maximum of one OU may be specified.",
            ));
        }
        Some(units) => units.clone(),
        None => csr.organizational_units.iter().take(1).cloned().collect(),
    };
    check_key(csr.key)?;

    let (common_name, dns_names, san_field) =
        resolve_names(&csr, common.subject_alt_name.as_ref())?;
    if cert_type == "STANDARD_SSL" {
        check_standard_ssl_names(&common_name, &dns_names)?;
    }
    let domain_used = check_domains(state, common.client_id, &common_name, &dns_names, san_field)?;

    let signing_alg = match common.signing_alg.as_deref() {
        // SHA-1 is honoured only for PRIVATE_SSL; other types are upgraded to SHA-2.
        Some("SHA-1") if cert_type == "PRIVATE_SSL" => "SHA-1",
        _ => "SHA-2",
    };
    let not_after = resolve_expiry(
        &state.account,
        now,
        request.cert_expiry_date,
        request.cert_lifetime_years,
    )?;
    let product = state
        .inventory
        .source_for(&cert_type)
        .map_err(|shortage| match shortage {
            InventoryShortage::NotOffered => ApiError::invalid(
                "certType",
                format!(
                    "The account has no {cert_type} inventory and no FLEX pool that covers it."
                ),
            ),
            InventoryShortage::Exhausted => ApiError::invalid(
                "certType",
                format!(
                    "No {cert_type} inventory remains (remainingCount is 0); add inventory or \
                     choose another certType."
                ),
            ),
        })?;

    Ok(Prepared {
        cert_type,
        client_id: common.client_id,
        org,
        ou,
        common_name,
        dns_names,
        csr,
        eku: common.eku.unwrap_or(Eku::ServerAndClientAuth),
        signing_alg: signing_alg.to_owned(),
        not_after,
        domain_used,
        product,
        tracking: common.tracking.clone(),
    })
}

fn check_cert_type(cert_type: Option<&str>) -> Result<String, ApiError> {
    let cert_type =
        cert_type.ok_or_else(|| ApiError::invalid("certType", "certType is required."))?;
    if !CERT_TYPES.contains(&cert_type) {
        return Err(ApiError::invalid(
            "certType",
            format!("certType {cert_type:?} is not a known certificate type."),
        ));
    }
    if !is_ssl_type(cert_type) {
        return Err(ApiError::invalid(
            "certType",
            format!(
                "certType {cert_type} is not supported by this simulator; order an *_SSL type."
            ),
        ));
    }
    Ok(cert_type.to_owned())
}

fn check_client(state: &SimState, client_id: i64) -> Result<(), ApiError> {
    let client = state.client(client_id).ok_or_else(|| {
        ApiError::invalid("clientId", format!("Client {client_id} does not exist."))
    })?;
    if client.verification_status != VerificationStatus::Approved {
        return Err(ApiError::invalid(
            "clientId",
            format!(
                "Client {client_id} is not approved (verificationStatus {}).",
                client.verification_status
            ),
        ));
    }
    Ok(())
}

/// Chooses the `O` of the certificate. An explicit `org` is allowed only with client 1 (any
/// client for PD_SSL) and must be an APPROVED organization of the client.
fn resolve_org(
    state: &SimState,
    cert_type: &str,
    client_id: i64,
    choice: &OrgChoice,
    csr: &ParsedCsr,
) -> Result<Option<String>, ApiError> {
    let approved = |name: &str| {
        state.organizations.iter().find(|org| {
            org.client_id == client_id
                && org.verification_status == VerificationStatus::Approved
                && org.name.eq_ignore_ascii_case(name)
        })
    };
    match choice {
        OrgChoice::Blank => Ok(None),
        OrgChoice::Named(name) => {
            if client_id != 1 && cert_type != "PD_SSL" {
                return Err(ApiError::invalid(
                    "org",
                    format!(
                        "org may only be given with clientId 1 (or for PD_SSL); leave it out to \
                         use the organization of client {client_id}."
                    ),
                ));
            }
            if let Some(org) = approved(name) {
                return Ok(Some(org.name.clone()));
            }
            let known = state
                .organizations
                .iter()
                .find(|org| org.client_id == client_id && org.name.eq_ignore_ascii_case(name));
            Err(ApiError::invalid(
                "org",
                match known {
                    Some(org) => format!(
                        "Organization {:?} is not approved (verificationStatus {}).",
                        org.name, org.verification_status
                    ),
                    None => format!(
                        "Organization {name:?} is not an organization of client {client_id}."
                    ),
                },
            ))
        }
        OrgChoice::Unset => {
            let from_csr = (cert_type == "PD_SSL")
                .then(|| csr.organization.as_deref().and_then(approved))
                .flatten();
            let org = from_csr.or_else(|| {
                state.organizations.iter().find(|org| {
                    org.client_id == client_id
                        && org.verification_status == VerificationStatus::Approved
                })
            });
            match org {
                Some(org) => Ok(Some(org.name.clone())),
                None => Err(ApiError::invalid(
                    "org",
                    format!(
                        "Client {client_id} has no APPROVED organization to put in the certificate."
                    ),
                )),
            }
        }
    }
}
