//! Parsing of X.509 certificates into the facts the inventory stores, and the check that a
//! certificate belongs to a given key.
//!
//! Parsing goes through x509-parser; no DER is decoded by hand here.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// What the inventory records of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The subject as an RFC 4514-style string, e.g. `CN=www.example.com, O=Example Inc`.
    pub subject: String,
    /// The first common name of the subject, if any.
    pub common_name: Option<String>,
    pub issuer: String,
    /// Upper-case hexadecimal without leading zeros, the form Entrust uses.
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// DNS names from the subject alternative name extension, as written in the certificate.
    pub dns_names: Vec<String>,
    /// `RSA`, `EC` or `OTHER`.
    pub key_type: String,
    /// Key size in bits (modulus size for RSA, field size for EC); 0 when unknown.
    pub key_bits: u32,
    /// Dotted OID of the signature algorithm.
    pub signature_algorithm: String,
    /// Upper-case hexadecimal SHA-256 of the DER encoding.
    pub sha256_fingerprint: String,
    /// The SubjectPublicKeyInfo DER of the certificate.
    pub public_key_spki: Vec<u8>,
    /// The certificate in DER.
    pub der: Vec<u8>,
}

/// Failures while reading a certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("no PEM block found: expected -----BEGIN CERTIFICATE-----")]
    NoPem,
    #[error("invalid PEM encoding")]
    Pem(#[source] x509_parser::nom::Err<x509_parser::error::PEMError>),
    #[error("PEM block labelled {0:?} is not a certificate")]
    NotACertificate(String),
    #[error("invalid X.509 certificate")]
    Der(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    #[error("invalid public key")]
    PublicKey(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    #[error("certificate {child} is not signed by {issuer}")]
    BrokenChain { child: String, issuer: String },
}

/// Decodes the first certificate of a PEM text into DER.
pub fn pem_to_der(pem_text: &str) -> Result<Vec<u8>, CertificateError> {
    let pem = Pem::iter_from_buffer(pem_text.as_bytes())
        .next()
        .ok_or(CertificateError::NoPem)?
        .map_err(|error| CertificateError::Pem(x509_parser::nom::Err::Error(error)))?;
    if !pem.label.ends_with("CERTIFICATE") {
        return Err(CertificateError::NotACertificate(pem.label));
    }
    Ok(pem.contents)
}

/// Encodes a DER certificate as one PEM `CERTIFICATE` block with `\n` line endings.
pub fn der_to_pem(der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("CERTIFICATE", der), config)
}

/// Parses a DER certificate into its facts.
pub fn parse_der(der: &[u8]) -> Result<CertificateFacts, CertificateError> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(CertificateError::Der)?;
    let public_key = certificate.public_key();
    let (key_type, key_bits) = key_type_and_size(public_key);

    Ok(CertificateFacts {
        subject: certificate.subject().to_string(),
        common_name: certificate.subject().iter_common_name().next().map(|cn| {
            cn.as_str()
                .map_or_else(|_| lossy(cn.as_slice()), str::to_owned)
        }),
        issuer: certificate.issuer().to_string(),
        serial_number: normalize_serial(certificate.raw_serial()),
        not_before: certificate.validity().not_before.to_datetime(),
        not_after: certificate.validity().not_after.to_datetime(),
        dns_names: dns_names(&certificate),
        key_type: key_type.to_owned(),
        key_bits,
        signature_algorithm: certificate.signature_algorithm.algorithm.to_id_string(),
        sha256_fingerprint: hex::encode_upper(digest::digest(&digest::SHA256, der)),
        public_key_spki: public_key.raw.to_vec(),
        der: der.to_vec(),
    })
}

/// Parses the first certificate of a PEM text.
pub fn parse_pem(pem_text: &str) -> Result<CertificateFacts, CertificateError> {
    parse_der(&pem_to_der(pem_text)?)
}

/// Returns whether two SubjectPublicKeyInfo encodings hold the same key: the same algorithm and
/// the same key bits. Parameters are compared too, so a P-256 key never matches a P-384 one.
pub fn same_public_key(left_spki: &[u8], right_spki: &[u8]) -> Result<bool, CertificateError> {
    let (_, left) =
        SubjectPublicKeyInfo::from_der(left_spki).map_err(CertificateError::PublicKey)?;
    let (_, right) =
        SubjectPublicKeyInfo::from_der(right_spki).map_err(CertificateError::PublicKey)?;
    Ok(left.algorithm.algorithm == right.algorithm.algorithm
        && left.algorithm.parameters.as_ref().map(|p| p.as_bytes())
            == right.algorithm.parameters.as_ref().map(|p| p.as_bytes())
        && left.subject_public_key.data == right.subject_public_key.data)
}

