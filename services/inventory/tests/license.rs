//! The license against a started inventory on the real Postgres and NATS: certificates beyond
//! the licensed count wait, are admitted oldest first when a slot frees, superseded ones are not
//! counted, and two writers racing for the last slot admit exactly one.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;

use certitude_inventory::lifecycle::{Lifecycle, StoreOutcome};
use certitude_platform::outbox::Outbox;
use certitude_proto::events::v1::{
    CertificateAddedToInventory, CertificateIssued, CertificateRejected,
};
use certitude_proto::inventory::v1::{
    GetCertificateRequest, ListCertificatesRequest, RemoveCertificateRequest,
};
use sqlx::PgPool;
use support::ca::TestCa;
use support::{CURRENT, Inventory, NOW, eventually, issued_event, new_certificate};
use time::Duration;
use tonic::Code;
use uuid::Uuid;

/// Publishes one certificate per name and waits until each is stored; returns the events.
async fn store_all(inventory: &Inventory, ca: &TestCa, names: &[&str]) -> Vec<CertificateIssued> {
    let mut events = Vec::new();
    for (name, serial) in names.iter().zip(1u32..) {
        let event = issued_event(ca, name, serial, CURRENT);
        inventory.store(&event).await;
        events.push(event);
    }
    events
}

async fn list_ids(inventory: &Inventory, inventory_state: &str) -> Vec<String> {
    inventory
        .client
        .clone()
        .list_certificates(ListCertificatesRequest {
            inventory_state: inventory_state.to_owned(),
            ..ListCertificatesRequest::default()
        })
        .await
        .expect("ListCertificates succeeds")
        .into_inner()
        .certificates
        .into_iter()
        .map(|certificate| certificate.id)
        .collect()
}

/// Returns whether a session of the test role waits for a lock.
async fn role_waits_for_lock(admin: &PgPool, role: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                        WHERE usename = $1 AND wait_event_type = 'Lock')",
    )
    .bind(role)
    .fetch_one(admin)
    .await
    .expect("pg_stat_activity is readable")
}

#[tokio::test]
async fn certificate_beyond_license_waits_until_raised() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let license = inventory.set_license(Some(2)).await;
    assert_eq!(license.licensed, Some(2));
    assert_eq!(license.held, 0);

    let events = store_all(
        &inventory,
        &ca,
        &["a.example.com", "b.example.com", "c.example.com"],
    )
    .await;
    let third = &events[2];

    let waiting = inventory.certificate(&third.certificate_id).await;
    assert_eq!(waiting.inventory_state, "waiting");
    assert_eq!(waiting.waiting_reason, "license_limit");
    assert!(
        waiting
            .waiting_message
            .contains("allows 2 certificates and 2 are held"),
        "{}",
        waiting.waiting_message
    );
    assert_eq!(waiting.admitted_at, "");
    let by_order = inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            order_id: third.order_id.clone(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect("the order's certificate is found")
        .into_inner();
    assert_eq!(by_order.id, third.certificate_id);
    assert_eq!(by_order.inventory_state, "waiting");

    let rejected = inventory.wait_for_events::<CertificateRejected>(1).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].certificate_id, third.certificate_id);
    assert_eq!(rejected[0].order_id, third.order_id);
    assert_eq!(rejected[0].reason, "license_limit");
    assert_eq!(rejected[0].licensed, 2);
    assert_eq!(rejected[0].held, 2);
    assert_eq!(rejected[0].message, waiting.waiting_message);

    let held = list_ids(&inventory, "").await;
    assert_eq!(held.len(), 2);
    assert!(!held.contains(&third.certificate_id));
    assert_eq!(
        list_ids(&inventory, "waiting").await,
        [third.certificate_id.as_str()]
    );
    let license = inventory.license().await;
    assert_eq!(license.held, 2);
    assert_eq!(license.waiting, 1);
    assert_eq!(
        inventory
            .wait_for_events::<CertificateAddedToInventory>(2)
            .await
            .len(),
        2
    );

    let raised = inventory.set_license(Some(3)).await;

    assert_eq!(raised.licensed, Some(3));
    assert_eq!(raised.held, 3);
    assert_eq!(raised.waiting, 0);
    assert_eq!(raised.updated_by, "test-admin");
    let admitted = inventory.certificate(&third.certificate_id).await;
    assert_eq!(admitted.inventory_state, "held");
    assert_eq!(admitted.waiting_reason, "");
    assert_eq!(admitted.admitted_at, "2030-06-01T12:00:00Z");
    let added = inventory
        .wait_for_events::<CertificateAddedToInventory>(3)
        .await;
    assert_eq!(added.len(), 3);
    assert_eq!(added[2].certificate_id, third.certificate_id);
    assert_eq!(added[2].status, "active");
    assert_eq!(list_ids(&inventory, "").await.len(), 3);
    inventory.stop().await;
}

