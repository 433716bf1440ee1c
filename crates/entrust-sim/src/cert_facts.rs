//! Facts read from an X.509 certificate or a public key: the values ECS reports about an order
//! (serial, dates, DN, subjectAltName, key type and size, signing algorithm).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

use crate::format::{pem_encode, serial_hex};
use crate::model::KeyType;

/// Errors reading a certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertificateParseError {
    /// The text holds no PEM block.
    #[error("no PEM certificate found")]
    NoPem(#[source] x509_parser::error::PEMError),
    /// The PEM block is not an X.509 certificate.
    #[error("the PEM block is not a valid X.509 certificate")]
    Der(#[source] x509_parser::error::X509Error),
}

/// One subjectAltName entry as ECS writes it (`GeneralName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralNameValue {
    /// `dNSName`, `iPAddress`, `rfc822Name`, `uniformResourceIdentifier`, ...
    pub kind: &'static str,
    /// The name.
    pub value: String,
}

impl GeneralNameValue {
    /// Builds a `dNSName` entry.
    pub fn dns(value: impl Into<String>) -> Self {
        GeneralNameValue {
            kind: "dNSName",
            value: value.into(),
        }
    }
}

/// Key algorithm and size of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFacts {
    /// RSA, EC or OTHER.
    pub key_type: KeyType,
    /// Size in bits (modulus size for RSA, field size for EC, 0 when unknown).
    pub key_size: u32,
}

/// Facts ECS reports about a certificate.
#[derive(Debug, Clone)]
pub struct CertificateFacts {
    /// The certificate re-encoded as PEM (headers and stray text dropped).
    pub pem: String,
    /// Serial number as upper-case hex without leading zeros.
    pub serial: String,
    /// Start of validity.
    pub not_before: time::OffsetDateTime,
    /// End of validity.
    pub not_after: time::OffsetDateTime,
    /// Subject DN in RFC 4514 order (`CN=...,O=...,C=...`).
    pub dn: String,
    /// First subject common name.
    pub common_name: Option<String>,
    /// First subject organization.
    pub organization: Option<String>,
    /// Subject organizational units.
    pub organizational_units: Vec<String>,
    /// subjectAltName entries.
    pub subject_alt_names: Vec<GeneralNameValue>,
    /// Subject key facts.
    pub key: KeyFacts,
    /// `SHA-1`, `SHA-2` or `MD5`, from the signature algorithm.
    pub signing_alg: &'static str,
    /// The subject public key as a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// SHA-1 of the DER encoding, upper-case hex.
    pub thumbprint: String,
}

/// Returns the SHA-1 thumbprint of a DER certificate as upper-case hex, the form ECS uses in
/// `/certificates/thumbprints/{thumbprint}`.
pub fn thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hex::encode_upper(digest.as_ref())
}

/// Reads the first certificate of a PEM text.
pub fn parse_certificate_pem(pem_text: &str) -> Result<CertificateFacts, CertificateParseError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).map_err(|error| match error {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                CertificateParseError::NoPem(e)
            }
            x509_parser::nom::Err::Incomplete(_) => {
                CertificateParseError::NoPem(x509_parser::error::PEMError::MissingHeader)
            }
        })?;
    facts_from_pem(&pem)
}

fn facts_from_pem(pem: &Pem) -> Result<CertificateFacts, CertificateParseError> {
    let (_, certificate) = X509Certificate::from_der(&pem.contents)
        .map_err(|error| CertificateParseError::Der(crate::csr::flatten_nom(error)))?;
    Ok(facts(&certificate, &pem.contents))
}

/// Reads the facts of a parsed certificate whose DER encoding is `der`.
pub fn facts(certificate: &X509Certificate<'_>, der: &[u8]) -> CertificateFacts {
    let subject = certificate.subject();
    let mut subject_alt_names = Vec::new();
    if let Ok(Some(extension)) = certificate.subject_alternative_name() {
        for name in &extension.value.general_names {
            if let Some(value) = general_name(name) {
                subject_alt_names.push(value);
            }
        }
    }
    CertificateFacts {
        pem: pem_encode("CERTIFICATE", der),
        serial: serial_hex(certificate.raw_serial()),
        not_before: certificate.validity().not_before.to_datetime(),
        not_after: certificate.validity().not_after.to_datetime(),
        dn: format_dn(subject),
        common_name: first_value(subject.iter_common_name()),
        organization: first_value(subject.iter_organization()),
        organizational_units: subject
            .iter_organizational_unit()
            .filter_map(|attribute| attribute.as_str().ok().map(str::to_owned))
            .collect(),
        subject_alt_names,
        key: key_facts(certificate.public_key()),
        signing_alg: signing_alg(certificate),
        spki_der: certificate.public_key().raw.to_vec(),
        thumbprint: thumbprint(der),
    }
}

