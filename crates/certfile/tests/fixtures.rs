//! One test per fixture file, asserting the values that `tests/fixtures/README.md` lists and
//! that `openssl x509` (OpenSSL 3.0) prints for the same file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;

use certitude_certfile::{
    CertfileError, FileFormat, KeyAlgorithm, LinkStatus, Location, NotDecryptedReason,
    SubjectAltName, detect_format, import, import_batch, order_chain, parse_certificate,
};
use common::{dns_names, fixture, import_fixture, import_fixture_with_password, utc};

const CRYPTOGRAPHY_IO_SHA256: &str =
    "DC4F4D1400D4526052B5DA693394DC8560B29CC21DF90B9E2EC7416261C73888";
const RAPIDSSL_SHA256: &str = "BC3F03A436240EDBA5F83714F6F677E34B37F9B1F0C08C1E558D981E279E8209";

/// Asserts the facts of the cryptography.io leaf, which several PEM fixtures contain.
fn assert_cryptography_io_leaf(certificate: &certitude_certfile::CertificateFacts) {
    assert_eq!(certificate.serial, "3F20");
    assert_eq!(certificate.version, 3);
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=www.cryptography.io,OU=Domain Control Validated - RapidSSL(R),\
         OU=See www.rapidssl.com/resources/cps (c)14,OU=GT48742965"
    );
    assert_eq!(
        certificate.issuer.rfc4514,
        "CN=RapidSSL SHA256 CA - G3,O=GeoTrust Inc.,C=US"
    );
    assert_eq!(certificate.not_before, utc("2014-10-15T12:09:32Z"));
    assert_eq!(certificate.not_after, utc("2018-11-16T01:15:03Z"));
    assert_eq!(
        dns_names(certificate),
        ["www.cryptography.io", "cryptography.io"]
    );
    assert_eq!(certificate.public_key, KeyAlgorithm::Rsa { bits: 4096 });
    assert_eq!(
        certificate.signature_algorithm.name,
        "sha256WithRSAEncryption"
    );
    assert_eq!(certificate.signature_algorithm.oid, "1.2.840.113549.1.1.11");
    assert_eq!(certificate.sha256_fingerprint, CRYPTOGRAPHY_IO_SHA256);
    assert_eq!(
        certificate.sha1_fingerprint,
        "973CEBA25EF865F9D802B0E727555B9C4FC65188"
    );
    assert!(!certificate.is_ca);
}

fn assert_rapidssl_intermediate(certificate: &certitude_certfile::CertificateFacts) {
    assert_eq!(certificate.serial, "23A77");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=RapidSSL SHA256 CA - G3,O=GeoTrust Inc.,C=US"
    );
    assert_eq!(
        certificate.issuer.rfc4514,
        "CN=GeoTrust Global CA,O=GeoTrust Inc.,C=US"
    );
    assert_eq!(certificate.not_after, utc("2022-05-20T21:39:32Z"));
    assert_eq!(certificate.public_key, KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(certificate.sha256_fingerprint, RAPIDSSL_SHA256);
    assert_eq!(
        certificate.sha1_fingerprint,
        "0E34141846E7423D37F20DC0AB06C9BBD843DC24"
    );
    assert!(certificate.is_ca);
    assert!(certificate.subject_alt_names.is_empty());
}

#[test]
fn pem_cryptography_io_plain_leaf() {
    let imported = import_fixture("pem/cryptography.io.pem");
    assert_eq!(imported.format, FileFormat::Pem);
    assert_eq!(imported.certificates.len(), 1);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    assert_cryptography_io_leaf(&imported.certificates[0]);
}

#[test]
fn pem_cryptography_io_chain_leaf_first_and_verified() {
    let imported = import_fixture("pem/cryptography.io.chain.pem");
    assert_eq!(imported.certificates.len(), 2);
    assert_cryptography_io_leaf(&imported.certificates[0]);
    assert_rapidssl_intermediate(&imported.certificates[1]);

    let chain = order_chain(imported.certificates).unwrap();
    assert_eq!(chain.certificates().len(), 2);
    assert_eq!(chain.leaf().sha256_fingerprint, CRYPTOGRAPHY_IO_SHA256);
    assert_eq!(chain.links().len(), 1);
    assert_eq!(chain.links()[0].status, LinkStatus::Verified);
    assert!(!chain.ends_at_root());
    chain.verify().unwrap();
}