#[tokio::test]
async fn new_installation_is_unlimited() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");

    store_all(&inventory, &ca, &["a.example.com", "b.example.com"]).await;

    let license = inventory.license().await;
    assert_eq!(license.licensed, None);
    assert_eq!(license.held, 2);
    assert_eq!(license.waiting, 0);
    assert_eq!(license.updated_at, "");
    inventory.stop().await;
}

#[tokio::test]
async fn superseded_certificate_is_not_counted() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    inventory.set_license(Some(2)).await;
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;

    let renewal = CertificateIssued {
        replaces_certificate_id: original.certificate_id.clone(),
        replacement: "renewal".to_owned(),
        ..issued_event(&ca, "shop.example.com", 2, CURRENT)
    };
    inventory.store(&renewal).await;

    assert_eq!(inventory.license().await.held, 1);
    assert_eq!(
        inventory.certificate(&original.certificate_id).await.status,
        "superseded"
    );
    let others = store_all(&inventory, &ca, &["d.example.com", "e.example.com"]).await;
    assert_eq!(
        inventory
            .certificate(&others[0].certificate_id)
            .await
            .inventory_state,
        "held"
    );
    assert_eq!(
        inventory
            .certificate(&others[1].certificate_id)
            .await
            .inventory_state,
        "waiting"
    );
    let license = inventory.license().await;
    assert_eq!(license.held, 2);
    assert_eq!(license.waiting, 1);
    inventory.stop().await;
}

#[tokio::test]
async fn renewal_at_the_limit_takes_over_its_slot() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    inventory.set_license(Some(1)).await;
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;
    let waiting = issued_event(&ca, "other.example.com", 2, CURRENT);
    inventory.store(&waiting).await;

    let renewal = CertificateIssued {
        replaces_certificate_id: original.certificate_id.clone(),
        replacement: "renewal".to_owned(),
        ..issued_event(&ca, "shop.example.com", 3, CURRENT)
    };
    inventory.store(&renewal).await;

    assert_eq!(
        inventory
            .certificate(&renewal.certificate_id)
            .await
            .inventory_state,
        "held"
    );
    assert_eq!(
        inventory
            .certificate(&waiting.certificate_id)
            .await
            .inventory_state,
        "waiting"
    );
    assert_eq!(inventory.license().await.held, 1);
    inventory.stop().await;
}

#[tokio::test]
async fn removal_admits_the_oldest_waiting_first() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    inventory.set_license(Some(1)).await;
    let first = issued_event(&ca, "a.example.com", 1, CURRENT);
    inventory.store(&first).await;
    let older = issued_event(&ca, "b.example.com", 2, CURRENT);
    inventory.clock.advance(Duration::minutes(1));
    inventory.store(&older).await;
    let newer = issued_event(&ca, "c.example.com", 3, CURRENT);
    inventory.clock.advance(Duration::minutes(1));
    inventory.store(&newer).await;

    let removed = inventory
        .client
        .clone()
        .remove_certificate(RemoveCertificateRequest {
            id: first.certificate_id.clone(),
            actor: "test-admin".to_owned(),
        })
        .await
        .expect("RemoveCertificate succeeds")
        .into_inner();

    assert_eq!(removed.inventory_state, "removed");
    assert_eq!(removed.removed_at, "2030-06-01T12:02:00Z");
    assert_eq!(
        inventory
            .certificate(&older.certificate_id)
            .await
            .inventory_state,
        "held"
    );
    assert_eq!(
        inventory
            .certificate(&newer.certificate_id)
            .await
            .inventory_state,
        "waiting"
    );
    assert_eq!(
        list_ids(&inventory, "removed").await,
        [first.certificate_id.as_str()]
    );
    let license = inventory.license().await;
    assert_eq!(license.held, 1);
    assert_eq!(license.waiting, 1);

    let unlimited = inventory.set_license(None).await;

    assert_eq!(unlimited.licensed, None);
    assert_eq!(unlimited.held, 2);
    assert_eq!(unlimited.waiting, 0);
    assert_eq!(
        inventory
            .certificate(&newer.certificate_id)
            .await
            .inventory_state,
        "held"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn removing_twice_and_unknown_ids() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let stored = store_all(&inventory, &ca, &["a.example.com"]).await;
    let remove = |id: String| {
        let mut client = inventory.client.clone();
        async move {
            client
                .remove_certificate(RemoveCertificateRequest {
                    id,
                    actor: String::new(),
                })
                .await
        }
    };

    let first = remove(stored[0].certificate_id.clone()).await.unwrap();
    let again = remove(stored[0].certificate_id.clone()).await.unwrap();
    let unknown = remove(Uuid::now_v7().to_string()).await.unwrap_err();
    let malformed = remove("cert-1".to_owned()).await.unwrap_err();

    assert_eq!(again.into_inner(), first.into_inner());
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().starts_with("id: "),
        "{}",
        malformed.message()
    );
    assert_eq!(inventory.license().await.held, 0);
    inventory.stop().await;
}

