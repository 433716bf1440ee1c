//! Checks of a CreateOrder request, before anything is generated, stored or sent. Each failure
//! names the request field and the fix.

use std::collections::HashSet;

use certitude_proto::inventory::v1::KeyAlgorithm;
use certitude_proto::order::v1::CreateOrderRequest;

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
    pub idempotency_key: String,
    pub credential_id: String,
    /// Product code in upper case, such as `STANDARD_SSL`.
    pub product: String,
    pub common_name: String,
    /// Every name of the certificate: the common name first, then the other DNS names, once each.
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
    pub client_id: Option<i32>,
    pub key_algorithm: KeyAlgorithm,
    pub validity_days: u32,
    pub queue_for_approval: bool,
    /// Name of the requester, recorded in the history.
    pub actor: String,
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
pub fn validate(
    request: CreateOrderRequest,
    default_validity_days: u32,
) -> Result<ValidOrderRequest, OrderError> {
    let idempotency_key = idempotency_key(&request.idempotency_key)?;
    let credential_id = required("credential_id", &request.credential_id)?;
    let product = product(&request.product)?;
    let common_name = common_name(&request.common_name)?;
    let dns_names = dns_names(&common_name, &request.dns_names)?;
    let organization = organization(&request.organization)?;
    let client_id = client_id(request.client_id)?;
    let key_algorithm = key_algorithm(&request.key_algorithm)?;
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
    })
}

fn required(field: &'static str, value: &str) -> Result<String, OrderError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(OrderError::invalid(field, "is empty; it is required"));
    }
    Ok(trimmed.to_owned())
}

fn idempotency_key(value: &str) -> Result<String, OrderError> {
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
fn check_dns_name(name: &str) -> Result<(), String> {
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

fn key_algorithm(value: &str) -> Result<KeyAlgorithm, OrderError> {
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

fn validity_days(value: u32, default: u32) -> Result<u32, OrderError> {
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
    use super::*;

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
}
