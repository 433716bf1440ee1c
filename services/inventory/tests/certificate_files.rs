//! ImportCertificateFiles and ExportCertificate through the gRPC client of a started inventory,
//! with the certificate files of `crates/certfile/tests/fixtures` (see the README there for
//! their sources and licenses).

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod support;

use certitude_certfile as certfile;
use certitude_inventory::key_store::{KEYS_TABLE, PRIVATE_KEY_COLUMN};
use certitude_platform::seal::record_aad;
use certitude_proto::events::v1::{CertificateAddedToInventory, CertificateRejected};
use certitude_proto::inventory::v1::{
    CertificateFile, ExportCertificateRequest, ExportFormat, ExportedCertificate, FileImportResult,
    ImportCertificateFilesRequest, ImportCertificateFilesResponse, PemPart,
};
use secrecy::{ExposeSecret, SecretString};
use support::ca::TestCa;
use support::{CURRENT, Inventory};
use tonic::{Code, Status};
use uuid::Uuid;

/// Password of the generated PKCS#12 fixtures and of the encrypted PKCS#8 key.
const FIXTURE_PASSWORD: &str = "certitude";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../crates/certfile/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|error| panic!("fixture {full} is readable: {error}"))
}

fn file(name: &str, content: Vec<u8>) -> CertificateFile {
    CertificateFile {
        name: name.to_owned(),
        content,
    }
}

/// Returns the leaf certificate followed by its SEC1 key, in one PEM file.
fn leaf_with_key() -> Vec<u8> {
    let mut content = fixture("generated/leaf.pem");
    content.extend(fixture("generated/leaf.key.pem"));
    content
}

async fn import(
    inventory: &Inventory,
    files: Vec<CertificateFile>,
    password: &str,
) -> ImportCertificateFilesResponse {
    inventory
        .client
        .clone()
        .import_certificate_files(ImportCertificateFilesRequest {
            files,
            password: password.to_owned(),
            actor: "test-operator".to_owned(),
        })
        .await
        .expect("ImportCertificateFiles succeeds")
        .into_inner()
}

async fn export(
    inventory: &Inventory,
    request: ExportCertificateRequest,
) -> Result<ExportedCertificate, Status> {
    inventory
        .client
        .clone()
        .export_certificate(request)
        .await
        .map(tonic::Response::into_inner)
}

fn pem_request(id: &str, part: PemPart) -> ExportCertificateRequest {
    ExportCertificateRequest {
        id: id.to_owned(),
        format: ExportFormat::Pem.into(),
        part: part.into(),
        actor: "test-admin".to_owned(),
        ..ExportCertificateRequest::default()
    }
}

fn pkcs12_request(id: &str, password: &str, legacy: bool) -> ExportCertificateRequest {
    ExportCertificateRequest {
        id: id.to_owned(),
        format: ExportFormat::Pkcs12.into(),
        password: password.to_owned(),
        legacy,
        actor: "test-admin".to_owned(),
        ..ExportCertificateRequest::default()
    }
}

/// Returns the id of the certificate of `result` whose subject contains `subject`.
fn certificate_id(result: &FileImportResult, subject: &str) -> String {
    result
        .certificates
        .iter()
        .find(|certificate| certificate.subject.contains(subject))
        .unwrap_or_else(|| panic!("{subject} is among {:?}", result.certificates))
        .certificate_id
        .clone()
}

