//! Recording CertificateIssued events as one batch gives the same rows as recording them one
//! by one, on the real Postgres: plain certificates, a revoked one, one whose order has a
//! policy, one a scheduled replacement placed, and one recorded before. The handler is called
//! directly, inside a transaction, as the platform's consumer calls it.

use std::time::Duration as StdDuration;

use certitude_platform::clock::ManualClock;
use certitude_platform::consumer::{EventHandler, ReceivedEvent};
use certitude_platform::events::{self, Envelope, Event};
use certitude_platform::testing::TestDb;
use certitude_proto::events::v1::CertificateIssued;
use certitude_renewal_scheduler::MIGRATOR;
use certitude_renewal_scheduler::audit_store::{self, AuditEntry};
use certitude_renewal_scheduler::ingest::ExpiryRecorder;
use certitude_renewal_scheduler::policy::{Policy, RenewalTiming};
use certitude_renewal_scheduler::policy_store;
use certitude_renewal_scheduler::schedule_store::PlanSettings;
use prost::Message;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

/// The ids every scenario shares, so that both databases receive the same events.
struct Ids {
    plain_order: Uuid,
    revoked_order: Uuid,
    policy_order: Uuid,
    replacement_order: Uuid,
    known_order: Uuid,
    predecessor: Uuid,
    predecessor_order: Uuid,
    known_certificate: Uuid,
    policy: Uuid,
    audit: Uuid,
}

impl Ids {
    fn new() -> Self {
        Self {
            plain_order: Uuid::now_v7(),
            revoked_order: Uuid::now_v7(),
            policy_order: Uuid::now_v7(),
            replacement_order: Uuid::now_v7(),
            known_order: Uuid::now_v7(),
            predecessor: Uuid::now_v7(),
            predecessor_order: Uuid::now_v7(),
            known_certificate: Uuid::now_v7(),
            policy: Uuid::now_v7(),
            audit: Uuid::now_v7(),
        }
    }
}

/// The columns compared between the two ways of recording.
type ExpiryRow = (
    Uuid,
    Option<String>,
    i32,
    OffsetDateTime,
    OffsetDateTime,
    bool,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

async fn migrated_db() -> TestDb {
    let db = TestDb::new().await;
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .expect("the migrations apply");
    db
}

/// Writes what Certitude knew before the events: a policy, a certificate whose scheduled
/// replacement placed `replacement_order` (with its audit row), and one certificate recorded
/// already.
async fn seed(db: &TestDb, ids: &Ids) {
    policy_store::upsert(
        &db.pool,
        &Policy {
            id: ids.policy,
            order_id: ids.policy_order,
            credential_id: "credential-1".to_owned(),
            order_product: "STANDARD_SSL".to_owned(),
            enabled: true,
            timing: RenewalTiming::DaysBeforeExpiry(30),
            rotate_key: true,
            product: None,
            validity_days: None,
            window: None,
            max_attempts: 3,
            admin_credential_id: None,
            actor: "test".to_owned(),
            renewals: 0,
            created_at: NOW,
            updated_at: NOW,
        },
    )
    .await
    .expect("the policy is stored");

    sqlx::query(
        "INSERT INTO certificate_expiries (certificate_id, order_id, not_after, recorded_at,
             generation, new_order_id)
         VALUES ($1, $2, $3, $4, 2, $5), ($6, $7, $3, $4, 0, NULL)",
    )
    .bind(ids.predecessor)
    .bind(ids.predecessor_order.to_string())
    .bind(NOW + Duration::days(10))
    .bind(NOW - Duration::days(300))
    .bind(ids.replacement_order)
    .bind(ids.known_certificate)
    .bind(ids.known_order.to_string())
    .execute(&db.pool)
    .await
    .expect("the earlier certificates are stored");

    let mut conn = db.pool.acquire().await.expect("a connection");
    audit_store::insert(
        &mut conn,
        &AuditEntry {
            id: ids.audit,
            attempted_at: NOW - Duration::days(1),
            policy_id: ids.policy,
            order_id: None,
            certificate_id: ids.predecessor,
            new_order_id: Some(ids.replacement_order),
            new_certificate_id: None,
            outcome: "succeeded".to_owned(),
            error: None,
            duration_ms: 10,
            attempt: 1,
        },
    )
    .await
    .expect("the audit row is stored");
}

fn issued(certificate_id: Uuid, order_id: Uuid, order_status: &str) -> CertificateIssued {
    CertificateIssued {
        certificate_id: certificate_id.to_string(),
        order_id: order_id.to_string(),
        credential_id: "credential-1".to_owned(),
        not_after: Some(events::timestamp(NOW + Duration::days(200))),
        order_status: order_status.to_owned(),
        ..CertificateIssued::default()
    }
}

/// Returns the events of the scenario.
fn scenario_events(ids: &Ids) -> Vec<CertificateIssued> {
    let mut events = vec![
        issued(Uuid::now_v7(), ids.plain_order, "ISSUED"),
        issued(Uuid::now_v7(), ids.revoked_order, "REVOKED"),
        issued(Uuid::now_v7(), ids.policy_order, "ISSUED"),
        issued(Uuid::now_v7(), ids.replacement_order, "ISSUED"),
        issued(ids.known_certificate, ids.known_order, "ISSUED"),
    ];
    // A certificate that does not parse: the expiry comes from the event alone.
    events[0].certificate_pem = "not a certificate".to_owned();
    events
}

