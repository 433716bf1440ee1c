//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use certitude_certfile::{CertificateFacts, Imported, SecretString, SubjectAltName};

/// Reads a file below `tests/fixtures`.
pub fn fixture(relative_path: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative_path);
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Imports a fixture without a password and panics with the error if it fails.
pub fn import_fixture(relative_path: &str) -> Imported {
    certitude_certfile::import(&fixture(relative_path), None)
        .unwrap_or_else(|error| panic!("importing {relative_path}: {error}"))
}

/// Imports a fixture with a password.
pub fn import_fixture_with_password(relative_path: &str, password: &str) -> Imported {
    let password = SecretString::from(password);
    certitude_certfile::import(&fixture(relative_path), Some(&password))
        .unwrap_or_else(|error| panic!("importing {relative_path}: {error}"))
}

/// Returns the DNS names of a certificate, as given.
pub fn dns_names(certificate: &CertificateFacts) -> Vec<String> {
    certificate
        .subject_alt_names
        .iter()
        .filter_map(|name| match name {
            SubjectAltName::Dns(dns) => Some(dns.as_given.clone()),
            _ => None,
        })
        .collect()
}

/// Parses an RFC 3339 timestamp such as `2018-11-16T01:15:03Z`.
pub fn utc(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

/// Returns the DER of every PEM `CERTIFICATE` block in a fixture, decoded with the `pem` crate.
pub fn fixture_certificates_der(relative_path: &str) -> Vec<Vec<u8>> {
    pem::parse_many(fixture(relative_path))
        .unwrap()
        .into_iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect()
}
