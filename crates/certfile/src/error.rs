//! The error type of every fallible function in this crate.

/// Error of a failed read, chain order or export.
///
/// Messages name what failed and what to do next. They never contain key bytes or passwords:
/// the `reason` fields carry the text of the underlying parser's error, which describes the
/// structure that failed to decode, never secret input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertfileError {
    /// The input has no bytes.
    #[error("the file is empty: give a certificate file in PEM, DER, PKCS#7 or PKCS#12 format")]
    EmptyInput,

    /// The content matches none of the supported formats.
    #[error("not a certificate file: no PEM block, DER certificate, PKCS#7 or PKCS#12 found")]
    NotACertificateFile,

    /// A certificate failed to parse, and the file has no other usable content.
    #[error("invalid certificate in {location}: {reason}")]
    InvalidCertificate {
        /// Location of the certificate in the file, for example "PEM block 2".
        location: String,
        /// Description of the decoding failure.
        reason: String,
    },

    /// The file contains PEM blocks, but none of them is a certificate or private key that
    /// this crate reads.
    #[error("no certificate or private key in the PEM file: {details}")]
    NoUsablePemBlock {
        /// Each block's label and the reason it was not used.
        details: String,
    },

    /// Bytes given as a private key are not a valid unencrypted PKCS#8 key.
    #[error("invalid private key: {reason}; give an unencrypted PKCS#8 private key")]
    InvalidPrivateKey {
        /// Description of the decoding failure.
        reason: String,
    },

    /// A PKCS#7 / CMS structure failed to decode.
    #[error("invalid PKCS#7 bundle: {reason}")]
    InvalidPkcs7 {
        /// Description of the decoding failure.
        reason: String,
    },

    /// A PKCS#12 file failed to decode.
    #[error("invalid PKCS#12 file: {reason}")]
    InvalidPkcs12 {
        /// Description of the decoding failure.
        reason: String,
    },

    /// A PKCS#12 file uses an encryption or MAC algorithm that this crate does not implement.
    #[error(
        "unsupported PKCS#12 file: {reason}; re-export it with AES-256 or 3DES encryption and an \
         SHA-1 or SHA-2 MAC"
    )]
    UnsupportedPkcs12 {
        /// The algorithm or structure that is not supported.
        reason: String,
    },

    /// No password was given and the PKCS#12 file is not readable with the empty password.
    #[error("PKCS#12 file is password protected: give its password")]
    Pkcs12PasswordRequired,

    /// The given password does not match the PKCS#12 file's MAC or encryption.
    #[error("wrong password for PKCS#12 file: check the password and try again")]
    WrongPkcs12Password,

    /// [`order_chain`](crate::order_chain) was called without certificates.
    #[error("no certificates given: pass at least one certificate to order into a chain")]
    EmptyChain,

    /// A link of an ordered chain failed its signature check.
    #[error(
        "chain link {position} is broken: the signature of \"{subject}\" does not verify with \
         the public key of \"{issuer}\" ({reason})"
    )]
    ChainLinkBroken {
        /// Zero-based position of the signed certificate in the chain (0 is the leaf).
        position: usize,
        /// Subject of the signed certificate.
        subject: String,
        /// Subject of the certificate whose key was expected to have signed it.
        issuer: String,
        /// Why the check failed: a wrong signature or an unsupported algorithm.
        reason: String,
    },

    /// The private key given for export belongs to another certificate.
    #[error(
        "the private key does not match the leaf certificate \"{subject}\": give the key that \
         belongs to this certificate"
    )]
    KeyMismatch {
        /// Subject of the leaf certificate.
        subject: String,
    },

    /// PKCS#12 export was called with an empty password.
    #[error("the PKCS#12 export password is empty: give a password to protect the key")]
    EmptyExportPassword,

    /// The PKCS#12 encoder failed.
    #[error("PKCS#12 export failed: {reason}")]
    Pkcs12ExportFailed {
        /// The encoder's error.
        reason: String,
    },

    /// A parser panicked on this input. [`import_batch`](crate::import_batch) turns such a
    /// panic into this error so that the other files of the batch still import.
    #[error("internal error while reading the file: {message}; report this file as a bug")]
    Internal {
        /// The panic message.
        message: String,
    },
}
