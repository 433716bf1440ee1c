//! The CertificateIssued consumer against a started inventory on the real Postgres and NATS:
//! events are published on the test stream and the result is read through the gRPC API.

mod support;

use certitude_platform::events::{self, Event, timestamp};
use certitude_proto::events::v1::{CertificateAddedToInventory, CertificateIssued};
use certitude_proto::inventory::v1::{
    Certificate, GenerateKeyRequest, GeneratedKey, GetCertificateRequest, KeyAlgorithm,
    ListCertificatesRequest,
};
use support::ca::TestCa;
use support::{Inventory, eventually_some, issued_envelope};
use time::macros::datetime;
use uuid::Uuid;

const CRYPTOGRAPHY_IO: &str = include_str!("../../../tests/fixtures/x509/pem/cryptography.io.pem");
const CRYPTOGRAPHY_IO_CHAIN: &str =
    include_str!("../../../tests/fixtures/x509/pem/cryptography.io.chain.pem");

async fn generate_key(inventory: &Inventory, idempotency_key: &str) -> GeneratedKey {
    let request = GenerateKeyRequest {
        idempotency_key: idempotency_key.to_owned(),
        algorithm: KeyAlgorithm::EcdsaP256.into(),
        common_name: "shop.example.com".to_owned(),
        dns_names: vec![
            "shop.example.com".to_owned(),
            "www.shop.example.com".to_owned(),
        ],
        organization: "Example Inc".to_owned(),
    };
    inventory
        .client
        .clone()
        .generate_key(request)
        .await
        .expect("GenerateKey succeeds")
        .into_inner()
}

async fn get_certificate(inventory: &Inventory, id: &str) -> Certificate {
    inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            id: id.to_owned(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect("GetCertificate finds the certificate")
        .into_inner()
}

async fn certificate_rows(inventory: &Inventory) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM certificates")
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the certificates table is readable")
}

/// Splits a PEM text into its blocks, each as its own PEM text.
fn pem_blocks(text: &str) -> Vec<String> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|block| {
            let block = block.expect("the fixture is PEM");
            certitude_inventory::certificate::der_to_pem(&block.contents)
        })
        .collect()
}

/// Builds a CertificateIssued event for an order as order-manager publishes it, with the chain
/// leaf first.
fn order_event(certificate_pem: &str, ca: &TestCa, key_id: &str) -> CertificateIssued {
    let facts = certitude_inventory::certificate::parse_pem(certificate_pem).expect("parses");
    CertificateIssued {
        order_id: Uuid::now_v7().to_string(),
        credential_id: Uuid::now_v7().to_string(),
        tracking_id: 4242,
        certificate_pem: certificate_pem.to_owned(),
        chain_pem: vec![certificate_pem.to_owned(), ca.pem()],
        serial_number: facts.serial_number,
        not_after: Some(timestamp(facts.not_after)),
        key_id: key_id.to_owned(),
        replaces_certificate_id: String::new(),
        certificate_id: Uuid::now_v7().to_string(),
        order_status: "ISSUED".to_owned(),
        replacement: String::new(),
    }
}

#[tokio::test]
async fn issued_certificate_stored_with_facts() {
    let inventory = Inventory::start().await;
    let key = generate_key(&inventory, "order-issued").await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_pem = ca.sign(
        &key.csr_pem,
        &[0x0A, 0x1B, 0x2C, 0x3D],
        datetime!(2030-05-01 00:00:00 UTC),
        datetime!(2031-05-01 00:00:00 UTC),
    );
    let event = order_event(&certificate_pem, &ca, &key.key_id);

    let (_, sequence) = inventory.publish_issued(&event).await;
    inventory.wait_until_consumed(sequence).await;

    let stored = get_certificate(&inventory, &event.certificate_id).await;
    assert_eq!(stored.id, event.certificate_id);
    assert!(
        stored.subject.contains("CN=shop.example.com"),
        "{}",
        stored.subject
    );
    assert_eq!(stored.common_name, "shop.example.com");
    assert_eq!(
        stored.dns_names,
        ["shop.example.com", "www.shop.example.com"]
    );
    assert_eq!(stored.serial_number, "A1B2C3D");
    assert_eq!(stored.not_after, "2031-05-01T00:00:00Z");
    assert_eq!(stored.not_before, "2030-05-01T00:00:00Z");
    assert_eq!(stored.key_id, key.key_id);
    assert_eq!(stored.key_type, "EC");
    assert_eq!(stored.key_bits, 256);
    assert_eq!(stored.order_id, event.order_id);
    assert_eq!(stored.credential_id, event.credential_id);
    assert_eq!(stored.tracking_id, 4242);
    assert_eq!(stored.status, "active");
    assert_eq!(stored.source, "order");
    assert_eq!(stored.chain_status, "verified");
    assert_eq!(stored.chain_pem, [ca.pem()]);
    assert_eq!(stored.certificate_pem, certificate_pem);
    assert_eq!(stored.sha256_fingerprint.len(), 64);

    let listed = inventory
        .client
        .clone()
        .list_certificates(ListCertificatesRequest::default())
        .await
        .expect("ListCertificates succeeds")
        .into_inner();
    assert_eq!(listed.certificates, [stored]);
    assert_eq!(listed.next_page_token, "");
    inventory.stop().await;
}

