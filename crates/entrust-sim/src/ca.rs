//! The simulator's test CA: a root and an intermediate generated at start, and real X.509 leaf
//! certificates signed by the intermediate.
//!
//! Both CA keys are ECDSA P-256. Leaves carry the subject's own public key (from the CSR), a
//! random positive 16-byte serial, the requested validity, the requested DNS names and the
//! extended key usage of the order. The CA exists only in memory and is new on every start.

use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
    SubjectPublicKeyInfo,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::format::serial_hex;
use crate::model::{Eku, KeyType};

const CA_ORGANIZATION: &str = "Entrust API Simulator (test only)";
const ROOT_COMMON_NAME: &str = "Certitude Entrust Simulator Root CA";
const INTERMEDIATE_COMMON_NAME: &str = "Certitude Entrust Simulator Issuing CA";

/// Errors of the test CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Generating a key or signing a certificate failed.
    #[error("failed to {action}")]
    Rcgen {
        /// The action that failed.
        action: &'static str,
        /// The rcgen failure.
        #[source]
        source: rcgen::Error,
    },
    /// A DNS name cannot be encoded in a certificate (it must be ASCII).
    #[error("name {name:?} cannot be encoded as a dNSName; use its ASCII (punycode) form")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// The encoding failure.
        #[source]
        source: rcgen::Error,
    },
}

fn rcgen_error(action: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Rcgen { action, source }
}

/// Contents of a leaf certificate to issue.
#[derive(Debug, Clone)]
pub struct LeafRequest {
    /// The subject's public key as a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The subject's key algorithm, which decides the key usage bits.
    pub key_type: KeyType,
    /// Subject `CN`.
    pub common_name: String,
    /// Subject `OU`, at most one value in practice.
    pub organizational_units: Vec<String>,
    /// Subject `O`; `None` leaves it out.
    pub organization: Option<String>,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension (server certificates of the simulator).
    pub ip_addresses: Vec<std::net::IpAddr>,
    /// Serial number bytes to use; `None` draws a random one.
    pub serial: Option<Vec<u8>>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Extended key usage.
    pub eku: Eku,
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// PEM encoding.
    pub pem: String,
    /// Serial number as upper-case hex without leading zeros.
    pub serial: String,
    /// Start of validity, truncated to seconds as X.509 stores it.
    pub not_before: OffsetDateTime,
    /// End of validity, truncated to seconds.
    pub not_after: OffsetDateTime,
    /// SHA-1 of the DER encoding, upper-case hex.
    pub thumbprint: String,
}

/// A root and an intermediate CA, in memory.
pub struct TestCa {
    root_pem: String,
    intermediate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("root", &ROOT_COMMON_NAME)
            .field("intermediate", &INTERMEDIATE_COMMON_NAME)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Generates a root and an intermediate valid from ten years before `now`, so that scenario
    /// certificates issued in the past chain to them, until twenty (root) and fifteen
    /// (intermediate) years after it.
    pub fn generate(now: OffsetDateTime) -> Result<TestCa, CaError> {
        let start = whole_seconds(now - Duration::days(3650));

        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(rcgen_error("generate the root key"))?;
        let mut root_params = ca_params(ROOT_COMMON_NAME, BasicConstraints::Unconstrained);
        root_params.not_before = start;
        root_params.not_after = whole_seconds(now + Duration::days(7300));
        let root = root_params
            .self_signed(&root_key)
            .map_err(rcgen_error("sign the root certificate"))?;
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(rcgen_error("generate the intermediate key"))?;
        let mut intermediate_params =
            ca_params(INTERMEDIATE_COMMON_NAME, BasicConstraints::Constrained(0));
        intermediate_params.not_before = start;
        intermediate_params.not_after = whole_seconds(now + Duration::days(5475));
        intermediate_params.use_authority_key_identifier_extension = true;
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root_issuer)
            .map_err(rcgen_error("sign the intermediate certificate"))?;

        Ok(TestCa {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            issuer: Issuer::new(intermediate_params, intermediate_key),
        })
    }

    /// Returns the root certificate in PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// Returns the intermediate certificate in PEM.
    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate_pem
    }

    /// Returns the chain of a leaf, leaf first: `[leaf, intermediate]`, plus the root when
    /// `include_root` is set.
    pub fn chain_for(&self, leaf_pem: &str, include_root: bool) -> Vec<String> {
        let mut chain = vec![leaf_pem.to_owned(), self.intermediate_pem.clone()];
        if include_root {
            chain.push(self.root_pem.clone());
        }
        chain
    }

    /// Issues a leaf certificate signed by the intermediate.
    pub fn issue(&self, request: &LeafRequest) -> Result<IssuedCertificate, CaError> {
        let public_key = SubjectPublicKeyInfo::from_der(&request.spki_der)
            .map_err(rcgen_error("read the subject public key"))?;

        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::CommonName, request.common_name.as_str());
        for unit in &request.organizational_units {
            subject.push(DnType::OrganizationalUnitName, unit.as_str());
        }
        if let Some(organization) = &request.organization {
            subject.push(DnType::OrganizationName, organization.as_str());
        }
        params.distinguished_name = subject;
        params.subject_alt_names = request
            .dns_names
            .iter()
            .map(|name| {
                let ia5 = name
                    .clone()
                    .try_into()
                    .map_err(|source| CaError::InvalidName {
                        name: name.clone(),
                        source,
                    })?;
                Ok(SanType::DnsName(ia5))
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        params
            .subject_alt_names
            .extend(request.ip_addresses.iter().copied().map(SanType::IpAddress));
        params.not_before = whole_seconds(request.not_before);
        params.not_after = whole_seconds(request.not_after);
        params.serial_number = Some(match &request.serial {
            Some(bytes) => SerialNumber::from_slice(bytes),
            None => random_serial(),
        });
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = match request.key_type {
            KeyType::Rsa => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            KeyType::Ec | KeyType::Other => vec![KeyUsagePurpose::DigitalSignature],
        };
        params.extended_key_usages = match request.eku {
            Eku::ServerAuth => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Eku::ClientAuth => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Eku::ServerAndClientAuth => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.use_authority_key_identifier_extension = true;

        let certificate = params
            .signed_by(&public_key, &self.issuer)
            .map_err(rcgen_error("sign the leaf certificate"))?;
        // Report the serial as encoded in the certificate, which is what clients compare.
        let serial = match X509Certificate::from_der(certificate.der()) {
            Ok((_, parsed)) => serial_hex(parsed.raw_serial()),
            Err(_) => params
                .serial_number
                .as_ref()
                .map(|serial| serial_hex(&serial.to_bytes()))
                .unwrap_or_default(),
        };
        Ok(IssuedCertificate {
            pem: certificate.pem(),
            serial,
            not_before: params.not_before,
            not_after: params.not_after,
            thumbprint: crate::cert_facts::thumbprint(certificate.der()),
        })
    }
}

fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, common_name);
    subject.push(DnType::OrganizationName, CA_ORGANIZATION);
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    params
}

/// Returns a random positive serial of 16 bytes (the top bit is cleared so that DER needs no
/// sign byte). A leading zero byte is possible and is dropped from the reported hex form.
pub fn random_serial_bytes() -> Vec<u8> {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    bytes[0] &= 0x7f;
    if bytes.iter().all(|byte| *byte == 0) {
        bytes[15] = 1;
    }
    bytes.to_vec()
}

fn random_serial() -> SerialNumber {
    SerialNumber::from_slice(&random_serial_bytes())
}

fn whole_seconds(instant: OffsetDateTime) -> OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}
