//! Master key rotation across credential-sync and the inventory, on the real Postgres and NATS
//! with the Entrust simulator. The services first seal with the old key, then restart with the
//! new key first, `rotate-master-key` runs, and the services restart with the new key only.

use certitude::rotate::{RotateError, RotateMasterKeyArgs, RotationReport, rotate_master_key};
use certitude_platform::clock;
use certitude_platform::config::load_from_vars;
use certitude_platform::seal::{
    KeyId, Keyring, MasterKey, RewrapError, SealError, record_aad, sealed_key_id,
};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{AddCredentialRequest, ResolveCredentialRequest};
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use certitude_proto::inventory::v1::{GenerateKeyRequest, GeneratedKey, KeyAlgorithm};
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use rcgen::PublicKeyData;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

/// The demo account's administrator, from the simulator's demo scenario.
const DEMO_USER: &str = "demo-admin";
const DEMO_KEY: &str = "sim-demo-admin-key";

/// The old and the new master key, as `ID:BASE64` entries.
struct MasterKeys {
    old: String,
    new: String,
}

impl MasterKeys {
    fn generate() -> Self {
        let entry = |id: &str| {
            let key = MasterKey::generate(KeyId::parse(id).expect("the id is valid"))
                .expect("the RNG works");
            key.to_config_entry().expose_secret().to_owned()
        };
        Self {
            old: entry("k1"),
            new: entry("k2"),
        }
    }

    fn old_only(&self) -> String {
        self.old.clone()
    }

    fn both(&self) -> String {
        format!("{},{}", self.new, self.old)
    }

    fn new_only(&self) -> String {
        self.new.clone()
    }
}

/// The databases and streams both services keep across restarts, and the simulator.
struct Deployment {
    credential_db: TestDb,
    inventory_db: TestDb,
    nats: TestNats,
    simulator: RunningSimulator,
}

/// One replica of credential-sync and one of the inventory, sealing with one keyring.
struct Replicas {
    credentials: CredentialServiceClient<Channel>,
    inventory: InventoryServiceClient<Channel>,
    shutdown: Shutdown,
    running_credential_sync: certitude_credential_sync::RunningService,
    running_inventory: certitude_inventory::RunningService,
}

impl Deployment {
    async fn new() -> Self {
        let simulator = RunningSimulator::start(SimConfig {
            scenario: Scenario::demo(),
            clock: clock::system(),
            listen: "127.0.0.1:0".parse().expect("the address parses"),
        })
        .await
        .expect("the simulator starts");
        Self {
            credential_db: TestDb::new().await,
            inventory_db: TestDb::new().await,
            nats: TestNats::new().await,
            simulator,
        }
    }