#[tokio::test]
async fn stored_certificate_is_announced_on_the_stream() {
    let inventory = Inventory::start().await;
    let key = generate_key(&inventory, "order-announced").await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_pem = ca.sign(
        &key.csr_pem,
        &[0x42],
        datetime!(2030-05-01 00:00:00 UTC),
        datetime!(2031-05-01 00:00:00 UTC),
    );
    let event = order_event(&certificate_pem, &ca, &key.key_id);

    inventory.publish_issued(&event).await;

    let stream = inventory.stream().await;
    let subject = inventory.subject::<CertificateAddedToInventory>();
    let message = eventually_some("CertificateAddedToInventory is on the stream", || {
        let stream = stream.clone();
        let subject = subject.clone();
        async move { stream.get_last_raw_message_by_subject(&subject).await.ok() }
    })
    .await;

    let envelope = events::decode_envelope(&message.payload).expect("the body is an envelope");
    assert_eq!(envelope.producer, "inventory");
    assert_eq!(envelope.aggregate_id, event.certificate_id);
    assert_eq!(
        envelope.event_type,
        CertificateAddedToInventory::TYPE.full_name
    );
    let payload: CertificateAddedToInventory =
        events::decode_payload(&envelope).expect("the payload decodes");
    assert_eq!(payload.certificate_id, event.certificate_id);
    assert_eq!(payload.order_id, event.order_id);
    assert_eq!(payload.serial_number, "42");
    assert_eq!(payload.not_after, event.not_after);
    assert_eq!(payload.key_id, key.key_id);
    inventory.stop().await;
}

#[tokio::test]
async fn repeated_certificate_events_leave_one_row() {
    let inventory = Inventory::start().await;
    let key = generate_key(&inventory, "order-repeated").await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_pem = ca.sign(
        &key.csr_pem,
        &[0x07],
        datetime!(2030-05-01 00:00:00 UTC),
        datetime!(2031-05-01 00:00:00 UTC),
    );
    let event = order_event(&certificate_pem, &ca, &key.key_id);

    // The same event is published twice without a Nats-Msg-Id, so JetStream keeps both copies
    // and the inbox must drop the second. A new event for the same certificate id follows, and
    // last the same certificate under another certificate id.
    let (event_id, _) = inventory.publish_issued(&event).await;
    inventory
        .publish_envelope(&issued_envelope(event_id, &event), None)
        .await;
    inventory.publish_issued(&event).await;
    let renamed = CertificateIssued {
        certificate_id: Uuid::now_v7().to_string(),
        ..event.clone()
    };
    let (_, last) = inventory.publish_issued(&renamed).await;
    inventory.wait_until_consumed(last).await;

    assert_eq!(certificate_rows(&inventory).await, 1);
    let stored = get_certificate(&inventory, &event.certificate_id).await;
    assert_eq!(stored.key_id, key.key_id);
    let announcements: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
            .bind(CertificateAddedToInventory::TYPE.full_name)
            .fetch_one(&inventory.db.pool)
            .await
            .expect("the outbox is readable");
    assert_eq!(announcements, 1);
    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = $1")
        .bind(support::DURABLE)
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the inbox is readable");
    assert_eq!(processed, 3);
    inventory.stop().await;
}

