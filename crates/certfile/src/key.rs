//! Private keys: reading PKCS#8, PKCS#1 and SEC1 keys, decrypting encrypted PKCS#8 keys, and
//! matching a key to its certificate.

use aws_lc_rs::signature::{self, KeyPair};
use pkcs8::der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::CertfileError;
use crate::facts::{CertificateFacts, KeyAlgorithm, ec_key_algorithm, unsigned_bit_length};
use crate::import::Location;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// A private key in PKCS#8 form.
///
/// The key bytes live in a [`SecretSlice`], which zeroes them on drop. `Debug` shows the
/// algorithm only.
#[derive(Clone)]
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    pkcs8_der: SecretSlice<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("pkcs8_der", &"[REDACTED]")
            .finish()
    }
}

impl PrivateKey {
    /// Reads an unencrypted PKCS#8 `PrivateKeyInfo` (RFC 5208 / RFC 5958).
    ///
    /// # Errors
    ///
    /// [`CertfileError::InvalidPrivateKey`] naming the decoding failure, without key bytes.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, CertfileError> {
        let info =
            PrivateKeyInfoRef::from_der(der).map_err(|error| CertfileError::InvalidPrivateKey {
                reason: format!("not a PKCS#8 private key: {error}"),
            })?;
        let algorithm = private_key_algorithm(&info)
            .map_err(|reason| CertfileError::InvalidPrivateKey { reason })?;
        Ok(PrivateKey {
            algorithm,
            pkcs8_der: SecretSlice::from(der.to_vec()),
        })
    }

    /// Returns the type and size of the key.
    pub fn algorithm(&self) -> &KeyAlgorithm {
        &self.algorithm
    }

    /// Returns the PKCS#8 DER encoding. Call `expose_secret()` on it to read the bytes.
    pub fn pkcs8_der(&self) -> &SecretSlice<u8> {
        &self.pkcs8_der
    }

    /// Checks whether this key is the private half of the certificate's public key.
    ///
    /// Returns `None` when the check is not implemented for the key's algorithm (it is for
    /// RSA, EC P-256/P-384/P-521/secp256k1 and Ed25519) or the key cannot be loaded.
    pub fn matches_certificate(&self, certificate: &CertificateFacts) -> Option<bool> {
        let (_, parsed) = X509Certificate::from_der(&certificate.der).ok()?;
        let spki = parsed.public_key();
        let der = self.pkcs8_der.expose_secret();
        let info = PrivateKeyInfoRef::from_der(der).ok()?;
        if info.algorithm.oid != spki.algorithm.algorithm.to_id_string().parse().ok()? {
            return Some(false);
        }
        match &self.algorithm {
            KeyAlgorithm::Rsa { .. } | KeyAlgorithm::RsaPss { .. } => {
                let key = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes()).ok()?;
                let Ok(PublicKey::RSA(public)) = spki.parsed() else {
                    return Some(false);
                };
                Some(
                    strip_leading_zeros(key.modulus.as_bytes())
                        == strip_leading_zeros(public.modulus),
                )
            }
            KeyAlgorithm::Ec { curve, .. } => {
                let signing = match curve.as_str() {
                    "P-256" => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    "P-384" => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    "P-521" => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                    "secp256k1" => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
                    _ => return None,
                };
                let pair = signature::EcdsaKeyPair::from_pkcs8(signing, der).ok()?;
                Some(pair.public_key().as_ref() == spki.subject_public_key.data.as_ref())
            }
            KeyAlgorithm::Ed25519 => {
                let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?;
                Some(pair.public_key().as_ref() == spki.subject_public_key.data.as_ref())
            }
            _ => None,
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn private_key_algorithm(info: &PrivateKeyInfoRef<'_>) -> Result<KeyAlgorithm, String> {
    let oid = info.algorithm.oid;
    let key_bytes = info.private_key.as_bytes();
    if oid == RSA_ENCRYPTION || oid == RSASSA_PSS {
        let key = pkcs1::RsaPrivateKeyRef::from_der(key_bytes)
            .map_err(|error| format!("invalid RSA private key: {error}"))?;
        let bits = unsigned_bit_length(key.modulus.as_bytes());
        return Ok(if oid == RSA_ENCRYPTION {
            KeyAlgorithm::Rsa { bits }
        } else {
            KeyAlgorithm::RsaPss { bits }
        });
    }
    if oid == EC_PUBLIC_KEY {
        let sec1_key = sec1::EcPrivateKey::from_der(key_bytes)
            .map_err(|error| format!("invalid EC private key: {error}"))?;
        let curve = info
            .algorithm
            .parameters
            .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok())
            .or(sec1_key
                .parameters
                .map(|sec1::EcParameters::NamedCurve(curve)| curve))
            .ok_or_else(|| "EC private key names no curve".to_owned())?;
        let fallback_bits = u32::try_from(sec1_key.private_key.len() * 8).unwrap_or(0);
        return Ok(ec_key_algorithm(&curve.to_string(), fallback_bits));
    }
    if oid == ED25519 {
        return Ok(KeyAlgorithm::Ed25519);
    }
    if oid == ED448 {
        return Ok(KeyAlgorithm::Ed448);
    }
    if oid == DSA {
        return Ok(KeyAlgorithm::Dsa { bits: 0 });
    }
    Ok(KeyAlgorithm::Other {
        oid: oid.to_string(),
    })
}

