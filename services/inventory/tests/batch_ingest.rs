//! Storing CertificateIssued events as one batch gives the same rows, events and license count
//! as storing them one by one, on the real Postgres. The handler is called directly, inside a
//! transaction, as the platform's consumer calls it.

mod support;

use certitude_inventory::SERVICE_NAME;
use certitude_inventory::certificate_store;
use certitude_inventory::ingest::CertificateIssuedHandler;
use certitude_inventory::lifecycle::Lifecycle;
use certitude_platform::consumer::{EventHandler, ReceivedEvent};
use certitude_platform::outbox::Outbox;
use certitude_proto::events::v1::CertificateIssued;
use support::ca::TestCa;
use support::{CURRENT, Inventory, issued_envelope, issued_event, new_certificate};
use uuid::Uuid;

/// The columns a test compares, leaving out ids, names and serials that differ per event.
type StoredFacts = (String, String, String, String, bool, i32, i64);

fn handler(inventory: &Inventory) -> CertificateIssuedHandler {
    let outbox = Outbox::new(
        SERVICE_NAME,
        &inventory.nats.settings,
        inventory.clock.shared(),
    );
    CertificateIssuedHandler::new(Lifecycle::new(outbox), inventory.clock.shared())
}

fn received(payload: &CertificateIssued, sequence: u64) -> ReceivedEvent {
    let event_id = Uuid::now_v7();
    ReceivedEvent {
        envelope: issued_envelope(event_id, payload),
        event_id,
        subject: "certs.v1.certificate.issued".to_owned(),
        stream_sequence: sequence,
        delivered: 1,
        traceparent: None,
    }
}

/// Builds eight events, in turn issued on an order, revoked, imported without an order, and
/// with a chain from another CA.
fn mixed_events(ca: &TestCa, first_serial: u32) -> Vec<CertificateIssued> {
    let mut events = Vec::new();
    for offset in 0..8 {
        let serial = first_serial + offset;
        let mut event = issued_event(ca, &format!("host-{serial}.example.com"), serial, CURRENT);
        match offset % 4 {
            1 => event.order_status = "REVOKED".to_owned(),
            2 => event.order_id = String::new(),
            3 => event.chain_pem = vec![TestCa::new("Unrelated CA").pem()],
            _ => {}
        }
        events.push(event);
    }
    events
}

/// Applies `events` in one transaction, as one batch or one event at a time.
async fn apply(inventory: &Inventory, events: &[CertificateIssued], as_batch: bool) {
    let handler = handler(inventory);
    let received: Vec<ReceivedEvent> = events
        .iter()
        .enumerate()
        .map(|(index, event)| received(event, index as u64 + 1))
        .collect();
    let mut tx = inventory.db.pool.begin().await.expect("begin");
    if as_batch {
        let batch: Vec<&ReceivedEvent> = received.iter().collect();
        handler
            .handle_batch(&mut tx, &batch)
            .await
            .expect("the batch is stored");
    } else {
        for event in &received {
            handler
                .handle(&mut tx, event)
                .await
                .expect("the event is stored");
        }
    }
    tx.commit().await.expect("commit");
}

/// Returns the compared columns of `events`' certificates, in the events' order.
async fn stored_facts(inventory: &Inventory, events: &[CertificateIssued]) -> Vec<StoredFacts> {
    let mut facts = Vec::new();
    for event in events {
        let id = Uuid::parse_str(&event.certificate_id).expect("a UUID");
        let row: StoredFacts = sqlx::query_as(
            "SELECT status, chain_status, source, inventory_state,
                    admitted_at = created_at,
                    cardinality(coalesce(shared.chain_pem, c.chain_pem)),
                    cardinality(dns_names)::bigint
             FROM certificates c
             LEFT JOIN certificate_chains shared ON shared.digest = c.chain_digest
             WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&inventory.db.pool)
        .await
        .unwrap_or_else(|error| panic!("certificate {id} is stored: {error}"));
        facts.push(row);
    }
    facts
}

async fn added_events(inventory: &Inventory) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'certitude.events.v1.CertificateAddedToInventory'",
    )
    .fetch_one(&inventory.db.pool)
    .await
    .expect("the outbox is readable")
}

async fn stored_rows(inventory: &Inventory) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM certificates")
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the certificates table is readable")
}

#[tokio::test]
async fn batch_stores_as_one_by_one_does() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    let one_by_one = mixed_events(&ca, 100);
    let batch = mixed_events(&ca, 200);

    apply(&inventory, &one_by_one, false).await;
    apply(&inventory, &batch, true).await;

    let expected = stored_facts(&inventory, &one_by_one).await;
    let actual = stored_facts(&inventory, &batch).await;
    let license = inventory.license().await;
    assert_eq!(actual, expected);
    assert_eq!(actual[1].0, "revoked");
    assert_eq!(actual[2].2, "import");
    assert_eq!(actual[3].1, "broken");
    assert_eq!(license.held, 16);
    assert_eq!(added_events(&inventory).await, 16);
    inventory.stop().await;
}

#[tokio::test]
async fn batch_skips_known_and_repeated_certificates() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    let known = issued_event(&ca, "known.example.com", 1, CURRENT);
    apply(&inventory, std::slice::from_ref(&known), false).await;
    let fresh = issued_event(&ca, "fresh.example.com", 2, CURRENT);
    let mut same_certificate = fresh.clone();
    same_certificate.certificate_id = Uuid::now_v7().to_string();

    apply(&inventory, &[known.clone(), fresh, same_certificate], true).await;

    let license = inventory.license().await;
    assert_eq!(stored_rows(&inventory).await, 2);
    assert_eq!(license.held, 2);
    assert_eq!(added_events(&inventory).await, 2);
    inventory.stop().await;
}

