//! Postgres for a service on the real server: role isolation, provisioning, connection
//! settings, migrations and error classes.

use std::time::Duration;

use certitude_platform::db::{self, DbError, DbSettings, ServiceDb};
use certitude_platform::testing::{TestDb, unique_suffix};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

static SERVICE_MIGRATIONS: Migrator = sqlx::migrate!("./tests/migrations");

async fn has_schema_privilege(pool: &PgPool, schema: &str, privilege: &str) -> bool {
    sqlx::query_scalar("SELECT has_schema_privilege($1, $2)")
        .bind(schema)
        .bind(privilege)
        .fetch_one(pool)
        .await
        .expect("has_schema_privilege runs for an existing schema")
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|db| db.code().map(|code| code.into_owned()))
}

#[tokio::test]
async fn roles_cannot_use_other_schemas() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    for test_db in [&a, &b] {
        sqlx::query("CREATE TABLE secrets (value TEXT)")
            .execute(&test_db.pool)
            .await
            .expect("a role creates tables in its own schema");
        sqlx::query("INSERT INTO secrets VALUES ('own')")
            .execute(&test_db.pool)
            .await
            .expect("a role writes its own table");
    }

    for (own, other) in [(&a, &b), (&b, &a)] {
        let own_schema = own.service.schema.as_str();
        let other_schema = other.service.schema.as_str();

        assert!(has_schema_privilege(&own.pool, own_schema, "USAGE").await);
        assert!(has_schema_privilege(&own.pool, own_schema, "CREATE").await);
        assert!(!has_schema_privilege(&own.pool, other_schema, "USAGE").await);
        assert!(!has_schema_privilege(&own.pool, other_schema, "CREATE").await);

        let own_value: String = sqlx::query_scalar("SELECT value FROM secrets")
            .fetch_one(&own.pool)
            .await
            .expect("a role reads its own table");
        assert_eq!(own_value, "own");

        let statement = format!("SELECT value FROM \"{other_schema}\".secrets");
        let error = sqlx::query(sqlx::AssertSqlSafe(statement))
            .fetch_all(&own.pool)
            .await
            .expect_err("another service's table is out of reach");
        assert_eq!(sqlstate(&error).as_deref(), Some("42501"), "{error}");
    }

    a.drop_now().await;
    b.drop_now().await;
}

#[tokio::test]
async fn provision_is_idempotent_under_concurrency() {
    let admin = TestDb::new().await;
    let service = ServiceDb::named(format!("certitude_test_{}", unique_suffix()));

    let (first, second) = tokio::join!(
        db::provision(&admin.admin, &service),
        db::provision(&admin.admin, &service)
    );
    first.expect("the first provisioning succeeds");
    second.expect("a concurrent provisioning succeeds");
    db::provision(&admin.admin, &service)
        .await
        .expect("provisioning again succeeds");

    let owner: String =
        sqlx::query_scalar("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1")
            .bind(&service.schema)
            .fetch_one(&admin.admin)
            .await
            .expect("the schema exists");
    assert_eq!(owner, service.role);

    for statement in [
        format!("DROP SCHEMA \"{}\" CASCADE", service.schema),
        format!("DROP ROLE \"{}\"", service.role),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&admin.admin)
            .await
            .expect("cleanup as administrator works");
    }
    admin.drop_now().await;
}

#[tokio::test]
async fn provision_rejects_names_that_need_quoting() {
    let admin = TestDb::new().await;
    let service = ServiceDb::named("order-manager");

    let error = db::provision(&admin.admin, &service)
        .await
        .expect_err("the name is rejected");

    assert!(
        matches!(error, DbError::InvalidName { kind: "schema", .. }),
        "{error:?}"
    );
    admin.drop_now().await;
}

#[tokio::test]
async fn connections_use_schema_and_statement_timeout() {
    let test_db = TestDb::new().await;

    let search_path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&test_db.pool)
        .await
        .expect("SHOW works");
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&test_db.pool)
        .await
        .expect("SHOW works");

    assert_eq!(search_path, test_db.service.schema);
    assert_eq!(timeout, "30s");
    test_db.drop_now().await;
}

#[tokio::test]
async fn migration_sets_keep_separate_histories() {
    let test_db = TestDb::new().await;

    db::migrate(&test_db.pool, &SERVICE_MIGRATIONS)
        .await
        .expect("migrations apply");

    let platform_versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _platform_migrations ORDER BY version")
            .fetch_all(&test_db.pool)
            .await
            .expect("the platform history is in the schema");
    let service_versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&test_db.pool)
            .await
            .expect("the service history is in the schema");
    assert_eq!(platform_versions, vec![1, 2, 3]);
    assert_eq!(service_versions, vec![1]);

    for table in ["outbox", "outbox_sequences", "inbox", "effects"] {
        let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("{}.{table}", test_db.service.schema))
            .fetch_one(&test_db.pool)
            .await
            .expect("to_regclass runs");
        assert!(found.is_some(), "table {table} is missing");
    }
    test_db.drop_now().await;
}

#[tokio::test]
async fn concurrent_migrations_apply_once() {
    let test_db = TestDb::new().await;
    let replica = test_db.connect_again().await;

    let (first, second) = tokio::join!(
        db::migrate(&test_db.pool, &SERVICE_MIGRATIONS),
        db::migrate(&replica, &SERVICE_MIGRATIONS)
    );
    first.expect("the first replica migrates");
    second.expect("the second replica migrates");

    let applied: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM _platform_migrations)
              + (SELECT count(*) FROM _sqlx_migrations)",
    )
    .fetch_one(&test_db.pool)
    .await
    .expect("both histories exist");
    // Three platform migrations and the service's one.
    assert_eq!(applied, 4);
    replica.close().await;
    test_db.drop_now().await;
}

#[tokio::test]
async fn migrate_without_schema_fails() {
    let test_db = TestDb::new().await;
    let mut settings = test_db.settings.clone();
    settings.schema = format!("certitude_test_missing_{}", unique_suffix());
    let pool = db::connect(&settings).await.expect("the role can log in");

    let error = db::migrate(&pool, &SERVICE_MIGRATIONS)
        .await
        .expect_err("there is no schema to migrate");

    assert!(matches!(error, DbError::NoSchema), "{error:?}");
    pool.close().await;
    test_db.drop_now().await;
}

#[tokio::test]
async fn unique_violation_is_conflict() {
    let test_db = TestDb::new().await;
    sqlx::query("CREATE TABLE names (name TEXT CONSTRAINT names_unique UNIQUE)")
        .execute(&test_db.pool)
        .await
        .expect("table is created");
    let insert = || sqlx::query("INSERT INTO names VALUES ('a')").execute(&test_db.pool);
    insert().await.expect("first insert succeeds");

    let error = DbError::from(insert().await.expect_err("second insert violates"));

    assert!(error.is_conflict(), "{error:?}");
    assert!(
        matches!(&error, DbError::Conflict { constraint: Some(name), .. } if name == "names_unique"),
        "{error:?}"
    );
    test_db.drop_now().await;
}

#[tokio::test]
async fn exhausted_pool_is_unavailable() {
    let test_db = TestDb::new().await;
    let settings = DbSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(200),
        ..test_db.settings.clone()
    };
    let pool = db::connect(&settings).await.expect("the role can log in");
    let held = pool.acquire().await.expect("the only connection is free");

    let error = DbError::from(
        sqlx::query("SELECT 1")
            .execute(&pool)
            .await
            .expect_err("no connection is free"),
    );

    assert!(error.is_unavailable(), "{error:?}");
    drop(held);
    pool.close().await;
    test_db.drop_now().await;
}
