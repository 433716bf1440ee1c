//! Chain ordering and verification, PEM and PKCS#12 export round trips, and secret hygiene.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use certitude_certfile::{
    CertfileError, CertificateFacts, ExposeSecret, LinkStatus, PemPart, Pkcs12Encryption,
    PrivateKey, SecretString, export_key_pem, export_pem, export_pkcs12, import, order_chain,
};
use common::{fixture, import_fixture};

const LEAF_SERIAL: &str = "7F0102030405060708090A0B0C0D0E0F10111213";

fn generated(name: &str) -> CertificateFacts {
    import_fixture(&format!("generated/{name}.pem"))
        .certificates
        .remove(0)
}

fn leaf_key() -> PrivateKey {
    import_fixture("generated/leaf.key.pem").keys.remove(0)
}

fn serials(certificates: &[CertificateFacts]) -> Vec<&str> {
    certificates
        .iter()
        .map(|certificate| certificate.serial.as_str())
        .collect()
}

fn generated_chain() -> certitude_certfile::Chain {
    order_chain(vec![
        generated("root"),
        generated("leaf"),
        generated("intermediate"),
    ])
    .unwrap()
}

#[test]
fn order_chain_from_shuffled_set() {
    let unrelated = import_fixture("pem/cryptography.io.pem")
        .certificates
        .remove(0);
    let chain = order_chain(vec![
        generated("intermediate"),
        unrelated.clone(),
        generated("root"),
        generated("leaf"),
        generated("root"),
    ])
    .unwrap();
    assert_eq!(serials(chain.certificates()), [LEAF_SERIAL, "80", "1"]);
    // cryptography.io is a leaf too and comes first, but its issuer is missing, so the
    // generated leaf's longer chain wins. The duplicate root is dropped.
    assert_eq!(serials(chain.unrelated()), ["3F20"]);
    assert!(chain.ends_at_root());
    assert_eq!(chain.links().len(), 3);
    for (position, link) in chain.links().iter().enumerate() {
        assert_eq!(link.subject_position, position);
        assert_eq!(link.issuer_position, (position + 1).min(2));
        assert_eq!(link.status, LinkStatus::Verified, "link {position}");
    }
    chain.verify().unwrap();
    assert_eq!(serials(chain.intermediates()), ["80"]);
    assert_eq!(chain.root().map(|root| root.serial.as_str()), Some("1"));
}

#[test]
fn order_chain_of_empty_set_fails() {
    assert_eq!(
        order_chain(Vec::new()).unwrap_err(),
        CertfileError::EmptyChain
    );
}

/// Returns the certificate with the last byte of its signature flipped. The structure still
/// parses, but the signature no longer verifies.
fn with_broken_signature(certificate: &CertificateFacts) -> CertificateFacts {
    let mut der = certificate.der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    certitude_certfile::parse_certificate(&der).unwrap()
}

#[test]
fn verify_names_broken_leaf_link() {
    let leaf = with_broken_signature(&generated("leaf"));
    let chain = order_chain(vec![leaf, generated("intermediate"), generated("root")]).unwrap();
    assert_eq!(chain.certificates().len(), 3);
    assert_eq!(chain.links()[0].status, LinkStatus::SignatureInvalid);
    assert_eq!(chain.links()[1].status, LinkStatus::Verified);
    let error = chain.verify().unwrap_err();
    assert_eq!(
        error,
        CertfileError::ChainLinkBroken {
            position: 0,
            subject: "CN=leaf.certitude.test,O=Certitude Test,C=DE".to_owned(),
            issuer: "CN=Certitude Test Intermediate,O=Certitude Test,C=DE".to_owned(),
            reason: "signature invalid".to_owned(),
        }
    );
    assert!(
        error.to_string().starts_with("chain link 0 is broken"),
        "{error}"
    );
}

