//! Checks that new orders, reissues and renewals share: product, client, organization, OU,
//! signing algorithm and inventory.

use super::request::OrgChoice;
use crate::csr::ParsedCsr;
use crate::error::ApiError;
use crate::model::{CERT_TYPES, VerificationStatus, is_ssl_type};
use crate::state::{InventoryShortage, SimState};

/// Returns the OU values of a certificate: at most one from the request (`Some(vec![])`
/// suppresses the OU), else `default`.
pub(super) fn resolve_ou(
    requested: Option<&Vec<String>>,
    default: impl FnOnce() -> Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match requested {
        Some(units) if units.len() > 1 => Err(ApiError::invalid(
            "ou",
            "A maximum of one OU may be specified.",
        )),
        Some(units) => Ok(units.clone()),
        None => Ok(default()),
    }
}

/// Returns the signing algorithm to report: SHA-1 is honoured only for PRIVATE_SSL; every other
/// type is upgraded to SHA-2, as ECS has done since 2016.
pub(super) fn signing_alg_for(cert_type: &str, requested: Option<&str>) -> String {
    match requested {
        Some("SHA-1") if cert_type == "PRIVATE_SSL" => "SHA-1".to_owned(),
        _ => "SHA-2".to_owned(),
    }
}

/// Returns the product an order of `cert_type` consumes, or a 400 naming `certType` when the
/// account lacks it or has used it up.
pub(super) fn inventory_source(state: &SimState, cert_type: &str) -> Result<String, ApiError> {
    state
        .inventory
        .source_for(cert_type)
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
        })
}

pub(super) fn check_cert_type(cert_type: Option<&str>) -> Result<String, ApiError> {
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

pub(super) fn check_client(state: &SimState, client_id: i64) -> Result<(), ApiError> {
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
pub(super) fn resolve_org(
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
