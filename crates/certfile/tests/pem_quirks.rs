//! PEM and PKCS#7 inputs that real tools and people produce, built from fixture certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certitude_certfile::{
    CertfileError, FileFormat, ImportWarning, Location, NotDecryptedReason, SecretString,
    detect_format, import,
};
use common::{fixture, fixture_certificates_der};

/// Returns the two certificates of cryptography.io.chain.pem as PEM text with LF line ends.
fn chain_blocks() -> Vec<String> {
    fixture_certificates_der("pem/cryptography.io.chain.pem")
        .into_iter()
        .map(|der| {
            pem::encode_config(
                &pem::Pem::new("CERTIFICATE", der),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            )
        })
        .collect()
}

fn count_certificates(input: &[u8]) -> usize {
    import(input, None).unwrap().certificates.len()
}

#[test]
fn pem_with_utf8_byte_order_mark() {
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(chain_blocks().concat().as_bytes());
    assert_eq!(detect_format(&input), Some(FileFormat::Pem));
    assert_eq!(count_certificates(&input), 2);
}

#[test]
fn pem_with_crlf_line_ends() {
    let input = chain_blocks().concat().replace('\n', "\r\n");
    assert!(input.contains("\r\n"));
    assert_eq!(count_certificates(input.as_bytes()), 2);
}

#[test]
fn pem_with_legacy_x509_certificate_label() {
    let input = chain_blocks()
        .concat()
        .replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE")
        .replace("END CERTIFICATE", "END X509 CERTIFICATE");
    assert_eq!(input.matches("BEGIN X509 CERTIFICATE").count(), 2);
    assert_eq!(count_certificates(input.as_bytes()), 2);
}