/// A private key that was found but not decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedKey {
    /// Location of the key in the file.
    pub location: Location,
    /// The encryption, for example `PBES2` (encrypted PKCS#8) or `AES-256-CBC` (legacy PEM
    /// encryption with `Proc-Type`/`DEK-Info` headers).
    pub encryption: String,
    /// Reason the key was not decrypted.
    pub reason: NotDecryptedReason,
}

/// Reason an [`EncryptedKey`] was not decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotDecryptedReason {
    /// No password was given.
    #[error("no password given: import the file again with the key's password")]
    PasswordMissing,
    /// Decryption failed, which for PKCS#8 almost always means the password is wrong.
    #[error("wrong password or corrupt key: check the password")]
    WrongPassword,
    /// The encryption scheme is not implemented here.
    #[error("unsupported encryption ({detail}): convert the key with `openssl pkcs8 -topk8`")]
    UnsupportedEncryption {
        /// The scheme or the decoder's message.
        detail: String,
    },
}

/// Result of reading a private key PEM block.
pub(crate) enum KeyBlock {
    Key(PrivateKey),
    Encrypted(EncryptedKey),
    Invalid(String),
}

/// Reads a PEM block whose label names a private key.
pub(crate) fn read_key_block(
    block: &pem::Pem,
    location: Location,
    password: Option<&SecretString>,
) -> KeyBlock {
    let der = block.contents();
    let legacy_encrypted = block
        .headers()
        .get("Proc-Type")
        .is_some_and(|value| value.contains("ENCRYPTED"));
    if legacy_encrypted {
        // OpenSSL's traditional PEM encryption (an MD5-based key derivation). It is not
        // decrypted here; `openssl pkcs8 -topk8` converts such a key to encrypted PKCS#8.
        let cipher = block
            .headers()
            .get("DEK-Info")
            .and_then(|value| value.split(',').next())
            .unwrap_or("unknown cipher")
            .to_owned();
        return KeyBlock::Encrypted(EncryptedKey {
            location,
            encryption: cipher.clone(),
            reason: NotDecryptedReason::UnsupportedEncryption {
                detail: format!("legacy PEM encryption with {cipher}"),
            },
        });
    }
    let result = match block.tag() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(der).map_err(invalid_key_reason),
        "RSA PRIVATE KEY" => wrap_rsa_key(der),
        "EC PRIVATE KEY" => wrap_ec_key(der),
        "ENCRYPTED PRIVATE KEY" => return read_encrypted_pkcs8(der, location, password),
        other => Err(format!("unsupported private key type \"{other}\"")),
    };
    match result {
        Ok(key) => KeyBlock::Key(key),
        Err(reason) => KeyBlock::Invalid(reason),
    }
}

