//! Parsing one DER certificate into the facts the inventory stores.

use aws_lc_rs::digest;
use time::OffsetDateTime;
use x509_parser::asn1_rs::{Any, FromDer, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::CertfileError;
use crate::name::{Name, convert_name};
use crate::san::{SubjectAltName, convert_general_name};

/// Everything this crate reads from one X.509 certificate, with the certificate's DER encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The certificate's DER encoding, exactly as found in the input.
    pub der: Vec<u8>,
    /// X.509 version: 1, 2 or 3.
    pub version: u8,
    /// Serial number in canonical form; see [`canonical_serial`].
    pub serial: String,
    /// Subject distinguished name.
    pub subject: Name,
    /// Issuer distinguished name.
    pub issuer: Name,
    /// Start of validity, in UTC. Read from a UTCTime (years 1950 to 2049) or a
    /// GeneralizedTime.
    pub not_before: OffsetDateTime,
    /// End of validity, in UTC, read like `not_before`.
    pub not_after: OffsetDateTime,
    /// Subject alternative names in encoding order; empty when the extension is absent.
    pub subject_alt_names: Vec<SubjectAltName>,
    /// Type and size of the subject public key.
    pub public_key: KeyAlgorithm,
    /// Algorithm of the issuer's signature on this certificate.
    pub signature_algorithm: SignatureAlgorithm,
    /// SHA-256 of the DER encoding, upper-case hex without separators.
    pub sha256_fingerprint: String,
    /// SHA-1 of the DER encoding, upper-case hex without separators.
    pub sha1_fingerprint: String,
    /// Whether basic constraints mark the certificate as a CA.
    pub is_ca: bool,
    /// Whether subject and issuer are the same name (true for roots and other self-signed
    /// certificates).
    pub self_issued: bool,
    /// Subject key identifier extension, upper-case hex.
    pub subject_key_id: Option<String>,
    /// Key identifier of the authority key identifier extension, upper-case hex.
    pub authority_key_id: Option<String>,
}

impl std::fmt::Debug for CertificateFacts {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CertificateFacts")
            .field("der_len", &self.der.len())
            .field("serial", &self.serial)
            .field("subject", &self.subject.rfc4514)
            .field("issuer", &self.issuer.rfc4514)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("subject_alt_names", &self.subject_alt_names)
            .field("public_key", &self.public_key)
            .field("signature_algorithm", &self.signature_algorithm)
            .field("sha256_fingerprint", &self.sha256_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Type and size of a public or private key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA (`rsaEncryption`), with the modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// RSA restricted to RSASSA-PSS (`id-RSASSA-PSS`), with the modulus size in bits.
    RsaPss {
        /// Modulus size in bits.
        bits: u32,
    },
    /// Elliptic curve key (`id-ecPublicKey`).
    Ec {
        /// Curve name (`P-256`, `P-384`, `P-521`, `secp256k1`, `brainpoolP256r1` …) or the
        /// dotted curve OID when unknown.
        curve: String,
        /// Field size in bits (256 for P-256, 521 for P-521); 0 when the curve is unknown and
        /// the point encoding gives no size.
        bits: u32,
    },
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// DSA, with the size of the prime `p` in bits (0 for a private key, whose size is not
    /// read).
    Dsa {
        /// Size of the prime `p` in bits.
        bits: u32,
    },
    /// Any other algorithm, by dotted OID.
    Other {
        /// Dotted algorithm OID.
        oid: String,
    },
}

/// A signature algorithm by name and OID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureAlgorithm {
    /// Short name from the OID registry, for example `sha256WithRSAEncryption` or
    /// `ecdsa-with-SHA256`; the dotted OID when the registry does not know it.
    pub name: String,
    /// Dotted OID, for example `1.2.840.113549.1.1.11`.
    pub oid: String,
}

/// Parses one DER-encoded X.509 certificate.
///
/// Bytes after the certificate are ignored. Names with invalid or legacy string encodings are
/// decoded lossily instead of failing; see [`Name`].
///
/// # Errors
///
/// [`CertfileError::InvalidCertificate`] when the bytes are not a certificate. A malformed
/// validity time is named with its raw text.
pub fn parse_certificate(der: &[u8]) -> Result<CertificateFacts, CertfileError> {
    parse_certificate_at(der, "DER input").map(|(facts, _)| facts)
}

/// Parses a certificate at the start of `der` and returns it with the number of bytes it used.
pub(crate) fn parse_certificate_at(
    der: &[u8],
    location: &str,
) -> Result<(CertificateFacts, usize), CertfileError> {
    let (rest, certificate) =
        X509Certificate::from_der(der).map_err(|error| CertfileError::InvalidCertificate {
            location: location.to_owned(),
            reason: describe_parse_failure(der, &error.to_string()),
        })?;
    let used = der.len() - rest.len();
    let der = &der[..used];
    Ok((facts_from_certificate(der, &certificate), used))
}