#[test]
fn verify_names_broken_intermediate_link() {
    let intermediate = with_broken_signature(&generated("intermediate"));
    let chain = order_chain(vec![generated("root"), intermediate, generated("leaf")]).unwrap();
    assert_eq!(serials(chain.certificates()), [LEAF_SERIAL, "80", "1"]);
    assert_eq!(chain.links()[0].status, LinkStatus::Verified);
    assert_eq!(chain.links()[1].status, LinkStatus::SignatureInvalid);
    assert!(matches!(
        chain.verify(),
        Err(CertfileError::ChainLinkBroken { position: 1, .. })
    ));
}

#[test]
fn chain_without_root_still_verifies() {
    let chain = order_chain(vec![generated("intermediate"), generated("leaf")]).unwrap();
    assert_eq!(serials(chain.certificates()), [LEAF_SERIAL, "80"]);
    assert!(!chain.ends_at_root());
    assert_eq!(chain.links().len(), 1);
    chain.verify().unwrap();
}

#[test]
fn export_pem_parts() {
    let chain = generated_chain();
    let cases = [
        (PemPart::Leaf, vec![LEAF_SERIAL]),
        (PemPart::Chain, vec!["80"]),
        (PemPart::FullChain, vec![LEAF_SERIAL, "80"]),
        (PemPart::FullChainWithRoot, vec![LEAF_SERIAL, "80", "1"]),
    ];
    for (part, expected) in cases {
        let text = export_pem(&chain, part);
        assert!(!text.contains('\r'), "{part:?}");
        assert_eq!(
            text.matches("-----BEGIN CERTIFICATE-----").count(),
            expected.len()
        );
        let imported = import(text.as_bytes(), None).unwrap();
        assert_eq!(serials(&imported.certificates), expected, "{part:?}");
    }
}

#[test]
fn export_pem_round_trip_keeps_der() {
    let chain = generated_chain();
    let imported = import(
        export_pem(&chain, PemPart::FullChainWithRoot).as_bytes(),
        None,
    )
    .unwrap();
    for (original, reimported) in chain.certificates().iter().zip(&imported.certificates) {
        assert_eq!(original.der, reimported.der);
        assert_eq!(original, reimported);
    }
}

#[test]
fn export_key_pem_round_trip() {
    let key = leaf_key();
    let text = export_key_pem(&key);
    assert!(
        text.expose_secret()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    let imported = import(text.expose_secret().as_bytes(), None).unwrap();
    assert_eq!(imported.keys.len(), 1);
    assert_eq!(
        imported.keys[0].pkcs8_der().expose_secret(),
        key.pkcs8_der().expose_secret()
    );
}

fn assert_pkcs12_round_trip(encryption: Pkcs12Encryption) -> Vec<u8> {
    let chain = generated_chain();
    let key = leaf_key();
    let password = SecretString::from("export password");
    let bytes = export_pkcs12(&chain, &key, &password, encryption).unwrap();

    let imported = import(&bytes, Some(&password)).unwrap();
    assert_eq!(imported.format, certitude_certfile::FileFormat::Pkcs12);
    assert_eq!(imported.keys.len(), 1);
    assert_eq!(
        imported.keys[0].pkcs8_der().expose_secret(),
        key.pkcs8_der().expose_secret()
    );
    let reordered = order_chain(imported.certificates).unwrap();
    assert_eq!(reordered.certificates().len(), chain.certificates().len());
    for (original, reimported) in chain.certificates().iter().zip(reordered.certificates()) {
        assert_eq!(original.der, reimported.der);
    }
    assert_eq!(
        import(&bytes, Some(&SecretString::from("other"))).unwrap_err(),
        CertfileError::WrongPkcs12Password
    );
    bytes
}

/// Runs `openssl pkcs12 -info` on the file and returns what it prints on stderr, where it
/// writes the algorithm lines.
fn openssl_pkcs12_info(bytes: &[u8], legacy: bool) -> String {
    let path = std::env::temp_dir().join(format!(
        "certfile-export-{}-{}.p12",
        std::process::id(),
        legacy
    ));
    std::fs::write(&path, bytes).unwrap();
    let mut command = Command::new("openssl");
    command
        .arg("pkcs12")
        .arg("-info")
        .arg("-noout")
        .arg("-in")
        .arg(&path)
        .arg("-passin")
        .arg("pass:export password");
    if legacy {
        command.arg("-legacy");
    }
    let output = command.output().expect("running openssl");
    std::fs::remove_file(&path).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "openssl failed: {stderr}");
    stderr
}

