//! The due-scan's claims on a fresh schema of the real Postgres: the per-credential limit,
//! disjoint claims of concurrent replicas, and the end of a claim whose lease was taken over.

use std::collections::HashSet;

use certitude_platform::testing::TestDb;
use certitude_renewal_scheduler::MIGRATOR;
use certitude_renewal_scheduler::schedule_store::{self, Claim, ClaimEnd, ClaimRequest, claim_due};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

async fn migrated_db() -> TestDb {
    let db = TestDb::new().await;
    certitude_platform::db::migrate(&db.pool, &MIGRATOR)
        .await
        .expect("the migrations apply");
    db
}

/// Inserts `count` certificates of `credential` that were due a minute before [`NOW`].
async fn insert_due(db: &TestDb, credential: &str, count: usize) {
    for _ in 0..count {
        sqlx::query(
            "INSERT INTO certificate_expiries (certificate_id, order_id, credential_id,
                 not_after, recorded_at, renew_at, renewal_method, due_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'renewal', $6)",
        )
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7().to_string())
        .bind(credential)
        .bind(NOW + Duration::days(20))
        .bind(NOW - Duration::days(60))
        .bind(NOW - Duration::minutes(1))
        .execute(&db.pool)
        .await
        .expect("the row is inserted");
    }
}

fn request(batch_size: u32, credential_concurrency: u32) -> ClaimRequest {
    ClaimRequest {
        now: NOW,
        lease_until: NOW + Duration::minutes(5),
        batch_size,
        credential_concurrency,
    }
}

#[tokio::test]
async fn credential_limit_caps_claims() {
    let db = migrated_db().await;
    insert_due(&db, "credential-a", 10).await;
    insert_due(&db, "credential-b", 2).await;

    let first = claim_due(&db.pool, request(50, 4)).await.expect("claims");
    let second = claim_due(&db.pool, request(50, 4)).await.expect("claims");

    assert_eq!(first.len(), 6, "4 of credential-a and both of credential-b");
    assert!(
        second.is_empty(),
        "credential-a has 4 claims in flight: {second:?}"
    );
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replicas_claim_disjoint_rows() {
    let db = migrated_db().await;
    for index in 0..20 {
        insert_due(&db, &format!("credential-{index}"), 5).await;
    }

    let (left, right) = tokio::join!(
        claim_due(&db.pool, request(60, 100)),
        claim_due(&db.pool, request(60, 100)),
    );
    let left = left.expect("claims");
    let right = right.expect("claims");

    let left_ids: HashSet<Uuid> = left.iter().map(|claim| claim.certificate_id).collect();
    let right_ids: HashSet<Uuid> = right.iter().map(|claim| claim.certificate_id).collect();
    assert!(left_ids.is_disjoint(&right_ids));
    assert_eq!(left_ids.len() + right_ids.len(), 100);
    db.drop_now().await;
}

#[tokio::test]
async fn lost_claim_changes_nothing() {
    let db = migrated_db().await;
    insert_due(&db, "credential-a", 1).await;
    let first = claim_due(&db.pool, request(10, 4)).await.expect("claims");
    // The lease ends, and another replica claims the certificate at a later instant.
    let later = ClaimRequest {
        now: NOW + Duration::minutes(6),
        lease_until: NOW + Duration::minutes(11),
        ..request(10, 4)
    };
    let second = claim_due(&db.pool, later).await.expect("claims");
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
    let stale = Claim {
        certificate_id: first[0].certificate_id,
        token: first[0].token,
    };

    let mut conn = db.pool.acquire().await.expect("a connection");
    let stale_ended = schedule_store::end_claim(&mut conn, stale, &ClaimEnd::default())
        .await
        .expect("the update runs");
    let current_ended = schedule_store::end_claim(&mut conn, second[0], &ClaimEnd::default())
        .await
        .expect("the update runs");

    assert!(!stale_ended);
    assert!(current_ended);
    drop(conn);
    db.drop_now().await;
}
