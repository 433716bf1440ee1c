//! GenerateKey through the gRPC client against a started inventory on the real Postgres.

mod support;

use certitude_platform::seal::record_aad;
use certitude_proto::inventory::v1::{GenerateKeyRequest, GeneratedKey, KeyAlgorithm};
use rcgen::PublicKeyData;
use secrecy::ExposeSecret;
use support::Inventory;
use tonic::Code;
use uuid::Uuid;
use x509_parser::prelude::{FromDer, X509CertificationRequest};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

fn request(idempotency_key: &str, algorithm: KeyAlgorithm) -> GenerateKeyRequest {
    GenerateKeyRequest {
        idempotency_key: idempotency_key.to_owned(),
        algorithm: algorithm.into(),
        common_name: "www.example.com".to_owned(),
        dns_names: vec!["example.com".to_owned()],
        organization: "Example Inc".to_owned(),
    }
}

async fn generate(inventory: &Inventory, request: GenerateKeyRequest) -> GeneratedKey {
    inventory
        .client
        .clone()
        .generate_key(request)
        .await
        .expect("GenerateKey succeeds")
        .into_inner()
}

/// Parses the CSR, checks its signature and returns its SubjectPublicKeyInfo DER.
fn verified_csr_public_key(csr_pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes()).expect("the CSR is PEM");
    assert_eq!(pem.label, "CERTIFICATE REQUEST");
    let (_, csr) = X509CertificationRequest::from_der(&pem.contents).expect("the CSR is DER");
    csr.verify_signature().expect("the CSR signature verifies");
    csr.certification_request_info.subject_pki.raw.to_vec()
}

async fn sealed_private_key(inventory: &Inventory, key_id: Uuid) -> Vec<u8> {
    sqlx::query_scalar("SELECT private_key FROM keys WHERE id = $1")
        .bind(key_id)
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the key row exists")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn ecdsa_p256_key_has_verifiable_csr_and_sealed_private_key() {
    let inventory = Inventory::start().await;

    let key = generate(&inventory, request("order-p256", KeyAlgorithm::EcdsaP256)).await;

    assert_eq!(verified_csr_public_key(&key.csr_pem), key.public_key_der);
    assert_eq!(key.algorithm, i32::from(KeyAlgorithm::EcdsaP256));
    let (_, spki) = SubjectPublicKeyInfo::from_der(&key.public_key_der).expect("SPKI parses");
    assert!(matches!(spki.parsed(), Ok(PublicKey::EC(point)) if point.key_size() == 256));

    let key_id = Uuid::parse_str(&key.key_id).expect("the key id is a UUID");
    let sealed = sealed_private_key(&inventory, key_id).await;
    let aad = record_aad("keys", "private_key", &key.key_id);
    let pkcs8 = inventory
        .keyring
        .open(&sealed, &aad)
        .expect("the sealed key opens for its own row");
    assert!(!contains(&sealed, pkcs8.expose_secret()));
    let key_pair = rcgen::KeyPair::try_from(pkcs8.expose_secret()).expect("the key is PKCS#8");
    assert_eq!(key_pair.subject_public_key_info(), key.public_key_der);

    let other_row = record_aad("keys", "private_key", &Uuid::now_v7().to_string());
    assert!(inventory.keyring.open(&sealed, &other_row).is_err());
    inventory.stop().await;
}

#[tokio::test]
async fn rsa_2048_key_has_verifiable_csr_and_matching_private_key() {
    let inventory = Inventory::start().await;

    let key = generate(&inventory, request("order-rsa", KeyAlgorithm::Rsa2048)).await;

    assert_eq!(verified_csr_public_key(&key.csr_pem), key.public_key_der);
    let (_, spki) = SubjectPublicKeyInfo::from_der(&key.public_key_der).expect("SPKI parses");
    assert!(matches!(spki.parsed(), Ok(PublicKey::RSA(rsa)) if rsa.key_size() == 2048));

    let key_id = Uuid::parse_str(&key.key_id).expect("the key id is a UUID");
    let sealed = sealed_private_key(&inventory, key_id).await;
    let aad = record_aad("keys", "private_key", &key.key_id);
    let pkcs8 = inventory
        .keyring
        .open(&sealed, &aad)
        .expect("the sealed key opens");
    assert!(!contains(&sealed, pkcs8.expose_secret()));
    let key_pair = rcgen::KeyPair::try_from(pkcs8.expose_secret()).expect("the key is PKCS#8");
    assert_eq!(key_pair.subject_public_key_info(), key.public_key_der);
    inventory.stop().await;
}

#[tokio::test]
async fn repeated_request_returns_the_same_key() {
    let inventory = Inventory::start().await;

    let first = generate(&inventory, request("order-again", KeyAlgorithm::EcdsaP384)).await;
    let second = generate(&inventory, request("order-again", KeyAlgorithm::EcdsaP384)).await;

    assert_eq!(second.key_id, first.key_id);
    assert_eq!(second.csr_pem, first.csr_pem);
    assert_eq!(second.public_key_der, first.public_key_der);
    inventory.stop().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_share_one_key() {
    let inventory = Inventory::start().await;

    let calls = (0..4).map(|_| {
        let mut client = inventory.client.clone();
        tokio::spawn(async move {
            client
                .generate_key(request("order-race", KeyAlgorithm::Rsa2048))
                .await
                .expect("GenerateKey succeeds")
                .into_inner()
        })
    });
    let keys: Vec<GeneratedKey> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.expect("the call task finishes"))
        .collect();

    for key in &keys[1..] {
        assert_eq!(key.key_id, keys[0].key_id);
        assert_eq!(key.csr_pem, keys[0].csr_pem);
        assert_eq!(key.public_key_der, keys[0].public_key_der);
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM keys")
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the keys table is readable");
    assert_eq!(rows, 1);
    inventory.stop().await;
}

#[tokio::test]
async fn idempotency_key_reused_with_other_subject_is_rejected() {
    let inventory = Inventory::start().await;
    generate(&inventory, request("order-reused", KeyAlgorithm::EcdsaP256)).await;

    let mut other = request("order-reused", KeyAlgorithm::EcdsaP256);
    other.dns_names = vec!["other.example.com".to_owned()];
    let status = inventory
        .client
        .clone()
        .generate_key(other)
        .await
        .expect_err("another subject under the same idempotency key is rejected");

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().starts_with("idempotency_key: "),
        "{}",
        status.message()
    );
    inventory.stop().await;
}

#[tokio::test]
async fn unspecified_algorithm_is_invalid_argument() {
    let inventory = Inventory::start().await;

    let status = inventory
        .client
        .clone()
        .generate_key(request("order-unspecified", KeyAlgorithm::Unspecified))
        .await
        .expect_err("an unspecified algorithm is rejected");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("algorithm: "),
        "{}",
        status.message()
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM keys")
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the keys table is readable");
    assert_eq!(rows, 0);
    inventory.stop().await;
}