async fn count(inventory: &Inventory, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&inventory.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn fixture_set_imports_with_counts_per_file() {
    let inventory = Inventory::start().await;

    let response = import(
        &inventory,
        vec![
            file(
                "cryptography.io.chain.pem",
                fixture("pem/cryptography.io.chain.pem"),
            ),
            file(
                "test8.crt",
                fixture("der/ValidGeneralizedTimenotAfterDateTest8EE.crt"),
            ),
            file("chain.p7b", fixture("generated/chain-certs-only.p7b")),
            file(
                "leaf-chain-aes256.p12",
                fixture("generated/leaf-chain-aes256.p12"),
            ),
            file("notes.txt", b"not a certificate".to_vec()),
        ],
        FIXTURE_PASSWORD,
    )
    .await;

    let files = &response.files;
    assert_eq!(files.len(), 5);
    let names: Vec<&str> = files.iter().map(|result| result.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cryptography.io.chain.pem",
            "test8.crt",
            "chain.p7b",
            "leaf-chain-aes256.p12",
            "notes.txt"
        ]
    );
    let formats: Vec<&str> = files.iter().map(|result| result.format.as_str()).collect();
    assert_eq!(formats, ["pem", "der", "pkcs7", "pkcs12", ""]);
    let added: Vec<u32> = files
        .iter()
        .map(|result| result.certificates_added)
        .collect();
    assert_eq!(added, [2, 1, 3, 0, 0]);
    // The PKCS#12 file contains the certificates of the PKCS#7 bundle, and the leaf's key.
    let duplicates: Vec<u32> = files.iter().map(|result| result.duplicates).collect();
    assert_eq!(duplicates, [0, 0, 0, 3, 0]);
    let keys: Vec<u32> = files.iter().map(|result| result.keys_stored).collect();
    assert_eq!(keys, [0, 0, 0, 1, 0]);
    let errors: Vec<bool> = files
        .iter()
        .map(|result| !result.error.is_empty())
        .collect();
    assert_eq!(errors, [false, false, false, false, true]);
    assert!(
        files[4].error.contains("not a certificate file"),
        "{}",
        files[4].error
    );
    assert_eq!(response.certificates_added, 6);
    assert_eq!(response.duplicates, 3);
    assert_eq!(response.keys_stored, 1);
    assert_eq!(response.files_failed, 1);

    // The key of the PKCS#12 file is linked to the leaf stored from the PKCS#7 bundle.
    let leaf_id = certificate_id(&files[2], "leaf.certitude.test");
    assert_eq!(certificate_id(&files[3], "leaf.certitude.test"), leaf_id);
    let leaf = inventory.certificate(&leaf_id).await;
    assert_eq!(leaf.source, "import");
    assert_eq!(leaf.chain_status, "verified");
    assert_eq!(leaf.chain_pem.len(), 2);
    assert!(!leaf.key_id.is_empty());
    let p12_leaf = files[3]
        .certificates
        .iter()
        .find(|certificate| certificate.certificate_id == leaf_id)
        .unwrap();
    assert_eq!(p12_leaf.outcome, "duplicate");
    assert_eq!(p12_leaf.key_id, leaf.key_id);
    let lone = inventory
        .certificate(&files[1].certificates[0].certificate_id)
        .await;
    assert_eq!(lone.chain_status, "missing");

    assert_eq!(
        count(&inventory, "SELECT count(*) FROM certificates").await,
        6
    );
    assert_eq!(inventory.license().await.held, 6);
    let events = inventory
        .wait_for_events::<CertificateAddedToInventory>(6)
        .await;
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|event| event.source == "import"));
    inventory.stop().await;
}

#[tokio::test]
async fn wrong_pkcs12_password_fails_only_that_file() {
    let inventory = Inventory::start().await;

    let response = import(
        &inventory,
        vec![
            file("leaf.p12", fixture("generated/leaf-chain-aes256.p12")),
            file("root.pem", fixture("generated/root.pem")),
        ],
        "not-the-password",
    )
    .await;

    let p12 = &response.files[0];
    assert_eq!(p12.format, "pkcs12");
    assert!(p12.error.contains("wrong password"), "{}", p12.error);
    assert_eq!(p12.certificates_added, 0);
    assert!(!p12.error.contains("not-the-password"), "{}", p12.error);
    let pem = &response.files[1];
    assert_eq!(pem.error, "");
    assert_eq!(pem.certificates_added, 1);
    assert_eq!(
        count(&inventory, "SELECT count(*) FROM certificates").await,
        1
    );
    assert_eq!(count(&inventory, "SELECT count(*) FROM keys").await, 0);
    inventory.stop().await;
}

#[tokio::test]
async fn damaged_files_report_errors_and_the_rest_import() {
    let inventory = Inventory::start().await;
    let damaged = [
        "pem/cryptography.io.chain.pem",
        "pem/badasn1time.pem",
        "der/ValidGeneralizedTimenotAfterDateTest8EE.crt",
        "generated/chain-certs-only.p7b",
        "generated/leaf-chain-aes256.p12",
        "generated/leaf.key.pem",
    ];
    let mut files: Vec<CertificateFile> = damaged
        .iter()
        .map(|path| {
            let mut content = fixture(path);
            content.truncate(content.len() / 2);
            file(path, content)
        })
        .collect();
    files.push(file("empty.pem", Vec::new()));
    files.push(file("root.pem", fixture("generated/root.pem")));

    let response = import(&inventory, files, FIXTURE_PASSWORD).await;

    assert_eq!(response.files.len(), damaged.len() + 2);
    for result in &response.files[..damaged.len() + 1] {
        assert_ne!(result.error, "", "{} has no error", result.name);
        assert_eq!(result.certificates_added, 0, "{}", result.name);
    }
    let root = response.files.last().unwrap();
    assert_eq!(root.error, "");
    assert_eq!(root.certificates_added, 1);
    assert_eq!(response.files_failed, 7);
    assert_eq!(
        count(&inventory, "SELECT count(*) FROM certificates").await,
        1
    );
    inventory.stop().await;
}

