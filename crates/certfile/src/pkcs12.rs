//! PKCS#12 (RFC 7292) import and export through the pure-Rust `p12-keystore` crate.

use p12_keystore::{
    EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive, PrivateKeyChain,
};
use secrecy::{ExposeSecret, SecretString};
use x509_parser::asn1_rs::{Any, Class, FromBer, Tag};

use crate::facts::parse_certificate_at;
use crate::import::{ImportWarning, Imported, Location};
use crate::key::{PrivateKey, invalid_key_reason};
use crate::{CertfileError, Chain, FileFormat};

/// Returns whether the input starts like a PFX: `SEQUENCE { INTEGER 3, SEQUENCE { … } … }`.
pub(crate) fn looks_like_pfx(input: &[u8]) -> bool {
    let Ok((_, pfx)) = Any::from_ber(input) else {
        return false;
    };
    if pfx.class() != Class::Universal || pfx.tag() != Tag::Sequence {
        return false;
    }
    let Ok((rest, version)) = Any::from_ber(pfx.data) else {
        return false;
    };
    if version.tag() != Tag::Integer || version.data != [3] {
        return false;
    }
    Any::from_ber(rest).is_ok_and(|(_, auth_safe)| auth_safe.tag() == Tag::Sequence)
}

/// Reads every certificate and private key of a PKCS#12 file.
///
/// Without a password the empty password is tried, which opens trust stores that Java's
/// keytool and similar tools write without protection.
pub(crate) fn import_pkcs12(
    input: &[u8],
    password: Option<&SecretString>,
) -> Result<Imported, CertfileError> {
    let password_text = password.map_or("", |password| password.expose_secret());
    // NOTE: p12-keystore decodes strict DER, so a PKCS#12 file written with BER indefinite
    // lengths (some old Windows and Java versions) is reported as invalid.
    let archive = Pkcs12Archive::from_pkcs12(input, password_text)
        .map_err(|error| map_archive_error(&error, password.is_some()))?;

    let mut imported = Imported::empty(FileFormat::Pkcs12);
    for (index, bag) in archive.certs.iter().enumerate() {
        let location = Location::Pkcs12Bag { bag: index + 1 };
        match parse_certificate_at(bag.cert.as_der(), &location.to_string()) {
            Ok((facts, _)) => imported.certificates.push(facts),
            Err(error) => imported.warnings.push(ImportWarning::InvalidCertificate {
                location,
                reason: error.to_string(),
            }),
        }
    }
    for (index, bag) in archive.keys.iter().enumerate() {
        let location = Location::Pkcs12Bag {
            bag: archive.certs.len() + index + 1,
        };
        match PrivateKey::from_pkcs8_der(bag.key.as_der()) {
            Ok(key) => imported.keys.push(key),
            Err(error) => imported.warnings.push(ImportWarning::InvalidPrivateKey {
                location,
                reason: invalid_key_reason(error),
            }),
        }
    }
    Ok(imported)
}

fn map_archive_error(error: &p12_keystore::error::Error, password_given: bool) -> CertfileError {
    use p12_keystore::error::Error;
    match error {
        // A failed MAC check, or for files without a MAC a failed padding check after
        // decryption, is what a wrong password produces.
        Error::MacError(_) | Error::UnpadError => {
            if password_given {
                CertfileError::WrongPkcs12Password
            } else {
                CertfileError::Pkcs12PasswordRequired
            }
        }
        Error::UnsupportedEncryptionScheme
        | Error::UnsupportedMacAlgorithm
        | Error::UnsupportedContentType
        | Error::UnsupportedCertificateType
        | Error::Pkcs5Error(_) => CertfileError::UnsupportedPkcs12 {
            reason: error.to_string(),
        },
        _ => CertfileError::InvalidPkcs12 {
            reason: error.to_string(),
        },
    }
}

/// Encryption of a PKCS#12 export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pkcs12Encryption {
    /// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for certificates and key, HMAC-SHA256 MAC.
    /// OpenSSL 3 writes this by default; OpenSSL 1.1.1, Java 8u301+ and Windows 10 1709+ read it.
    #[default]
    Aes256,
    /// `pbeWithSHAAnd3-KeyTripleDES-CBC` for certificates and key, HMAC-SHA1 MAC, for readers
    /// that predate PBES2 (Windows Server 2016 and older, Java before 8u301).
    Legacy3Des,
    /// `pbeWithSHAAnd40BitRC2-CBC` for certificates and key, HMAC-SHA1 MAC. Forty-bit RC2
    /// protects nothing; use it only for a reader that accepts nothing else.
    LegacyRc2,
}

/// Iteration count for key derivation and MAC, the value Java's keytool uses.
const PKCS12_ITERATIONS: u32 = 10_000;

/// Writes the leaf, its chain and the key as a password-protected PKCS#12 file.
pub(crate) fn write_pkcs12(
    chain: &Chain,
    key: &PrivateKey,
    password: &SecretString,
    encryption: Pkcs12Encryption,
) -> Result<Vec<u8>, CertfileError> {
    if password.expose_secret().is_empty() {
        return Err(CertfileError::EmptyExportPassword);
    }
    let leaf = chain.leaf();
    if key.matches_certificate(leaf) == Some(false) {
        return Err(CertfileError::KeyMismatch {
            subject: leaf.subject.rfc4514.clone(),
        });
    }
    let export_error = |error: p12_keystore::error::Error| CertfileError::Pkcs12ExportFailed {
        reason: error.to_string(),
    };
    let mut certificates = Vec::with_capacity(chain.certificates().len());
    for certificate in chain.certificates() {
        certificates
            .push(p12_keystore::Certificate::from_der(&certificate.der).map_err(export_error)?);
    }
    let store_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der().expose_secret())
        .map_err(export_error)?;
    // The local key ID links the key bag to the leaf's certificate bag. OpenSSL uses the
    // SHA-1 of the certificate, which is what the fingerprint holds.
    let local_key_id = hex::decode(&leaf.sha1_fingerprint).unwrap_or_default();
    let entry = PrivateKeyChain::new(local_key_id, store_key, certificates);
    let alias = leaf
        .subject
        .common_name()
        .map_or_else(|| leaf.sha256_fingerprint.clone(), ToOwned::to_owned);
    let mut store = KeyStore::new();
    store.add_entry(&alias, KeyStoreEntry::PrivateKeyChain(entry));

    let (algorithm, mac) = match encryption {
        Pkcs12Encryption::Aes256 => (
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        ),
        Pkcs12Encryption::Legacy3Des => (
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        ),
        // p12-keystore names the RC2-40 variant after RC4, but writes the
        // pbeWithSHAAnd40BitRC2-CBC OID (1.2.840.113549.1.12.1.6).
        Pkcs12Encryption::LegacyRc2 => (
            EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc,
            MacAlgorithm::HmacSha1,
        ),
    };
    store
        .writer(password.expose_secret())
        .encryption_algorithm(algorithm)
        .encryption_iterations(PKCS12_ITERATIONS)
        .mac_algorithm(mac)
        .mac_iterations(PKCS12_ITERATIONS)
        .write()
        .map_err(export_error)
}