#[test]
fn pem_with_text_around_blocks() {
    let blocks = chain_blocks();
    let input = format!(
        "Subject: www.cryptography.io\nIssuer: RapidSSL\n\n{}\nsome notes between\n- - -\n{}trailing \
         text without newline",
        blocks[0], blocks[1]
    );
    let imported = import(input.as_bytes(), None).unwrap();
    assert_eq!(imported.certificates.len(), 2);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn pem_with_end_and_begin_glued() {
    let blocks = chain_blocks();
    let input = format!(
        "{}{}{}",
        blocks[0].trim_end(),
        blocks[1].trim_end(),
        blocks[0]
    );
    assert!(input.contains("-----END CERTIFICATE----------BEGIN CERTIFICATE-----"));
    assert_eq!(count_certificates(input.as_bytes()), 3);
}

#[test]
fn pem_with_encrypted_keys_beside_certificate() {
    let legacy_key_block = {
        let text = String::from_utf8(fixture("pem/cryptography.io.with_headers.pem")).unwrap();
        let start = text.find("-----BEGIN RSA PRIVATE KEY-----").unwrap();
        text[start..].to_owned()
    };
    let pkcs8_block = String::from_utf8(fixture("generated/leaf.pkcs8-encrypted.pem")).unwrap();
    let leaf = String::from_utf8(fixture("generated/leaf.pem")).unwrap();
    let input = format!("{leaf}{pkcs8_block}{legacy_key_block}");

    let without_password = import(input.as_bytes(), None).unwrap();
    assert_eq!(without_password.certificates.len(), 1);
    assert!(without_password.keys.is_empty());
    assert_eq!(without_password.encrypted_keys.len(), 2);
    assert_eq!(
        without_password.encrypted_keys[0].reason,
        NotDecryptedReason::PasswordMissing
    );
    assert_eq!(
        without_password.encrypted_keys[0].location,
        Location::PemBlock { block: 2 }
    );
    assert!(matches!(
        without_password.encrypted_keys[1].reason,
        NotDecryptedReason::UnsupportedEncryption { .. }
    ));

    let password = SecretString::from("certitude");
    let with_password = import(input.as_bytes(), Some(&password)).unwrap();
    assert_eq!(with_password.certificates.len(), 1);
    assert_eq!(with_password.keys.len(), 1);
    assert_eq!(
        with_password.keys[0].matches_certificate(&with_password.certificates[0]),
        Some(true)
    );
    assert_eq!(with_password.encrypted_keys.len(), 1);
}

#[test]
fn pem_with_every_quirk_at_once() {
    let blocks = chain_blocks();
    let legacy = blocks[1]
        .replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE")
        .replace("END CERTIFICATE", "END X509 CERTIFICATE");
    let text = format!(
        "exported by a tool\n{}{}\nend of file\n",
        blocks[0].trim_end(),
        legacy
    )
    .replace('\n', "\r\n");
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(text.as_bytes());
    assert_eq!(count_certificates(&input), 2);
}

#[test]
fn pem_broken_block_does_not_hide_next() {
    let blocks = chain_blocks();
    let input = format!(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n{}",
        blocks[0]
    );
    let imported = import(input.as_bytes(), None).unwrap();
    assert_eq!(imported.certificates.len(), 1);
    assert!(
        matches!(
            imported.warnings.as_slice(),
            [ImportWarning::InvalidPemBlock { block: 1, .. }]
        ),
        "{:?}",
        imported.warnings
    );
}

#[test]
fn pem_begin_without_end_then_valid_block() {
    let blocks = chain_blocks();
    let input = format!("-----BEGIN CERTIFICATE-----\nMIIB\n{}", blocks[1]);
    let imported = import(input.as_bytes(), None).unwrap();
    assert_eq!(imported.certificates.len(), 1);
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
}

#[test]
fn pem_only_unsupported_blocks_is_error() {
    let input = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
    let error = import(input.as_bytes(), None).unwrap_err();
    let CertfileError::NoUsablePemBlock { details } = &error else {
        panic!("expected NoUsablePemBlock, got {error:?}");
    };
    assert!(details.contains("CERTIFICATE REQUEST"), "{details}");
}

#[test]
fn plain_text_is_not_certificate_file() {
    let error = import(b"hello, this is not a certificate", None).unwrap_err();
    assert_eq!(error, CertfileError::NotACertificateFile);
    assert_eq!(
        error.to_string(),
        "not a certificate file: no PEM block, DER certificate, PKCS#7 or PKCS#12 found"
    );
}

/// Encodes a constructed element with an indefinite length: tag, 0x80, content, end-of-content.
fn indefinite(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut encoded = vec![tag, 0x80];
    for part in parts {
        encoded.extend_from_slice(part);
    }
    encoded.extend_from_slice(&[0x00, 0x00]);
    encoded
}

/// Encodes a certs-only `SignedData` in BER, with indefinite lengths on every constructed
/// element that the DER form would wrap around the certificates.
fn certs_only_ber(certificates: &[Vec<u8>]) -> Vec<u8> {
    const SIGNED_DATA_OID: &[u8] = &[
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
    ];
    const DATA_OID: &[u8] = &[
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01,
    ];
    const VERSION_1: &[u8] = &[0x02, 0x01, 0x01];
    const EMPTY_SET: &[u8] = &[0x31, 0x00];
    let certificate_parts: Vec<&[u8]> = certificates.iter().map(Vec::as_slice).collect();
    let certificate_set = indefinite(0xA0, &certificate_parts);
    let encap_content_info = indefinite(0x30, &[DATA_OID]);
    let signed_data = indefinite(
        0x30,
        &[
            VERSION_1,
            EMPTY_SET,
            &encap_content_info,
            &certificate_set,
            EMPTY_SET,
        ],
    );
    let content = indefinite(0xA0, &[&signed_data]);
    indefinite(0x30, &[SIGNED_DATA_OID, &content])
}

#[test]
fn pkcs7_ber_indefinite_certs_only() {
    let certificates = fixture_certificates_der("pem/cryptography.io.chain.pem");
    let input = certs_only_ber(&certificates);
    assert_eq!(detect_format(&input), Some(FileFormat::Pkcs7));
    let imported = import(&input, None).unwrap();
    assert_eq!(imported.format, FileFormat::Pkcs7);
    assert_eq!(imported.certificates.len(), 2);
    assert_eq!(imported.certificates[0].der, certificates[0]);
    assert_eq!(imported.certificates[1].der, certificates[1]);
}

#[test]
fn pkcs7_ber_in_pem_block() {
    let certificates = fixture_certificates_der("pem/cryptography.io.chain.pem");
    let input = pem::encode(&pem::Pem::new("PKCS7", certs_only_ber(&certificates)));
    let imported = import(input.as_bytes(), None).unwrap();
    assert_eq!(imported.certificates.len(), 2);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn pkcs7_truncated_is_invalid() {
    let bytes = fixture("generated/chain-certs-only.p7b");
    let truncated = &bytes[..bytes.len() / 2];
    match import(truncated, None) {
        Err(CertfileError::InvalidPkcs7 { .. }) | Err(CertfileError::NotACertificateFile) => {}
        other => panic!("expected an error for a truncated bundle, got {other:?}"),
    }
}
