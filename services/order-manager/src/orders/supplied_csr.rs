//! A certificate signing request the requester supplies (`csr_pem`) instead of a key from the
//! inventory. It must be one PEM block that contains a PKCS #10 request whose key Entrust accepts,
//! whose signature verifies with that key, and whose names are all DNS names. Each failure names
//! `csr_pem` with what was found and the fix.

use std::net::IpAddr;

use certitude_proto::inventory::v1::KeyAlgorithm;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::validate::check_dns_name;
use crate::error::OrderError;

/// Request field of the supplied CSR.
const FIELD: &str = "csr_pem";

/// Maximum length of `csr_pem`, in bytes: room for an RSA 4096 request with 250 long names.
pub const MAX_CSR_PEM_LEN: usize = 128 * 1024;

/// PEM labels of a PKCS #10 request: the RFC 7468 one and the older one some tools still write.
const CSR_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// A supplied CSR that parsed, carries an accepted key and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppliedCsr {
    /// The request re-encoded as one `CERTIFICATE REQUEST` block with LF line endings: the form
    /// that is stored, compared on a repeated request and sent to Entrust.
    pub csr_pem: String,
    /// SubjectPublicKeyInfo in DER.
    pub public_key_spki: Vec<u8>,
    pub key_algorithm: KeyAlgorithm,
    /// Subject common name in lower case, when the subject has one.
    pub common_name: Option<String>,
    /// DNS names of the subject alternative name extension in lower case, once each, in the
    /// CSR's order.
    pub dns_names: Vec<String>,
}

impl SuppliedCsr {
    /// Returns the common name an order takes from this CSR when the request names none: the
    /// subject common name, or else the first DNS name.
    pub fn default_common_name(&self) -> Option<&str> {
        self.common_name
            .as_deref()
            .or_else(|| self.dns_names.first().map(String::as_str))
    }

