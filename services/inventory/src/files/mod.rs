//! Certificate files: importing PEM, DER, PKCS#7 and PKCS#12 files into the inventory, and
//! exporting a stored certificate as PEM or PKCS#12.
//!
//! Reading and writing the formats is `certitude-certfile`'s work. This module decides what
//! the inventory stores and records:
//!
//! - Every certificate of a file is stored with source `import` through
//!   [`Lifecycle::store`](crate::lifecycle::Lifecycle::store), as certificates of orders are,
//!   so the license, duplicates by SHA-256 fingerprint and the inventory's events apply alike.
//!   Its chain is the other certificates of the same file that issued it (see [`import`]).
//! - A private key is stored, sealed like a generated key, only when it matches a certificate
//!   of the same file, and it is linked to that certificate. A key that matches nothing is
//!   reported and dropped.
//! - Exporting a private key, alone or in PKCS#12, writes a `key_exports` audit row and an
//!   info log line naming the certificate, the key and the actor, never the key.

pub mod export;
pub mod import;
mod prepare;
mod store;

pub use export::{ExportError, ExportRequest, ExportedFile, Exporter, PemSelection};
pub use import::{
    FileImporter, FileReport, ImportError, ImportOutcome, ImportedCertificate, UploadedFile,
};

/// Maximum number of files in one import request.
pub const MAX_IMPORT_FILES: usize = 1_000;

/// Maximum file content in one import request, in bytes (64 MiB), summed over its files.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Maximum length of a file's name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// Maximum length of an import or export password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 1_024;

/// Returns the name of a detected file format as the API reports it.
pub fn format_name(format: certitude_certfile::FileFormat) -> &'static str {
    use certitude_certfile::FileFormat;
    match format {
        FileFormat::Pem => "pem",
        FileFormat::DerCertificate => "der",
        FileFormat::Pkcs7 => "pkcs7",
        FileFormat::Pkcs12 => "pkcs12",
        _ => "other",
    }
}
