//! Re-wrapping a sealed column on the real Postgres: moving blobs to the current master key,
//! running again, concurrent writers, and blobs that cannot be moved.

use std::num::NonZeroU32;
use std::time::Duration;

use certitude_platform::seal::{
    KeyId, Keyring, MasterKey, RewrapError, RewrapStats, SealError, SealedColumn, record_aad,
    rewrap_column, sealed_key_id,
};
use certitude_platform::testing::TestDb;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::time::Instant;
use uuid::Uuid;

const SECRETS: SealedColumn<'static> = SealedColumn {
    table: "secrets",
    id_column: "id",
    column: "secret",
};

fn key(id: &str) -> MasterKey {
    let id = KeyId::parse(id).expect("test key ids are valid");
    MasterKey::generate(id).expect("the system RNG works")
}

/// Returns a copy of `key`, so that several keyrings can share one master key.
fn copy(key: &MasterKey) -> MasterKey {
    let entry = key.to_config_entry();
    let (id, encoded) = entry
        .expose_secret()
        .split_once(':')
        .expect("entry is ID:BASE64");
    let id = KeyId::parse(id).expect("the id came from a valid key");
    MasterKey::from_base64(id, encoded).expect("the entry encodes a 32-byte key")
}

/// The keyrings of a rotation from `old` to `new`: before, during and after.
struct Rotation {
    old_only: Keyring,
    both: Keyring,
    new_only: Keyring,
}

impl Rotation {
    fn new() -> Self {
        let old = key("old");
        let new = key("new");
        Self {
            old_only: Keyring::new(copy(&old), []).expect("one key makes a keyring"),
            both: Keyring::new(copy(&new), [copy(&old)]).expect("the ids differ"),
            new_only: Keyring::new(new, []).expect("one key makes a keyring"),
        }
    }
}

fn aad(id: &Uuid) -> Vec<u8> {
    record_aad("secrets", "secret", &id.to_string())
}

fn plaintext(index: usize) -> Vec<u8> {
    format!("api-key-{index:04}").into_bytes()
}

fn batch(size: u32) -> NonZeroU32 {
    NonZeroU32::new(size).expect("test batch sizes are positive")
}

async fn secrets_table() -> TestDb {
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE secrets (id uuid PRIMARY KEY, secret bytea)")
        .execute(&db.pool)
        .await
        .expect("the test table is created");
    db
}

/// Inserts `count` rows sealed by `keyring` and returns their ids, in insertion order.
async fn insert_sealed(pool: &PgPool, keyring: &Keyring, count: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        let id = Uuid::new_v4();
        let sealed = keyring
            .seal(&plaintext(index), &aad(&id))
            .expect("sealing works");
        insert(pool, id, Some(sealed)).await;
        ids.push(id);
    }
    ids
}

async fn insert(pool: &PgPool, id: Uuid, sealed: Option<Vec<u8>>) {
    sqlx::query("INSERT INTO secrets (id, secret) VALUES ($1, $2)")
        .bind(id)
        .bind(sealed)
        .execute(pool)
        .await
        .expect("the row is inserted");
}

async fn blob(pool: &PgPool, id: Uuid) -> Vec<u8> {
    sqlx::query_scalar("SELECT secret FROM secrets WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("the row exists")
}

async fn rewrap(pool: &PgPool, keyring: &Keyring, size: u32) -> Result<RewrapStats, RewrapError> {
    rewrap_column(pool, &SECRETS, aad, keyring, batch(size)).await
}

#[tokio::test]
async fn old_blobs_move_to_current_key() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let old_ids = insert_sealed(&db.pool, &keys.old_only, 23).await;
    let new_ids = insert_sealed(&db.pool, &keys.both, 4).await;
    insert(&db.pool, Uuid::new_v4(), None).await;

    let stats = rewrap(&db.pool, &keys.both, 5).await.unwrap();

    let expected = RewrapStats {
        examined: 27,
        rewrapped: 23,
        already_current: 4,
        changed_concurrently: 0,
        remaining: 0,
    };
    assert_eq!(stats, expected);
    for (index, id) in old_ids.iter().enumerate() {
        let sealed = blob(&db.pool, *id).await;
        assert_eq!(sealed_key_id(&sealed).unwrap(), "new");
        let opened = keys.new_only.open(&sealed, &aad(id)).unwrap();
        assert_eq!(opened.expose_secret(), plaintext(index).as_slice());
    }
    for (index, id) in new_ids.iter().enumerate() {
        let opened = keys.new_only.open(&blob(&db.pool, *id).await, &aad(id));
        assert_eq!(opened.unwrap().expose_secret(), plaintext(index).as_slice());
    }
    db.drop_now().await;
}

#[tokio::test]
async fn second_run_rewraps_nothing() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let ids = insert_sealed(&db.pool, &keys.old_only, 10).await;
    rewrap(&db.pool, &keys.both, 3).await.unwrap();
    let after_first = blob(&db.pool, ids[0]).await;

    let stats = rewrap(&db.pool, &keys.both, 3).await.unwrap();

    assert_eq!(stats.examined, 10);
    assert_eq!(stats.rewrapped, 0);
    assert_eq!(stats.already_current, 10);
    assert_eq!(stats.remaining, 0);
    assert_eq!(blob(&db.pool, ids[0]).await, after_first);
    db.drop_now().await;
}