#[tokio::test]
async fn real_certificate_keeps_serial_and_expiry() {
    let inventory = Inventory::start().await;
    let event = CertificateIssued {
        certificate_pem: CRYPTOGRAPHY_IO.to_owned(),
        chain_pem: pem_blocks(CRYPTOGRAPHY_IO_CHAIN),
        certificate_id: Uuid::now_v7().to_string(),
        ..CertificateIssued::default()
    };

    let (_, sequence) = inventory.publish_issued(&event).await;
    inventory.wait_until_consumed(sequence).await;

    let stored = get_certificate(&inventory, &event.certificate_id).await;
    assert_eq!(stored.serial_number, "3F20");
    assert_eq!(stored.not_after, "2018-11-16T01:15:03Z");
    assert_eq!(stored.dns_names, ["www.cryptography.io", "cryptography.io"]);
    assert_eq!(stored.key_id, "");
    assert_eq!(stored.key_type, "RSA");
    assert_eq!(stored.status, "expired");
    assert_eq!(stored.source, "import");
    assert_eq!(stored.order_id, "");
    assert_eq!(stored.chain_status, "verified");
    assert_eq!(stored.chain_pem.len(), 1);
    inventory.stop().await;
}

#[tokio::test]
async fn certificate_of_another_key_is_stored_without_key() {
    let inventory = Inventory::start().await;
    let key = generate_key(&inventory, "order-mismatch").await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_pem = ca.issue_with_fresh_key(
        "shop.example.com",
        &[0x11],
        datetime!(2030-05-01 00:00:00 UTC),
        datetime!(2031-05-01 00:00:00 UTC),
    );
    let event = order_event(&certificate_pem, &ca, &key.key_id);

    let (_, sequence) = inventory.publish_issued(&event).await;
    inventory.wait_until_consumed(sequence).await;

    let stored = get_certificate(&inventory, &event.certificate_id).await;
    assert_eq!(stored.key_id, "");
    assert_eq!(stored.serial_number, "11");
    inventory.stop().await;
}

#[tokio::test]
async fn chain_from_another_ca_is_stored_as_broken() {
    let inventory = Inventory::start().await;
    let key = generate_key(&inventory, "order-broken-chain").await;
    let issuing_ca = TestCa::new("Test Issuing CA");
    let other_ca = TestCa::new("Unrelated CA");
    let certificate_pem = issuing_ca.sign(
        &key.csr_pem,
        &[0x12],
        datetime!(2030-05-01 00:00:00 UTC),
        datetime!(2031-05-01 00:00:00 UTC),
    );
    let event = order_event(&certificate_pem, &other_ca, &key.key_id);

    let (_, sequence) = inventory.publish_issued(&event).await;
    inventory.wait_until_consumed(sequence).await;

    let stored = get_certificate(&inventory, &event.certificate_id).await;
    assert_eq!(stored.chain_status, "broken");
    assert_eq!(stored.chain_pem, [other_ca.pem()]);
    assert_eq!(stored.key_id, key.key_id);
    inventory.stop().await;
}

#[tokio::test]
async fn verified_chain_still_checks_leaf_signature() {
    let inventory = Inventory::start().await;
    let issuing_ca = TestCa::new("Test Issuing CA");
    let other_ca = TestCa::new("Unrelated CA");
    let key = generate_key(&inventory, "order-chain-seen-before").await;
    let signed = |ca: &TestCa, serial: u8| {
        ca.sign(
            &key.csr_pem,
            &[serial],
            datetime!(2030-05-01 00:00:00 UTC),
            datetime!(2031-05-01 00:00:00 UTC),
        )
    };
    // The first certificate's chain verifies, so the chain counts as verified from then on.
    let first = order_event(&signed(&issuing_ca, 0x21), &issuing_ca, "");
    // The second names the same chain, but another CA signed it.
    let second = order_event(&signed(&other_ca, 0x22), &issuing_ca, "");

    inventory.publish_issued(&first).await;
    let (_, sequence) = inventory.publish_issued(&second).await;
    inventory.wait_until_consumed(sequence).await;

    assert_eq!(
        get_certificate(&inventory, &first.certificate_id)
            .await
            .chain_status,
        "verified"
    );
    assert_eq!(
        get_certificate(&inventory, &second.certificate_id)
            .await
            .chain_status,
        "broken"
    );
    inventory.stop().await;
}
