//! Loading a service config from explicit variables: defaults, errors that name the variable,
//! and secrets kept out of `Debug`, errors and `--help`.

use std::net::SocketAddr;

use certitude_platform::config::{CommonConfig, ConfigError, load_from, load_from_vars};
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::telemetry::LogFormat;
use clap::Parser;
use secrecy::ExposeSecret;

/// A service config as each service declares one.
#[derive(Debug, Parser)]
#[command(name = "order-manager")]
#[command(mut_arg(
    CommonConfig::DB_SCHEMA_ARG,
    CommonConfig::schema_default("order_manager")
))]
struct ServiceConfig {
    #[command(flatten)]
    common: CommonConfig,

    /// A setting of this service only.
    #[arg(long, env = "CERTITUDE_POLL_SECONDS", default_value = "30")]
    poll_seconds: u64,
}

/// One binary with a subcommand per service.
#[derive(Debug, Parser)]
#[command(name = "certitude")]
struct Binary {
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, clap::Subcommand)]
enum Service {
    /// Runs the inventory service.
    Inventory(InventoryArgs),
    /// Runs the renewal scheduler.
    RenewalScheduler(RenewalArgs),
}

#[derive(Debug, clap::Args)]
#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("inventory")))]
struct InventoryArgs {
    #[command(flatten)]
    common: CommonConfig,
}

#[derive(Debug, clap::Args)]
#[command(mut_arg(CommonConfig::DB_SCHEMA_ARG, CommonConfig::schema_default("renewal")))]
struct RenewalArgs {
    #[command(flatten)]
    common: CommonConfig,
}

const DATABASE_URL: &str = "postgres://order_manager:hunter2-pw@127.0.0.1:5432/certitude";

fn load(extra: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
    let mut vars = vec![("DATABASE_URL", DATABASE_URL)];
    vars.extend_from_slice(extra);
    load_from_vars(vars)
}

fn master_key_entry(id: &str) -> String {
    let id = KeyId::parse(id).expect("test key ids are valid");
    let key = MasterKey::generate(id).expect("the system RNG works");
    key.to_config_entry().expose_secret().to_owned()
}