#[test]
fn pem_chain_with_garbage_ignores_text() {
    let imported = import_fixture("pem/cryptography.io.chain_with_garbage.pem");
    assert_eq!(imported.certificates.len(), 2);
    assert_cryptography_io_leaf(&imported.certificates[0]);
    assert_rapidssl_intermediate(&imported.certificates[1]);
    // The file ends with a PRIVATE KEY block that holds a URL, not a key.
    assert!(imported.keys.is_empty());
    assert_eq!(imported.warnings.len(), 1);
    assert!(
        matches!(
            imported.warnings[0],
            certitude_certfile::ImportWarning::InvalidPrivateKey {
                location: Location::PemBlock { block: 3 },
                ..
            }
        ),
        "{:?}",
        imported.warnings
    );
}

#[test]
fn pem_with_headers_reports_encrypted_key() {
    let imported = import_fixture("pem/cryptography.io.with_headers.pem");
    assert_eq!(imported.certificates.len(), 1);
    assert_cryptography_io_leaf(&imported.certificates[0]);
    assert!(imported.keys.is_empty());
    assert_eq!(imported.encrypted_keys.len(), 1);
    let key = &imported.encrypted_keys[0];
    assert_eq!(key.location, Location::PemBlock { block: 2 });
    assert_eq!(key.encryption, "AES-256-CBC");
    assert!(matches!(
        key.reason,
        NotDecryptedReason::UnsupportedEncryption { .. }
    ));
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn pem_old_header_x509_certificate_label() {
    let imported = import_fixture("pem/cryptography.io.old_header.pem");
    assert_eq!(imported.certificates.len(), 1);
    assert_cryptography_io_leaf(&imported.certificates[0]);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn pem_letsencrypt_x3_intermediate() {
    let imported = import_fixture("pem/letsencryptx3.pem");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "A0141420000015385736A0B85ECA708");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=Let's Encrypt Authority X3,O=Let's Encrypt,C=US"
    );
    assert_eq!(
        certificate.subject.common_name(),
        Some("Let's Encrypt Authority X3")
    );
    assert_eq!(
        certificate.issuer.rfc4514,
        "CN=DST Root CA X3,O=Digital Signature Trust Co."
    );
    assert_eq!(certificate.not_before, utc("2016-03-17T16:40:46Z"));
    assert_eq!(certificate.not_after, utc("2021-03-17T16:40:46Z"));
    assert!(certificate.subject_alt_names.is_empty());
    assert_eq!(certificate.public_key, KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(
        certificate.sha256_fingerprint,
        "25847D668EB4F04FDD40B12B6B0740C567DA7D024308EB6C2C96FE41D9DE218D"
    );
    assert_eq!(
        certificate.sha1_fingerprint,
        "E6A3B45B062D509B3382282D196EFE97D5956CCB"
    );
    assert!(certificate.is_ca);
}

#[test]
fn pem_rapidssl_intermediate_serial_without_leading_zero() {
    let imported = import_fixture("pem/rapidssl_sha256_ca_g3.pem");
    assert_eq!(imported.certificates.len(), 1);
    assert_rapidssl_intermediate(&imported.certificates[0]);
}

#[test]
fn pem_utf8_dnsname_keeps_raw_names() {
    let imported = import_fixture("pem/utf8-dnsname.pem");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "49DD0FE61975CD24A909B00D417A");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=partner.biztositas.hu,O=Biztosítás.hu Kft.,L=Budapest,C=HU"
    );
    assert_eq!(
        certificate.subject.values("O").collect::<Vec<_>>(),
        ["Biztosítás.hu Kft."]
    );
    assert_eq!(
        certificate.issuer.rfc4514,
        "CN=NetLock Üzleti (Class B) Tanúsítványkiadó,\
         OU=Tanúsítványkiadók (Certification Services),O=NetLock Kft.,L=Budapest,C=HU"
    );
    assert_eq!(certificate.not_after, utc("2017-12-14T15:21:45Z"));
    assert_eq!(
        certificate.sha256_fingerprint,
        "FC3E3AA421D375ABE01E6B68132CC096EE662419EA8084CC8EFC4A949957D68E"
    );

    let expected = [
        // (as given, ASCII form, Unicode form, non-ASCII bytes in the certificate)
        (
            "partner.biztositas.hu",
            "partner.biztositas.hu",
            "partner.biztositas.hu",
            false,
        ),
        ("biztositas.hu", "biztositas.hu", "biztositas.hu", false),
        (
            "*.biztositas.hu",
            "*.biztositas.hu",
            "*.biztositas.hu",
            false,
        ),
        (
            "biztosítás.hu",
            "xn--biztosts-fza2j.hu",
            "biztosítás.hu",
            true,
        ),
        (
            "*.biztosítás.hu",
            "*.xn--biztosts-fza2j.hu",
            "*.biztosítás.hu",
            true,
        ),
        (
            "xn--biztosts-fza2j.hu",
            "xn--biztosts-fza2j.hu",
            "biztosítás.hu",
            false,
        ),
        (
            "*.xn--biztosts-fza2j.hu",
            "*.xn--biztosts-fza2j.hu",
            "*.biztosítás.hu",
            false,
        ),
    ];
    assert_eq!(certificate.subject_alt_names.len(), expected.len());
    for (name, (as_given, ascii, unicode, non_ascii)) in
        certificate.subject_alt_names.iter().zip(expected)
    {
        let SubjectAltName::Dns(dns) = name else {
            panic!("expected a DNS name, got {name:?}");
        };
        assert_eq!(dns.as_given, as_given);
        assert_eq!(dns.ascii.as_deref(), Some(ascii), "{as_given}");
        assert_eq!(dns.unicode.as_deref(), Some(unicode), "{as_given}");
        assert_eq!(dns.non_ascii, non_ascii, "{as_given}");
    }
}