    /// Checks the CSR's names against the order's: a subject common name must be the order's
    /// `common_name`, because Entrust takes the certificate's common name from the CSR, and
    /// every DNS name of the CSR must be among `order_names`.
    pub fn check_names(&self, common_name: &str, order_names: &[String]) -> Result<(), OrderError> {
        if let Some(csr_common_name) = &self.common_name
            && csr_common_name != common_name
        {
            return Err(OrderError::invalid(
                "common_name",
                format!(
                    "is {common_name} but the CSR's common name is {csr_common_name}; Entrust \
                     takes the common name from the CSR, so leave common_name empty or set it to \
                     {csr_common_name}"
                ),
            ));
        }
        let mut missing: Vec<&str> = Vec::new();
        for name in self.common_name.iter().chain(&self.dns_names) {
            if !order_names.contains(name) && !missing.contains(&name.as_str()) {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(OrderError::invalid(
            FIELD,
            format!(
                "the CSR names {}, which the order does not; add them to dns_names, or leave \
                 dns_names empty to take the CSR's names",
                missing.join(", ")
            ),
        ))
    }
}

/// Parses and checks the CSR in `text`: one PEM block, a key Entrust accepts, a signature that
/// verifies with that key, and DNS names only. The key is checked before the signature, so that
/// a key too weak to verify with is reported as such.
pub fn parse(text: &str) -> Result<SuppliedCsr, OrderError> {
    let der = pem_contents(text)?;
    let (rest, csr) = X509CertificationRequest::from_der(&der).map_err(|error| {
        OrderError::invalid(
            FIELD,
            format!(
                "the PEM block does not contain a PKCS #10 certification request ({error}); send \
                 the CSR as written by openssl req or a similar tool"
            ),
        )
    })?;
    if !rest.is_empty() {
        return Err(OrderError::invalid(
            FIELD,
            format!(
                "the PEM block contains {} bytes after the certification request; send the CSR alone",
                rest.len()
            ),
        ));
    }

    let info = &csr.certification_request_info;
    let key_algorithm = key_algorithm(&info.subject_pki).map_err(|found| {
        OrderError::invalid(
            FIELD,
            format!(
                "the CSR's key is {found}; Entrust accepts RSA keys of 2048, 3072 or 4096 bits \
                 and ECDSA keys on P-256 or P-384: create the CSR with such a key"
            ),
        )
    })?;
    csr.verify_signature().map_err(|error| {
        OrderError::invalid(
            FIELD,
            format!(
                "the CSR's signature does not verify with the CSR's own public key ({error}); \
                 sign the CSR again with the private key of that public key"
            ),
        )
    })?;

    let common_name = common_name(&csr)?;
    let dns_names = dns_names(&csr)?;
    let canonical = pem::Pem::new(CSR_LABELS[0], der.clone());
    let line_feeds = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(SuppliedCsr {
        csr_pem: pem::encode_config(&canonical, line_feeds),
        public_key_spki: info.subject_pki.raw.to_vec(),
        key_algorithm,
        common_name,
        dns_names,
    })
}

/// Returns the DER of the one CSR block in `text`.
fn pem_contents(text: &str) -> Result<Vec<u8>, OrderError> {
    if text.len() > MAX_CSR_PEM_LEN {
        return Err(OrderError::invalid(
            FIELD,
            format!(
                "is {} bytes long; a CSR takes at most {MAX_CSR_PEM_LEN}: send the CSR alone",
                text.len()
            ),
        ));
    }
    let blocks = pem::parse_many(text.trim()).map_err(|error| {
        OrderError::invalid(
            FIELD,
            format!("is not valid PEM ({error}); send the CSR as one CERTIFICATE REQUEST block"),
        )
    })?;
    let block = match blocks.as_slice() {
        [block] => block,
        [] => {
            return Err(OrderError::invalid(
                FIELD,
                "contains no PEM block; send the CSR as one block from -----BEGIN CERTIFICATE \
                 REQUEST----- to -----END CERTIFICATE REQUEST-----",
            ));
        }
        more => {
            return Err(OrderError::invalid(
                FIELD,
                format!(
                    "contains {} PEM blocks; send exactly one CERTIFICATE REQUEST block",
                    more.len()
                ),
            ));
        }
    };
    if !CSR_LABELS.contains(&block.tag()) {
        return Err(OrderError::invalid(
            FIELD,
            format!(
                "contains a {} PEM block; send a CERTIFICATE REQUEST block",
                block.tag()
            ),
        ));
    }
    Ok(block.contents().to_vec())
}

/// Returns the order key algorithm of `spki`, or a description of the key when Entrust does not
/// accept it, such as `RSA 1024 bits`.
fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyAlgorithm, String> {
    let algorithm = &spki.algorithm.algorithm;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => match rsa_bits(rsa.modulus) {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            bits => Err(format!("RSA {bits} bits")),
        },
        Ok(PublicKey::EC(_)) if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok());
            match curve {
                Some(oid) if oid == OID_EC_P256 => Ok(KeyAlgorithm::EcdsaP256),
                Some(oid) if oid == OID_NIST_EC_P384 => Ok(KeyAlgorithm::EcdsaP384),
                Some(oid) if oid == OID_NIST_EC_P521 => Err("ECDSA P-521".to_owned()),
                Some(oid) => Err(format!("ECDSA on curve {}", oid.to_id_string())),
                None => Err("ECDSA without a named curve".to_owned()),
            }
        }
        _ if *algorithm == OID_SIG_ED25519 => Err("Ed25519".to_owned()),
        Ok(_) => Err(format!("of algorithm {}", algorithm.to_id_string())),
        Err(_) => Err(format!(
            "of algorithm {} and does not parse",
            algorithm.to_id_string()
        )),
    }
}

