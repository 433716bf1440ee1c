//! Checks of a CreateOrder request, before anything is generated, stored or sent. Each failure
//! names the request field and the fix.

use std::collections::HashSet;

use certitude_proto::inventory::v1::KeyAlgorithm;
use certitude_proto::order::v1::CreateOrderRequest;

use super::supplied_csr::{self, SuppliedCsr};
use crate::error::OrderError;
use crate::sources::{KeyRequest, key_algorithm_name, parse_key_algorithm};

/// Maximum length of an idempotency key, in characters.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;
/// Maximum length of a common name in X.509 (`ub-common-name`).
const MAX_COMMON_NAME_LEN: usize = 64;
/// Maximum length of an organization name in X.509 (`ub-organization-name`).
const MAX_ORGANIZATION_LEN: usize = 64;
/// Maximum number of DNS names in one order.
const MAX_DNS_NAMES: usize = 250;
/// Maximum validity accepted here, in days. Entrust applies the account's own, shorter maximum.
const MAX_VALIDITY_DAYS: u32 = 3650;

/// A CreateOrder request that passed the checks, with names normalized to lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrderRequest {
    /// Empty only for a validate-only request that sent none.
    pub idempotency_key: String,
    pub credential_id: String,
    /// Product code in upper case, such as `STANDARD_SSL`.
    pub product: String,
    pub common_name: String,
    /// Every name of the certificate: the common name first, then the other DNS names, once each.
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub client_id: Option<i32>,
    /// The supplied CSR's algorithm when there is one.
    pub key_algorithm: KeyAlgorithm,
    pub validity_days: u32,
    pub queue_for_approval: bool,
    /// Name of the requester, recorded in the history.
    pub actor: String,
    /// The requester's own CSR, ordered with instead of a key from the key source.
    pub supplied_csr: Option<SuppliedCsr>,
    /// Only ask Entrust to validate the order; nothing is stored.
    pub validate_only: bool,
}

impl ValidOrderRequest {
    /// Returns the key request for this order: the key source keys it by the idempotency key.
    pub fn key_request(&self) -> KeyRequest {
        KeyRequest {
            idempotency_key: self.idempotency_key.clone(),
            algorithm: self.key_algorithm,
            common_name: self.common_name.clone(),
            dns_names: self.dns_names.clone(),
            organization: self.organization.clone(),
        }
    }

    /// Returns the name of the key algorithm, such as `ECDSA_P256`.
    pub fn key_algorithm_name(&self) -> &'static str {
        key_algorithm_name(self.key_algorithm)
    }
}

/// Checks `request`; `default_validity_days` applies when it names no validity.
///
/// A supplied CSR (`csr_pem`) is parsed and checked first, because the names the request leaves
/// empty come from it.
pub fn validate(
    request: CreateOrderRequest,
    default_validity_days: u32,
) -> Result<ValidOrderRequest, OrderError> {
    let validate_only = request.validate_only;
    let idempotency_key = if validate_only && request.idempotency_key.trim().is_empty() {
        String::new()
    } else {
        idempotency_key(&request.idempotency_key)?
    };
    let credential_id = required("credential_id", &request.credential_id)?;
    let product = product(&request.product)?;
    let supplied_csr = match request.csr_pem.trim() {
        "" => None,
        text => Some(supplied_csr::parse(text)?),
    };
    let (common_name, dns_names) = names(&request, supplied_csr.as_ref())?;
    let organization = organization(&request.organization)?;
    let client_id = client_id(request.client_id)?;
    let key_algorithm = match &supplied_csr {
        Some(csr) => csr_key_algorithm(&request.key_algorithm, csr)?,
        None => key_algorithm(&request.key_algorithm)?,
    };
    let validity_days = validity_days(request.validity_days, default_validity_days)?;
    let actor = match request.actor.trim() {
        "" => "api".to_owned(),
        actor => actor.chars().take(200).collect(),
    };

    Ok(ValidOrderRequest {
        idempotency_key,
        credential_id,
        product,
        common_name,
        dns_names,
        organization,
        client_id,
        key_algorithm,
        validity_days,
        queue_for_approval: request.queue_for_approval,
        actor,
        supplied_csr,
        validate_only,
    })
}