fn first_value<'a>(
    mut attributes: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    attributes
        .next()
        .and_then(|attribute| attribute.as_str().ok().map(str::to_owned))
}

fn general_name(name: &GeneralName<'_>) -> Option<GeneralNameValue> {
    let (kind, value) = match name {
        GeneralName::DNSName(value) => ("dNSName", (*value).to_owned()),
        GeneralName::RFC822Name(value) => ("rfc822Name", (*value).to_owned()),
        GeneralName::URI(value) => ("uniformResourceIdentifier", (*value).to_owned()),
        GeneralName::IPAddress(bytes) => ("iPAddress", format_ip(bytes)?),
        GeneralName::DirectoryName(name) => ("directoryName", format_dn(name)),
        _ => return None,
    };
    Some(GeneralNameValue { kind, value })
}

fn format_ip(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => {
            let octets: [u8; 4] = bytes.try_into().ok()?;
            Some(std::net::Ipv4Addr::from(octets).to_string())
        }
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

/// Reads the algorithm and size of a public key.
pub fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> KeyFacts {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyFacts {
            key_type: KeyType::Rsa,
            key_size: bit_length(rsa.modulus),
        },
        Ok(PublicKey::EC(point)) => KeyFacts {
            key_type: KeyType::Ec,
            key_size: u32::try_from(point.key_size()).unwrap_or(0),
        },
        _ => KeyFacts {
            key_type: KeyType::Other,
            key_size: 0,
        },
    }
}

fn bit_length(big_endian: &[u8]) -> u32 {
    let significant: &[u8] = match big_endian.iter().position(|byte| *byte != 0) {
        Some(start) => &big_endian[start..],
        None => return 0,
    };
    let bytes = u32::try_from(significant.len()).unwrap_or(0);
    bytes * 8 - significant[0].leading_zeros()
}

fn signing_alg(certificate: &X509Certificate<'_>) -> &'static str {
    match certificate
        .signature_algorithm
        .algorithm
        .to_id_string()
        .as_str()
    {
        // sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1, the OIW sha1WithRSASignature
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" | "1.3.14.3.2.29" => {
            "SHA-1"
        }
        // md5WithRSAEncryption, and the bare md5 digest OID that some old certificates carry
        "1.2.840.113549.1.1.4" | "1.2.840.113549.2.5" => "MD5",
        _ => "SHA-2",
    }
}

/// Formats a DN in RFC 4514 order (last RDN first) with short attribute names, escaping the
/// characters RFC 4514 reserves.
pub fn format_dn(name: &X509Name<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for rdn in name.iter() {
        let attributes: Vec<String> = rdn
            .iter()
            .map(|attribute| {
                let label = attribute_label(&attribute.attr_type().to_id_string());
                let value = match attribute.as_str() {
                    Ok(text) => escape_dn_value(text),
                    Err(_) => format!("#{}", hex::encode(attribute.attr_value().data)),
                };
                format!("{label}={value}")
            })
            .collect();
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    parts.join(",")
}

/// Formats a DN from its parts in the order the simulator's leaves use (`CN`, `OU`, `O`).
pub fn format_subject_dn(
    common_name: &str,
    organizational_units: &[String],
    organization: Option<&str>,
) -> String {
    let mut parts = vec![format!("CN={}", escape_dn_value(common_name))];
    for unit in organizational_units {
        parts.push(format!("OU={}", escape_dn_value(unit)));
    }
    if let Some(organization) = organization {
        parts.push(format!("O={}", escape_dn_value(organization)));
    }
    parts.join(",")
}

fn attribute_label(oid: &str) -> String {
    let label = match oid {
        "2.5.4.3" => "CN",
        "2.5.4.11" => "OU",
        "2.5.4.10" => "O",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "2.5.4.5" => "SERIALNUMBER",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "E",
        other => other,
    };
    label.to_owned()
}

fn escape_dn_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for (index, character) in value.chars().enumerate() {
        let leading = index == 0 && (character == ' ' || character == '#');
        let trailing = index + 1 == value.chars().count() && character == ' ';
        if leading || trailing || matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_sign_byte() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0x00]), 0);
    }

    #[test]
    fn thumbprint_is_upper_case_sha1_hex() {
        // SHA-1 of the empty input.
        assert_eq!(thumbprint(b""), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
    }

    #[test]
    fn subject_dn_escapes_commas() {
        let dn = format_subject_dn("shop.example.com", &[], Some("Cañon City, Inc."));

        assert_eq!(dn, "CN=shop.example.com,O=Cañon City\\, Inc.");
    }
}