    fn service_vars(&self, db: &TestDb, master_keys: &str) -> Vec<(String, String)> {
        [
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            ("CERTITUDE_DB_MAX_CONNECTIONS", "5".to_owned()),
            ("NATS_URL", nats_url()),
            ("CERTITUDE_EVENT_STREAM", self.nats.settings.stream.clone()),
            (
                "CERTITUDE_SUBJECT_PREFIX",
                self.nats.settings.subject_prefix.clone(),
            ),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                self.nats.settings.dead_letter_stream.clone(),
            ),
            ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
            ("CERTITUDE_MASTER_KEYS", master_keys.to_owned()),
            ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true".to_owned()),
            ("CERTITUDE_ENTRUST_TIMEOUT", "10s".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Starts both services on the deployment's databases with `master_keys`.
    async fn start(&self, master_keys: &str) -> Replicas {
        let shutdown = Shutdown::new();
        let credential_config = certitude_credential_sync::Config::from_pairs(
            self.service_vars(&self.credential_db, master_keys),
        )
        .expect("the credential-sync config is valid");
        let inventory_config = certitude_inventory::Config::from_pairs(
            self.service_vars(&self.inventory_db, master_keys),
        )
        .expect("the inventory config is valid");

        let running_credential_sync =
            certitude_credential_sync::start(credential_config, clock::system(), shutdown.clone())
                .await
                .expect("credential-sync starts");
        let running_inventory =
            certitude_inventory::start(inventory_config, clock::system(), shutdown.clone())
                .await
                .expect("the inventory starts");
        let credentials = CredentialServiceClient::connect(format!(
            "http://{}",
            running_credential_sync.grpc_addr
        ))
        .await
        .expect("credential-sync accepts connections");
        let inventory =
            InventoryServiceClient::connect(format!("http://{}", running_inventory.grpc_addr))
                .await
                .expect("the inventory accepts connections");
        Replicas {
            credentials,
            inventory,
            shutdown,
            running_credential_sync,
            running_inventory,
        }
    }

    /// Returns the command's settings for both services' databases.
    fn rotation_args(&self, master_keys: &str) -> RotateMasterKeyArgs {
        let credential_db = &self.credential_db;
        let inventory_db = &self.inventory_db;
        parse_args(vec![
            ("CERTITUDE_MASTER_KEYS", master_keys.to_owned()),
            (
                "CERTITUDE_CREDENTIAL_SYNC_DATABASE_URL",
                credential_db.settings.url.expose_secret().to_owned(),
            ),
            (
                "CERTITUDE_CREDENTIAL_SYNC_DB_SCHEMA",
                credential_db.service.schema.clone(),
            ),
            (
                "CERTITUDE_INVENTORY_DATABASE_URL",
                inventory_db.settings.url.expose_secret().to_owned(),
            ),
            (
                "CERTITUDE_INVENTORY_DB_SCHEMA",
                inventory_db.service.schema.clone(),
            ),
        ])
    }

    async fn rotate(&self, master_keys: &str) -> RotationReport {
        rotate_master_key(&self.rotation_args(master_keys))
            .await
            .expect("the rotation succeeds")
    }

    async fn remove(self) {
        self.nats.delete_streams().await;
        self.credential_db.drop_now().await;
        self.inventory_db.drop_now().await;
        self.simulator.shutdown().await;
    }
}

impl Replicas {
    async fn stop(self) {
        self.shutdown.trigger();
        self.running_credential_sync
            .wait()
            .await
            .expect("credential-sync stops cleanly");
        self.running_inventory
            .wait()
            .await
            .expect("the inventory stops cleanly");
    }

    async fn add_credential(&mut self, request: AddCredentialRequest) -> String {
        self.credentials
            .add_credential(request)
            .await
            .expect("the credential is added")
            .into_inner()
            .id
    }

    /// Returns the credential's API key and client key as ResolveCredential hands them out.
    async fn resolve(&mut self, id: &str) -> (String, String) {
        let resolved = self
            .credentials
            .resolve_credential(ResolveCredentialRequest { id: id.to_owned() })
            .await
            .expect("the credential resolves")
            .into_inner();
        (resolved.api_key, resolved.client_key_pem)
    }

    async fn generate_key(&mut self, idempotency_key: &str) -> GeneratedKey {
        self.inventory
            .generate_key(GenerateKeyRequest {
                idempotency_key: idempotency_key.to_owned(),
                algorithm: KeyAlgorithm::EcdsaP256.into(),
                common_name: "www.example.com".to_owned(),
                dns_names: vec!["www.example.com".to_owned()],
                organization: String::new(),
            })
            .await
            .expect("GenerateKey succeeds")
            .into_inner()
    }
}

/// The rotation command's settings on their own, as the binary parses them.
#[derive(clap::Parser)]
struct RotateCommand {
    #[command(flatten)]
    args: RotateMasterKeyArgs,
}

/// Parses the command's settings from environment variables, as the binary would.
fn parse_args(vars: Vec<(&str, String)>) -> RotateMasterKeyArgs {
    let command: RotateCommand = load_from_vars(vars).expect("the rotation settings are valid");
    command.args
}

fn demo_request(name: &str, simulator: &RunningSimulator) -> AddCredentialRequest {
    AddCredentialRequest {
        name: name.to_owned(),
        api_base_url: simulator.base_url(),
        username: DEMO_USER.to_owned(),
        api_key: DEMO_KEY.to_owned(),
        is_administrator: true,
        ..AddCredentialRequest::default()
    }
}

/// Returns a request whose credential also has a client certificate, and its key in PEM.
fn request_with_client_key(
    name: &str,
    simulator: &RunningSimulator,
) -> (AddCredentialRequest, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()])
        .expect("a certificate can be generated");
    let key_pem = certified.signing_key.serialize_pem();
    let request = AddCredentialRequest {
        client_certificate_pem: certified.cert.pem(),
        client_key_pem: key_pem.clone(),
        ..demo_request(name, simulator)
    };
    (request, key_pem)
}