/// Returns the order's common name and every DNS name. With a supplied CSR, an empty
/// `common_name` or `dns_names` is taken from the CSR, and the CSR may name nothing else.
fn names(
    request: &CreateOrderRequest,
    csr: Option<&SuppliedCsr>,
) -> Result<(String, Vec<String>), OrderError> {
    let Some(csr) = csr else {
        let common_name = common_name(&request.common_name)?;
        let dns_names = dns_names(&common_name, &request.dns_names)?;
        return Ok((common_name, dns_names));
    };

    let common_name = match (request.common_name.trim(), csr.default_common_name()) {
        ("", Some(from_csr)) => common_name(from_csr)?,
        ("", None) => {
            return Err(OrderError::invalid(
                "common_name",
                "is empty and the CSR names no host; set common_name, or create the CSR with a \
                 common name or DNS names",
            ));
        }
        (given, _) => common_name(given)?,
    };
    let dns_names = if request.dns_names.is_empty() {
        dns_names(&common_name, &csr.dns_names).map_err(|error| match error {
            OrderError::InvalidArgument { reason, .. } => OrderError::invalid(
                "csr_pem",
                format!("the CSR's subject alternative names: {reason}"),
            ),
            other => other,
        })?
    } else {
        dns_names(&common_name, &request.dns_names)?
    };
    csr.check_names(&common_name, &dns_names)?;
    Ok((common_name, dns_names))
}

/// Returns the supplied CSR's key algorithm after checking that `value` is empty or names it.
fn csr_key_algorithm(value: &str, csr: &SuppliedCsr) -> Result<KeyAlgorithm, OrderError> {
    if value.trim().is_empty() {
        return Ok(csr.key_algorithm);
    }
    let requested = key_algorithm(value)?;
    if requested != csr.key_algorithm {
        let from_csr = key_algorithm_name(csr.key_algorithm);
        return Err(OrderError::invalid(
            "key_algorithm",
            format!(
                "is {} but the CSR's key is {from_csr}; leave key_algorithm empty or set it to \
                 {from_csr}",
                key_algorithm_name(requested)
            ),
        ));
    }
    Ok(requested)
}

fn required(field: &'static str, value: &str) -> Result<String, OrderError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(OrderError::invalid(field, "is empty; it is required"));
    }
    Ok(trimmed.to_owned())
}

pub(crate) fn idempotency_key(value: &str) -> Result<String, OrderError> {
    const FIELD: &str = "idempotency_key";
    if value.trim().is_empty() {
        return Err(OrderError::invalid(
            FIELD,
            "is empty; send a unique key per order, such as a UUID, so that a retried request \
             cannot place a second order",
        ));
    }
    if value.chars().count() > MAX_IDEMPOTENCY_KEY_LEN || value.chars().any(char::is_control) {
        return Err(OrderError::invalid(
            FIELD,
            format!(
                "must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters without control \
                 characters"
            ),
        ));
    }
    Ok(value.to_owned())
}

fn product(value: &str) -> Result<String, OrderError> {
    let product = required("product", value)?.to_ascii_uppercase();
    let valid = product.len() <= 64
        && product
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(OrderError::invalid(
            "product",
            format!("{value:?} is not a product code; use one such as STANDARD_SSL"),
        ));
    }
    Ok(product)
}

fn common_name(value: &str) -> Result<String, OrderError> {
    let name = required("common_name", value)?.to_ascii_lowercase();
    if name.len() > MAX_COMMON_NAME_LEN {
        return Err(OrderError::invalid(
            "common_name",
            format!(
                "is {} characters long; X.509 allows at most {MAX_COMMON_NAME_LEN}: put the \
                 longer name in dns_names",
                name.len()
            ),
        ));
    }
    check_dns_name(&name).map_err(|reason| OrderError::invalid("common_name", reason))?;
    Ok(name)
}

/// Checks and normalizes the DNS names, keeping the first copy of each. The count limit is
/// checked on the list as sent, before any per-name work, so an oversized list costs nothing.
fn dns_names(common_name: &str, values: &[String]) -> Result<Vec<String>, OrderError> {
    if values.len() > MAX_DNS_NAMES {
        return Err(too_many_dns_names(values.len()));
    }
    let mut names = vec![common_name.to_owned()];
    let mut seen: HashSet<String> = HashSet::with_capacity(values.len() + 1);
    seen.insert(common_name.to_owned());
    for value in values {
        let name = value.trim().to_ascii_lowercase();
        check_dns_name(&name).map_err(|reason| OrderError::invalid("dns_names", reason))?;
        if seen.insert(name.clone()) {
            names.push(name);
        }
    }
    // The common name counts too, so 250 distinct names plus a different common name are over.
    if names.len() > MAX_DNS_NAMES {
        return Err(too_many_dns_names(names.len()));
    }
    Ok(names)
}

fn too_many_dns_names(count: usize) -> OrderError {
    OrderError::invalid(
        "dns_names",
        format!(
            "lists {count} names; an order takes at most {MAX_DNS_NAMES}, the common name \
             included: split the names over several orders"
        ),
    )
}