fn facts_from_certificate(der: &[u8], certificate: &X509Certificate<'_>) -> CertificateFacts {
    let mut subject_alt_names = Vec::new();
    let mut is_ca = false;
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(names) => {
                subject_alt_names.extend(names.general_names.iter().map(convert_general_name));
            }
            ParsedExtension::BasicConstraints(constraints) => is_ca = constraints.ca,
            ParsedExtension::SubjectKeyIdentifier(id) => {
                subject_key_id = Some(hex::encode_upper(id.0));
            }
            ParsedExtension::AuthorityKeyIdentifier(id) => {
                authority_key_id = id.key_identifier.as_ref().map(|id| hex::encode_upper(id.0));
            }
            _ => {}
        }
    }
    let subject = convert_name(certificate.subject());
    let issuer = convert_name(certificate.issuer());
    CertificateFacts {
        der: der.to_vec(),
        version: u8::try_from(certificate.version().0.saturating_add(1)).unwrap_or(u8::MAX),
        serial: canonical_serial(certificate.raw_serial()),
        self_issued: subject.der == issuer.der,
        subject,
        issuer,
        not_before: certificate.validity().not_before.to_datetime(),
        not_after: certificate.validity().not_after.to_datetime(),
        subject_alt_names,
        public_key: public_key_algorithm(certificate.public_key()),
        signature_algorithm: signature_algorithm(&certificate.signature_algorithm),
        sha256_fingerprint: hex::encode_upper(digest::digest(&digest::SHA256, der)),
        sha1_fingerprint: hex::encode_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
        is_ca,
        subject_key_id,
        authority_key_id,
    }
}

/// Formats the content octets of a serial number INTEGER in canonical form.
///
/// Canonical means: upper-case hex digits of the unsigned value, with no leading zero digits
/// (so the DER sign byte `00` and any zero padding disappear, and `023A77` becomes `23A77`),
/// and `0` for zero or an empty encoding. This is the form the Entrust API uses.
///
/// A negative serial (its first content octet is `80` or above; RFC 5280 forbids it, but old CAs
/// issued some) keeps its two's-complement octets, so `FF01` stays `FF01`, the bytes a DER dump
/// shows. A 20-octet serial, the maximum RFC 5280 allows, gives up to 40 digits.
pub fn canonical_serial(content_octets: &[u8]) -> String {
    let first_non_zero = content_octets.iter().position(|&octet| octet != 0);
    let Some(start) = first_non_zero else {
        return "0".to_owned();
    };
    let digits = hex::encode_upper(&content_octets[start..]);
    match digits.strip_prefix('0') {
        Some(trimmed) => trimmed.to_owned(),
        None => digits,
    }
}

fn signature_algorithm(algorithm: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    let oid = algorithm.algorithm.to_id_string();
    // The registry lacks a few legacy OIDs that old certificates still carry.
    let legacy_name = match oid.as_str() {
        "1.2.840.113549.2.5" => Some("md5"),
        "1.2.840.113549.1.1.4" => Some("md5WithRSAEncryption"),
        "1.2.840.113549.1.1.2" => Some("md2WithRSAEncryption"),
        _ => None,
    };
    let name = match (legacy_name, oid2sn(&algorithm.algorithm, oid_registry())) {
        (Some(name), _) | (None, Ok(name)) => name.to_owned(),
        (None, Err(_)) => oid.clone(),
    };
    SignatureAlgorithm { name, oid }
}

pub(crate) fn public_key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> KeyAlgorithm {
    let oid = spki.algorithm.algorithm.to_id_string();
    let parsed = spki.parsed().ok();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
            let bits = match &parsed {
                Some(PublicKey::RSA(rsa)) => unsigned_bit_length(rsa.modulus),
                _ => 0,
            };
            if oid == "1.2.840.113549.1.1.1" {
                KeyAlgorithm::Rsa { bits }
            } else {
                KeyAlgorithm::RsaPss { bits }
            }
        }
        "1.2.840.10045.2.1" => {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok())
                .map(|curve| curve.to_id_string())
                .unwrap_or_default();
            let point_bits = match &parsed {
                Some(PublicKey::EC(point)) => u32::try_from(point.key_size()).unwrap_or(0),
                _ => 0,
            };
            ec_key_algorithm(&curve_oid, point_bits)
        }
        "1.3.101.112" => KeyAlgorithm::Ed25519,
        "1.3.101.113" => KeyAlgorithm::Ed448,
        "1.2.840.10040.4.1" => {
            let prime_bits = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| first_integer_bits(parameters.data));
            let bits = match (prime_bits, &parsed) {
                (Some(bits), _) => bits,
                // Parameters may be inherited from the issuer; y then gives the size.
                (None, Some(PublicKey::DSA(y))) => first_integer_bits(y).unwrap_or(0),
                (None, _) => 0,
            };
            KeyAlgorithm::Dsa { bits }
        }
        _ => KeyAlgorithm::Other { oid },
    }
}