#[test]
fn export_pkcs12_aes256_round_trip() {
    let bytes = assert_pkcs12_round_trip(Pkcs12Encryption::default());
    let info = openssl_pkcs12_info(&bytes, false);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    assert!(info.contains("PRF hmacWithSHA256"), "{info}");
}

#[test]
fn export_pkcs12_legacy_3des_round_trip() {
    let bytes = assert_pkcs12_round_trip(Pkcs12Encryption::Legacy3Des);
    let info = openssl_pkcs12_info(&bytes, true);
    assert!(info.contains("MAC: sha1"), "{info}");
    assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
    assert!(!info.contains("RC2"), "{info}");
}

#[test]
fn export_pkcs12_legacy_rc2_round_trip() {
    let bytes = assert_pkcs12_round_trip(Pkcs12Encryption::LegacyRc2);
    let info = openssl_pkcs12_info(&bytes, true);
    assert!(info.contains("MAC: sha1"), "{info}");
    assert!(info.contains("pbeWithSHA1And40BitRC2-CBC"), "{info}");
}

#[test]
fn export_pkcs12_rejects_empty_password() {
    let error = export_pkcs12(
        &generated_chain(),
        &leaf_key(),
        &SecretString::from(""),
        Pkcs12Encryption::Aes256,
    )
    .unwrap_err();
    assert_eq!(error, CertfileError::EmptyExportPassword);
}

#[test]
fn export_pkcs12_rejects_foreign_key() {
    let rsa_key = import_fixture("generated/intermediate.key.pem")
        .keys
        .remove(0);
    let error = export_pkcs12(
        &generated_chain(),
        &rsa_key,
        &SecretString::from("export password"),
        Pkcs12Encryption::Aes256,
    )
    .unwrap_err();
    assert_eq!(
        error,
        CertfileError::KeyMismatch {
            subject: "CN=leaf.certitude.test,O=Certitude Test,C=DE".to_owned()
        }
    );
}

#[test]
fn debug_output_hides_key_bytes() {
    let key = leaf_key();
    let der_hex = hex_upper(key.pkcs8_der().expose_secret());
    let debug = format!("{key:?}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(!debug.to_uppercase().contains(&der_hex[..32]), "{debug}");

    let password = SecretString::from("certitude");
    let imported = import(&fixture("generated/leaf-chain-aes256.p12"), Some(&password)).unwrap();
    let debug = format!("{imported:?}");
    let key_hex = hex_upper(imported.keys[0].pkcs8_der().expose_secret());
    assert!(!debug.to_uppercase().contains(&key_hex[..32]), "{debug}");
    assert!(!debug.contains("certitude\""), "{debug}");
}

#[test]
fn errors_never_contain_password() {
    let password = "Sup3r-Secret-Passw0rd";
    let bytes = fixture("generated/leaf-chain-aes256.p12");
    let error = import(&bytes, Some(&SecretString::from(password))).unwrap_err();
    assert!(!error.to_string().contains(password));
    assert!(!format!("{error:?}").contains(password));

    let key_file = fixture("generated/leaf.pkcs8-encrypted.pem");
    let imported = import(&key_file, Some(&SecretString::from(password))).unwrap();
    let debug = format!("{imported:?}");
    assert!(!debug.contains(password), "{debug}");
    for warning in &imported.warnings {
        assert!(!warning.to_string().contains(password));
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}
