//! PKCS#10 certificate signing requests: decoding, signature check and the values an order
//! takes from them.
//!
//! ECS accepts the CSR as base-64 DER with or without PEM armour. The signature is checked with
//! the CSR's own key (x509-parser with aws-lc-rs), so a CSR whose key does not match its
//! signature is rejected. Unlike rcgen's CSR reader, any requested extension is tolerated: only
//! the subject, the DNS names and the public key are used.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::cert_facts::{KeyFacts, key_facts};
use crate::format::pem_encode;

/// Reasons a CSR is rejected.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// The value is empty.
    #[error("the CSR is empty")]
    Empty,
    /// The PEM armour names something other than a certificate request.
    #[error("the PEM block is a {label}, not a CERTIFICATE REQUEST")]
    WrongPemLabel {
        /// The label found.
        label: String,
    },
    /// The PEM armour is broken.
    #[error("the CSR's PEM armour is malformed")]
    Pem(#[source] x509_parser::error::PEMError),
    /// The text is not base 64.
    #[error("the CSR is neither PEM nor base-64 DER")]
    Base64(#[source] base64::DecodeError),
    /// The bytes are not a PKCS#10 request.
    #[error("the CSR is not a valid PKCS#10 certificate request")]
    Der(#[source] X509Error),
    /// The signature does not verify with the CSR's public key.
    #[error("the CSR signature does not verify with the CSR's public key")]
    Signature(#[source] X509Error),
}

/// A verified CSR and the values an order takes from it.
#[derive(Debug, Clone)]
pub struct ParsedCsr {
    /// The CSR re-encoded as PEM, as ECS returns it in `csr`.
    pub pem: String,
    /// The subject public key as a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Key algorithm and size.
    pub key: KeyFacts,
    /// First subject `CN`.
    pub common_name: Option<String>,
    /// First subject `O`.
    pub organization: Option<String>,
    /// Subject `OU` values.
    pub organizational_units: Vec<String>,
    /// DNS names of a requested subjectAltName extension.
    pub dns_names: Vec<String>,
}

/// Decodes and verifies a CSR given as PEM or as bare base-64 DER.
pub fn parse_csr(text: &str) -> Result<ParsedCsr, CsrError> {
    let der = decode(text)?;
    let (_, request) = X509CertificationRequest::from_der(&der)
        .map_err(|error| CsrError::Der(flatten_nom(error)))?;
    request.verify_signature().map_err(CsrError::Signature)?;

    let info = &request.certification_request_info;
    let text_values = |values: Vec<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        values
            .into_iter()
            .filter_map(|attribute| attribute.as_str().ok().map(str::to_owned))
            .collect::<Vec<String>>()
    };
    let common_names = text_values(info.subject.iter_common_name().collect());
    let organizations = text_values(info.subject.iter_organization().collect());
    let organizational_units = text_values(info.subject.iter_organizational_unit().collect());

    let mut dns_names = Vec::new();
    if let Some(extensions) = request.requested_extensions() {
        for extension in extensions {
            if let ParsedExtension::SubjectAlternativeName(san) = extension {
                for name in &san.general_names {
                    if let GeneralName::DNSName(dns) = name {
                        dns_names.push((*dns).to_owned());
                    }
                }
            }
        }
    }

    Ok(ParsedCsr {
        pem: pem_encode("CERTIFICATE REQUEST", &der),
        spki_der: info.subject_pki.raw.to_vec(),
        key: key_facts(&info.subject_pki),
        common_name: common_names.into_iter().next(),
        organization: organizations.into_iter().next(),
        organizational_units,
        dns_names,
    })
}

fn decode(text: &str) -> Result<Vec<u8>, CsrError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CsrError::Empty);
    }
    if trimmed.contains("-----BEGIN") {
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(trimmed.as_bytes()).map_err(|error| match error {
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                    CsrError::Pem(e)
                }
                x509_parser::nom::Err::Incomplete(_) => {
                    CsrError::Pem(x509_parser::error::PEMError::MissingHeader)
                }
            })?;
        if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
            return Err(CsrError::WrongPemLabel { label: pem.label });
        }
        return Ok(pem.contents);
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).map_err(CsrError::Base64)
}

/// Turns a nom parse failure into the x509-parser error it carries.
pub(crate) fn flatten_nom(error: x509_parser::nom::Err<X509Error>) -> X509Error {
    match error {
        x509_parser::nom::Err::Error(inner) | x509_parser::nom::Err::Failure(inner) => inner,
        x509_parser::nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};

    use super::*;
    use crate::model::KeyType;

    fn sample_csr() -> (String, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(vec!["www.example.com".to_owned(), "example.com".to_owned()])
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "www.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example Inc");
        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        (csr, key)
    }

    #[test]
    fn pem_csr_yields_subject_names_and_key() {
        let (pem, key) = sample_csr();

        let csr = parse_csr(&pem).unwrap();

        assert_eq!(csr.common_name.as_deref(), Some("www.example.com"));
        assert_eq!(csr.organization.as_deref(), Some("Example Inc"));
        assert_eq!(csr.dns_names, vec!["www.example.com", "example.com"]);
        assert_eq!(csr.key.key_type, KeyType::Ec);
        assert_eq!(csr.key.key_size, 256);
        assert_eq!(csr.spki_der, key.subject_public_key_info());
    }

    #[test]
    fn bare_base64_csr_is_accepted() {
        let (pem, _) = sample_csr();
        let bare: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();

        let csr = parse_csr(&bare).unwrap();

        assert_eq!(csr.pem, parse_csr(&pem).unwrap().pem);
    }

    #[test]
    fn tampered_csr_fails_signature_check() {
        let (pem, _) = sample_csr();
        let mut der = decode(&pem).unwrap();
        // The subject CN sits inside the signed part; flip one of its letters.
        let position = der.windows(3).position(|window| window == b"www").unwrap();
        der[position] = b'v';

        let error = parse_csr(&STANDARD.encode(der)).unwrap_err();

        assert!(matches!(error, CsrError::Signature(_)), "{error:?}");
    }

    #[test]
    fn certificate_pem_is_not_a_csr() {
        let text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

        let error = parse_csr(text).unwrap_err();

        assert!(matches!(error, CsrError::WrongPemLabel { .. }), "{error:?}");
    }
}