/// Decrypts an `EncryptedPrivateKeyInfo` (PBES2 with PBKDF2 or scrypt, AES-CBC or 3DES).
pub(crate) fn read_encrypted_pkcs8(
    der: &[u8],
    location: Location,
    password: Option<&SecretString>,
) -> KeyBlock {
    let info = match EncryptedPrivateKeyInfoRef::from_der(der) {
        Ok(info) => info,
        Err(error) => return KeyBlock::Invalid(format!("not an encrypted PKCS#8 key: {error}")),
    };
    let encryption = encryption_name(&info);
    let Some(password) = password else {
        return KeyBlock::Encrypted(EncryptedKey {
            location,
            encryption,
            reason: NotDecryptedReason::PasswordMissing,
        });
    };
    match info.decrypt(password.expose_secret().as_bytes()) {
        Ok(document) => match PrivateKey::from_pkcs8_der(document.as_bytes()) {
            Ok(key) => KeyBlock::Key(key),
            Err(error) => KeyBlock::Invalid(invalid_key_reason(error)),
        },
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed))
        | Err(pkcs8::Error::Asn1(_)) => KeyBlock::Encrypted(EncryptedKey {
            location,
            encryption,
            reason: NotDecryptedReason::WrongPassword,
        }),
        Err(error) => KeyBlock::Encrypted(EncryptedKey {
            location,
            encryption,
            reason: NotDecryptedReason::UnsupportedEncryption {
                detail: error.to_string(),
            },
        }),
    }
}

fn encryption_name(info: &EncryptedPrivateKeyInfoRef<'_>) -> String {
    match &info.encryption_algorithm {
        pkcs8::pkcs5::EncryptionScheme::Pbes2(parameters) => {
            let cipher = parameters.encryption.oid().to_string();
            let cipher_name = match cipher.as_str() {
                "2.16.840.1.101.3.4.1.2" => "AES-128-CBC",
                "2.16.840.1.101.3.4.1.22" => "AES-192-CBC",
                "2.16.840.1.101.3.4.1.42" => "AES-256-CBC",
                "1.2.840.113549.3.7" => "DES-EDE3-CBC",
                "1.3.14.3.2.7" => "DES-CBC",
                other => other,
            };
            format!("PBES2 with {cipher_name}")
        }
        pkcs8::pkcs5::EncryptionScheme::Pbes1(parameters) => {
            format!("PBES1 ({})", parameters.encryption.oid())
        }
        other => other.oid().to_string(),
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` into PKCS#8.
fn wrap_rsa_key(pkcs1_der: &[u8]) -> Result<PrivateKey, String> {
    pkcs1::RsaPrivateKeyRef::from_der(pkcs1_der)
        .map_err(|error| format!("invalid RSA private key: {error}"))?;
    let algorithm = AlgorithmIdentifierRef {
        oid: RSA_ENCRYPTION,
        parameters: Some(AnyRef::NULL),
    };
    wrap_in_pkcs8(algorithm, pkcs1_der)
}

/// Wraps a SEC1 `ECPrivateKey` into PKCS#8, moving its curve into the algorithm identifier.
fn wrap_ec_key(sec1_der: &[u8]) -> Result<PrivateKey, String> {
    let key = sec1::EcPrivateKey::from_der(sec1_der)
        .map_err(|error| format!("invalid EC private key: {error}"))?;
    let Some(sec1::EcParameters::NamedCurve(curve)) = key.parameters else {
        return Err("EC private key names no curve".to_owned());
    };
    let algorithm = AlgorithmIdentifierRef {
        oid: EC_PUBLIC_KEY,
        parameters: Some(AnyRef::from(&curve)),
    };
    wrap_in_pkcs8(algorithm, sec1_der)
}

fn wrap_in_pkcs8(
    algorithm: AlgorithmIdentifierRef<'_>,
    key_der: &[u8],
) -> Result<PrivateKey, String> {
    let octets = OctetStringRef::new(key_der)
        .map_err(|error| format!("private key too large for PKCS#8: {error}"))?;
    let info = PrivateKeyInfoRef::new(algorithm, octets);
    let der = secrecy::zeroize::Zeroizing::new(
        info.to_der()
            .map_err(|error| format!("PKCS#8 encoding failed: {error}"))?,
    );
    PrivateKey::from_pkcs8_der(&der).map_err(invalid_key_reason)
}

/// Returns the reason of an [`CertfileError::InvalidPrivateKey`] for use in a warning.
pub(crate) fn invalid_key_reason(error: CertfileError) -> String {
    match error {
        CertfileError::InvalidPrivateKey { reason } => reason,
        other => other.to_string(),
    }
}
