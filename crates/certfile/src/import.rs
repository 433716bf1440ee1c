//! Reading certificate files of any format: detection, PEM, DER, PKCS#7 and batches.

use std::panic::{AssertUnwindSafe, catch_unwind};

use secrecy::SecretString;
use x509_parser::asn1_rs::{Any, Class, FromBer, Tag};

use crate::CertfileError;
use crate::facts::{CertificateFacts, parse_certificate_at};
use crate::key::{EncryptedKey, KeyBlock, PrivateKey, read_key_block};
use crate::pkcs7::{looks_like_signed_data, signed_data_certificates};
use crate::pkcs12::{import_pkcs12, looks_like_pfx};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const PEM_BEGIN: &[u8] = b"-----BEGIN ";

/// File format, detected from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// Text with one or more `-----BEGIN …-----` blocks.
    Pem,
    /// A single DER-encoded X.509 certificate.
    DerCertificate,
    /// A PKCS#7 / CMS `SignedData` structure in DER or BER, such as a `.p7b` bundle.
    Pkcs7,
    /// A PKCS#12 / PFX file.
    Pkcs12,
}

/// Position of a certificate, key or problem inside a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The whole input is one DER structure.
    DerFile,
    /// A PEM block, counted from 1 in file order.
    PemBlock {
        /// Block number, from 1.
        block: usize,
    },
    /// An entry of a PKCS#7 `certificates` set, counted from 1, optionally inside a PEM block.
    Pkcs7Entry {
        /// The PEM block holding the PKCS#7 structure, if any.
        pem_block: Option<usize>,
        /// Entry number, from 1.
        entry: usize,
    },
    /// A bag of a PKCS#12 file, counted from 1 (certificate bags first, then key bags).
    Pkcs12Bag {
        /// Bag number, from 1.
        bag: usize,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::DerFile => write!(formatter, "DER file"),
            Location::PemBlock { block } => write!(formatter, "PEM block {block}"),
            Location::Pkcs7Entry {
                pem_block: Some(block),
                entry,
            } => write!(formatter, "PEM block {block}, PKCS#7 certificate {entry}"),
            Location::Pkcs7Entry {
                pem_block: None,
                entry,
            } => write!(formatter, "PKCS#7 certificate {entry}"),
            Location::Pkcs12Bag { bag } => write!(formatter, "PKCS#12 bag {bag}"),
        }
    }
}

/// A problem with part of a file that did not stop the rest of it from importing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportWarning {
    /// A PEM block type that this crate does not import, such as a certificate request or CRL.
    #[error("PEM block {block}: \"{label}\" is not a certificate or private key; skipped")]
    UnsupportedPemBlock {
        /// Block number, from 1.
        block: usize,
        /// The label after `BEGIN`.
        label: String,
    },
    /// A PEM block with broken framing or base64.
    #[error("PEM block {block}: invalid PEM ({reason}); skipped")]
    InvalidPemBlock {
        /// Block number, from 1.
        block: usize,
        /// The PEM decoder's error.
        reason: String,
    },
    /// A certificate that failed to parse.
    #[error("{location}: invalid certificate ({reason}); skipped")]
    InvalidCertificate {
        /// Location of the certificate in the file.
        location: Location,
        /// Description of the decoding failure.
        reason: String,
    },
    /// A private key block that does not hold a valid key.
    #[error("{location}: invalid private key ({reason}); skipped")]
    InvalidPrivateKey {
        /// Location of the key in the file.
        location: Location,
        /// Description of the decoding failure.
        reason: String,
    },
    /// A PEM `PKCS7` block that failed to decode.
    #[error("{location}: invalid PKCS#7 bundle ({reason}); skipped")]
    InvalidPkcs7 {
        /// Location of the bundle in the file.
        location: Location,
        /// Description of the decoding failure.
        reason: String,
    },
    /// PKCS#7 `certificates` entries that are not X.509 certificates (attribute certificates
    /// or other formats).
    #[error("{count} PKCS#7 entries are not X.509 certificates; skipped")]
    UnsupportedPkcs7Entries {
        /// Number of skipped entries.
        count: usize,
    },
    /// Bytes after the certificate in a DER file.
    #[error("{bytes} bytes after the DER certificate; ignored")]
    TrailingData {
        /// Number of extra bytes.
        bytes: usize,
    },
}

/// Everything found in one file.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The detected format.
    pub format: FileFormat,
    /// Certificates in file order.
    pub certificates: Vec<CertificateFacts>,
    /// Private keys that are readable: unencrypted keys, and encrypted PKCS#8 and PKCS#12 keys
    /// that the given password decrypted.
    pub keys: Vec<PrivateKey>,
    /// Private keys that were found but not decrypted, with the reason.
    pub encrypted_keys: Vec<EncryptedKey>,
    /// Parts of the file that were skipped.
    pub warnings: Vec<ImportWarning>,
}

