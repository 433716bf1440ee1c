//! Checks of the certificate subject of an order: the key, the names, and the client domains
//! that must cover every name.

use crate::cert_facts::KeyFacts;
use crate::csr::ParsedCsr;
use crate::error::ApiError;
use crate::model::KeyType;
use crate::names::{Coverage, check_dns_name, coverage, normalize};
use crate::state::SimState;

/// Accepts RSA keys of 2048, 3072 or 4096 bits and EC keys on P-256 or P-384.
pub(super) fn check_key(key: KeyFacts) -> Result<(), ApiError> {
    let allowed = match key.key_type {
        KeyType::Rsa => matches!(key.key_size, 2048 | 3072 | 4096),
        KeyType::Ec => matches!(key.key_size, 256 | 384),
        KeyType::Other => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "csr",
            format!(
                "The {} key of {} bits is not allowed: the key size must be 2048, 3072 or 4096 \
                 bits for RSA, or 256 or 384 bits for EC (P-256, P-384).",
                key.key_type, key.key_size
            ),
        ))
    }
}

/// Returns the common name, the DNS names (common name first when the SAN list lacks it) and
/// the request field the SANs came from. Request SANs replace the CSR's.
pub(super) fn resolve_names(
    csr: &ParsedCsr,
    requested: Option<&Vec<String>>,
) -> Result<(String, Vec<String>, &'static str), ApiError> {
    let (sans, san_field) = match requested {
        Some(names) => (names.clone(), "subjectAltName"),
        None => (csr.dns_names.clone(), "csr"),
    };
    let mut dns_names: Vec<String> = Vec::new();
    for name in &sans {
        check_dns_name(name).map_err(|message| ApiError::invalid(san_field, message))?;
        let name = normalize(name);
        if !dns_names.contains(&name) {
            dns_names.push(name);
        }
    }
    let common_name = match &csr.common_name {
        Some(name) => {
            check_dns_name(name).map_err(|message| {
                ApiError::invalid("csr", format!("The CSR common name: {message}"))
            })?;
            normalize(name)
        }
        None => dns_names.first().cloned().ok_or_else(|| {
            ApiError::invalid(
                "csr",
                "The CSR has no common name and the request names no subjectAltName.",
            )
        })?,
    };
    if !dns_names.contains(&common_name) {
        dns_names.insert(0, common_name.clone());
    }
    Ok((common_name, dns_names, san_field))
}

/// STANDARD_SSL allows one extra name: `www.d.tld` with common name `d.tld`, or `d.tld` with
/// common name `www.d.tld`.
pub(super) fn check_standard_ssl_names(
    common_name: &str,
    dns_names: &[String],
) -> Result<(), ApiError> {
    let partner = match common_name.strip_prefix("www.") {
        Some(base) => base.to_owned(),
        None => format!("www.{common_name}"),
    };
    for name in dns_names {
        if name != common_name && *name != partner {
            return Err(ApiError::invalid(
                "subjectAltName",
                format!(
                    "STANDARD_SSL certificates for {common_name} may only add {partner} as a \
                     subjectAltName, not {name}; order ADVANTAGE_SSL or UC_SSL for more names."
                ),
            ));
        }
    }
    Ok(())
}

/// Checks that a usable domain of the client covers every name; returns the domain that covers
/// the common name.
pub(super) fn check_domains(
    state: &SimState,
    client_id: i64,
    common_name: &str,
    dns_names: &[String],
    san_field: &str,
) -> Result<Option<String>, ApiError> {
    let mut domain_used = None;
    let names = std::iter::once((common_name, "csr"))
        .chain(dns_names.iter().map(|name| (name.as_str(), san_field)));
    for (name, field) in names {
        match coverage(&state.domains, client_id, name) {
            Coverage::Usable(domain) => {
                if name == common_name && domain_used.is_none() {
                    domain_used = Some(domain);
                }
            }
            Coverage::Unusable(domain, status) => {
                return Err(ApiError::invalid(
                    field,
                    format!(
                        "The domain {domain} of {name} cannot be used by client {client_id}: its \
                         verificationStatus is {status}, and only APPROVED, RE_VERIFICATION and \
                         EXPIRING domains can be used."
                    ),
                ));
            }
            Coverage::Missing => {
                return Err(ApiError::invalid(
                    field,
                    format!(
                        "{name} is not in a domain of client {client_id}; add and verify the \
                         domain first."
                    ),
                ));
            }
        }
    }
    Ok(domain_used)
}
