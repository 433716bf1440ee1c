//! A service's start-up steps on the real Postgres and NATS: the pool with its migrations, the
//! NATS connection with the event streams, the readiness probe, and errors that name the
//! server without its password.

use async_nats::jetstream;
use certitude_platform::config::{CommonConfig, load_from_vars};
use certitude_platform::service::{self, Backends, StartupError};
use certitude_platform::testing::{TestDb, admin_database_url, nats_url, unique_suffix};
use clap::Parser;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

static SERVICE_MIGRATIONS: Migrator = sqlx::migrate!("./tests/migrations");

#[derive(Debug, Parser)]
#[command(name = "example")]
struct ServiceConfig {
    #[command(flatten)]
    common: CommonConfig,
}

/// Settings of a service that uses `test_db`'s schema and role, and streams of its own.
struct Setup {
    common: CommonConfig,
    stream: String,
    dead_letter_stream: String,
}

impl Setup {
    fn new(test_db: &TestDb, run_migrations: &str) -> Self {
        Self::with_nats(test_db, run_migrations, &nats_url())
    }

    fn with_nats(test_db: &TestDb, run_migrations: &str, nats: &str) -> Self {
        let suffix = unique_suffix();
        let stream = format!("TEST_{suffix}");
        let dead_letter_stream = format!("TEST_{suffix}_PARKED");
        let vars = [
            (
                "DATABASE_URL",
                test_db.settings.url.expose_secret().to_owned(),
            ),
            ("CERTITUDE_DB_SCHEMA", test_db.service.schema.clone()),
            ("CERTITUDE_RUN_MIGRATIONS", run_migrations.to_owned()),
            ("NATS_URL", nats.to_owned()),
            ("CERTITUDE_EVENT_STREAM", stream.clone()),
            ("CERTITUDE_SUBJECT_PREFIX", format!("test_{suffix}")),
            ("CERTITUDE_DEAD_LETTER_STREAM", dead_letter_stream.clone()),
        ];
        let config: ServiceConfig = load_from_vars(vars).expect("the test settings are valid");
        Self {
            common: config.common,
            stream,
            dead_letter_stream,
        }
    }

    async fn delete_streams(&self, jetstream: &jetstream::Context) {
        for stream in [&self.stream, &self.dead_letter_stream] {
            if let Err(error) = jetstream.delete_stream(stream).await {
                eprintln!("deleting test stream {stream} failed: {error}");
            }
        }
    }
}

async fn table_exists(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("to_regclass runs")
}

#[tokio::test]
async fn backends_migrate_and_create_streams() {
    let test_db = TestDb::new().await;
    let setup = Setup::new(&test_db, "true");

    let backends = Backends::connect(&setup.common, "certitude-example", &SERVICE_MIGRATIONS)
        .await
        .expect("Postgres and NATS are reachable");

    assert!(table_exists(&backends.pool, "_platform_migrations").await);
    assert!(table_exists(&backends.pool, "effects").await);
    let application_name: String = sqlx::query_scalar("SELECT current_setting('application_name')")
        .fetch_one(&backends.pool)
        .await
        .expect("the setting is readable");
    assert_eq!(application_name, "certitude-example");
    assert_eq!(backends.events.stream, setup.stream);
    assert_eq!(backends.events.dead_letter_stream, setup.dead_letter_stream);
    let main = backends.jetstream.get_stream(&setup.stream).await;
    assert!(main.is_ok(), "{:?}", main.err());
    let parked = backends
        .jetstream
        .get_stream(&setup.dead_letter_stream)
        .await;
    assert!(parked.is_ok(), "{:?}", parked.err());

    setup.delete_streams(&backends.jetstream).await;
    backends.pool.close().await;
    test_db.drop_now().await;
}

#[tokio::test]
async fn backends_skip_disabled_migrations() {
    let test_db = TestDb::new().await;
    let setup = Setup::new(&test_db, "false");

    let backends = Backends::connect(&setup.common, "certitude-example", &SERVICE_MIGRATIONS)
        .await
        .expect("Postgres and NATS are reachable");

    assert!(!table_exists(&backends.pool, "_platform_migrations").await);
    assert!(!table_exists(&backends.pool, "effects").await);

    setup.delete_streams(&backends.jetstream).await;
    backends.pool.close().await;
    test_db.drop_now().await;
}

#[tokio::test]
async fn readiness_of_connected_backends_passes() {
    let test_db = TestDb::new().await;
    let setup = Setup::new(&test_db, "false");
    let backends = Backends::connect(&setup.common, "certitude-example", &SERVICE_MIGRATIONS)
        .await
        .expect("Postgres and NATS are reachable");

    let readiness = service::readiness(backends.pool.clone(), backends.nats.clone());

    let failures = readiness.failures().await;
    assert!(failures.is_empty(), "{failures:?}");

    setup.delete_streams(&backends.jetstream).await;
    backends.pool.close().await;
    test_db.drop_now().await;
}

#[tokio::test]
async fn unreachable_nats_is_named_by_its_url() {
    let test_db = TestDb::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
    let address = closed
        .local_addr()
        .expect("a bound listener has an address");
    drop(closed);
    let url = format!("nats://{address}");
    let setup = Setup::with_nats(&test_db, "false", &url);

    let error = Backends::connect(&setup.common, "certitude-example", &SERVICE_MIGRATIONS)
        .await
        .expect_err("nothing listens on the port");

    assert!(matches!(error, StartupError::Nats { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("failed to connect to NATS at {url}")
    );
    test_db.drop_now().await;
}

#[tokio::test]
async fn unknown_role_error_hides_password() {
    let role = format!("certitude_test_missing_{}", unique_suffix());
    let mut url = url::Url::parse(&admin_database_url()).expect("the test URL is valid");
    url.set_username(&role).expect("a Postgres URL has a user");
    url.set_password(Some("hunter2-secret"))
        .expect("a Postgres URL has a password");
    let vars = [
        ("DATABASE_URL", url.to_string()),
        ("CERTITUDE_DB_SCHEMA", "example".to_owned()),
    ];
    let config: ServiceConfig = load_from_vars(vars).expect("the URL is valid");

    let error = service::connect_database(&config.common, "example", &SERVICE_MIGRATIONS)
        .await
        .expect_err("the role does not exist");

    assert!(matches!(error, StartupError::Postgres { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&role), "{message}");
    assert!(message.contains("***"), "{message}");
    assert!(!message.contains("hunter2-secret"), "{message}");
    assert!(!format!("{error:?}").contains("hunter2-secret"));
}