#[test]
fn pem_v1_cert_without_extensions() {
    let imported = import_fixture("pem/v1_cert.pem");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.version, 1);
    assert_eq!(certificate.serial, "18");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=SSLeay/rsa test cert,ST=QLD,C=AU"
    );
    assert_eq!(certificate.not_before, utc("1995-06-19T23:33:12Z"));
    assert_eq!(certificate.not_after, utc("1995-07-17T23:33:12Z"));
    assert!(certificate.subject_alt_names.is_empty());
    assert_eq!(certificate.public_key, KeyAlgorithm::Rsa { bits: 512 });
    assert_eq!(certificate.signature_algorithm.name, "md5");
    assert_eq!(certificate.signature_algorithm.oid, "1.2.840.113549.2.5");
    assert_eq!(
        certificate.sha256_fingerprint,
        "5B7C4E9F7E70162FCC12A8D2416DAE351273979F0ED0C97D0FF126FD73A7EE66"
    );
    assert_eq!(certificate.subject_key_id, None);
}

#[test]
fn pem_badasn1time_rejected_naming_time() {
    let error = import(&fixture("pem/badasn1time.pem"), None).unwrap_err();
    let CertfileError::InvalidCertificate { location, reason } = &error else {
        panic!("expected InvalidCertificate, got {error:?}");
    };
    assert_eq!(location, "PEM block 1");
    assert!(
        reason.contains("notAfter is not a valid UTCTime: \"19020701025736Z\""),
        "{reason}"
    );
}

#[test]
fn batch_keeps_good_files_beside_badasn1time() {
    let inputs = [
        fixture("pem/cryptography.io.pem"),
        fixture("pem/badasn1time.pem"),
        fixture("der/alternate-rsa-sha1-oid.der"),
        b"not a certificate".to_vec(),
        Vec::new(),
    ];
    let results = import_batch(&inputs, None);
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap().certificates.len(), 1);
    assert!(matches!(
        results[1],
        Err(CertfileError::InvalidCertificate { .. })
    ));
    assert_eq!(results[2].as_ref().unwrap().certificates.len(), 1);
    assert_eq!(
        results[3].as_ref().unwrap_err(),
        &CertfileError::NotACertificateFile
    );
    assert_eq!(results[4].as_ref().unwrap_err(), &CertfileError::EmptyInput);
}

#[test]
fn pem_invalid_utf8_common_name_shown_lossily() {
    let imported = import_fixture("pem/invalid_utf8_common_name.pem");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "DF0929DA94B061BA");
    let common_name = &certificate.subject.attributes[0];
    assert_eq!(common_name.short_name, "CN");
    assert_eq!(common_name.value, "We heart UTF8!\u{FFFD}");
    assert_eq!(common_name.value_type, "UTF8String");
    assert!(common_name.lossy);
    assert_eq!(certificate.subject.rfc4514, "CN=We heart UTF8!\u{FFFD}");
}