fn received(payload: &CertificateIssued, sequence: u64) -> ReceivedEvent {
    let event_id = Uuid::now_v7();
    ReceivedEvent {
        envelope: Envelope {
            event_id: event_id.to_string(),
            event_type: CertificateIssued::TYPE.full_name.to_owned(),
            occurred_at: Some(events::timestamp(NOW)),
            producer: "order-manager".to_owned(),
            aggregate_type: CertificateIssued::TYPE.aggregate.to_owned(),
            aggregate_id: payload.certificate_id.clone(),
            sequence: 1,
            schema_version: 1,
            payload: payload.encode_to_vec(),
        },
        event_id,
        subject: "certs.v1.certificate.issued".to_owned(),
        stream_sequence: sequence,
        delivered: 1,
        traceparent: None,
    }
}

/// Applies `events` in one transaction, as one batch or one event at a time.
async fn apply(db: &TestDb, events: &[CertificateIssued], as_batch: bool) {
    let clock = ManualClock::new(NOW);
    let recorder = ExpiryRecorder::new(
        clock.shared(),
        vec![30, 7],
        PlanSettings {
            jitter: StdDuration::ZERO,
        },
    );
    let received: Vec<ReceivedEvent> = events
        .iter()
        .enumerate()
        .map(|(index, event)| received(event, index as u64 + 1))
        .collect();
    let mut tx = db.pool.begin().await.expect("begin");
    if as_batch {
        let batch: Vec<&ReceivedEvent> = received.iter().collect();
        recorder
            .handle_batch(&mut tx, &batch)
            .await
            .expect("the batch is recorded");
    } else {
        for event in &received {
            recorder
                .handle(&mut tx, event)
                .await
                .expect("the event is recorded");
        }
    }
    tx.commit().await.expect("commit");
}

async fn expiry_rows(db: &TestDb) -> Vec<ExpiryRow> {
    sqlx::query_as(
        "SELECT certificate_id, order_id, generation, not_after, recorded_at,
             revoked_at IS NOT NULL, renew_at, next_warning_at
         FROM certificate_expiries ORDER BY certificate_id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("the expiries are readable")
}

async fn audit_new_certificate(db: &TestDb, audit: Uuid) -> Option<Uuid> {
    sqlx::query_scalar("SELECT new_certificate_id FROM renewal_audit WHERE id = $1")
        .bind(audit)
        .fetch_one(&db.pool)
        .await
        .expect("the audit row is readable")
}

#[tokio::test]
async fn batch_matches_one_event_at_a_time() {
    let ids = Ids::new();
    let events = scenario_events(&ids);
    let one_by_one = migrated_db().await;
    let batched = migrated_db().await;
    seed(&one_by_one, &ids).await;
    seed(&batched, &ids).await;

    apply(&one_by_one, &events, false).await;
    apply(&batched, &events, true).await;

    let rows = expiry_rows(&batched).await;
    assert_eq!(rows, expiry_rows(&one_by_one).await);
    assert_eq!(
        rows.len(),
        6,
        "two earlier certificates and four new ones: {rows:?}"
    );
    let row_of = |order_id: Uuid| {
        rows.iter()
            .find(|row| row.1.as_deref() == Some(order_id.to_string().as_str()))
            .expect("the order's certificate is recorded")
    };
    let plain = row_of(ids.plain_order);
    assert_eq!(plain.2, 0, "a first certificate starts the lineage");
    assert_eq!(plain.3, NOW + Duration::days(200));
    assert_eq!(plain.4, NOW);
    assert!(
        !plain.5 && plain.6.is_none(),
        "no policy, no renewal: {plain:?}"
    );
    assert!(row_of(ids.revoked_order).5, "it entered revoked");
    assert_eq!(
        row_of(ids.policy_order).6,
        Some(NOW + Duration::days(170)),
        "renewed 30 days before expiry under the order's policy"
    );
    let replacement = row_of(ids.replacement_order);
    assert_eq!(
        replacement.2, 3,
        "one generation after the certificate it replaces"
    );
    assert_eq!(
        audit_new_certificate(&batched, ids.audit).await,
        Some(replacement.0),
        "the attempt that placed the order names its certificate"
    );
    assert_eq!(
        audit_new_certificate(&one_by_one, ids.audit).await,
        Some(replacement.0)
    );
    let known = row_of(ids.known_order);
    assert_eq!(
        known.4,
        NOW - Duration::days(300),
        "a recorded expiry stays as it was"
    );

    one_by_one.drop_now().await;
    batched.drop_now().await;
}

#[tokio::test]
async fn batch_naming_an_order_twice_records_both() {
    let db = migrated_db().await;
    let order = Uuid::now_v7();
    let first = issued(Uuid::now_v7(), order, "ISSUED");
    let second = issued(Uuid::now_v7(), order, "ISSUED");
    let other = issued(Uuid::now_v7(), Uuid::now_v7(), "ISSUED");

    apply(&db, &[first.clone(), second.clone(), other], true).await;

    let rows = expiry_rows(&db).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let generations: Vec<i32> = rows
        .iter()
        .filter(|row| row.1.as_deref() == Some(order.to_string().as_str()))
        .map(|row| row.2)
        .collect();
    assert_eq!(generations, vec![0, 0], "{rows:?}");
    db.drop_now().await;
}