/// A master key file in the temporary directory, removed on drop.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn create(text: &str) -> Self {
        let name = format!("certitude-keys-{}", uuid::Uuid::new_v4());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).expect("the temporary directory is writable");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0
            .to_str()
            .expect("the temporary directory path is UTF-8")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defaults_apply_when_only_database_url_is_set() {
    let config = load(&[]).unwrap();
    let common = &config.common;

    assert_eq!(common.db_schema.as_str(), "order_manager");
    assert_eq!(common.db_max_connections, 10);
    assert!(common.run_migrations);
    assert_eq!(common.nats_url.expose_secret(), "nats://127.0.0.1:4222");
    assert_eq!(common.event_stream.as_str(), "CERTS");
    assert_eq!(common.subject_prefix.as_str(), "certs");
    assert_eq!(common.dead_letter_stream.as_str(), "CERTS_DLQ");
    assert_eq!(
        common.grpc_listen,
        "0.0.0.0:50051".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        common.http_listen,
        "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(common.log_format, LogFormat::Text);
    assert_eq!(common.log_filter, "info");
    assert_eq!(common.otlp_endpoint, None);
    assert_eq!(common.otel_service_name, None);
    assert!(common.master_keys.is_none());
    assert!(common.master_key_file.is_none());
    assert_eq!(config.poll_seconds, 30);
}

#[test]
fn variables_set_every_setting() {
    let keys = master_key_entry("k2");
    let config = load(&[
        ("CERTITUDE_DB_SCHEMA", "order_manager_t1a2"),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "3"),
        ("CERTITUDE_RUN_MIGRATIONS", "false"),
        ("NATS_URL", "nats://127.0.0.1:4222,nats://127.0.0.1:4223"),
        ("CERTITUDE_EVENT_STREAM", "CERTS_t1a2"),
        ("CERTITUDE_SUBJECT_PREFIX", "certs_t1a2"),
        ("CERTITUDE_DEAD_LETTER_STREAM", "CERTS_DLQ_t1a2"),
        ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0"),
        ("CERTITUDE_HTTP_LISTEN", "[::1]:9000"),
        ("CERTITUDE_LOG_FORMAT", "json"),
        ("RUST_LOG", "info,sqlx=warn"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
        ("OTEL_SERVICE_NAME", "order-manager-canary"),
        ("CERTITUDE_MASTER_KEYS", &keys),
        ("CERTITUDE_POLL_SECONDS", "5"),
    ])
    .unwrap();
    let common = &config.common;

    assert_eq!(common.db_schema.as_str(), "order_manager_t1a2");
    assert_eq!(common.db_max_connections, 3);
    assert!(!common.run_migrations);
    assert_eq!(
        common.nats_url.expose_secret(),
        "nats://127.0.0.1:4222,nats://127.0.0.1:4223"
    );
    assert_eq!(common.event_stream.as_str(), "CERTS_t1a2");
    assert_eq!(common.subject_prefix.as_str(), "certs_t1a2");
    assert_eq!(common.dead_letter_stream.as_str(), "CERTS_DLQ_t1a2");
    assert_eq!(common.grpc_listen.port(), 0);
    assert_eq!(
        common.http_listen,
        "[::1]:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(common.log_format, LogFormat::Json);
    assert_eq!(common.log_filter, "info,sqlx=warn");
    assert_eq!(
        common.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4317")
    );
    assert_eq!(
        common.otel_service_name.as_deref(),
        Some("order-manager-canary")
    );
    assert_eq!(common.keyring().unwrap().current_key_id().as_str(), "k2");
    assert_eq!(config.poll_seconds, 5);

    let telemetry = common.telemetry_settings();
    assert_eq!(telemetry.log_format, LogFormat::Json);
    assert_eq!(
        telemetry.service_name.as_deref(),
        Some("order-manager-canary")
    );
}

#[test]
fn bad_number_names_its_variable() {
    let error = load(&[("CERTITUDE_DB_MAX_CONNECTIONS", "abc")]).unwrap_err();

    assert_eq!(
        error.to_string(),
        r#"invalid value "abc" for CERTITUDE_DB_MAX_CONNECTIONS: expected a whole number"#
    );
}

#[test]
fn bad_values_name_their_variables() {
    let cases = [
        ("CERTITUDE_DB_MAX_CONNECTIONS", "0", "from 1 to 10000"),
        (
            "CERTITUDE_RUN_MIGRATIONS",
            "maybe",
            "expected true or false",
        ),
        ("CERTITUDE_GRPC_LISTEN", "localhost", "IP address and port"),
        ("CERTITUDE_HTTP_LISTEN", "0.0.0.0", "IP address and port"),
        ("CERTITUDE_DB_SCHEMA", "Order-Manager", "lowercase letters"),
        ("CERTITUDE_DB_SCHEMA", "pg_orders", "pg_"),
        ("CERTITUDE_SUBJECT_PREFIX", "certs.v1", "one subject token"),
        ("CERTITUDE_SUBJECT_PREFIX", "certs>", "one subject token"),
        ("CERTITUDE_EVENT_STREAM", "CERTS.main", "stream name"),
        (
            "CERTITUDE_DEAD_LETTER_STREAM",
            "dead letters",
            "stream name",
        ),
        ("CERTITUDE_LOG_FORMAT", "xml", "expected one of: text, json"),
        ("RUST_LOG", "info,[", "tracing filter directives"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "expected a URL"),
        ("CERTITUDE_POLL_SECONDS", "soon", "invalid digit"),
    ];

    for (variable, value, expected) in cases {
        let error = load(&[(variable, value)]).unwrap_err();
        let message = error.to_string();
        let prefix = format!("invalid value {value:?} for {variable}: ");
        assert!(
            message.starts_with(&prefix),
            "{variable}={value}: {message}"
        );
        assert!(message.contains(expected), "{variable}={value}: {message}");
    }
}

#[test]
fn missing_database_url_is_named() {
    let error = load_from_vars::<ServiceConfig, &str, &str>([]).unwrap_err();

    assert!(
        matches!(&error, ConfigError::Missing { variables } if variables == &["DATABASE_URL"]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "missing required setting DATABASE_URL: set the environment variable"
    );
}

#[test]
fn empty_variable_counts_as_unset() {
    let config = load(&[
        ("CERTITUDE_DB_MAX_CONNECTIONS", ""),
        ("OTEL_SERVICE_NAME", ""),
    ])
    .unwrap();

    assert_eq!(config.common.db_max_connections, 10);
    assert_eq!(config.common.otel_service_name, None);
}

#[test]
fn command_line_flag_wins_over_variable() {
    let vars = [
        ("DATABASE_URL", DATABASE_URL),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "abc"),
    ];

    let config: ServiceConfig =
        load_from(["order-manager", "--db-max-connections", "4"], vars).unwrap();

    assert_eq!(config.common.db_max_connections, 4);
}

#[test]
fn subcommand_reads_its_variables() {
    let vars = [
        ("DATABASE_URL", DATABASE_URL),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "4"),
    ];

    let binary: Binary = load_from(["certitude", "renewal-scheduler"], vars).unwrap();

    let Service::RenewalScheduler(args) = binary.service else {
        panic!("expected the renewal-scheduler subcommand, got {binary:?}");
    };
    assert_eq!(args.common.db_schema.as_str(), "renewal");
    assert_eq!(args.common.db_max_connections, 4);
}

#[test]
fn subcommand_bad_value_names_its_variable() {
    let vars = [
        ("DATABASE_URL", DATABASE_URL),
        ("CERTITUDE_SUBJECT_PREFIX", "certs.v2"),
    ];

    let error = load_from::<Binary, _, _, _>(["certitude", "inventory"], vars).unwrap_err();

    assert!(
        error
            .to_string()
            .starts_with(r#"invalid value "certs.v2" for CERTITUDE_SUBJECT_PREFIX: "#),
        "{error}"
    );
}

#[test]
fn debug_hides_passwords_and_master_keys() {
    let keys = format!("{},{}", master_key_entry("k2"), master_key_entry("k1"));
    let config = load(&[
        ("CERTITUDE_MASTER_KEYS", &keys),
        ("NATS_URL", "nats://relay:nats-secret-pw@127.0.0.1:4222"),
    ])
    .unwrap();

    let debug = format!("{config:?}");

    assert!(!debug.contains("hunter2-pw"), "{debug}");
    assert!(!debug.contains("nats-secret-pw"), "{debug}");
    for entry in keys.split(',') {
        let encoded = entry.split_once(':').unwrap().1;
        assert!(!debug.contains(encoded), "{debug}");
    }
    assert!(
        debug.contains("postgres://order_manager:***@127.0.0.1:5432/certitude"),
        "{debug}"
    );
    assert!(debug.contains(r#"current: "k2""#), "{debug}");
    assert_eq!(config.common.database_url.expose_secret(), DATABASE_URL);
}

#[test]
fn bad_database_url_error_hides_the_value() {
    let vars = [(
        "DATABASE_URL",
        "mysql://root:hunter2-pw@127.0.0.1/certitude",
    )];

    let error = load_from_vars::<ServiceConfig, _, _>(vars).unwrap_err();
    let message = error.to_string();

    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(message.contains("postgres or postgresql"), "{message}");
    assert!(!message.contains("hunter2-pw"), "{message}");
}

#[test]
fn short_master_key_error_hides_value() {
    // "sixteen-bytes-ky" in base64: 16 bytes, half the required length.
    let entry = format!("{},k1:c2l4dGVlbi1ieXRlcy1reQ==", master_key_entry("k2"));

    let error = load(&[("CERTITUDE_MASTER_KEYS", &entry)]).unwrap_err();
    let message = error.to_string();

    assert!(message.contains("CERTITUDE_MASTER_KEYS"), "{message}");
    assert!(
        message.contains(r#"master key "k1" is 16 bytes long"#),
        "{message}"
    );
    assert!(!message.contains("c2l4dGVlbi1ieXRlcy1reQ"), "{message}");
    assert!(
        !message.contains(entry.split(',').next().unwrap()),
        "{message}"
    );
}

#[test]
fn master_key_file_supplies_the_keyring() {
    let file = KeyFile::create(&format!(
        "# current first\n{}\n{}\n",
        master_key_entry("k3"),
        master_key_entry("k2")
    ));

    let config = load(&[("CERTITUDE_MASTER_KEY_FILE", file.path())]).unwrap();

    let keyring = config.common.keyring().unwrap();
    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    assert_eq!(ids, ["k3", "k2"]);
}

#[test]
fn unreadable_master_key_file_is_named() {
    let error = load(&[("CERTITUDE_MASTER_KEY_FILE", "/nonexistent/certitude-keys")]).unwrap_err();

    let message = error.to_string();
    assert!(message.contains("CERTITUDE_MASTER_KEY_FILE"), "{message}");
    assert!(message.contains("failed to read the file"), "{message}");
}

#[test]
fn both_master_key_settings_conflict() {
    let keys = master_key_entry("k1");
    let file = KeyFile::create(&master_key_entry("k2"));

    let error = load(&[
        ("CERTITUDE_MASTER_KEYS", &keys),
        ("CERTITUDE_MASTER_KEY_FILE", file.path()),
    ])
    .unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, ConfigError::Conflict { .. }), "{message}");
    assert!(message.contains("CERTITUDE_MASTER_KEYS"), "{message}");
    assert!(message.contains("CERTITUDE_MASTER_KEY_FILE"), "{message}");
    assert!(!message.contains(&keys), "{message}");
}

#[test]
fn keyring_without_master_keys_fails() {
    let config = load(&[]).unwrap();

    let error = config.common.keyring().unwrap_err();

    assert!(matches!(error, ConfigError::NoMasterKey));
}

#[test]
fn help_lists_every_variable() {
    let no_vars = std::iter::empty::<(&str, &str)>();

    let error =
        load_from::<ServiceConfig, _, _, _>(["order-manager", "--help"], no_vars).unwrap_err();

    let ConfigError::HelpRequested(help) = error else {
        panic!("expected help, got {error:?}");
    };
    let text = help.render().to_string();
    for variable in [
        "DATABASE_URL",
        "CERTITUDE_DB_SCHEMA",
        "CERTITUDE_DB_MAX_CONNECTIONS",
        "CERTITUDE_RUN_MIGRATIONS",
        "NATS_URL",
        "CERTITUDE_EVENT_STREAM",
        "CERTITUDE_SUBJECT_PREFIX",
        "CERTITUDE_DEAD_LETTER_STREAM",
        "CERTITUDE_GRPC_LISTEN",
        "CERTITUDE_HTTP_LISTEN",
        "CERTITUDE_LOG_FORMAT",
        "RUST_LOG",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "CERTITUDE_MASTER_KEYS",
        "CERTITUDE_MASTER_KEY_FILE",
        "CERTITUDE_POLL_SECONDS",
    ] {
        assert!(text.contains(variable), "--help lacks {variable}:\n{text}");
    }
}
