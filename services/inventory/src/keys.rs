//! Key pairs and certificate signing requests for orders.
//!
//! rcgen builds the CSR and aws-lc-rs generates the keys (aws-lc-rs can generate RSA keys, which
//! ring cannot). The private key leaves this module only as PKCS#8 DER inside a [`SecretBox`], to
//! be sealed before it is stored.

use std::fmt;
use std::str::FromStr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, RsaKeySize,
};
use secrecy::SecretBox;

/// Key algorithms Certitude generates for orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyAlgorithm {
    /// Every supported algorithm, in the order they are documented.
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
    ];

    /// Returns the stable name stored in the database and used in the API, e.g. `ECDSA_P256`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ECDSA_P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA_P384",
            KeyAlgorithm::Rsa2048 => "RSA_2048",
            KeyAlgorithm::Rsa3072 => "RSA_3072",
            KeyAlgorithm::Rsa4096 => "RSA_4096",
        }
    }

    fn generate_key_pair(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
            KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
            KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;

    /// Parses a name such as `ECDSA_P256` or `rsa_2048`, ignoring case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| KeyError::UnknownAlgorithm(name.to_owned()))
    }
}

/// Subject of the CSR that goes to the CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSubject {
    pub common_name: String,
    /// DNS names for the subject alternative name extension; the common name is added when missing.
    pub dns_names: Vec<String>,
    pub organization: Option<String>,
}

/// A freshly generated key pair and its CSR.
pub struct GeneratedKeyPair {
    pub algorithm: KeyAlgorithm,
    /// The private key as PKCS#8 DER; seal it before storing.
    pub private_key_pkcs8: SecretBox<Vec<u8>>,
    /// The public key as X.509 SubjectPublicKeyInfo DER.
    pub public_key_spki: Vec<u8>,
    pub csr_pem: String,
}

impl fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("algorithm", &self.algorithm)
            .field("private_key_pkcs8", &"[REDACTED]")
            .field("csr_pem", &self.csr_pem)
            .finish_non_exhaustive()
    }
}

/// Failures while generating a key or CSR.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "unknown key algorithm {0:?}: use one of ECDSA_P256, ECDSA_P384, RSA_2048, RSA_3072, RSA_4096"
    )]
    UnknownAlgorithm(String),
    #[error("the CSR needs a common name or at least one DNS name")]
    MissingSubject,
    #[error("invalid DNS name {name:?} for the CSR")]
    InvalidDnsName {
        name: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("failed to generate a {algorithm} key pair")]
    Generate {
        algorithm: KeyAlgorithm,
        #[source]
        source: rcgen::Error,
    },
    #[error("failed to sign the CSR")]
    SignRequest(#[source] rcgen::Error),
}

/// Generates a key pair of `algorithm` and a CSR for `subject`, signed with that key.
///
/// # Errors
/// Fails on an empty subject, an invalid DNS name, or a key generation failure.
pub fn generate(
    algorithm: KeyAlgorithm,
    subject: &CsrSubject,
) -> Result<GeneratedKeyPair, KeyError> {
    let dns_names = subject_dns_names(subject)?;
    let mut params =
        CertificateParams::new(dns_names.clone()).map_err(|source| KeyError::InvalidDnsName {
            name: dns_names.join(", "),
            source,
        })?;
    params.distinguished_name = distinguished_name(subject, &dns_names);

    let key_pair = algorithm
        .generate_key_pair()
        .map_err(|source| KeyError::Generate { algorithm, source })?;
    let csr_pem = params
        .serialize_request(&key_pair)
        .and_then(|csr| csr.pem())
        .map_err(KeyError::SignRequest)?;

    Ok(GeneratedKeyPair {
        algorithm,
        private_key_pkcs8: SecretBox::new(Box::new(key_pair.serialize_der())),
        public_key_spki: rcgen::PublicKeyData::subject_public_key_info(&key_pair),
        csr_pem,
    })
}

fn subject_dns_names(subject: &CsrSubject) -> Result<Vec<String>, KeyError> {
    let mut names: Vec<String> = subject
        .dns_names
        .iter()
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    let common_name = subject.common_name.trim().to_ascii_lowercase();
    if !common_name.is_empty() && !names.contains(&common_name) {
        names.insert(0, common_name);
    }
    if names.is_empty() {
        return Err(KeyError::MissingSubject);
    }
    Ok(names)
}

fn distinguished_name(subject: &CsrSubject, dns_names: &[String]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    let common_name = match subject.common_name.trim() {
        "" => dns_names[0].clone(),
        given => given.to_owned(),
    };
    name.push(DnType::CommonName, common_name);
    if let Some(organization) = subject
        .organization
        .as_deref()
        .filter(|o| !o.trim().is_empty())
    {
        name.push(DnType::OrganizationName, organization.trim());
    }
    name
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use x509_parser::prelude::{FromDer, X509CertificationRequest};

    use super::*;

    fn subject() -> CsrSubject {
        CsrSubject {
            common_name: "www.example.com".into(),
            dns_names: vec!["example.com".into()],
            organization: Some("Example Inc".into()),
        }
    }

    fn parse_csr(pem_text: &str) -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
        assert_eq!(pem.label, "CERTIFICATE REQUEST");
        pem.contents
    }

    #[test]
    fn every_algorithm_makes_a_verifiable_csr() {
        for algorithm in KeyAlgorithm::ALL {
            let generated = generate(algorithm, &subject()).unwrap();
            let der = parse_csr(&generated.csr_pem);
            let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();

            csr.verify_signature().unwrap();
            assert_eq!(
                csr.certification_request_info.subject_pki.raw,
                generated.public_key_spki.as_slice(),
                "{algorithm}: CSR key differs from the generated key"
            );
        }
    }

    #[test]
    fn csr_carries_common_name_and_every_dns_name() {
        let generated = generate(KeyAlgorithm::EcdsaP256, &subject()).unwrap();
        let der = parse_csr(&generated.csr_pem);
        let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();

        let subject = csr.certification_request_info.subject.to_string();
        assert!(subject.contains("CN=www.example.com"), "{subject}");
        assert!(subject.contains("O=Example Inc"), "{subject}");
        let mut sans = Vec::new();
        for extension in csr.requested_extensions().into_iter().flatten() {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = extension
            {
                for name in &san.general_names {
                    sans.push(name.to_string());
                }
            }
        }
        assert_eq!(sans, ["DNSName(www.example.com)", "DNSName(example.com)"]);
    }

    #[test]
    fn rsa_2048_private_key_has_expected_size() {
        let generated = generate(KeyAlgorithm::Rsa2048, &subject()).unwrap();
        let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(generated.private_key_pkcs8.expose_secret())
            .unwrap();
        assert_eq!(key.public_modulus_len(), 256);
    }

    #[test]
    fn algorithm_names_parse_without_case() {
        assert_eq!(
            "ecdsa_p384".parse::<KeyAlgorithm>().unwrap(),
            KeyAlgorithm::EcdsaP384
        );
        assert!("DSA_1024".parse::<KeyAlgorithm>().is_err());
    }

    #[test]
    fn empty_subject_is_rejected() {
        let error = generate(KeyAlgorithm::EcdsaP256, &CsrSubject::default()).unwrap_err();
        assert!(matches!(error, KeyError::MissingSubject));
    }

    #[test]
    fn debug_output_hides_private_key() {
        let generated = generate(KeyAlgorithm::EcdsaP256, &subject()).unwrap();
        let debug = format!("{generated:?}");
        assert!(debug.contains("[REDACTED]"));
        assert!(!debug.contains("PRIVATE KEY"));
    }
}
