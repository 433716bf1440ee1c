//! `certitude verify-audit` as an operator runs it: the binary against a gateway schema on the
//! real Postgres, its output and its exit status for an intact chain, a deleted row and a
//! truncated end.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::process::Output;

use certitude_gateway::audit::{self, AuditEvent, ChainHead};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use secrecy::ExposeSecret;
use tokio::process::Command;

static GATEWAY_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../gateway/migrations");

/// Creates a gateway schema whose audit chain has `rows` rows, and returns it with its head.
async fn chain_of(rows: u16) -> (TestDb, ChainHead) {
    let db = TestDb::migrated(&GATEWAY_MIGRATOR).await;
    let mut head = audit::read_head(&db.pool).await.unwrap();
    for index in 0..rows {
        let event = AuditEvent {
            occurred_at: clock::system().now(),
            request_id: format!("request-{index}"),
            actor: None,
            method: "DELETE".to_owned(),
            route: "/v1/orders/{id}".to_owned(),
            target: Some(format!("id=order-{index}")),
            status: 200,
        };
        head = audit::append(&db.pool, event).await.unwrap();
    }
    (db, head)
}

/// Runs `certitude verify-audit` on the test schema with `args`.
async fn verify_audit(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certitude"))
        .arg("verify-audit")
        .args(args)
        .env_clear()
        .env(
            "CERTITUDE_GATEWAY_DATABASE_URL",
            db.settings.url.expose_secret(),
        )
        .env("CERTITUDE_GATEWAY_DB_SCHEMA", &db.service.schema)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn intact_chain_exits_zero() {
    let (db, head) = chain_of(3).await;

    let output = verify_audit(&db, &["--expected-head", &head.to_string()]).await;

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        format!("OK: the audit chain is intact: 3 rows, head {head}")
    );

    db.drop_now().await;
}

#[tokio::test]
async fn deleted_row_exits_nonzero() {
    let (db, _) = chain_of(3).await;
    sqlx::query("DELETE FROM audit_log WHERE sequence = 2")
        .execute(&db.pool)
        .await
        .unwrap();

    let output = verify_audit(&db, &[]).await;

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("row 2 is missing: sequence 1 is followed by 3"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    db.drop_now().await;
}

#[tokio::test]
async fn truncated_chain_fails_expected_head() {
    let (db, head) = chain_of(4).await;
    sqlx::query("DELETE FROM audit_log WHERE sequence > 2")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_chain_head SET (sequence, hash) =
             (SELECT sequence, hash FROM audit_log WHERE sequence = 2)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let without_anchor = verify_audit(&db, &[]).await;
    let with_anchor = verify_audit(&db, &["--expected-head", &head.to_string()]).await;

    assert!(without_anchor.status.success());
    assert_eq!(with_anchor.status.code(), Some(1));
    let stderr = text(&with_anchor.stderr);
    assert!(
        stderr.contains("before the anchored head at sequence 4: rows 3 to 4 were deleted"),
        "{stderr}"
    );

    db.drop_now().await;
}

#[tokio::test]
async fn malformed_expected_head_is_rejected() {
    let (db, _) = chain_of(1).await;

    let output = verify_audit(&db, &["--expected-head", "12"]).await;

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("not an anchored head"), "{stderr}");

    db.drop_now().await;
}