#[tokio::test]
async fn two_replicas_racing_for_last_slot_admit_one() {
    let inventory = Inventory::start().await;
    let replica = inventory.start_replica().await;
    let ca = TestCa::new("Test Issuing CA");
    inventory.set_license(Some(2)).await;
    store_all(&inventory, &ca, &["a.example.com"]).await;
    let contenders = [
        issued_event(&ca, "b.example.com", 2, CURRENT),
        issued_event(&ca, "c.example.com", 3, CURRENT),
    ];

    // The test holds the license row, so both events are taken from the shared durable
    // consumer and block on it. Which replica takes which event is up to JetStream; the
    // transaction test below pins the interleaving itself.
    let mut holder = inventory.db.pool.begin().await.unwrap();
    sqlx::query("SELECT held FROM license FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut last = 0;
    for event in &contenders {
        (_, last) = inventory.publish_issued(event).await;
    }
    eventually("a consumer waits for the license row", || {
        role_waits_for_lock(&inventory.db.admin, &inventory.db.service.role)
    })
    .await;
    holder.commit().await.unwrap();
    inventory.wait_until_consumed(last).await;

    let mut states = Vec::new();
    for event in &contenders {
        states.push(
            inventory
                .certificate(&event.certificate_id)
                .await
                .inventory_state,
        );
    }
    states.sort();
    assert_eq!(states, ["held", "waiting"]);
    let license = inventory.license().await;
    assert_eq!(license.held, 2);
    assert_eq!(license.waiting, 1);
    let rejected = inventory.wait_for_events::<CertificateRejected>(1).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].held, 2);
    replica.stop().await;
    inventory.stop().await;
}

#[tokio::test]
async fn concurrent_transactions_for_last_slot_admit_one() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    inventory.set_license(Some(2)).await;
    store_all(&inventory, &ca, &["a.example.com"]).await;
    let outbox = Outbox::new(
        "inventory",
        &inventory.nats.settings,
        inventory.clock.shared(),
    );
    let lifecycle = Lifecycle::new(outbox);
    let first = new_certificate(&issued_event(&ca, "b.example.com", 2, CURRENT));
    let second = new_certificate(&issued_event(&ca, "c.example.com", 3, CURRENT));
    // Two pools stand for two inventory replicas.
    let other_pool = inventory.db.connect_again().await;

    let mut first_tx = inventory.db.pool.begin().await.unwrap();
    let first_outcome = lifecycle.store(&mut first_tx, &first, NOW).await.unwrap();
    let racing = {
        let lifecycle = lifecycle.clone();
        let second = second.clone();
        tokio::spawn(async move {
            let mut tx = other_pool.begin().await.unwrap();
            let outcome = lifecycle.store(&mut tx, &second, NOW).await.unwrap();
            tx.commit().await.unwrap();
            outcome
        })
    };
    eventually("the second transaction waits for the license row", || {
        role_waits_for_lock(&inventory.db.admin, &inventory.db.service.role)
    })
    .await;
    assert!(!racing.is_finished());
    first_tx.commit().await.unwrap();
    let second_outcome = racing.await.unwrap();

    assert!(
        matches!(first_outcome, StoreOutcome::Held(_)),
        "{first_outcome:?}"
    );
    assert!(
        matches!(second_outcome, StoreOutcome::Waiting(_)),
        "{second_outcome:?}"
    );
    let license = inventory.license().await;
    assert_eq!(license.held, 2);
    assert_eq!(license.waiting, 1);
    let held: HashSet<String> = list_ids(&inventory, "held").await.into_iter().collect();
    assert!(held.contains(&first.id.to_string()));
    assert!(!held.contains(&second.id.to_string()));
    inventory.stop().await;
}
