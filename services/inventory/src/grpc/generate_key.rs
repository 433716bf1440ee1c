//! GenerateKey at the gRPC edge: request validation with field-named messages, and the mapping
//! of key service errors to status codes.

use certitude_proto::inventory::v1 as proto;
use time::format_description::well_known::Rfc3339;
use tonic::Status;

use super::status::{internal, invalid};
use crate::key_service::{GenerateKeyError, KeyRequest, KeyService, normalize_subject};
use crate::key_store::KeyRecord;
use crate::keys::{KeyAlgorithm, KeyError};

/// Longest accepted idempotency key, in bytes.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Upper bound of a common name or organization in a certificate (RFC 5280 `ub-common-name`,
/// `ub-organization-name`).
const MAX_NAME_LEN: usize = 64;

/// Longest DNS name (RFC 1035), without a trailing dot.
const MAX_DNS_NAME_LEN: usize = 253;

const ALGORITHM_CHOICES: &str = "KEY_ALGORITHM_ECDSA_P256, KEY_ALGORITHM_ECDSA_P384, \
                                 KEY_ALGORITHM_RSA_2048, KEY_ALGORITHM_RSA_3072 or \
                                 KEY_ALGORITHM_RSA_4096";

/// Validates the request, then returns the key stored for its idempotency key or a new one.
pub async fn generate_key(
    keys: &KeyService,
    request: proto::GenerateKeyRequest,
) -> Result<proto::GeneratedKey, Status> {
    let request = validate(request)?;
    let record = keys.generate_or_reuse(&request).await.map_err(to_status)?;
    Ok(to_proto(record, request.algorithm))
}

/// Checks every field and returns the normalized request.
pub fn validate(request: proto::GenerateKeyRequest) -> Result<KeyRequest, Status> {
    let idempotency_key = request.idempotency_key;
    if idempotency_key.trim().is_empty() {
        return Err(invalid(
            "idempotency_key",
            "is empty: send the order's idempotency key",
        ));
    }
    if idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(invalid(
            "idempotency_key",
            format!(
                "is {} bytes long: use at most {MAX_IDEMPOTENCY_KEY_LEN}",
                idempotency_key.len()
            ),
        ));
    }
    let algorithm = algorithm(request.algorithm)?;

    let subject = normalize_subject(
        &request.common_name,
        &request.dns_names,
        &request.organization,
    );
    if subject.common_name.is_empty() && subject.dns_names.is_empty() {
        return Err(invalid(
            "common_name",
            "is empty and dns_names has no name: set a common name or at least one DNS name",
        ));
    }
    if !subject.common_name.is_empty() {
        check_name_length("common_name", &subject.common_name)?;
        check_dns_name("common_name", &subject.common_name)?;
    }
    for name in &subject.dns_names {
        check_dns_name("dns_names", name)?;
    }
    if let Some(organization) = &subject.organization {
        check_name_length("organization", organization)?;
    }

    Ok(KeyRequest {
        idempotency_key,
        algorithm,
        subject,
    })
}

fn algorithm(value: i32) -> Result<KeyAlgorithm, Status> {
    match proto::KeyAlgorithm::try_from(value) {
        Ok(proto::KeyAlgorithm::Unspecified) => Err(invalid(
            "algorithm",
            format!("is unspecified: choose {ALGORITHM_CHOICES}"),
        )),
        Ok(proto::KeyAlgorithm::EcdsaP256) => Ok(KeyAlgorithm::EcdsaP256),
        Ok(proto::KeyAlgorithm::EcdsaP384) => Ok(KeyAlgorithm::EcdsaP384),
        Ok(proto::KeyAlgorithm::Rsa2048) => Ok(KeyAlgorithm::Rsa2048),
        Ok(proto::KeyAlgorithm::Rsa3072) => Ok(KeyAlgorithm::Rsa3072),
        Ok(proto::KeyAlgorithm::Rsa4096) => Ok(KeyAlgorithm::Rsa4096),
        Err(_) => Err(invalid(
            "algorithm",
            format!("{value} is not a known key algorithm: choose {ALGORITHM_CHOICES}"),
        )),
    }
}

/// Returns the protobuf enum value of an algorithm.
pub fn algorithm_to_proto(algorithm: KeyAlgorithm) -> proto::KeyAlgorithm {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => proto::KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384 => proto::KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048 => proto::KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072 => proto::KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096 => proto::KeyAlgorithm::Rsa4096,
    }
}

fn check_name_length(field: &str, value: &str) -> Result<(), Status> {
    let length = value.chars().count();
    if length > MAX_NAME_LEN {
        return Err(invalid(
            field,
            format!("is {length} characters long: use at most {MAX_NAME_LEN}"),
        ));
    }
    Ok(())
}

fn check_dns_name(field: &str, name: &str) -> Result<(), Status> {
    if is_dns_name(name) {
        return Ok(());
    }
    Err(invalid(
        field,
        format!(
            "{name:?} is not a valid DNS name: use dot-separated labels of letters, digits and \
             hyphens, optionally starting with \"*.\""
        ),
    ))
}