/// Returns the master key id named by every sealed blob of `column` in `table`.
async fn blob_key_ids(pool: &PgPool, table: &str, column: &str) -> Vec<String> {
    let statement = format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL");
    let blobs: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .fetch_all(pool)
        .await
        .expect("the column is readable");
    blobs
        .iter()
        .map(|blob| {
            sealed_key_id(blob)
                .expect("the blob is well formed")
                .to_owned()
        })
        .collect()
}

async fn sealed_private_key(pool: &PgPool, key_id: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT private_key FROM keys WHERE id = $1")
        .bind(Uuid::parse_str(key_id).expect("key ids are UUIDs"))
        .fetch_one(pool)
        .await
        .expect("the key row exists")
}

fn column_counts(report: &RotationReport, service: &str, column: &str) -> (u64, u64, u64) {
    let rotation = report
        .services
        .iter()
        .find(|rotation| rotation.service == service)
        .unwrap_or_else(|| panic!("the report has no entry for {service}"));
    let rewrap = rotation
        .columns
        .iter()
        .find(|rewrap| rewrap.column.column == column)
        .unwrap_or_else(|| panic!("the report has no entry for {service} {column}"));
    let stats = rewrap.stats;
    (stats.examined, stats.rewrapped, stats.already_current)
}

#[tokio::test]
async fn rotated_secrets_open_with_only_the_new_key() {
    let keys = MasterKeys::generate();
    let deployment = Deployment::new().await;
    let mut first = deployment.start(&keys.old_only()).await;
    let (request, client_key_pem) = request_with_client_key("production", &deployment.simulator);
    let old_credential = first.add_credential(request).await;
    let old_key = first.generate_key("order-before-rotation").await;

    // Rolling restart: replicas with the new key first take over, then the old ones stop.
    let mut rolled = deployment.start(&keys.both()).await;
    first.stop().await;
    let new_credential = rolled
        .add_credential(demo_request("staging", &deployment.simulator))
        .await;
    let new_key = rolled.generate_key("order-during-rotation").await;
    let report = deployment.rotate(&keys.both()).await;
    rolled.stop().await;

    assert_eq!(report.current_key_id.as_str(), "k2");
    assert_eq!(
        column_counts(&report, "credential-sync", "api_key"),
        (2, 1, 1)
    );
    assert_eq!(
        column_counts(&report, "credential-sync", "client_key"),
        (1, 1, 0)
    );
    assert_eq!(
        column_counts(&report, "inventory", "private_key"),
        (2, 1, 1)
    );
    assert_eq!(report.remaining(), 0);
    let credential_pool = &deployment.credential_db.pool;
    let inventory_pool = &deployment.inventory_db.pool;
    for (pool, table, column) in [
        (credential_pool, "credentials", "api_key"),
        (credential_pool, "credentials", "client_key"),
        (inventory_pool, "keys", "private_key"),
    ] {
        for key_id in blob_key_ids(pool, table, column).await {
            assert_eq!(key_id, "k2", "{table}.{column}");
        }
    }

    let mut last = deployment.start(&keys.new_only()).await;
    let (api_key, resolved_client_key) = last.resolve(&old_credential).await;
    assert_eq!(api_key, DEMO_KEY);
    assert_eq!(resolved_client_key, client_key_pem);
    assert_eq!(last.resolve(&new_credential).await.0, DEMO_KEY);
    let again = last.generate_key("order-before-rotation").await;
    assert_eq!(again.key_id, old_key.key_id);
    assert_eq!(again.public_key_der, old_key.public_key_der);
    let new_only = Keyring::parse_list(&keys.new_only()).unwrap();
    for key in [&old_key, &new_key] {
        let sealed = sealed_private_key(inventory_pool, &key.key_id).await;
        let aad = record_aad("keys", "private_key", &key.key_id);
        let pkcs8 = new_only.open(&sealed, &aad).expect("the private key opens");
        let pair = rcgen::KeyPair::try_from(pkcs8.expose_secret()).unwrap();
        assert_eq!(pair.subject_public_key_info(), key.public_key_der);
    }
    last.stop().await;
    deployment.remove().await;
}