#[tokio::test]
async fn repeated_import_reports_duplicates_and_stores_nothing() {
    let inventory = Inventory::start().await;
    let files = vec![
        file("chain.pem", fixture("pem/cryptography.io.chain.pem")),
        file("leaf-with-key.pem", leaf_with_key()),
    ];
    let first = import(&inventory, files.clone(), "").await;
    assert_eq!(first.certificates_added, 3);
    assert_eq!(first.keys_stored, 1);

    let second = import(&inventory, files, "").await;

    assert_eq!(second.certificates_added, 0);
    assert_eq!(second.duplicates, 3);
    assert_eq!(second.keys_stored, 0);
    for (before, after) in first.files.iter().zip(&second.files) {
        let ids = |result: &FileImportResult| {
            result
                .certificates
                .iter()
                .map(|certificate| certificate.certificate_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(after), ids(before), "{}", after.name);
    }
    assert_eq!(
        second.files[1].certificates[0].key_id,
        first.files[1].certificates[0].key_id
    );
    assert_eq!(
        count(&inventory, "SELECT count(*) FROM certificates").await,
        3
    );
    assert_eq!(count(&inventory, "SELECT count(*) FROM keys").await, 1);
    assert_eq!(inventory.license().await.held, 3);
    inventory.stop().await;
}

#[tokio::test]
async fn key_in_pem_is_stored_sealed_and_linked() {
    let inventory = Inventory::start().await;

    let response = import(&inventory, vec![file("leaf.pem", leaf_with_key())], "").await;

    let result = &response.files[0];
    assert_eq!(result.keys_stored, 1);
    assert_eq!(result.warnings, Vec::<String>::new());
    let key_id = result.certificates[0].key_id.clone();
    let stored = inventory
        .certificate(&result.certificates[0].certificate_id)
        .await;
    assert_eq!(stored.key_id, key_id);

    let key_uuid = Uuid::parse_str(&key_id).unwrap();
    let (sealed, origin, algorithm, idempotency_key): (Vec<u8>, String, String, Option<String>) =
        sqlx::query_as(
            "SELECT private_key, origin, algorithm, idempotency_key FROM keys WHERE id = $1",
        )
        .bind(key_uuid)
        .fetch_one(&inventory.db.pool)
        .await
        .unwrap();
    assert_eq!(origin, "import");
    assert_eq!(algorithm, "ECDSA_P256");
    assert_eq!(idempotency_key, None);
    let pkcs8 = certfile::import(&fixture("generated/leaf.key.pem"), None)
        .unwrap()
        .keys
        .remove(0);
    let plaintext = pkcs8.pkcs8_der().expose_secret().to_vec();
    // No 16 bytes of the PKCS#8 encoding, such as a part of the private scalar, are readable.
    for window in plaintext.windows(16) {
        assert!(
            !sealed.windows(16).any(|stored| stored == window),
            "the keys table holds plaintext key bytes"
        );
    }
    let opened = inventory
        .keyring
        .open(
            &sealed,
            &record_aad(KEYS_TABLE, PRIVATE_KEY_COLUMN, &key_id),
        )
        .unwrap();
    assert_eq!(opened.expose_secret(), plaintext.as_slice());
    inventory.stop().await;
}

#[tokio::test]
async fn key_without_its_certificate_is_reported_not_stored() {
    let inventory = Inventory::start().await;
    let mut other_key = fixture("generated/root.pem");
    other_key.extend(fixture("generated/leaf.key.pem"));

    let response = import(
        &inventory,
        vec![
            file("leaf.key.pem", fixture("generated/leaf.key.pem")),
            file("root-and-leaf-key.pem", other_key),
            file(
                "encrypted-key.pem",
                [
                    fixture("generated/leaf.pem"),
                    fixture("generated/leaf.pkcs8-encrypted.pem"),
                ]
                .concat(),
            ),
        ],
        "",
    )
    .await;

    let key_only = &response.files[0];
    assert!(
        key_only.error.contains("no certificate in the file"),
        "{}",
        key_only.error
    );
    let unmatched = &response.files[1];
    assert_eq!(unmatched.certificates_added, 1);
    assert_eq!(unmatched.keys_stored, 0);
    assert!(
        unmatched.warnings[0].contains("matches no certificate"),
        "{:?}",
        unmatched.warnings
    );
    let encrypted = &response.files[2];
    assert_eq!(encrypted.certificates_added, 1);
    assert_eq!(encrypted.keys_stored, 0);
    assert!(
        encrypted.warnings[0].contains("no password given"),
        "{:?}",
        encrypted.warnings
    );
    assert_eq!(count(&inventory, "SELECT count(*) FROM keys").await, 0);
    inventory.stop().await;
}

#[tokio::test]
async fn encrypted_pkcs8_key_is_stored_with_password() {
    let inventory = Inventory::start().await;
    let content = [
        fixture("generated/leaf.pem"),
        fixture("generated/leaf.pkcs8-encrypted.pem"),
    ]
    .concat();

    let response = import(
        &inventory,
        vec![file("encrypted.pem", content)],
        FIXTURE_PASSWORD,
    )
    .await;

    assert_eq!(response.keys_stored, 1);
    assert!(!response.files[0].certificates[0].key_id.is_empty());
    inventory.stop().await;
}

#[tokio::test]
async fn import_beyond_the_license_waits() {
    let inventory = Inventory::start().await;
    inventory.set_license(Some(1)).await;
    let ca = TestCa::new("Import License CA");
    let (not_before, not_after) = CURRENT;
    let first = ca.issue_with_fresh_key("one.example.com", &[1], not_before, not_after);
    let second = ca.issue_with_fresh_key("two.example.com", &[2], not_before, not_after);

    let response = import(
        &inventory,
        vec![
            file("one.pem", first.into_bytes()),
            file("two.pem", second.into_bytes()),
        ],
        "",
    )
    .await;

    assert_eq!(response.certificates_added, 1);
    assert_eq!(response.waiting, 1);
    let waiting = &response.files[1].certificates[0];
    assert_eq!(waiting.outcome, "waiting");
    let stored = inventory.certificate(&waiting.certificate_id).await;
    assert_eq!(stored.inventory_state, "waiting");
    assert_eq!(stored.waiting_reason, "license_limit");
    let license = inventory.license().await;
    assert_eq!(license.held, 1);
    assert_eq!(license.waiting, 1);
    let rejected = inventory.wait_for_events::<CertificateRejected>(1).await;
    assert_eq!(rejected[0].certificate_id, waiting.certificate_id);
    inventory.stop().await;
}

#[tokio::test]
async fn pem_parts_export_the_stored_chain() {
    let inventory = Inventory::start().await;
    let response = import(
        &inventory,
        vec![file("chain.p7b", fixture("generated/chain-certs-only.p7b"))],
        "",
    )
    .await;
    let leaf_id = certificate_id(&response.files[0], "leaf.certitude.test");

    let mut subjects_of = Vec::new();
    for part in [PemPart::Leaf, PemPart::Chain, PemPart::Fullchain] {
        let exported = export(&inventory, pem_request(&leaf_id, part))
            .await
            .unwrap();
        assert_eq!(exported.media_type, "application/pem-certificate-chain");
        assert!(exported.key_id.is_empty());
        let read = certfile::import(&exported.content, None).unwrap();
        let subjects: Vec<String> = read
            .certificates
            .iter()
            .filter_map(|certificate| certificate.subject.common_name().map(str::to_owned))
            .collect();
        subjects_of.push(subjects);
    }

    assert_eq!(subjects_of[0], ["leaf.certitude.test"]);
    assert_eq!(subjects_of[1], ["Certitude Test Intermediate"]);
    assert_eq!(
        subjects_of[2],
        ["leaf.certitude.test", "Certitude Test Intermediate"]
    );
    inventory.stop().await;
}

#[tokio::test]
async fn key_exports_round_trip_and_are_audited() {
    let inventory = Inventory::start().await;
    let content = [
        fixture("generated/leaf.pem"),
        fixture("generated/intermediate.pem"),
        fixture("generated/root.pem"),
        fixture("generated/leaf.key.pem"),
    ]
    .concat();
    let response = import(&inventory, vec![file("bundle.pem", content)], "").await;
    let leaf_id = certificate_id(&response.files[0], "leaf.certitude.test");
    let original_key = certfile::import(&fixture("generated/leaf.key.pem"), None)
        .unwrap()
        .keys
        .remove(0);

    let key_pem = export(&inventory, pem_request(&leaf_id, PemPart::Key))
        .await
        .unwrap();
    assert_eq!(key_pem.media_type, "application/x-pem-file");
    let read = certfile::import(&key_pem.content, None).unwrap();
    assert_eq!(
        read.keys[0].pkcs8_der().expose_secret(),
        original_key.pkcs8_der().expose_secret()
    );

    for legacy in [false, true] {
        let exported = export(&inventory, pkcs12_request(&leaf_id, "export-pass", legacy))
            .await
            .unwrap();
        assert_eq!(exported.media_type, "application/pkcs12");
        let password = SecretString::from("export-pass");
        let read = certfile::import(&exported.content, Some(&password)).unwrap();
        assert_eq!(read.format, certfile::FileFormat::Pkcs12);
        assert_eq!(read.certificates.len(), 3, "legacy {legacy}");
        assert_eq!(read.keys.len(), 1);
        let chain = certfile::order_chain(read.certificates.clone()).unwrap();
        assert_eq!(
            chain.leaf().subject.common_name(),
            Some("leaf.certitude.test")
        );
        assert_eq!(read.keys[0].matches_certificate(chain.leaf()), Some(true));
    }

    let rows: Vec<(Uuid, Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT certificate_id, key_id, actor, format, encryption FROM key_exports
         ORDER BY exported_at, id",
    )
    .fetch_all(&inventory.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    let leaf_uuid = Uuid::parse_str(&leaf_id).unwrap();
    let key_uuid = Uuid::parse_str(&key_pem.key_id).unwrap();
    assert!(
        rows.iter()
            .all(|row| row.0 == leaf_uuid && row.1 == key_uuid)
    );
    assert!(rows.iter().all(|row| row.2 == "test-admin"));
    let formats: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|row| (row.3.as_str(), row.4.as_deref()))
        .collect();
    assert_eq!(
        formats,
        [
            ("pem", None),
            ("pkcs12", Some("aes256")),
            ("pkcs12", Some("3des"))
        ]
    );

    let certificates_only = export(&inventory, pem_request(&leaf_id, PemPart::Fullchain))
        .await
        .unwrap();
    assert!(!certificates_only.content.is_empty());
    assert_eq!(
        count(&inventory, "SELECT count(*) FROM key_exports").await,
        3
    );
    inventory.stop().await;
}

#[tokio::test]
async fn key_export_errors_name_the_cause() {
    let inventory = Inventory::start().await;
    let response = import(
        &inventory,
        vec![
            file("root.pem", fixture("generated/root.pem")),
            file("leaf.pem", leaf_with_key()),
        ],
        "",
    )
    .await;
    let without_key = response.files[0].certificates[0].certificate_id.clone();
    let with_key = response.files[1].certificates[0].certificate_id.clone();

    let error = export(&inventory, pem_request(&without_key, PemPart::Key))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error.message().contains("no private key"),
        "{}",
        error.message()
    );

    let error = export(&inventory, pkcs12_request(&without_key, "pass", false))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);

    let anonymous = ExportCertificateRequest {
        actor: String::new(),
        ..pem_request(&with_key, PemPart::Key)
    };
    let error = export(&inventory, anonymous).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().starts_with("actor:"), "{}", error.message());

    let unknown = Uuid::now_v7().to_string();
    let error = export(&inventory, pem_request(&unknown, PemPart::Leaf))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);

    assert_eq!(
        count(&inventory, "SELECT count(*) FROM key_exports").await,
        0
    );
    inventory.stop().await;
}

#[tokio::test]
async fn oversized_import_names_the_limit() {
    let inventory = Inventory::start().await;
    let half = 32 * 1024 * 1024;

    let error = inventory
        .client
        .clone()
        .import_certificate_files(ImportCertificateFilesRequest {
            files: vec![
                file("a.pem", vec![b'a'; half]),
                file("b.pem", vec![b'b'; half + 1]),
            ],
            ..ImportCertificateFilesRequest::default()
        })
        .await
        .unwrap_err();

    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("64 MiB"), "{}", error.message());

    let too_many = (0..1001)
        .map(|index| file(&format!("{index}.pem"), b"x".to_vec()))
        .collect();
    let error = inventory
        .client
        .clone()
        .import_certificate_files(ImportCertificateFilesRequest {
            files: too_many,
            ..ImportCertificateFilesRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("1000"), "{}", error.message());
    inventory.stop().await;
}