#[tokio::test]
async fn full_last_batch_reads_every_row() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    insert_sealed(&db.pool, &keys.old_only, 6).await;

    let stats = rewrap(&db.pool, &keys.both, 6).await.unwrap();

    assert_eq!(stats.examined, 6);
    assert_eq!(stats.rewrapped, 6);
    assert_eq!(stats.remaining, 0);
    db.drop_now().await;
}

#[tokio::test]
async fn empty_table_gives_zero_counts() {
    let db = secrets_table().await;
    let keys = Rotation::new();

    let stats = rewrap(&db.pool, &keys.both, 10).await.unwrap();

    assert_eq!(stats, RewrapStats::default());
    db.drop_now().await;
}

#[tokio::test]
async fn secret_written_during_rewrap_is_kept() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let ids = insert_sealed(&db.pool, &keys.old_only, 3).await;
    let contested = ids[1];
    // A replica that still seals with the old key replaces the secret. Its open transaction
    // keeps the row locked while the rotation reads the old blob and tries to update it.
    let replacement = keys.old_only.seal(b"replaced", &aad(&contested)).unwrap();
    let mut writer = db.pool.begin().await.unwrap();
    sqlx::query("UPDATE secrets SET secret = $1 WHERE id = $2")
        .bind(&replacement)
        .bind(contested)
        .execute(&mut *writer)
        .await
        .unwrap();

    let pool = db.pool.clone();
    let both = keys.both.clone();
    let rotation = tokio::spawn(async move { rewrap(&pool, &both, 10).await });
    wait_for_lock_waiter(&db).await;
    writer.commit().await.unwrap();
    let stats = rotation.await.unwrap().unwrap();

    assert_eq!(stats.rewrapped, 2);
    assert_eq!(stats.changed_concurrently, 1);
    assert_eq!(stats.remaining, 1);
    assert_eq!(blob(&db.pool, contested).await, replacement);
    let rerun = rewrap(&db.pool, &keys.both, 10).await.unwrap();
    assert_eq!(rerun.rewrapped, 1);
    assert_eq!(rerun.remaining, 0);
    let opened = keys
        .new_only
        .open(&blob(&db.pool, contested).await, &aad(&contested));
    assert_eq!(opened.unwrap().expose_secret(), b"replaced");
    db.drop_now().await;
}

/// Waits until a session of the test role waits for a row lock.
async fn wait_for_lock_waiter(db: &TestDb) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE usename = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db.service.role)
        .fetch_one(&db.admin)
        .await
        .expect("pg_stat_activity is readable");
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the rotation never waited for the locked row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn missing_key_stops_run_naming_row() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let stranger = Keyring::new(key("lost"), []).unwrap();
    let id = Uuid::new_v4();
    let sealed = stranger.seal(b"orphan", &aad(&id)).unwrap();
    insert(&db.pool, id, Some(sealed.clone())).await;

    let error = rewrap(&db.pool, &keys.both, 10).await.unwrap_err();

    let RewrapError::Seal { row_id, source, .. } = &error else {
        panic!("expected a seal error, got {error:?}");
    };
    assert_eq!(row_id, &id.to_string());
    assert!(
        matches!(source, SealError::UnknownKey { key_id } if key_id == "lost"),
        "{source:?}"
    );
    let message = error.to_string();
    assert!(message.contains("secrets.secret"), "{message}");
    assert!(message.contains("add it to the keyring"), "{message}");
    assert_eq!(blob(&db.pool, id).await, sealed);
    db.drop_now().await;
}

#[tokio::test]
async fn blob_copied_from_another_row_is_not_rewritten() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let original = Uuid::new_v4();
    let copied_to = Uuid::new_v4();
    let sealed = keys.old_only.seal(b"secret", &aad(&original)).unwrap();
    insert(&db.pool, copied_to, Some(sealed.clone())).await;

    let error = rewrap(&db.pool, &keys.both, 10).await.unwrap_err();

    assert!(
        matches!(
            &error,
            RewrapError::Seal {
                source: SealError::Open { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(blob(&db.pool, copied_to).await, sealed);
    db.drop_now().await;
}

#[tokio::test]
async fn integer_row_ids_page_in_numeric_order() {
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE tokens (id bigint PRIMARY KEY, token bytea NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    let keys = Rotation::new();
    let token_aad = |id: &i64| record_aad("tokens", "token", &id.to_string());
    // 2, 10 and 100 sort differently as text, so text paging would skip or repeat rows.
    for id in [100_i64, 2, 10, 9, 11] {
        let sealed = keys.old_only.seal(b"token", &token_aad(&id)).unwrap();
        sqlx::query("INSERT INTO tokens (id, token) VALUES ($1, $2)")
            .bind(id)
            .bind(sealed)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let column = SealedColumn {
        table: "tokens",
        id_column: "id",
        column: "token",
    };

    let stats = rewrap_column(&db.pool, &column, token_aad, &keys.both, batch(2))
        .await
        .unwrap();

    assert_eq!(stats.examined, 5);
    assert_eq!(stats.rewrapped, 5);
    assert_eq!(stats.remaining, 0);
    db.drop_now().await;
}

#[tokio::test]
async fn quoted_table_name_is_rejected() {
    let db = secrets_table().await;
    let keys = Rotation::new();
    let column = SealedColumn {
        table: "secrets\"; DROP TABLE secrets; --",
        ..SECRETS
    };

    let error = rewrap_column(&db.pool, &column, aad, &keys.both, batch(10))
        .await
        .unwrap_err();

    assert!(
        matches!(error, RewrapError::InvalidName { .. }),
        "{error:?}"
    );
    db.drop_now().await;
}