/// Checks that every certificate of `chain_der` (leaf first) is signed by the next one.
///
/// # Errors
/// [`CertificateError::BrokenChain`] names the first link whose signature does not verify.
pub fn verify_chain_links(chain_der: &[Vec<u8>]) -> Result<(), CertificateError> {
    let parsed = chain_der
        .iter()
        .map(|der| X509Certificate::from_der(der).map(|(_, certificate)| certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CertificateError::Der)?;
    for pair in parsed.windows(2) {
        let (child, issuer) = (&pair[0], &pair[1]);
        if child.verify_signature(Some(issuer.public_key())).is_err() {
            return Err(CertificateError::BrokenChain {
                child: child.subject().to_string(),
                issuer: issuer.subject().to_string(),
            });
        }
    }
    Ok(())
}

/// Checks that the certificate `child_der` is signed by `issuer_der`.
///
/// # Errors
/// [`CertificateError::BrokenChain`] when the signature does not verify, [`CertificateError::Der`]
/// when either does not parse.
pub fn verify_signed_by(child_der: &[u8], issuer_der: &[u8]) -> Result<(), CertificateError> {
    let (_, child) = X509Certificate::from_der(child_der).map_err(CertificateError::Der)?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(CertificateError::Der)?;
    child
        .verify_signature(Some(issuer.public_key()))
        .map_err(|_| CertificateError::BrokenChain {
            child: child.subject().to_string(),
            issuer: issuer.subject().to_string(),
        })
}

/// Returns the SHA-256 over `parts`, each preceded by its length as 8 big-endian bytes, so that
/// two lists whose parts concatenate to the same bytes get different digests.
pub fn length_prefixed_sha256<T: AsRef<[u8]>>(parts: &[T]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        let bytes = part.as_ref();
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(bytes);
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(context.finish().as_ref());
    digest
}

/// Issuer chains that parsed and whose links verified, so that the chain thousands of
/// certificates share is parsed and verified once rather than once per certificate. Each
/// chain is kept as the SHA-256 of its DER certificates. A chain with a link that does not
/// verify is never kept, so it is checked again each time. The set starts over when it
/// contains [`VerifiedChains::CAPACITY`] chains. Clones share one set.
#[derive(Debug, Clone, Default)]
pub struct VerifiedChains {
    digests: Arc<Mutex<HashSet<[u8; 32]>>>,
}

impl VerifiedChains {
    /// Chains kept at most: far more than the issuing CAs an account uses.
    pub const CAPACITY: usize = 1024;

    /// Returns the key of the issuer chain `issuers` (DER, nearest issuer first).
    pub fn digest(issuers: &[Vec<u8>]) -> [u8; 32] {
        length_prefixed_sha256(issuers)
    }

    /// Tells whether the chain with key `digest` parsed and verified before.
    pub fn contains(&self, digest: &[u8; 32]) -> bool {
        self.digests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(digest)
    }

    /// Records that the chain with key `digest` parsed and its links verified.
    pub fn insert(&self, digest: [u8; 32]) {
        let mut digests = self.digests.lock().unwrap_or_else(PoisonError::into_inner);
        if digests.len() >= Self::CAPACITY {
            digests.clear();
        }
        digests.insert(digest);
    }
}

/// Formats a DER INTEGER's content bytes as upper-case hexadecimal without leading zeros.
pub fn normalize_serial(raw: &[u8]) -> String {
    let hex = hex::encode_upper(raw);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn dns_names(certificate: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(extension)) = certificate.subject_alternative_name() else {
        return Vec::new();
    };
    extension
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect()
}

fn key_type_and_size(public_key: &SubjectPublicKeyInfo<'_>) -> (&'static str, u32) {
    match public_key.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA", bits(rsa.key_size())),
        Ok(PublicKey::EC(point)) => ("EC", bits(point.key_size())),
        _ => ("OTHER", 0),
    }
}

