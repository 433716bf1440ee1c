//! The new order a reissue or renewal creates from an existing one.
//!
//! The successor keeps the original's certificate type, client and, unless the request sets
//! them, its subject, names, organization, OU, extended key usage and tracking data.
//! Without a CSR it reuses the original's key (its CSR when it has one). A new CSR brings its
//! own key and names, checked as for a new order. Every name must still be in a usable domain
//! of the client, and the client must still be APPROVED.

use time::OffsetDateTime;

use super::checks::{check_client, resolve_org, resolve_ou, signing_alg_for};
use super::request::{OrgChoice, SuccessorRequest};
use super::subject::{check_domains, check_key, check_standard_ssl_names, resolve_names};
use crate::cert_facts::{GeneralNameValue, format_subject_dn};
use crate::csr::parse_csr;
use crate::error::ApiError;
use crate::model::{CertificateStatus, UserTracking, VerificationStatus};
use crate::names::{check_dns_name, normalize};
use crate::state::{KeyMaterial, Order, OrderCsr, SimState};

/// Builds the successor of `original` (whose key must not be deferred) for `request`, valid
/// until `not_after` and placed by `creator`. Its tracking id is 0 until the caller assigns one.
pub(super) fn build_successor(
    state: &SimState,
    original: &Order,
    request: &SuccessorRequest,
    not_after: OffsetDateTime,
    creator: &str,
) -> Result<Order, ApiError> {
    let common = &request.common;
    check_client(state, original.client_id)?;

    let csr = match common.csr.as_deref() {
        Some(text) => {
            let csr =
                parse_csr(text).map_err(|error| ApiError::invalid("csr", format!("{error}.")))?;
            check_key(csr.key)?;
            Some(csr)
        }
        None => None,
    };
    let (common_name, dns_names, san_field) = match &csr {
        Some(csr) => resolve_names(csr, common.subject_alt_name.as_ref())?,
        None => original_names(original, common.subject_alt_name.as_ref())?,
    };
    if original.cert_type == "STANDARD_SSL" {
        check_standard_ssl_names(&common_name, &dns_names)?;
    }
    let domain_used = check_domains(
        state,
        original.client_id,
        &common_name,
        &dns_names,
        san_field,
    )?;

    let org = match (&common.org, &csr) {
        (OrgChoice::Named(_), Some(csr)) => resolve_org(
            state,
            &original.cert_type,
            original.client_id,
            &common.org,
            csr,
        )?,
        _ => kept_org(state, original, &common.org)?,
    };
    let ou = resolve_ou(common.ou.as_ref(), || match &csr {
        Some(csr) => csr.organizational_units.iter().take(1).cloned().collect(),
        None => original.ou.clone(),
    })?;
    let (key, key_material) = match csr {
        Some(csr) => (
            csr.key,
            KeyMaterial::Csr(OrderCsr {
                pem: csr.pem,
                spki_der: csr.spki_der,
            }),
        ),
        None => (original.key, original.key_material.clone()),
    };
    let tracking = if common.tracking == UserTracking::default() {
        original.tracking.clone()
    } else {
        common.tracking.clone()
    };

    Ok(Order {
        tracking_id: 0,
        status: CertificateStatus::Pending,
        third_party: false,
        cert_type: original.cert_type.clone(),
        client_id: original.client_id,
        dn: format_subject_dn(&common_name, &ou, org.as_deref()),
        common_name,
        org,
        ou,
        subject_alt_names: dns_names.iter().map(GeneralNameValue::dns).collect(),
        key,
        key_material,
        signing_alg: match common.signing_alg.as_deref() {
            Some(requested) => signing_alg_for(&original.cert_type, Some(requested)),
            None => original.signing_alg.clone(),
        },
        eku: common
            .eku
            .map_or_else(|| original.eku.clone(), |eku| eku.as_str().to_owned()),
        certificate: None,
        requested_expiry: not_after,
        tracking,
        deactivated_on: None,
        creator_name: creator.to_owned(),
        decline_reason: None,
        domain_used,
        consumed_product: None,
        revocation: None,
    })
}

/// Returns the original's common name and DNS names, or the requested DNS names with the
/// common name added when missing.
fn original_names(
    original: &Order,
    requested: Option<&Vec<String>>,
) -> Result<(String, Vec<String>, &'static str), ApiError> {
    let common_name = original.common_name.clone();
    let mut dns_names: Vec<String> = Vec::new();
    match requested {
        Some(names) => {
            for name in names {
                check_dns_name(name)
                    .map_err(|message| ApiError::invalid("subjectAltName", message))?;
                let name = normalize(name);
                if !dns_names.contains(&name) {
                    dns_names.push(name);
                }
            }
        }
        None => dns_names.extend(
            original
                .subject_alt_names
                .iter()
                .filter(|name| name.kind == "dNSName")
                .map(|name| normalize(&name.value)),
        ),
    }
    if !dns_names.contains(&common_name) {
        dns_names.insert(0, common_name.clone());
    }
    Ok((common_name, dns_names, "subjectAltName"))
}

/// Keeps the original organization (or `org: ""` and an absent `org`, which Keyfactor sends on
/// every reissue and renewal), unless `choice` names another one. An organization of the
/// client that is no longer APPROVED is a 400.
fn kept_org(
    state: &SimState,
    original: &Order,
    choice: &OrgChoice,
) -> Result<Option<String>, ApiError> {
    let name = match choice {
        OrgChoice::Named(name) => Some(name.clone()),
        OrgChoice::Unset | OrgChoice::Blank => original.org.clone(),
    };
    let Some(name) = name else {
        return Ok(None);
    };
    let known = state
        .organizations
        .iter()
        .find(|org| org.client_id == original.client_id && org.name.eq_ignore_ascii_case(&name));
    match known {
        Some(org) if org.verification_status != VerificationStatus::Approved => {
            Err(ApiError::invalid(
                "org",
                format!(
                    "Organization {:?} is not approved (verificationStatus {}); it can no \
                     longer appear in certificates of client {}.",
                    org.name, org.verification_status, original.client_id
                ),
            ))
        }
        Some(org) => Ok(Some(org.name.clone())),
        None if matches!(choice, OrgChoice::Named(_)) => Err(ApiError::invalid(
            "org",
            format!(
                "Organization {name:?} is not an organization of client {}.",
                original.client_id
            ),
        )),
        None => Ok(Some(name)),
    }
}