impl Imported {
    pub(crate) fn empty(format: FileFormat) -> Imported {
        Imported {
            format,
            certificates: Vec::new(),
            keys: Vec::new(),
            encrypted_keys: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Detects the format of a certificate file from its content alone, because file names and
/// extensions are often wrong.
///
/// Returns `None` when the content matches no supported format.
pub fn detect_format(input: &[u8]) -> Option<FileFormat> {
    // The binary formats are checked first because their content (for example the signed text
    // of a CMS message) may contain a PEM BEGIN line.
    if looks_like_signed_data(input) {
        return Some(FileFormat::Pkcs7);
    }
    if looks_like_pfx(input) {
        return Some(FileFormat::Pkcs12);
    }
    if looks_like_certificate(input) {
        return Some(FileFormat::DerCertificate);
    }
    if contains(input, PEM_BEGIN) {
        return Some(FileFormat::Pem);
    }
    None
}

/// Reads every certificate and private key in one file.
///
/// The format is detected from content (see [`detect_format`]). PEM files may start with a
/// UTF-8 byte-order mark, use CRLF line ends, carry text around and between blocks, use the
/// legacy `X509 CERTIFICATE` label, or glue an END line to the next BEGIN line. A part of the
/// file that cannot be read becomes an [`ImportWarning`] as long as something else in the
/// file is usable.
///
/// `password` decrypts PKCS#12 files and encrypted PKCS#8 keys. Without it, PKCS#12 files
/// are tried with the empty password and encrypted keys are listed in
/// [`Imported::encrypted_keys`].
///
/// # Errors
///
/// - [`CertfileError::EmptyInput`] and [`CertfileError::NotACertificateFile`] when nothing in
///   the input is a supported format.
/// - [`CertfileError::InvalidCertificate`] when the file's only certificates are invalid, for
///   example with a malformed validity time.
/// - [`CertfileError::NoUsablePemBlock`] for PEM files whose blocks are all unusable.
/// - [`CertfileError::InvalidPkcs7`] for a broken PKCS#7 bundle.
/// - [`CertfileError::Pkcs12PasswordRequired`], [`CertfileError::WrongPkcs12Password`],
///   [`CertfileError::InvalidPkcs12`] and [`CertfileError::UnsupportedPkcs12`] for PKCS#12.
pub fn import(input: &[u8], password: Option<&SecretString>) -> Result<Imported, CertfileError> {
    if input.is_empty() {
        return Err(CertfileError::EmptyInput);
    }
    match detect_format(input) {
        Some(FileFormat::Pem) => import_pem(input, password),
        Some(FileFormat::DerCertificate) => import_der_certificate(input),
        Some(FileFormat::Pkcs7) => import_pkcs7(input),
        Some(FileFormat::Pkcs12) => import_pkcs12(input, password),
        None => Err(CertfileError::NotACertificateFile),
    }
}

/// Imports many files and returns one result per file, in input order.
///
/// A file that fails never affects the others. A panic inside a parser is caught and returned
/// as [`CertfileError::Internal`] for that file alone (this needs the default `panic =
/// "unwind"` setting).
pub fn import_batch<I, B>(
    inputs: I,
    password: Option<&SecretString>,
) -> Vec<Result<Imported, CertfileError>>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    inputs
        .into_iter()
        .map(|input| {
            let bytes = input.as_ref();
            catch_unwind(AssertUnwindSafe(|| import(bytes, password))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "parser panicked".to_owned());
                Err(CertfileError::Internal { message })
            })
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Returns whether the input is `SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }`, the shape of
/// an X.509 certificate, so that a damaged certificate is reported as one.
fn looks_like_certificate(input: &[u8]) -> bool {
    let Ok((_, certificate)) = Any::from_ber(input) else {
        return false;
    };
    if certificate.class() != Class::Universal || certificate.tag() != Tag::Sequence {
        return false;
    }
    let mut rest = certificate.data;
    for expected in [Tag::Sequence, Tag::Sequence, Tag::BitString] {
        let Ok((next, field)) = Any::from_ber(rest) else {
            return false;
        };
        if field.tag() != expected {
            return false;
        }
        rest = next;
    }
    true
}

fn import_der_certificate(input: &[u8]) -> Result<Imported, CertfileError> {
    let (facts, used) = parse_certificate_at(input, &Location::DerFile.to_string())?;
    let mut imported = Imported::empty(FileFormat::DerCertificate);
    imported.certificates.push(facts);
    if used < input.len() {
        imported.warnings.push(ImportWarning::TrailingData {
            bytes: input.len() - used,
        });
    }
    Ok(imported)
}

fn import_pkcs7(input: &[u8]) -> Result<Imported, CertfileError> {
    let mut imported = Imported::empty(FileFormat::Pkcs7);
    let mut first_error = None;
    add_pkcs7_certificates(input, None, &mut imported, &mut first_error)
        .map_err(|reason| CertfileError::InvalidPkcs7 { reason })?;
    if imported.certificates.is_empty()
        && let Some(error) = first_error
    {
        return Err(error);
    }
    Ok(imported)
}

/// Adds the certificates of a PKCS#7 structure. Returns an error only when the structure
/// itself is broken.
fn add_pkcs7_certificates(
    input: &[u8],
    pem_block: Option<usize>,
    imported: &mut Imported,
    first_error: &mut Option<CertfileError>,
) -> Result<(), String> {
    let bundle = signed_data_certificates(input)?;
    for (index, der) in bundle.certificates.iter().enumerate() {
        let location = Location::Pkcs7Entry {
            pem_block,
            entry: index + 1,
        };
        match parse_certificate_at(der, &location.to_string()) {
            Ok((facts, _)) => imported.certificates.push(facts),
            Err(error) => record_certificate_error(imported, first_error, location, error),
        }
    }
    if bundle.skipped > 0 {
        imported
            .warnings
            .push(ImportWarning::UnsupportedPkcs7Entries {
                count: bundle.skipped,
            });
    }
    Ok(())
}

fn record_certificate_error(
    imported: &mut Imported,
    first_error: &mut Option<CertfileError>,
    location: Location,
    error: CertfileError,
) {
    let reason = match &error {
        CertfileError::InvalidCertificate { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    imported
        .warnings
        .push(ImportWarning::InvalidCertificate { location, reason });
    first_error.get_or_insert(error);
}

/// Splits PEM text at every `-----BEGIN ` and returns each block's text, so that a broken block
/// cannot hide the next one. A BEGIN glued to the previous END line starts a new block too.
fn pem_block_texts(input: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut offset = 0;
    while offset + PEM_BEGIN.len() <= input.len() {
        if &input[offset..offset + PEM_BEGIN.len()] == PEM_BEGIN {
            starts.push(offset);
            offset += PEM_BEGIN.len();
        } else {
            offset += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(index, &start)| {
            let end = starts.get(index + 1).copied().unwrap_or(input.len());
            &input[start..end]
        })
        .collect()
}

fn import_pem(input: &[u8], password: Option<&SecretString>) -> Result<Imported, CertfileError> {
    let input = input.strip_prefix(UTF8_BOM).unwrap_or(input);
    let mut imported = Imported::empty(FileFormat::Pem);
    let mut first_error = None;
    let blocks = pem_block_texts(input);
    for (index, text) in blocks.iter().enumerate() {
        let block_number = index + 1;
        let block = match pem::parse(text) {
            Ok(block) => block,
            Err(error) => {
                imported.warnings.push(ImportWarning::InvalidPemBlock {
                    block: block_number,
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let location = Location::PemBlock {
            block: block_number,
        };
        match block.tag() {
            // "X509 CERTIFICATE" is the label of SSLeay and early OpenSSL. "TRUSTED
            // CERTIFICATE" is OpenSSL's certificate followed by trust settings, which
            // parse_certificate_at leaves unread.
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                match parse_certificate_at(block.contents(), &location.to_string()) {
                    Ok((facts, _)) => imported.certificates.push(facts),
                    Err(error) => {
                        record_certificate_error(&mut imported, &mut first_error, location, error);
                    }
                }
            }
            "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => {
                if let Err(reason) = add_pkcs7_certificates(
                    block.contents(),
                    Some(block_number),
                    &mut imported,
                    &mut first_error,
                ) {
                    imported
                        .warnings
                        .push(ImportWarning::InvalidPkcs7 { location, reason });
                }
            }
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                match read_key_block(&block, location, password) {
                    KeyBlock::Key(key) => imported.keys.push(key),
                    KeyBlock::Encrypted(key) => imported.encrypted_keys.push(key),
                    KeyBlock::Invalid(reason) => imported
                        .warnings
                        .push(ImportWarning::InvalidPrivateKey { location, reason }),
                }
            }
            label => imported.warnings.push(ImportWarning::UnsupportedPemBlock {
                block: block_number,
                label: label.to_owned(),
            }),
        }
    }

    let found_something = !imported.certificates.is_empty()
        || !imported.keys.is_empty()
        || !imported.encrypted_keys.is_empty();
    if found_something {
        return Ok(imported);
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    if blocks.is_empty() {
        return Err(CertfileError::NotACertificateFile);
    }
    let details = imported
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Err(CertfileError::NoUsablePemBlock { details })
}
