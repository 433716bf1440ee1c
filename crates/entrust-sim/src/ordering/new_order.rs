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

use super::checks::{
    check_cert_type, check_client, inventory_source, resolve_org, resolve_ou, signing_alg_for,
};
use super::expiry::resolve_expiry;
use super::request::{NewCertificateRequest, read_new_request};
use super::subject::{check_domains, check_key, check_standard_ssl_names, resolve_names};
use super::{CertificateResponse, IssueContext, issue_certificate};
use crate::cert_facts::{GeneralNameValue, format_subject_dn};
use crate::csr::{ParsedCsr, parse_csr};
use crate::error::ApiError;
use crate::model::{CertificateStatus, Eku, UserTracking};
use crate::state::{KeyMaterial, Order, OrderCsr, SimState};

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
    context: &IssueContext<'_>,
    creator: &str,
    body: &Map<String, Value>,
) -> Result<PlaceOutcome, ApiError> {
    let request = read_new_request(body)?;
    let prepared = prepare(state, context.now, &request)?;
    if request.validate_only {
        return Ok(PlaceOutcome::Validated);
    }

    let tracking_id = state.take_tracking_id()?;
    state.inventory.consume(&prepared.product);
    let mut order = Order {
        tracking_id,
        status: CertificateStatus::Pending,
        third_party: false,
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
        key_material: KeyMaterial::Csr(OrderCsr {
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
        revocation: None,
    };

    let outcome = if request.queue_for_approval {
        PlaceOutcome::Queued { tracking_id }
    } else {
        let include_root = state.account.include_root_in_chain;
        PlaceOutcome::Issued(issue_certificate(&mut order, context, include_root)?)
    };
    state.insert_order(order);
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
    let ou = resolve_ou(common.ou.as_ref(), || {
        csr.organizational_units.iter().take(1).cloned().collect()
    })?;
    check_key(csr.key)?;

    let (common_name, dns_names, san_field) =
        resolve_names(&csr, common.subject_alt_name.as_ref())?;
    if cert_type == "STANDARD_SSL" {
        check_standard_ssl_names(&common_name, &dns_names)?;
    }
    let domain_used = check_domains(state, common.client_id, &common_name, &dns_names, san_field)?;

    let signing_alg = signing_alg_for(&cert_type, common.signing_alg.as_deref());
    let not_after = resolve_expiry(
        &state.account,
        now,
        request.cert_expiry_date,
        request.cert_lifetime_years,
    )?;
    let product = inventory_source(state, &cert_type)?;

    Ok(Prepared {
        cert_type,
        client_id: common.client_id,
        org,
        ou,
        common_name,
        dns_names,
        csr,
        eku: common.eku.unwrap_or(Eku::ServerAndClientAuth),
        signing_alg,
        not_after,
        domain_used,
        product,
        tracking: common.tracking.clone(),
    })
}