fn bits(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(0)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const CRYPTOGRAPHY_IO: &str =
        include_str!("../../../tests/fixtures/x509/pem/cryptography.io.pem");
    const CRYPTOGRAPHY_IO_CHAIN: &str =
        include_str!("../../../tests/fixtures/x509/pem/cryptography.io.chain.pem");
    const RAPIDSSL: &str =
        include_str!("../../../tests/fixtures/x509/pem/rapidssl_sha256_ca_g3.pem");

    #[test]
    fn real_leaf_parses_with_expected_values() {
        let facts = parse_pem(CRYPTOGRAPHY_IO).unwrap();

        assert_eq!(facts.serial_number, "3F20");
        assert_eq!(facts.not_after, datetime!(2018-11-16 01:15:03 UTC));
        assert_eq!(facts.dns_names, ["www.cryptography.io", "cryptography.io"]);
        assert_eq!(facts.key_type, "RSA");
    }

    #[test]
    fn serial_with_sign_padding_loses_leading_zeros() {
        let facts = parse_pem(RAPIDSSL).unwrap();
        assert_eq!(facts.serial_number, "23A77");
        assert_eq!(normalize_serial(&[0x00, 0x0A, 0x01]), "A01");
        assert_eq!(normalize_serial(&[0x00]), "0");
    }

    #[test]
    fn real_chain_links_verify() {
        let chain: Vec<Vec<u8>> = Pem::iter_from_buffer(CRYPTOGRAPHY_IO_CHAIN.as_bytes())
            .map(|pem| pem.unwrap().contents)
            .collect();
        assert_eq!(chain.len(), 2);

        verify_chain_links(&chain).unwrap();
    }

    #[test]
    fn reversed_chain_is_reported_broken() {
        let mut chain: Vec<Vec<u8>> = Pem::iter_from_buffer(CRYPTOGRAPHY_IO_CHAIN.as_bytes())
            .map(|pem| pem.unwrap().contents)
            .collect();
        chain.reverse();

        let error = verify_chain_links(&chain).unwrap_err();
        assert!(
            matches!(error, CertificateError::BrokenChain { .. }),
            "{error}"
        );
    }

    #[test]
    fn one_link_verifies_only_in_its_direction() {
        let chain: Vec<Vec<u8>> = Pem::iter_from_buffer(CRYPTOGRAPHY_IO_CHAIN.as_bytes())
            .map(|pem| pem.unwrap().contents)
            .collect();

        verify_signed_by(&chain[0], &chain[1]).unwrap();
        let error = verify_signed_by(&chain[1], &chain[0]).unwrap_err();
        assert!(
            matches!(error, CertificateError::BrokenChain { .. }),
            "{error}"
        );
    }

    #[test]
    fn verified_chains_differ_and_reset_when_full() {
        let first = vec![vec![1, 2], vec![3]];
        // The same bytes split differently form another chain.
        let regrouped = vec![vec![1], vec![2, 3]];
        let chains = VerifiedChains::default();
        assert_ne!(
            VerifiedChains::digest(&first),
            VerifiedChains::digest(&regrouped)
        );

        chains.insert(VerifiedChains::digest(&first));
        assert!(chains.contains(&VerifiedChains::digest(&first)));
        assert!(!chains.contains(&VerifiedChains::digest(&regrouped)));
        // A clone shares the set.
        assert!(chains.clone().contains(&VerifiedChains::digest(&first)));

        for n in 0..VerifiedChains::CAPACITY {
            chains.insert(VerifiedChains::digest(&[n.to_be_bytes().to_vec()]));
        }
        assert!(!chains.contains(&VerifiedChains::digest(&first)));
        assert!(chains.contains(&VerifiedChains::digest(&[
            (VerifiedChains::CAPACITY - 1).to_be_bytes().to_vec()
        ])));
    }

    #[test]
    fn certificate_key_matches_itself_and_not_another() {
        let leaf = parse_pem(CRYPTOGRAPHY_IO).unwrap();
        let other = parse_pem(RAPIDSSL).unwrap();

        assert!(same_public_key(&leaf.public_key_spki, &leaf.public_key_spki).unwrap());
        assert!(!same_public_key(&leaf.public_key_spki, &other.public_key_spki).unwrap());
    }

    #[test]
    fn der_to_pem_round_trips_a_real_certificate() {
        let der = pem_to_der(CRYPTOGRAPHY_IO).unwrap();

        let pem_text = der_to_pem(&der);

        assert!(
            pem_text.starts_with("-----BEGIN CERTIFICATE-----\n"),
            "{pem_text}"
        );
        assert_eq!(pem_to_der(&pem_text).unwrap(), der);
    }

    #[test]
    fn text_without_pem_is_rejected() {
        assert!(matches!(parse_pem("hello"), Err(CertificateError::NoPem)));
    }
}
