//! The check that an issued certificate carries the order's key: its public key must equal the
//! one in the order's CSR (same algorithm, same curve for EC keys, same key bits).

use entrust::model::SerialNumber;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY;
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// A certificate or CSR that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("the {what} is not valid PEM")]
    Pem { what: &'static str },

    #[error("the {what} does not parse as DER")]
    Der { what: &'static str },

    #[error("the public key of the {what} does not parse")]
    PublicKey { what: &'static str },

    #[error(
        "the certificate's public key ({certificate_algorithm}) differs from the CSR's \
         ({csr_algorithm}): the certificate does not belong to the order's key"
    )]
    KeyMismatch {
        certificate_algorithm: String,
        csr_algorithm: String,
    },
}

/// Facts read from an accepted certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCertificate {
    pub serial_number: SerialNumber,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Returns the SubjectPublicKeyInfo (DER) of a CSR in PEM.
pub fn csr_public_key(csr_pem: &str) -> Result<Vec<u8>, CertificateError> {
    const WHAT: &str = "CSR";
    let (_, pem) = parse_x509_pem(csr_pem.trim().as_bytes())
        .map_err(|_| CertificateError::Pem { what: WHAT })?;
    let (_, csr) = X509CertificationRequest::from_der(&pem.contents)
        .map_err(|_| CertificateError::Der { what: WHAT })?;
    Ok(csr.certification_request_info.subject_pki.raw.to_vec())
}

/// Checks that `certificate_pem` carries the public key `expected_spki` (DER) and returns its
/// serial number and validity.
pub fn accept_certificate(
    certificate_pem: &str,
    expected_spki: &[u8],
) -> Result<AcceptedCertificate, CertificateError> {
    const WHAT: &str = "certificate";
    let (_, pem) = parse_x509_pem(certificate_pem.trim().as_bytes())
        .map_err(|_| CertificateError::Pem { what: WHAT })?;
    let (_, certificate) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| CertificateError::Der { what: WHAT })?;
    let (_, expected) = SubjectPublicKeyInfo::from_der(expected_spki)
        .map_err(|_| CertificateError::PublicKey { what: "CSR" })?;

    let actual = certificate.public_key();
    if !same_key(actual, &expected) {
        return Err(CertificateError::KeyMismatch {
            certificate_algorithm: describe(actual),
            csr_algorithm: describe(&expected),
        });
    }
    Ok(AcceptedCertificate {
        serial_number: SerialNumber::from_be_bytes(certificate.raw_serial()),
        not_before: certificate.validity().not_before.to_datetime(),
        not_after: certificate.validity().not_after.to_datetime(),
    })
}

/// Returns the start of validity of a certificate in PEM, whatever its key.
pub fn certificate_not_before(certificate_pem: &str) -> Result<OffsetDateTime, CertificateError> {
    const WHAT: &str = "certificate";
    let (_, pem) = parse_x509_pem(certificate_pem.trim().as_bytes())
        .map_err(|_| CertificateError::Pem { what: WHAT })?;
    let (_, certificate) = X509Certificate::from_der(&pem.contents)
        .map_err(|_| CertificateError::Der { what: WHAT })?;
    Ok(certificate.validity().not_before.to_datetime())
}

/// Compares the algorithm, the curve of EC keys and the key bits. Parameters of other
/// algorithms are not compared, because an RSA key may be written with or without NULL
/// parameters.
fn same_key(a: &SubjectPublicKeyInfo<'_>, b: &SubjectPublicKeyInfo<'_>) -> bool {
    let same_algorithm = a.algorithm.algorithm == b.algorithm.algorithm;
    let same_curve = a.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY
        || parameter_bytes(a) == parameter_bytes(b);
    same_algorithm && same_curve && a.subject_public_key.data == b.subject_public_key.data
}

fn parameter_bytes<'a>(spki: &'a SubjectPublicKeyInfo<'_>) -> Option<&'a [u8]> {
    spki.algorithm.parameters.as_ref().map(|any| any.data)
}

fn describe(spki: &SubjectPublicKeyInfo<'_>) -> String {
    match parameter_bytes(spki) {
        Some(_) if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|any| any.as_oid().ok())
                .map(|oid| oid.to_id_string())
                .unwrap_or_else(|| "unnamed curve".to_owned());
            format!("EC key on curve {curve}")
        }
        _ => format!(
            "key of algorithm {}",
            spki.algorithm.algorithm.to_id_string()
        ),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384};

    use super::*;

    fn key(algorithm: &'static rcgen::SignatureAlgorithm) -> KeyPair {
        KeyPair::generate_for(algorithm).expect("key generation works")
    }

    fn csr_pem(key: &KeyPair) -> String {
        CertificateParams::new(vec!["www.example.com".to_owned()])
            .expect("the name is valid")
            .serialize_request(key)
            .and_then(|csr| csr.pem())
            .expect("the CSR serializes")
    }

    fn certificate_pem(key: &KeyPair) -> String {
        CertificateParams::new(vec!["www.example.com".to_owned()])
            .expect("the name is valid")
            .self_signed(key)
            .expect("the certificate signs")
            .pem()
    }

    #[test]
    fn certificate_with_csr_key_is_accepted() {
        let key = key(&PKCS_ECDSA_P256_SHA256);
        let spki = csr_public_key(&csr_pem(&key)).expect("the CSR parses");

        let accepted = accept_certificate(&certificate_pem(&key), &spki).expect("keys match");

        assert!(!accepted.serial_number.as_str().is_empty());
    }

    #[test]
    fn certificate_with_other_key_is_rejected() {
        let spki = csr_public_key(&csr_pem(&key(&PKCS_ECDSA_P256_SHA256))).expect("CSR parses");

        let error = accept_certificate(&certificate_pem(&key(&PKCS_ECDSA_P256_SHA256)), &spki)
            .expect_err("another key of the same curve is a mismatch");

        assert!(matches!(error, CertificateError::KeyMismatch { .. }));
    }

    #[test]
    fn certificate_on_other_curve_is_rejected() {
        let spki = csr_public_key(&csr_pem(&key(&PKCS_ECDSA_P256_SHA256))).expect("CSR parses");

        let error = accept_certificate(&certificate_pem(&key(&PKCS_ECDSA_P384_SHA384)), &spki)
            .expect_err("a P-384 key is not the P-256 key");

        assert!(
            error.to_string().contains("differs from the CSR"),
            "{error}"
        );
    }

    #[test]
    fn garbage_certificate_is_reported_as_pem_error() {
        let spki = csr_public_key(&csr_pem(&key(&PKCS_ECDSA_P256_SHA256))).expect("CSR parses");

        let error = accept_certificate("not a certificate", &spki).expect_err("no PEM");

        assert!(matches!(error, CertificateError::Pem { .. }));
    }
}