#[test]
fn der_generalized_time_not_after() {
    let bytes = fixture("der/ValidGeneralizedTimenotAfterDateTest8EE.crt");
    assert_eq!(detect_format(&bytes), Some(FileFormat::DerCertificate));
    let imported = import(&bytes, None).unwrap();
    assert_eq!(imported.format, FileFormat::DerCertificate);
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "8");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=Valid GeneralizedTime notAfter Date EE Certificate Test8,\
         O=Test Certificates 2011,C=US"
    );
    assert_eq!(certificate.not_before, utc("2010-01-01T08:30:00Z"));
    assert_eq!(certificate.not_after, utc("2050-01-01T12:01:00Z"));
    assert_eq!(
        certificate.sha256_fingerprint,
        "343EA986F7526C1007E5749998D34EAE6FD02AD790068602EB83EA9FA7ABFE3E"
    );
    assert_eq!(*certificate, parse_certificate(&bytes).unwrap());
}

#[test]
fn der_alternate_rsa_sha1_oid() {
    let imported = import_fixture("der/alternate-rsa-sha1-oid.der");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "8F6778855133D0BD4360556103D0B10B");
    assert_eq!(certificate.subject.rfc4514, "CN=VPS1");
    assert_eq!(certificate.not_after, utc("2008-08-17T09:28:53Z"));
    assert_eq!(certificate.signature_algorithm.oid, "1.3.14.3.2.29");
    assert_eq!(certificate.public_key, KeyAlgorithm::Rsa { bits: 1024 });
    assert_eq!(
        certificate.sha256_fingerprint,
        "079C84A0A8CBA6EAD60108F52FADDDA5088C930DDE6E10D4B27EE68D94060C44"
    );
    // The file's self-signature was not made over these bytes; `openssl verify
    // -check_ss_sig` rejects it too.
    let chain = order_chain(imported.certificates).unwrap();
    assert_eq!(chain.links()[0].status, LinkStatus::SignatureInvalid);
    assert!(matches!(
        chain.verify(),
        Err(CertfileError::ChainLinkBroken { position: 0, .. })
    ));
}

fn assert_cryptography_ca(imported: &certitude_certfile::Imported) {
    assert_eq!(imported.format, FileFormat::Pkcs12);
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.subject.common_name(), Some("cryptography CA"));
    assert_eq!(certificate.serial, "309");
    assert_eq!(certificate.not_after, utc("2038-12-31T08:30:00Z"));
    assert_eq!(
        certificate.sha256_fingerprint,
        "432DB726D36F427F569A5F90B0043C38717ABD7D48F42214A93F948350D0529E"
    );
    assert_eq!(imported.keys.len(), 1);
    let ec_p256 = KeyAlgorithm::Ec {
        curve: "P-256".to_owned(),
        bits: 256,
    };
    assert_eq!(imported.keys[0].algorithm(), &ec_p256);
    assert_eq!(certificate.public_key, ec_p256);
    assert_eq!(
        imported.keys[0].matches_certificate(certificate),
        Some(true)
    );
}

#[test]
fn pkcs12_legacy_rc2_and_3des() {
    let imported = import_fixture_with_password("pkcs12/cert-rc2-key-3des.p12", "cryptography");
    assert_cryptography_ca(&imported);
}

#[test]
fn pkcs12_pbes2_aes256() {
    let imported = import_fixture_with_password("pkcs12/cert-key-aes256cbc.p12", "cryptography");
    assert_cryptography_ca(&imported);
}

#[test]
fn pkcs12_wrong_and_missing_password() {
    let bytes = fixture("pkcs12/cert-key-aes256cbc.p12");
    let wrong = certitude_certfile::SecretString::from("not-the-password");
    assert_eq!(
        import(&bytes, Some(&wrong)).unwrap_err(),
        CertfileError::WrongPkcs12Password
    );
    assert_eq!(
        import(&bytes, None).unwrap_err(),
        CertfileError::Pkcs12PasswordRequired
    );
}