/// Returns the bit length of an RSA modulus given as the bytes of a DER INTEGER, which start
/// with a zero byte when the top bit is set.
fn rsa_bits(modulus: &[u8]) -> usize {
    let significant = match modulus.iter().position(|&byte| byte != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    let leading_zero_bits = significant[0].leading_zeros() as usize;
    significant.len() * 8 - leading_zero_bits
}

/// Returns the subject common name in lower case, checked to be a DNS name.
fn common_name(csr: &X509CertificationRequest<'_>) -> Result<Option<String>, OrderError> {
    let subject = &csr.certification_request_info.subject;
    let values: Vec<_> = subject.iter_common_name().collect();
    let value = match values.as_slice() {
        [] => return Ok(None),
        [value] => value,
        _ => {
            return Err(OrderError::invalid(
                FIELD,
                format!(
                    "the CSR's subject has {} common names; create the CSR with one",
                    values.len()
                ),
            ));
        }
    };
    let text = value.as_str().map_err(|_| {
        OrderError::invalid(
            FIELD,
            "the CSR's common name is not a text string; create the CSR with a DNS name as its \
             common name",
        )
    })?;
    let name = text.trim().to_ascii_lowercase();
    check_dns_name(&name)
        .map_err(|reason| OrderError::invalid(FIELD, format!("the CSR's common name: {reason}")))?;
    Ok(Some(name))
}

/// Returns the DNS names of the CSR's subject alternative name extension, in lower case and
/// once each. Other kinds of names are rejected, because an Entrust TLS order carries DNS names
/// only and the certificate would lack them.
fn dns_names(csr: &X509CertificationRequest<'_>) -> Result<Vec<String>, OrderError> {
    let mut names: Vec<String> = Vec::new();
    let Some(extensions) = csr.requested_extensions() else {
        return Ok(names);
    };
    for extension in extensions {
        let alternative_names = match extension {
            ParsedExtension::SubjectAlternativeName(san) => &san.general_names,
            ParsedExtension::ParseError { error } => {
                return Err(OrderError::invalid(
                    FIELD,
                    format!(
                        "an extension the CSR requests does not parse ({error}); create the CSR \
                         again"
                    ),
                ));
            }
            _ => continue,
        };
        for general_name in alternative_names {
            let GeneralName::DNSName(value) = general_name else {
                return Err(OrderError::invalid(
                    FIELD,
                    format!(
                        "the CSR's subject alternative names include {}; an order carries DNS \
                         names only, so create the CSR without it",
                        describe(general_name)
                    ),
                ));
            };
            let name = value.trim().to_ascii_lowercase();
            check_dns_name(&name).map_err(|reason| {
                OrderError::invalid(
                    FIELD,
                    format!("the CSR's subject alternative names: {reason}"),
                )
            })?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// Describes a subject alternative name that is not a DNS name.
fn describe(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::IPAddress(bytes) => {
            let address = <[u8; 4]>::try_from(*bytes)
                .map(IpAddr::from)
                .or_else(|_| <[u8; 16]>::try_from(*bytes).map(IpAddr::from));
            match address {
                Ok(address) => format!("the IP address {address}"),
                Err(_) => "an IP address".to_owned(),
            }
        }
        GeneralName::RFC822Name(email) => format!("the email address {email}"),
        GeneralName::URI(uri) => format!("the URI {uri}"),
        GeneralName::DirectoryName(_) => "a directory name".to_owned(),
        GeneralName::Invalid(..) => "a name that does not parse".to_owned(),
        _ => "a name of another kind".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256,
        PKCS_ECDSA_P384_SHA384, PKCS_ED25519, SanType,
    };

    use super::*;

    fn csr(key: &KeyPair, common_name: Option<&str>, alternative_names: Vec<SanType>) -> String {
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        if let Some(name) = common_name {
            subject.push(DnType::CommonName, name);
        }
        params.distinguished_name = subject;
        params.subject_alt_names = alternative_names;
        params
            .serialize_request(key)
            .and_then(|request| request.pem())
            .expect("the CSR serializes")
    }

    fn dns(name: &str) -> SanType {
        SanType::DnsName(name.try_into().expect("a valid DNS name"))
    }

    fn reason(error: OrderError) -> String {
        match error {
            OrderError::InvalidArgument { field, reason } => {
                assert_eq!(field, FIELD, "{reason}");
                reason
            }
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn names_and_key_are_read() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("a key");
        let text = csr(
            &key,
            Some("WWW.Example.com"),
            vec![dns("www.example.com"), dns("API.example.com")],
        );

        let parsed = parse(&text).expect("the CSR is valid");

        assert_eq!(parsed.key_algorithm, KeyAlgorithm::EcdsaP384);
        assert_eq!(parsed.common_name.as_deref(), Some("www.example.com"));
        assert_eq!(parsed.dns_names, ["www.example.com", "api.example.com"]);
        assert_eq!(
            parsed.public_key_spki,
            rcgen::PublicKeyData::subject_public_key_info(&key)
        );
        assert!(
            parsed
                .csr_pem
                .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
        );
    }

    #[test]
    fn canonical_pem_ignores_line_endings() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let text = csr(&key, Some("www.example.com"), Vec::new());
        let crlf = text.replace('\n', "\r\n");

        let from_lf = parse(&text).expect("LF parses");
        let from_crlf = parse(&format!("\n  {crlf}\n")).expect("CRLF parses");

        assert_eq!(from_lf.csr_pem, from_crlf.csr_pem);
    }

    #[test]
    fn common_name_defaults_to_first_dns_name() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let text = csr(
            &key,
            None,
            vec![dns("shop.example.com"), dns("example.com")],
        );

        let parsed = parse(&text).expect("the CSR is valid");

        assert_eq!(parsed.common_name, None);
        assert_eq!(parsed.default_common_name(), Some("shop.example.com"));
    }

    #[test]
    fn ed25519_key_is_rejected_by_name() {
        let key = KeyPair::generate_for(&PKCS_ED25519).expect("a key");
        let text = csr(&key, Some("www.example.com"), Vec::new());

        let message = reason(parse(&text).expect_err("Ed25519 is not accepted"));

        assert!(
            message.starts_with("the CSR's key is Ed25519;"),
            "{message}"
        );
    }

    #[test]
    fn ip_address_name_is_rejected() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let address = SanType::IpAddress("192.0.2.7".parse().expect("an address"));
        let text = csr(&key, Some("www.example.com"), vec![address]);

        let message = reason(parse(&text).expect_err("IP addresses are not ordered"));

        assert!(message.contains("the IP address 192.0.2.7"), "{message}");
    }

    #[test]
    fn common_name_that_is_no_host_is_rejected() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let text = csr(&key, Some("My Web Server"), Vec::new());

        let message = reason(parse(&text).expect_err("not a DNS name"));

        assert!(message.starts_with("the CSR's common name: "), "{message}");
    }

    #[test]
    fn certificate_block_is_rejected() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let certificate = CertificateParams::new(vec!["www.example.com".to_owned()])
            .expect("valid names")
            .self_signed(&key)
            .expect("the certificate signs")
            .pem();

        let message = reason(parse(&certificate).expect_err("not a CSR"));

        assert!(
            message.contains("contains a CERTIFICATE PEM block"),
            "{message}"
        );
    }

    #[test]
    fn two_blocks_are_rejected() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let text = csr(&key, Some("www.example.com"), Vec::new());

        let message = reason(parse(&format!("{text}{text}")).expect_err("two CSRs"));

        assert!(message.starts_with("contains 2 PEM blocks"), "{message}");
    }

    #[test]
    fn oversized_text_is_rejected_before_parsing() {
        let message = reason(parse(&"A".repeat(MAX_CSR_PEM_LEN + 1)).expect_err("too long"));

        assert!(message.contains("at most 131072"), "{message}");
    }

    #[test]
    fn names_outside_the_order_are_listed() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let text = csr(
            &key,
            Some("www.example.com"),
            vec![dns("x.example.com"), dns("y.example.com")],
        );
        let parsed = parse(&text).expect("the CSR is valid");
        let order_names = vec!["www.example.com".to_owned(), "y.example.com".to_owned()];

        let message = reason(
            parsed
                .check_names("www.example.com", &order_names)
                .expect_err("x.example.com is not ordered"),
        );

        assert!(
            message.starts_with("the CSR names x.example.com, which the order does not;"),
            "{message}"
        );
    }

    #[test]
    fn other_common_name_is_rejected() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a key");
        let parsed = parse(&csr(&key, Some("www.example.com"), Vec::new())).expect("valid");
        let order_names = vec!["example.com".to_owned(), "www.example.com".to_owned()];

        let error = parsed
            .check_names("example.com", &order_names)
            .expect_err("Entrust would take www.example.com");

        assert!(
            error
                .to_string()
                .starts_with("common_name: is example.com but"),
            "{error}"
        );
    }

    #[test]
    fn modulus_bits_ignore_the_sign_byte() {
        let mut modulus = vec![0x00, 0x80];
        modulus.extend([0u8; 255]);

        assert_eq!(rsa_bits(&modulus), 2048);
        assert_eq!(rsa_bits(&[0x01, 0x00]), 9);
        assert_eq!(rsa_bits(&[0x00]), 0);
    }
}
