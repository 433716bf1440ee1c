//! Verification of the audit chain against the real Postgres: an intact chain, an edited row,
//! a rehashed row, a deleted row in the middle, deleted rows at the end with and without an
//! anchored head, and a rewritten chain.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use certitude_gateway::audit::{
    self, AnchoredHead, AuditEvent, AuditRow, ChainFault, ChainHead, ChainReport, Verification,
};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use sqlx::PgPool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates a gateway schema whose audit chain has `rows` rows.
async fn chain_of(rows: u16) -> TestDb {
    let db = TestDb::migrated(&MIGRATOR).await;
    for index in 0..rows {
        let event = AuditEvent {
            occurred_at: clock::system().now(),
            request_id: format!("request-{index}"),
            actor: None,
            method: "POST".to_owned(),
            route: "/v1/orders/{id}/revoke".to_owned(),
            target: Some(format!("id=order-{index}")),
            status: 200 + index,
        };
        audit::append(&db.pool, event).await.unwrap();
    }
    db
}

fn anchor(head: &ChainHead) -> AnchoredHead {
    head.to_string().parse().unwrap()
}

async fn verify(pool: &PgPool, anchored: Option<&AnchoredHead>) -> Verification {
    audit::verify_chain(pool, anchored).await.unwrap()
}

async fn execute(pool: &PgPool, statement: &'static str) {
    sqlx::query(statement).execute(pool).await.unwrap();
}