#[test]
fn pkcs12_java_truststore_empty_password_sha256_mac() {
    let imported = import_fixture("pkcs12/java-truststore.p12");
    assert_eq!(imported.format, FileFormat::Pkcs12);
    assert_eq!(imported.certificates.len(), 2);
    assert!(imported.keys.is_empty());
    let serials: Vec<&str> = imported
        .certificates
        .iter()
        .map(|certificate| certificate.serial.as_str())
        .collect();
    assert_eq!(
        serials,
        ["A37352E0B2142F86", "A0141420000015385736A0B85ECA708"]
    );
    assert_eq!(
        imported.certificates[0].public_key,
        KeyAlgorithm::Dsa { bits: 2048 }
    );
    assert_eq!(
        imported.certificates[0].subject.rfc4514,
        "CN=PyCA DSA CA,O=Internet Widgits Pty Ltd,L=Austin,ST=Texas,C=US"
    );
}

// Files made with tests/fixtures/generated/make.sh.

const LEAF_SERIAL: &str = "7F0102030405060708090A0B0C0D0E0F10111213";

fn assert_generated_leaf(certificate: &certitude_certfile::CertificateFacts) {
    assert_eq!(certificate.serial, LEAF_SERIAL);
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=leaf.certitude.test,O=Certitude Test,C=DE"
    );
    assert_eq!(
        certificate.issuer.rfc4514,
        "CN=Certitude Test Intermediate,O=Certitude Test,C=DE"
    );
    assert_eq!(
        certificate.public_key,
        KeyAlgorithm::Ec {
            curve: "P-256".to_owned(),
            bits: 256
        }
    );
    assert_eq!(
        certificate.signature_algorithm.name,
        "sha256WithRSAEncryption"
    );
}