/// Checks a DNS name: labels of letters, digits and hyphens, not starting or ending with a
/// hyphen, at least two labels, and an optional leading `*.` wildcard label.
pub(super) fn check_dns_name(name: &str) -> Result<(), String> {
    let base = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = base.split('.').collect();
    let labels_valid = labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if name.len() > 253 || labels.len() < 2 || !labels_valid {
        return Err(format!(
            "{name:?} is not a DNS name; use a name such as www.example.com or *.example.com"
        ));
    }
    Ok(())
}

fn organization(value: &str) -> Result<Option<String>, OrderError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > MAX_ORGANIZATION_LEN {
        return Err(OrderError::invalid(
            "organization",
            format!("is longer than the {MAX_ORGANIZATION_LEN} characters X.509 allows"),
        ));
    }
    Ok(Some(trimmed.to_owned()))
}

fn client_id(value: i32) -> Result<Option<i32>, OrderError> {
    match value {
        0 => Ok(None),
        id if id > 0 => Ok(Some(id)),
        id => Err(OrderError::invalid(
            "client_id",
            format!("{id} is negative; use an Entrust client id, or 0 for the primary client"),
        )),
    }
}

pub(crate) fn key_algorithm(value: &str) -> Result<KeyAlgorithm, OrderError> {
    parse_key_algorithm(value).ok_or_else(|| {
        OrderError::invalid(
            "key_algorithm",
            format!(
                "{value:?} is not supported; use one of ECDSA_P256, ECDSA_P384, RSA_2048, \
                 RSA_3072, RSA_4096"
            ),
        )
    })
}