/// Returns whether `name` is a host name of letters, digits and hyphens in dot-separated labels
/// of 1 to 63 characters, optionally a wildcard (`*.` as its first label).
fn is_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= MAX_DNS_NAME_LEN && is_host_name(host)
}

/// Returns whether `name` is a host name of letters, digits and hyphens in dot-separated labels
/// of 1 to 63 characters, at most 253 characters long, without a wildcard.
pub(super) fn is_host_name(name: &str) -> bool {
    let label_valid = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    !name.is_empty() && name.len() <= MAX_DNS_NAME_LEN && name.split('.').all(label_valid)
}

fn to_status(error: GenerateKeyError) -> Status {
    match error {
        GenerateKeyError::ParametersDiffer { key_id, algorithm } => {
            Status::failed_precondition(format!(
                "idempotency_key: was first used for key {key_id} ({algorithm}) with another \
                 algorithm or subject: repeat the first request's parameters or use a new \
                 idempotency key"
            ))
        }
        GenerateKeyError::Generate(KeyError::InvalidDnsName { name, .. }) => invalid(
            "dns_names",
            format!("{name:?} is not accepted in a CSR: use plain DNS names"),
        ),
        GenerateKeyError::Generate(KeyError::MissingSubject) => invalid(
            "common_name",
            "is empty and dns_names has no name: set a common name or at least one DNS name",
        ),
        GenerateKeyError::Vanished => Status::aborted(
            "the key stored by a concurrent call for this idempotency key was deleted: retry",
        ),
        GenerateKeyError::Db(source) if source.is_unavailable() => {
            super::status::unavailable(&source)
        }
        other => internal(&other),
    }
}

/// Builds the response; `algorithm` is the request's, which a returned record always has.
fn to_proto(record: KeyRecord, algorithm: KeyAlgorithm) -> proto::GeneratedKey {
    proto::GeneratedKey {
        key_id: record.id.to_string(),
        csr_pem: record.csr_pem,
        public_key_der: record.public_key_spki,
        algorithm: algorithm_to_proto(algorithm).into(),
        created_at: record.created_at.format(&Rfc3339).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> proto::GenerateKeyRequest {
        proto::GenerateKeyRequest {
            idempotency_key: "order-1".to_owned(),
            algorithm: proto::KeyAlgorithm::EcdsaP256.into(),
            common_name: "www.example.com".to_owned(),
            dns_names: vec!["example.com".to_owned()],
            organization: "Example Inc".to_owned(),
        }
    }

    fn rejected_field(request: proto::GenerateKeyRequest) -> String {
        let status = validate(request).expect_err("the request is invalid");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status.message().to_owned()
    }

    #[test]
    fn valid_request_is_normalized() {
        let mut raw = request();
        raw.dns_names.push("EXAMPLE.com".to_owned());

        let validated = validate(raw).expect("the request is valid");

        assert_eq!(validated.algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(validated.subject.dns_names, ["example.com"]);
    }

    #[test]
    fn unspecified_algorithm_names_the_field() {
        let message = rejected_field(proto::GenerateKeyRequest {
            algorithm: proto::KeyAlgorithm::Unspecified.into(),
            ..request()
        });

        assert!(
            message.starts_with("algorithm: is unspecified"),
            "{message}"
        );
    }

    #[test]
    fn unknown_algorithm_value_names_the_field() {
        let message = rejected_field(proto::GenerateKeyRequest {
            algorithm: 99,
            ..request()
        });

        assert!(message.starts_with("algorithm: 99 is not"), "{message}");
    }

    #[test]
    fn empty_idempotency_key_names_the_field() {
        let message = rejected_field(proto::GenerateKeyRequest {
            idempotency_key: "  ".to_owned(),
            ..request()
        });

        assert!(message.starts_with("idempotency_key: "), "{message}");
    }

    #[test]
    fn missing_subject_names_common_name() {
        let message = rejected_field(proto::GenerateKeyRequest {
            common_name: String::new(),
            dns_names: Vec::new(),
            ..request()
        });

        assert!(message.starts_with("common_name: is empty"), "{message}");
    }

    #[test]
    fn invalid_dns_names_are_rejected() {
        for name in [
            "exa mple.com",
            "-a.example.com",
            "a..b",
            "*.",
            "bad_label.example.com",
        ] {
            let message = rejected_field(proto::GenerateKeyRequest {
                dns_names: vec![name.to_owned()],
                ..request()
            });

            assert!(message.starts_with("dns_names: "), "{name}: {message}");
        }
    }

    #[test]
    fn wildcard_dns_name_is_accepted() {
        let validated = validate(proto::GenerateKeyRequest {
            dns_names: vec!["*.example.com".to_owned()],
            ..request()
        });

        assert!(validated.is_ok());
    }

    #[test]
    fn long_organization_is_rejected() {
        let message = rejected_field(proto::GenerateKeyRequest {
            organization: "o".repeat(65),
            ..request()
        });

        assert!(
            message.starts_with("organization: is 65 characters"),
            "{message}"
        );
    }
}