/// Names an elliptic curve by OID. `fallback_bits` is used for curves not in the table.
pub(crate) fn ec_key_algorithm(curve_oid: &str, fallback_bits: u32) -> KeyAlgorithm {
    let known = match curve_oid {
        "1.2.840.10045.3.1.7" => Some(("P-256", 256)),
        "1.3.132.0.34" => Some(("P-384", 384)),
        "1.3.132.0.35" => Some(("P-521", 521)),
        "1.3.132.0.33" => Some(("P-224", 224)),
        "1.2.840.10045.3.1.1" => Some(("P-192", 192)),
        "1.3.132.0.10" => Some(("secp256k1", 256)),
        "1.3.36.3.3.2.8.1.1.7" => Some(("brainpoolP256r1", 256)),
        "1.3.36.3.3.2.8.1.1.11" => Some(("brainpoolP384r1", 384)),
        "1.3.36.3.3.2.8.1.1.13" => Some(("brainpoolP512r1", 512)),
        _ => None,
    };
    match known {
        Some((curve, bits)) => KeyAlgorithm::Ec {
            curve: curve.to_owned(),
            bits,
        },
        None => KeyAlgorithm::Ec {
            curve: curve_oid.to_owned(),
            bits: fallback_bits,
        },
    }
}

/// Bit length of a big-endian unsigned integer, ignoring leading zero octets.
pub(crate) fn unsigned_bit_length(bytes: &[u8]) -> u32 {
    let Some(start) = bytes.iter().position(|&byte| byte != 0) else {
        return 0;
    };
    let significant = &bytes[start..];
    let whole_bytes = u32::try_from(significant.len() - 1).unwrap_or(u32::MAX / 8);
    whole_bytes * 8 + (8 - significant[0].leading_zeros())
}

/// Bit length of the first DER INTEGER in `der`: the prime `p` of DSA parameters
/// `SEQUENCE { p, q, g }` once the SEQUENCE header is removed, or a public value `y`.
fn first_integer_bits(der: &[u8]) -> Option<u32> {
    match Any::from_der(der) {
        Ok((_, integer)) if integer.tag() == Tag::Integer => {
            Some(unsigned_bit_length(integer.data))
        }
        _ => None,
    }
}

/// Adds the raw text of an unreadable validity time to x509-parser's error message, which
/// does not name the field.
fn describe_parse_failure(der: &[u8], parser_error: &str) -> String {
    match find_bad_validity_time(der) {
        Some(detail) => format!("{detail} ({parser_error})"),
        None => parser_error.to_owned(),
    }
}

fn find_bad_validity_time(der: &[u8]) -> Option<String> {
    let (_, certificate) = Any::from_der(der).ok()?;
    let (_, tbs) = Any::from_der(certificate.data).ok()?;
    let mut rest = tbs.data;
    let mut fields = Vec::new();
    while !rest.is_empty() && fields.len() < 6 {
        let (next, field) = Any::from_der(rest).ok()?;
        fields.push(field);
        rest = next;
    }
    // The version field [0] is optional, so validity is the fourth or the fifth field.
    let has_version = fields.first()?.tag() == Tag(0);
    let validity = fields.get(if has_version { 4 } else { 3 })?;
    let mut times = validity.data;
    for field_name in ["notBefore", "notAfter"] {
        let (next, time) = Any::from_der(times).ok()?;
        let encoded_len = times.len() - next.len();
        if ASN1Time::from_der(&times[..encoded_len]).is_err() {
            let type_name = match time.tag() {
                Tag::UtcTime => "UTCTime",
                Tag::GeneralizedTime => "GeneralizedTime",
                _ => "time of an unexpected ASN.1 type",
            };
            let text = String::from_utf8_lossy(time.data);
            return Some(format!(
                "{field_name} is not a valid {type_name}: \"{text}\""
            ));
        }
        times = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_serial_cases() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x02, 0x3A, 0x77], "23A77"),
            (&[0x00, 0x80], "80"),
            (&[0x00, 0x00, 0x01], "1"),
            (&[0x00], "0"),
            (&[], "0"),
            (&[0x3F, 0x20], "3F20"),
            (&[0x0A, 0x01], "A01"),
            (&[0xFF, 0x01], "FF01"),
            (
                &[
                    0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C,
                    0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13,
                ],
                "7F0102030405060708090A0B0C0D0E0F10111213",
            ),
            (
                &[
                    0x00, 0x81, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
                    0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13,
                ],
                "810102030405060708090A0B0C0D0E0F10111213",
            ),
        ];
        for (octets, expected) in cases {
            assert_eq!(canonical_serial(octets), *expected, "octets {octets:02X?}");
        }
    }

    #[test]
    fn unsigned_bit_length_ignores_leading_zeros() {
        assert_eq!(unsigned_bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(unsigned_bit_length(&[0x01]), 1);
        assert_eq!(unsigned_bit_length(&[0x00]), 0);
    }
}