pub(crate) fn validity_days(value: u32, default: u32) -> Result<u32, OrderError> {
    match value {
        0 => Ok(default),
        days if days <= MAX_VALIDITY_DAYS => Ok(days),
        days => Err(OrderError::invalid(
            "validity_days",
            format!("{days} is too long; use 1 to {MAX_VALIDITY_DAYS}, or 0 for the default"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};

    use super::*;

    /// Returns a CSR for `names` (the first is the common name) with a new P-256 key.
    fn csr_pem(names: &[&str]) -> String {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("valid names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0].clone());
        params
            .serialize_request(&key)
            .and_then(|request| request.pem())
            .expect("the CSR serializes")
    }

    fn request() -> CreateOrderRequest {
        CreateOrderRequest {
            idempotency_key: "order-1".into(),
            credential_id: "credential-1".into(),
            product: "standard_ssl".into(),
            common_name: "WWW.Example.com".into(),
            dns_names: vec!["example.com".into(), "www.example.com".into()],
            key_algorithm: "ecdsa_p256".into(),
            ..CreateOrderRequest::default()
        }
    }

    fn field_of(error: OrderError) -> &'static str {
        match error {
            OrderError::InvalidArgument { field, .. } => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn valid_request_is_normalized() {
        let valid = validate(request(), 365).expect("the request is valid");

        assert_eq!(valid.product, "STANDARD_SSL");
        assert_eq!(valid.common_name, "www.example.com");
        assert_eq!(valid.dns_names, ["www.example.com", "example.com"]);
        assert_eq!(valid.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(valid.validity_days, 365);
        assert_eq!(valid.client_id, None);
        assert_eq!(valid.actor, "api");
    }

    #[test]
    fn empty_idempotency_key_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                idempotency_key: " ".into(),
                ..request()
            },
            365,
        )
        .expect_err("a key is required");

        assert_eq!(field_of(error), "idempotency_key");
    }

    #[test]
    fn unknown_key_algorithm_is_rejected_with_the_choices() {
        let error = validate(
            CreateOrderRequest {
                key_algorithm: "DSA_1024".into(),
                ..request()
            },
            365,
        )
        .expect_err("DSA is not offered");

        assert_eq!(
            error.to_string(),
            "key_algorithm: \"DSA_1024\" is not supported; use one of ECDSA_P256, ECDSA_P384, \
             RSA_2048, RSA_3072, RSA_4096"
        );
    }

    #[test]
    fn malformed_dns_name_is_rejected() {
        for name in [
            "exa mple.com",
            "-bad.example.com",
            "localhost",
            "a..b.com",
            "*.*.x.com",
        ] {
            let error = validate(
                CreateOrderRequest {
                    dns_names: vec![name.into()],
                    ..request()
                },
                365,
            )
            .expect_err("the name is malformed");

            assert_eq!(field_of(error), "dns_names", "{name}");
        }
    }

    #[test]
    fn duplicate_dns_names_are_kept_once() {
        let valid = validate(
            CreateOrderRequest {
                dns_names: vec![
                    "example.com".into(),
                    "Example.com".into(),
                    "www.example.com".into(),
                    "api.example.com".into(),
                    "example.com".into(),
                ],
                ..request()
            },
            365,
        )
        .expect("duplicates are allowed");

        assert_eq!(
            valid.dns_names,
            ["www.example.com", "example.com", "api.example.com"]
        );
    }

    #[test]
    fn huge_dns_name_list_is_rejected_with_the_limit() {
        let names: Vec<String> = (0..100_000)
            .map(|index| format!("host-{index}.example.com"))
            .collect();

        let error = validate(
            CreateOrderRequest {
                dns_names: names,
                ..request()
            },
            365,
        )
        .expect_err("100,000 names are over the limit");

        let message = error.to_string();
        assert!(message.starts_with("dns_names: "), "{message}");
        assert!(message.contains("lists 100000 names"), "{message}");
        assert!(message.contains("at most 250"), "{message}");
    }

    #[test]
    fn oversized_list_is_rejected_before_names_are_checked() {
        let names = vec!["not a dns name".to_owned(); MAX_DNS_NAMES + 1];

        let error = validate(
            CreateOrderRequest {
                dns_names: names,
                ..request()
            },
            365,
        )
        .expect_err("the list is over the limit");

        let message = error.to_string();
        assert!(message.contains("at most 250"), "{message}");
        assert!(!message.contains("not a DNS name"), "{message}");
    }

    #[test]
    fn limit_counts_the_common_name() {
        let names: Vec<String> = (0..MAX_DNS_NAMES)
            .map(|index| format!("host-{index}.example.com"))
            .collect();
        let at_limit: Vec<String> = names[1..].to_vec();

        let over = validate(
            CreateOrderRequest {
                dns_names: names,
                ..request()
            },
            365,
        )
        .expect_err("250 names plus the common name are over the limit");
        let accepted = validate(
            CreateOrderRequest {
                dns_names: at_limit,
                ..request()
            },
            365,
        )
        .expect("249 names plus the common name are at the limit");

        assert!(over.to_string().contains("lists 251 names"), "{over}");
        assert_eq!(accepted.dns_names.len(), MAX_DNS_NAMES);
    }

    #[test]
    fn wildcard_common_name_is_accepted() {
        let valid = validate(
            CreateOrderRequest {
                common_name: "*.example.com".into(),
                dns_names: Vec::new(),
                ..request()
            },
            365,
        )
        .expect("a wildcard is a valid name");

        assert_eq!(valid.dns_names, ["*.example.com"]);
    }

    #[test]
    fn negative_client_id_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                client_id: -1,
                ..request()
            },
            365,
        )
        .expect_err("client ids are positive");

        assert_eq!(field_of(error), "client_id");
    }

    #[test]
    fn overlong_validity_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                validity_days: 5000,
                ..request()
            },
            365,
        )
        .expect_err("5000 days is beyond the limit");

        assert_eq!(field_of(error), "validity_days");
    }

    #[test]
    fn product_code_with_space_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                product: "standard ssl".into(),
                ..request()
            },
            365,
        )
        .expect_err("a space is not allowed");

        assert_eq!(field_of(error), "product");
    }

    #[test]
    fn csr_fills_empty_names_and_algorithm() {
        let valid = validate(
            CreateOrderRequest {
                common_name: String::new(),
                dns_names: Vec::new(),
                key_algorithm: String::new(),
                csr_pem: csr_pem(&["shop.example.com", "example.com"]),
                ..request()
            },
            365,
        )
        .expect("the CSR supplies the names");

        assert_eq!(valid.common_name, "shop.example.com");
        assert_eq!(valid.dns_names, ["shop.example.com", "example.com"]);
        assert_eq!(valid.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert!(valid.supplied_csr.is_some());
    }

    #[test]
    fn csr_name_missing_from_order_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                common_name: String::new(),
                csr_pem: csr_pem(&["www.example.com", "x.example.com"]),
                ..request()
            },
            365,
        )
        .expect_err("x.example.com is not in dns_names");

        assert!(
            error
                .to_string()
                .starts_with("csr_pem: the CSR names x.example.com, which the order does not;"),
            "{error}"
        );
    }

    #[test]
    fn key_algorithm_other_than_the_csr_is_rejected() {
        let error = validate(
            CreateOrderRequest {
                key_algorithm: "RSA_2048".into(),
                csr_pem: csr_pem(&["www.example.com"]),
                ..request()
            },
            365,
        )
        .expect_err("the CSR has a P-256 key");

        assert_eq!(
            error.to_string(),
            "key_algorithm: is RSA_2048 but the CSR's key is ECDSA_P256; leave key_algorithm \
             empty or set it to ECDSA_P256"
        );
    }

    #[test]
    fn validate_only_needs_no_idempotency_key() {
        let valid = validate(
            CreateOrderRequest {
                idempotency_key: String::new(),
                validate_only: true,
                ..request()
            },
            365,
        )
        .expect("a validation places nothing to repeat");

        assert!(valid.validate_only);
        assert_eq!(valid.idempotency_key, "");
    }
}
