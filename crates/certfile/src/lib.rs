//! Reading certificate files in every common format, and exporting PEM and PKCS#12 bundles.
//!
//! The crate has no I/O: every function takes bytes and returns values.
//!
//! - [`import`] reads one file: PEM (any number of certificates, keys and PKCS#7 blocks),
//!   a DER certificate, a PKCS#7 / CMS `SignedData` bundle in DER or BER, or PKCS#12. The
//!   format is detected from content ([`detect_format`]). [`import_batch`] reads many files
//!   with one result per file.
//! - [`parse_certificate`] turns one DER certificate into [`CertificateFacts`]: canonical
//!   serial, names, validity, subject alternative names, key type and size, signature
//!   algorithm and fingerprints.
//! - [`order_chain`] orders certificates into leaf → intermediates → root and checks each
//!   link's signature ([`Chain::verify`]).
//! - [`export_pem`], [`export_key_pem`] and [`export_pkcs12`] write bundles.
//!
//! Private keys are held in [`PrivateKey`], whose `Debug` output hides the key, and no error
//! message contains key bytes or passwords.
//!
//! ```
//! let pem = include_bytes!("../tests/fixtures/pem/cryptography.io.chain.pem");
//! let imported = certitude_certfile::import(pem, None)?;
//! let chain = certitude_certfile::order_chain(imported.certificates)?;
//! assert_eq!(chain.leaf().serial, "3F20");
//! chain.verify()?;
//! # Ok::<(), certitude_certfile::CertfileError>(())
//! ```

mod chain;
mod error;
mod export;
mod facts;
mod import;
mod key;
mod name;
mod pkcs12;
mod pkcs7;
mod san;

pub use chain::{Chain, ChainLink, LinkStatus, order_chain};
pub use error::CertfileError;
pub use export::{PemPart, export_key_pem, export_pem, export_pkcs12};
pub use facts::{
    CertificateFacts, KeyAlgorithm, SignatureAlgorithm, canonical_serial, parse_certificate,
};
pub use import::{
    FileFormat, ImportWarning, Imported, Location, detect_format, import, import_batch,
};
pub use key::{EncryptedKey, NotDecryptedReason, PrivateKey};
pub use name::{Name, NameAttribute};
pub use pkcs12::Pkcs12Encryption;
pub use san::{DnsName, SubjectAltName};
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