async fn row(pool: &PgPool, sequence: i64) -> AuditRow {
    sqlx::query_as("SELECT * FROM audit_log WHERE sequence = $1")
        .bind(sequence)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Recomputes the hashes of rows `from` onwards and the head, as someone who rewrites the
/// chain after an edit would.
async fn rehash_from(pool: &PgPool, from: i64) {
    let mut prev_hash = row(pool, from - 1).await.hash;
    let rows: Vec<AuditRow> =
        sqlx::query_as("SELECT * FROM audit_log WHERE sequence >= $1 ORDER BY sequence")
            .bind(from)
            .fetch_all(pool)
            .await
            .unwrap();
    for mut row in rows {
        row.prev_hash = prev_hash;
        row.hash = row.compute_hash();
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE sequence = $3")
            .bind(&row.prev_hash)
            .bind(&row.hash)
            .bind(row.sequence)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_chain_head SET sequence = $1, hash = $2")
            .bind(row.sequence)
            .bind(&row.hash)
            .execute(pool)
            .await
            .unwrap();
        prev_hash = row.hash;
    }
}

#[tokio::test]
async fn intact_chain_verifies() {
    let db = chain_of(5).await;
    let head = audit::read_head(&db.pool).await.unwrap();

    let plain = verify(&db.pool, None).await;
    let anchored = verify(&db.pool, Some(&anchor(&head))).await;
    let earlier = row(&db.pool, 3).await;
    let earlier_anchor: AnchoredHead = format!("3:{}", earlier.hash).parse().unwrap();
    let anchored_earlier = verify(&db.pool, Some(&earlier_anchor)).await;

    let expected = Verification::Intact(ChainReport {
        count: 5,
        head: head.clone(),
    });
    assert_eq!(head.sequence, 5);
    assert_eq!(plain, expected);
    assert_eq!(anchored, expected);
    assert_eq!(anchored_earlier, expected);

    db.drop_now().await;
}

#[tokio::test]
async fn empty_chain_verifies() {
    let db = chain_of(0).await;

    let verification = verify(&db.pool, None).await;

    let Verification::Intact(report) = verification else {
        panic!("an empty chain is intact: {verification:?}");
    };
    assert_eq!(report.count, 0);
    assert_eq!(report.head.hash, audit::GENESIS_HASH);

    db.drop_now().await;
}

#[tokio::test]
async fn edited_row_is_reported() {
    let db = chain_of(5).await;
    execute(
        &db.pool,
        "UPDATE audit_log SET status = 500 WHERE sequence = 3",
    )
    .await;

    let verification = verify(&db.pool, None).await;

    assert_eq!(
        verification,
        Verification::Broken(ChainFault::EditedRow { sequence: 3 })
    );
    let Verification::Broken(fault) = verification else {
        unreachable!()
    };
    assert_eq!(
        fault.to_string(),
        "row 3 was edited: its fields do not match its stored hash"
    );

    db.drop_now().await;
}

#[tokio::test]
async fn rehashed_row_breaks_next_link() {
    let db = chain_of(5).await;
    let mut edited = row(&db.pool, 3).await;
    edited.actor_name = Some("someone-else".to_owned());
    edited.hash = edited.compute_hash();
    sqlx::query("UPDATE audit_log SET actor_name = $1, hash = $2 WHERE sequence = 3")
        .bind(&edited.actor_name)
        .bind(&edited.hash)
        .execute(&db.pool)
        .await
        .unwrap();

    let verification = verify(&db.pool, None).await;

    assert_eq!(
        verification,
        Verification::Broken(ChainFault::PrevHashMismatch { sequence: 4 })
    );

    db.drop_now().await;
}

#[tokio::test]
async fn deleted_middle_row_is_reported() {
    let db = chain_of(5).await;
    execute(&db.pool, "DELETE FROM audit_log WHERE sequence = 3").await;

    let verification = verify(&db.pool, None).await;

    assert_eq!(
        verification,
        Verification::Broken(ChainFault::SequenceGap {
            previous: 2,
            next: 4
        })
    );
    let Verification::Broken(fault) = verification else {
        unreachable!()
    };
    assert_eq!(
        fault.to_string(),
        "row 3 is missing: sequence 2 is followed by 4"
    );

    db.drop_now().await;
}

#[tokio::test]
async fn deleted_first_row_is_reported() {
    let db = chain_of(3).await;
    execute(&db.pool, "DELETE FROM audit_log WHERE sequence = 1").await;

    let verification = verify(&db.pool, None).await;

    assert_eq!(
        verification,
        Verification::Broken(ChainFault::MissingStart { first_sequence: 2 })
    );

    db.drop_now().await;
}

#[tokio::test]
async fn deleted_last_rows_fail_anchored_head() {
    let db = chain_of(5).await;
    let anchored = anchor(&audit::read_head(&db.pool).await.unwrap());
    execute(&db.pool, "DELETE FROM audit_log WHERE sequence >= 4").await;
    // The head table is moved back too, so only the anchor outside the database shows the cut.
    execute(
        &db.pool,
        "UPDATE audit_chain_head SET (sequence, hash) =
             (SELECT sequence, hash FROM audit_log WHERE sequence = 3)",
    )
    .await;

    let without_anchor = verify(&db.pool, None).await;
    let with_anchor = verify(&db.pool, Some(&anchored)).await;

    let Verification::Intact(report) = without_anchor else {
        panic!("the cut chain is consistent in itself: {without_anchor:?}");
    };
    assert_eq!(report.count, 3);
    assert_eq!(
        with_anchor,
        Verification::Broken(ChainFault::Truncated {
            last_sequence: 3,
            anchored: 5
        })
    );
    let Verification::Broken(fault) = with_anchor else {
        unreachable!()
    };
    assert_eq!(
        fault.to_string(),
        "the chain ends at sequence 3, before the anchored head at sequence 5: rows 4 to 5 \
         were deleted"
    );

    db.drop_now().await;
}

#[tokio::test]
async fn deleted_last_rows_mismatch_stored_head() {
    let db = chain_of(5).await;
    let stored_head = audit::read_head(&db.pool).await.unwrap();
    execute(&db.pool, "DELETE FROM audit_log WHERE sequence = 5").await;

    let verification = verify(&db.pool, None).await;

    let last_row = row(&db.pool, 4).await;
    assert_eq!(
        verification,
        Verification::Broken(ChainFault::HeadMismatch {
            last_row: ChainHead {
                sequence: 4,
                hash: last_row.hash,
            },
            stored_head,
        })
    );

    db.drop_now().await;
}

#[tokio::test]
async fn rewritten_chain_fails_anchored_head() {
    let db = chain_of(5).await;
    let anchored = anchor(&audit::read_head(&db.pool).await.unwrap());
    execute(
        &db.pool,
        "UPDATE audit_log SET status = 204 WHERE sequence = 2",
    )
    .await;
    rehash_from(&db.pool, 2).await;

    let without_anchor = verify(&db.pool, None).await;
    let with_anchor = verify(&db.pool, Some(&anchored)).await;

    assert!(matches!(without_anchor, Verification::Intact(_)));
    let stored_hash = row(&db.pool, 5).await.hash;
    assert_eq!(
        with_anchor,
        Verification::Broken(ChainFault::AnchorMismatch {
            sequence: 5,
            stored_hash,
        })
    );

    db.drop_now().await;
}

#[tokio::test]
async fn head_gauge_reads_last_sequence() {
    let db = chain_of(4).await;

    let value: i64 = sqlx::query_scalar(audit::head_gauge().query)
        .bind(clock::system().now())
        .fetch_one(&db.pool)
        .await
        .unwrap();

    assert_eq!(value, 4);

    db.drop_now().await;
}