#[tokio::test]
async fn batch_beyond_license_waits_as_one_by_one() {
    let inventory = Inventory::start().await;
    inventory.set_license(Some(3)).await;
    let ca = TestCa::new("Batch Issuing CA");
    let events: Vec<CertificateIssued> = (1..=5)
        .map(|serial| issued_event(&ca, &format!("h{serial}.example.com"), serial, CURRENT))
        .collect();

    apply(&inventory, &events, true).await;

    let states: Vec<String> =
        sqlx::query_scalar("SELECT inventory_state FROM certificates ORDER BY tracking_id")
            .fetch_all(&inventory.db.pool)
            .await
            .expect("states");
    let license = inventory.license().await;
    assert_eq!(states, ["held", "held", "held", "waiting", "waiting"]);
    assert_eq!(license.held, 3);
    inventory.stop().await;
}

#[tokio::test]
async fn batch_after_its_replacement_is_history() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    let original = issued_event(&ca, "renewed.example.com", 1, CURRENT);
    let mut renewal = issued_event(&ca, "renewed.example.com", 2, CURRENT);
    renewal.replaces_certificate_id = original.certificate_id.clone();
    renewal.replacement = "renewal".to_owned();
    apply(&inventory, std::slice::from_ref(&renewal), false).await;
    let other = issued_event(&ca, "other.example.com", 3, CURRENT);

    apply(&inventory, &[original.clone(), other], true).await;

    let original_id = Uuid::parse_str(&original.certificate_id).expect("a UUID");
    let superseded_by: Option<Uuid> =
        sqlx::query_scalar("SELECT superseded_by FROM certificates WHERE id = $1")
            .bind(original_id)
            .fetch_one(&inventory.db.pool)
            .await
            .expect("the original is stored");
    let license = inventory.license().await;
    assert_eq!(
        superseded_by.map(|id| id.to_string()),
        Some(renewal.certificate_id.clone())
    );
    assert_eq!(license.held, 2);
    inventory.stop().await;
}

#[tokio::test]
async fn one_chain_is_stored_once() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    // Six events carry the CA's chain, and two a chain of their own unrelated CA.
    let events = mixed_events(&ca, 300);
    apply(&inventory, &events[..4], true).await;
    apply(&inventory, &events[4..], false).await;

    let chains: i64 = sqlx::query_scalar("SELECT count(*) FROM certificate_chains")
        .fetch_one(&inventory.db.pool)
        .await
        .expect("the chains table is readable");
    assert_eq!(chains, 3);
    for event in &events {
        let id = Uuid::parse_str(&event.certificate_id).expect("a UUID");
        let record = certificate_store::get(&inventory.db.pool, id)
            .await
            .expect("the certificate is readable")
            .expect("the certificate is stored");
        assert_eq!(
            record.chain_pem, event.chain_pem,
            "chain of certificate {id}"
        );
    }
    let own_chains: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM certificates WHERE cardinality(chain_pem) > 0 OR chain_digest IS NULL",
    )
    .fetch_one(&inventory.db.pool)
    .await
    .expect("the certificates table is readable");
    assert_eq!(own_chains, 0);
    inventory.stop().await;
}

#[tokio::test]
async fn older_row_keeps_its_own_chain() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    let event = issued_event(&ca, "old-row.example.com", 400, CURRENT);
    apply(&inventory, std::slice::from_ref(&event), false).await;
    let id = Uuid::parse_str(&event.certificate_id).expect("a UUID");
    // Rows written before chains were shared keep the chain in the row and no digest.
    let older_chain = vec![TestCa::new("Older Issuing CA").pem()];
    sqlx::query("UPDATE certificates SET chain_pem = $2, chain_digest = NULL WHERE id = $1")
        .bind(id)
        .bind(&older_chain)
        .execute(&inventory.db.pool)
        .await
        .expect("the row is rewritten");

    let record = certificate_store::get(&inventory.db.pool, id)
        .await
        .expect("the certificate is readable")
        .expect("the certificate is stored");
    assert_eq!(record.chain_pem, older_chain);
    inventory.stop().await;
}

#[tokio::test]
async fn batch_insert_returns_stored_rows() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Batch Issuing CA");
    // Nanoseconds that Postgres cannot keep.
    let created_at = support::NOW + time::Duration::nanoseconds(123_456_789);
    let mut certificates: Vec<certificate_store::NewCertificate> = (0..3)
        .map(|offset| {
            let event = issued_event(
                &ca,
                &format!("returned-{offset}.example.com"),
                500 + offset,
                CURRENT,
            );
            certificate_store::NewCertificate {
                chain_pem: event.chain_pem.clone(),
                chain_status: certificate_store::ChainStatus::Verified,
                created_at,
                ..new_certificate(&event)
            }
        })
        .collect();
    // The same id again, with another certificate: only the first one is stored.
    let mut repeated = certificates[2].clone();
    repeated.facts = certitude_inventory::certificate::parse_pem(
        &issued_event(&ca, "repeated.example.com", 600, CURRENT).certificate_pem,
    )
    .expect("the certificate parses");
    certificates.push(repeated);

    let mut tx = inventory.db.pool.begin().await.expect("begin");
    let returned = certificate_store::insert_held_many(&mut tx, &certificates)
        .await
        .expect("the certificates are stored");
    tx.commit().await.expect("commit");

    assert_eq!(returned.len(), 3);
    for record in &returned {
        let stored = certificate_store::get(&inventory.db.pool, record.id)
            .await
            .expect("the certificate is readable")
            .expect("the certificate is stored");
        assert_eq!(*record, stored);
    }
    assert_eq!(
        returned[2].serial_number,
        certificates[2].facts.serial_number
    );
    inventory.stop().await;
}