#[test]
fn generated_leaf_every_san_type() {
    let imported = import_fixture("generated/leaf.pem");
    assert_eq!(imported.certificates.len(), 1);
    let certificate = &imported.certificates[0];
    assert_generated_leaf(certificate);
    let names = &certificate.subject_alt_names;
    assert_eq!(names.len(), 6);

    let SubjectAltName::Dns(plain) = &names[0] else {
        panic!("{:?}", names[0]);
    };
    assert_eq!(plain.as_given, "leaf.certitude.test");
    let SubjectAltName::Dns(idn) = &names[1] else {
        panic!("{:?}", names[1]);
    };
    assert_eq!(idn.as_given, "xn--mnchen-3ya.certitude.test");
    assert_eq!(idn.unicode.as_deref(), Some("münchen.certitude.test"));
    assert!(!idn.non_ascii);
    assert_eq!(
        names[2],
        SubjectAltName::IpAddress("192.0.2.10".parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        names[3],
        SubjectAltName::IpAddress("2001:db8::10".parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        names[4],
        SubjectAltName::Email("admin@certitude.test".to_owned())
    );
    assert_eq!(
        names[5],
        SubjectAltName::Uri("https://leaf.certitude.test/path".to_owned())
    );
}

#[test]
fn generated_root_generalized_time_and_serial() {
    let imported = import_fixture("generated/root.pem");
    let root = &imported.certificates[0];
    assert_eq!(root.serial, "1");
    assert!(root.self_issued);
    assert!(root.is_ca);
    // make.sh gives the root 36,500 days, so notAfter lies after 2049 and is a GeneralizedTime.
    assert!(root.not_after.year() > 2100, "{}", root.not_after);
}

#[test]
fn generated_intermediate_serial_with_sign_byte() {
    let imported = import_fixture("generated/intermediate.pem");
    let intermediate = &imported.certificates[0];
    // DER encodes 0x80 as 02 02 00 80; the sign byte is not part of the canonical serial.
    assert_eq!(intermediate.serial, "80");
    assert_eq!(intermediate.public_key, KeyAlgorithm::Rsa { bits: 2048 });
}

#[test]
fn generated_name_string_types_decoded() {
    let imported = import_fixture("generated/name-string-types.pem");
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "100");
    assert_eq!(
        certificate.subject.rfc4514,
        "CN=strings.certitude.test,OU=東京,O=Zürich Bank,C=JP"
    );
    let types: Vec<(&str, &str, &str)> = certificate
        .subject
        .attributes
        .iter()
        .map(|attribute| {
            (
                attribute.short_name.as_str(),
                attribute.value.as_str(),
                attribute.value_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("C", "JP", "PrintableString"),
            ("O", "Zürich Bank", "T61String"),
            ("OU", "東京", "BMPString"),
            ("CN", "strings.certitude.test", "PrintableString"),
        ]
    );
    assert!(
        certificate
            .subject
            .attributes
            .iter()
            .all(|attribute| !attribute.lossy)
    );
}

#[test]
fn generated_ed25519_certificate_and_key() {
    let imported = import_fixture("generated/ed25519.pem");
    let certificate = &imported.certificates[0];
    assert_eq!(certificate.serial, "25519");
    assert_eq!(certificate.public_key, KeyAlgorithm::Ed25519);
    assert_eq!(certificate.signature_algorithm.name, "ed25519");
    assert_eq!(certificate.signature_algorithm.oid, "1.3.101.112");
    let chain = order_chain(imported.certificates.clone()).unwrap();
    assert_eq!(chain.links()[0].status, LinkStatus::Verified);

    let key = import_fixture("generated/ed25519.key.pem").keys.remove(0);
    assert_eq!(key.algorithm(), &KeyAlgorithm::Ed25519);
    assert_eq!(key.matches_certificate(certificate), Some(true));
    let other = import_fixture("generated/leaf.pem").certificates.remove(0);
    assert_eq!(key.matches_certificate(&other), Some(false));
}

#[test]
fn entrust_root_t61string_organizational_unit() {
    let path = format!("{MOZILLA_ROOTS}/Entrust.net_Premium_2048_Secure_Server_CA.crt");
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let certificate = import(&bytes, None).unwrap().certificates.remove(0);
    let unit = certificate
        .subject
        .attributes
        .iter()
        .find(|attribute| attribute.value_type == "T61String")
        .expect("a T61String attribute");
    assert_eq!(unit.short_name, "OU");
    assert_eq!(
        unit.value,
        "www.entrust.net/CPS_2048 incorp. by ref. (limits liab.)"
    );
    assert_eq!(
        certificate.subject.common_name(),
        Some("Entrust.net Certification Authority (2048)")
    );
}

#[test]
fn generated_pkcs12_openssl3_defaults_with_chain() {
    let imported = import_fixture_with_password("generated/leaf-chain-aes256.p12", "certitude");
    assert_eq!(imported.format, FileFormat::Pkcs12);
    assert_eq!(imported.certificates.len(), 3);
    assert_eq!(imported.keys.len(), 1);
    let chain = order_chain(imported.certificates).unwrap();
    assert_generated_leaf(chain.leaf());
    assert_eq!(chain.certificates()[1].serial, "80");
    assert_eq!(chain.certificates()[2].serial, "1");
    assert!(chain.ends_at_root());
    chain.verify().unwrap();
    assert_eq!(
        imported.keys[0].matches_certificate(chain.leaf()),
        Some(true)
    );
}

#[test]
fn generated_pkcs12_empty_password_with_key() {
    let imported = import_fixture("generated/leaf-empty-password.p12");
    assert_eq!(imported.certificates.len(), 1);
    assert_generated_leaf(&imported.certificates[0]);
    assert_eq!(imported.keys.len(), 1);
    assert_eq!(
        imported.keys[0].matches_certificate(&imported.certificates[0]),
        Some(true)
    );
}

#[test]
fn generated_pkcs12_3des_everywhere() {
    let imported = import_fixture_with_password("generated/leaf-3des.p12", "certitude");
    assert_eq!(imported.certificates.len(), 1);
    assert_generated_leaf(&imported.certificates[0]);
    assert_eq!(imported.keys.len(), 1);
}

#[test]
fn generated_pkcs7_der_certs_only() {
    let bytes = fixture("generated/chain-certs-only.p7b");
    assert_eq!(detect_format(&bytes), Some(FileFormat::Pkcs7));
    let imported = import(&bytes, None).unwrap();
    assert_eq!(imported.format, FileFormat::Pkcs7);
    let serials: Vec<&str> = imported
        .certificates
        .iter()
        .map(|certificate| certificate.serial.as_str())
        .collect();
    // make.sh writes the root first and the leaf last; order_chain turns it around.
    assert_eq!(serials, ["1", "80", LEAF_SERIAL]);
    let chain = order_chain(imported.certificates).unwrap();
    assert_generated_leaf(chain.leaf());
    chain.verify().unwrap();
}

#[test]
fn generated_pkcs7_pem_block() {
    let imported = import_fixture("generated/chain-certs-only.p7c.pem");
    assert_eq!(imported.format, FileFormat::Pem);
    assert_eq!(imported.certificates.len(), 3);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn generated_cms_streaming_ber_indefinite_lengths() {
    let bytes = fixture("generated/signed-streaming-ber.p7m");
    // 30 80: a SEQUENCE with indefinite length, which DER forbids.
    assert_eq!(&bytes[..2], &[0x30, 0x80]);
    let imported = import(&bytes, None).unwrap();
    assert_eq!(imported.format, FileFormat::Pkcs7);
    let serials: Vec<&str> = imported
        .certificates
        .iter()
        .map(|certificate| certificate.serial.as_str())
        .collect();
    assert_eq!(serials.len(), 2);
    assert!(serials.contains(&LEAF_SERIAL), "{serials:?}");
    assert!(serials.contains(&"80"), "{serials:?}");
}

#[test]
fn generated_keys_in_pkcs1_sec1_and_pkcs8() {
    let rsa = import_fixture("generated/intermediate.key.pem");
    assert_eq!(rsa.keys.len(), 1);
    assert_eq!(rsa.keys[0].algorithm(), &KeyAlgorithm::Rsa { bits: 2048 });
    let intermediate = import_fixture("generated/intermediate.pem");
    assert_eq!(
        rsa.keys[0].matches_certificate(&intermediate.certificates[0]),
        Some(true)
    );

    let leaf = import_fixture("generated/leaf.pem");
    for path in ["generated/leaf.key.pem", "generated/leaf.pkcs8.pem"] {
        let imported = import_fixture(path);
        assert_eq!(imported.keys.len(), 1, "{path}");
        assert_eq!(
            imported.keys[0].matches_certificate(&leaf.certificates[0]),
            Some(true),
            "{path}"
        );
        assert_eq!(
            imported.keys[0].matches_certificate(&intermediate.certificates[0]),
            Some(false),
            "{path}"
        );
    }
}

#[test]
fn generated_encrypted_pkcs8_key() {
    let without_password = import_fixture("generated/leaf.pkcs8-encrypted.pem");
    assert!(without_password.keys.is_empty());
    assert_eq!(without_password.encrypted_keys.len(), 1);
    assert_eq!(
        without_password.encrypted_keys[0].reason,
        NotDecryptedReason::PasswordMissing
    );
    assert_eq!(
        without_password.encrypted_keys[0].encryption,
        "PBES2 with AES-256-CBC"
    );

    let wrong = import_fixture_with_password("generated/leaf.pkcs8-encrypted.pem", "wrong");
    assert!(wrong.keys.is_empty());
    assert_eq!(
        wrong.encrypted_keys[0].reason,
        NotDecryptedReason::WrongPassword
    );

    let decrypted = import_fixture_with_password("generated/leaf.pkcs8-encrypted.pem", "certitude");
    assert!(decrypted.encrypted_keys.is_empty());
    assert_eq!(decrypted.keys.len(), 1);
    let leaf = import_fixture("generated/leaf.pem");
    assert_eq!(
        decrypted.keys[0].matches_certificate(&leaf.certificates[0]),
        Some(true)
    );
}

/// Debian's ca-certificates package installs Mozilla's roots here, one certificate per file.
const MOZILLA_ROOTS: &str = "/usr/share/ca-certificates/mozilla";

#[test]
fn mozilla_roots_all_parse() {
    let mut paths: Vec<_> = std::fs::read_dir(MOZILLA_ROOTS)
        .unwrap_or_else(|error| {
            panic!("{MOZILLA_ROOTS}: {error}; install Debian's ca-certificates package")
        })
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "crt"))
        .collect();
    paths.sort();
    assert!(
        paths.len() > 100,
        "only {} files in {MOZILLA_ROOTS}",
        paths.len()
    );

    let inputs: Vec<Vec<u8>> = paths
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    let results = import_batch(&inputs, None);
    let mut parsed = 0;
    for (path, result) in paths.iter().zip(&results) {
        match result {
            Ok(imported) => {
                assert!(
                    imported.warnings.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    imported.warnings
                );
                parsed += imported.certificates.len();
            }
            Err(error) => panic!("{}: {error}", path.display()),
        }
    }
    assert_eq!(parsed, paths.len());
}