#[tokio::test]
async fn second_rotation_rewraps_nothing() {
    let keys = MasterKeys::generate();
    let deployment = Deployment::new().await;
    let mut replicas = deployment.start(&keys.old_only()).await;
    let (request, _) = request_with_client_key("production", &deployment.simulator);
    replicas.add_credential(request).await;
    replicas.generate_key("order-1").await;
    replicas.stop().await;
    let first = deployment.rotate(&keys.both()).await;

    let second = deployment.rotate(&keys.both()).await;

    assert_eq!(first.rewrapped(), 3);
    assert_eq!(second.rewrapped(), 0);
    assert_eq!(second.remaining(), 0);
    assert_eq!(
        column_counts(&second, "credential-sync", "api_key"),
        (1, 0, 1)
    );
    assert_eq!(
        column_counts(&second, "credential-sync", "client_key"),
        (1, 0, 1)
    );
    assert_eq!(
        column_counts(&second, "inventory", "private_key"),
        (1, 0, 1)
    );
    deployment.remove().await;
}

#[tokio::test]
async fn rotation_without_old_key_stops_and_changes_nothing() {
    let keys = MasterKeys::generate();
    let deployment = Deployment::new().await;
    let mut replicas = deployment.start(&keys.old_only()).await;
    let credential_id = replicas
        .add_credential(demo_request("production", &deployment.simulator))
        .await;
    replicas.stop().await;

    let error = rotate_master_key(&deployment.rotation_args(&keys.new_only()))
        .await
        .expect_err("blobs sealed with k1 cannot be re-wrapped without k1");

    let RotateError::Rewrap {
        service,
        source: rewrap_error,
    } = &error
    else {
        panic!("expected a re-wrapping error, got {error:?}");
    };
    let RewrapError::Seal { row_id, source, .. } = rewrap_error.as_ref() else {
        panic!("expected a sealing error, got {rewrap_error:?}");
    };
    assert_eq!(*service, "credential-sync");
    assert_eq!(row_id, &credential_id);
    assert!(
        matches!(source, SealError::UnknownKey { key_id } if key_id == "k1"),
        "{source:?}"
    );
    let key_ids = blob_key_ids(&deployment.credential_db.pool, "credentials", "api_key").await;
    assert_eq!(key_ids, ["k1"]);
    deployment.remove().await;
}

#[tokio::test]
async fn rotation_without_service_database_is_rejected() {
    let keys = MasterKeys::generate();
    let args = parse_args(vec![("CERTITUDE_MASTER_KEYS", keys.both())]);

    let error = rotate_master_key(&args).await.unwrap_err();

    assert!(matches!(error, RotateError::NoService), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("CERTITUDE_CREDENTIAL_SYNC_DATABASE_URL"),
        "{error}"
    );
}

#[test]
fn rotation_settings_never_show_key_material() {
    let keys = MasterKeys::generate();
    let material = keys.new.split_once(':').unwrap().1.to_owned();
    let args = parse_args(vec![
        ("CERTITUDE_MASTER_KEYS", keys.both()),
        (
            "CERTITUDE_INVENTORY_DATABASE_URL",
            "postgres://inventory:hunter2@127.0.0.1:5432/certitude".to_owned(),
        ),
    ]);

    let debug = format!("{args:?}");

    assert!(!debug.contains(&material), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("k2"), "{debug}");
}

#[test]
fn master_key_file_gives_current_key_first() {
    let keys = MasterKeys::generate();
    let path = std::env::temp_dir().join(format!("certitude-keys-{}", Uuid::new_v4()));
    std::fs::write(&path, format!("# rotated\n{}\n\n{}\n", keys.new, keys.old)).unwrap();

    let args = parse_args(vec![
        ("CERTITUDE_MASTER_KEY_FILE", path.display().to_string()),
        (
            "CERTITUDE_INVENTORY_DATABASE_URL",
            "postgres://inventory@127.0.0.1:5432/certitude".to_owned(),
        ),
    ]);
    std::fs::remove_file(&path).unwrap();

    let keyring = args.master_key_file.expect("the file was read");
    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    assert_eq!(ids, ["k2", "k1"]);
    assert!(args.master_keys.is_none());
}
