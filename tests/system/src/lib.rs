//! A whole Certitude in one test process: the Entrust simulator, the five services on ephemeral
//! ports, each in its own schema and role on the real Postgres, all on a private stream and
//! subject prefix on the real NATS, and a small REST client for the gateway.

mod api;
pub mod bench;
pub mod capture;
pub mod nats_cluster;
pub mod otlp;

use std::net::SocketAddr;

use anyhow::Context;
use certitude_platform::clock::{self, SharedClock};
use certitude_platform::seal::{KeyId, Keyring, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats};
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;

pub use api::Api;

/// Token of the bootstrap admin in every system test.
pub const ADMIN_TOKEN: &str = "ctk_system-test-admin-token-0001";

/// Every service of Certitude, started in this process.
pub struct System {
    pub sim: RunningSimulator,
    pub nats: TestNats,
    pub gateway_url: String,
    /// gRPC address of renewal-scheduler.
    pub renewal_grpc: SocketAddr,
    /// gRPC address of order-manager.
    pub order_manager_grpc: SocketAddr,
    /// One database per service, in the order gateway, credential-sync, order-manager,
    /// inventory, renewal-scheduler.
    pub databases: Vec<TestDb>,
    /// The master keys every service seals its secrets with.
    pub keyring: Keyring,
    shutdown: Shutdown,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// How often the services' background tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Order polls and renewal scans every 200 ms, so that tests see their effects at once.
    Test,
    /// The services' defaults, as deployed: order polls from 10 s on, renewal and expiry
    /// warning scans every 30 s.
    Deployed,
}

/// The tests' interval of order polls and renewal scans.
const TEST_INTERVAL: &str = "200ms";

impl Pace {
    fn renewal_vars(self, order_manager_url: &str) -> Vec<(&'static str, &str)> {
        let mut vars = vec![("CERTITUDE_ORDER_MANAGER_URL", order_manager_url)];
        if self == Pace::Test {
            vars.push(("CERTITUDE_RENEWAL_SCAN_INTERVAL", TEST_INTERVAL));
        }
        vars
    }

    fn order_manager_vars<'a>(
        self,
        vars: &[(&'static str, &'a str)],
    ) -> Vec<(&'static str, &'a str)> {
        let mut vars = vars.to_vec();
        if self == Pace::Test {
            vars.push(("CERTITUDE_ORDER_POLL_INTERVAL", TEST_INTERVAL));
        }
        vars
    }
}

/// Variables every service shares, for one service's database.
fn common_vars(db: &TestDb, nats: &TestNats, master_keys: &str) -> Vec<(String, String)> {
    let settings = &nats.settings;
    vec![
        (
            "DATABASE_URL".into(),
            db.settings.url.expose_secret().to_owned(),
        ),
        ("CERTITUDE_DB_SCHEMA".into(), db.settings.schema.clone()),
        ("CERTITUDE_DB_MAX_CONNECTIONS".into(), "4".into()),
        ("NATS_URL".into(), certitude_platform::testing::nats_url()),
        ("CERTITUDE_EVENT_STREAM".into(), settings.stream.clone()),
        (
            "CERTITUDE_SUBJECT_PREFIX".into(),
            settings.subject_prefix.clone(),
        ),
        (
            "CERTITUDE_DEAD_LETTER_STREAM".into(),
            settings.dead_letter_stream.clone(),
        ),
        ("CERTITUDE_GRPC_LISTEN".into(), "127.0.0.1:0".into()),
        ("CERTITUDE_HTTP_LISTEN".into(), "127.0.0.1:0".into()),
        ("CERTITUDE_MASTER_KEYS".into(), master_keys.to_owned()),
    ]
}

fn grpc_url(address: SocketAddr) -> String {
    format!("http://{address}")
}

impl System {
    /// Starts the simulator with the demo scenario and every service, on the system clock.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Scenario::demo(), clock::system()).await
    }

    /// Starts the simulator with `scenario` and every service, all reading `clock`, at the
    /// tests' pace.
    pub async fn start_with(scenario: Scenario, clock: SharedClock) -> anyhow::Result<Self> {
        Self::start_paced(scenario, clock, Pace::Test).await
    }

    /// Starts the simulator with `scenario` and every service, all reading `clock`, with their
    /// background tasks at `pace`.
    pub async fn start_paced(
        scenario: Scenario,
        clock: SharedClock,
        pace: Pace,
    ) -> anyhow::Result<Self> {
        let sim = RunningSimulator::start(SimConfig {
            scenario,
            clock: clock.clone(),
            listen: "127.0.0.1:0".parse()?,
        })
        .await?;
        let nats = TestNats::new().await;
        let master_key = MasterKey::generate(KeyId::parse("systest")?)?;
        let master_keys = master_key.to_config_entry().expose_secret().to_owned();
        let keyring = Keyring::parse_list(&master_keys)?;
        let mut databases = Vec::new();
        for _ in 0..5 {
            databases.push(TestDb::new().await);
        }
        let shutdown = Shutdown::new();
        let mut tasks = Vec::new();
        let vars = |index: usize| common_vars(&databases[index], &nats, &master_keys);

        // credential-sync and order-manager call each other, so order-manager's port is chosen
        // before either starts.
        let order_manager_listen = certitude_platform::testing::free_loopback_address();
        let order_manager_url = grpc_url(order_manager_listen);
        let credential_sync = certitude_credential_sync::start(
            certitude_credential_sync::Config::from_pairs(with(
                vars(1),
                &[
                    ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true"),
                    // Tests that post generated input must never reach a host off this machine.
                    ("CERTITUDE_ENTRUST_ALLOWED_HOSTS", "127.0.0.1,localhost"),
                    ("CERTITUDE_ORDER_MANAGER_URL", &order_manager_url),
                ],
            ))?,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .context("credential-sync failed to start")?;
        let inventory = certitude_inventory::start(
            certitude_inventory::Config::from_pairs(vars(3))?,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .context("inventory failed to start")?;
        let renewal = certitude_renewal_scheduler::start(
            certitude_renewal_scheduler::Config::from_pairs(with(
                vars(4),
                &pace.renewal_vars(&order_manager_url),
            ))?,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .context("renewal-scheduler failed to start")?;
        let credential_sync_url = grpc_url(credential_sync.grpc_addr);
        let renewal_url = grpc_url(renewal.grpc_addr);
        let inventory_url = grpc_url(inventory.grpc_addr);
        let order_manager = certitude_order_manager::start(
            certitude_order_manager::Config::from_pairs(with(
                vars(2),
                &pace.order_manager_vars(&[
                    ("CERTITUDE_CREDENTIAL_SYNC_URL", &credential_sync_url),
                    ("CERTITUDE_INVENTORY_URL", &inventory_url),
                    ("CERTITUDE_GRPC_LISTEN", &order_manager_listen.to_string()),
                ]),
            ))?,
            clock.clone(),
            shutdown.clone(),
        )
        .await
        .context("order-manager failed to start")?;
        let gateway_config: certitude_gateway::Config =
            certitude_platform::config::load_from_vars(with(
                vars(0),
                &[
                    ("CERTITUDE_API_LISTEN", "127.0.0.1:0"),
                    ("CERTITUDE_CREDENTIAL_SYNC_URL", &credential_sync_url),
                    ("CERTITUDE_ORDER_MANAGER_URL", &order_manager_url),
                    ("CERTITUDE_INVENTORY_URL", &inventory_url),
                    ("CERTITUDE_RENEWAL_SCHEDULER_URL", &renewal_url),
                    ("CERTITUDE_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN),
                    // Every test calls as one admin token, some in bulk; the limit has tests of
                    // its own.
                    ("CERTITUDE_API_RATE_LIMIT", "0"),
                ],
            ))?;
        let gateway = certitude_gateway::start(gateway_config, clock, shutdown.clone())
            .await
            .context("gateway failed to start")?;
        let gateway_url = format!("http://{}", gateway.api_addr);
        let renewal_grpc = renewal.grpc_addr;

        tasks.push(tokio::spawn(credential_sync.wait()));
        tasks.push(tokio::spawn(inventory.wait()));
        tasks.push(tokio::spawn(renewal.wait()));
        tasks.push(tokio::spawn(order_manager.wait()));
        tasks.push(tokio::spawn(gateway.wait()));

        Ok(Self {
            sim,
            nats,
            gateway_url,
            renewal_grpc,
            order_manager_grpc: order_manager_listen,
            databases,
            keyring,
            shutdown,
            tasks,
        })
    }

    /// Returns order-manager's database.
    pub fn order_manager_db(&self) -> &TestDb {
        &self.databases[2]
    }

    /// Returns renewal-scheduler's database.
    pub fn renewal_db(&self) -> &TestDb {
        &self.databases[4]
    }

    /// Returns inventory's database.
    pub fn inventory_db(&self) -> &TestDb {
        &self.databases[3]
    }

    /// Adds the demo scenario's administrator (`demo-admin`) as a credential through the REST
    /// API, marked as an Entrust administrator or not, and returns the credential as the
    /// gateway returned it.
    pub async fn add_demo_credential(
        &self,
        is_administrator: bool,
    ) -> anyhow::Result<serde_json::Value> {
        let scenario = Scenario::demo();
        let admin = scenario
            .api_users
            .iter()
            .find(|user| user.user_name == "demo-admin")
            .context("the demo scenario has no demo-admin")?;
        let (status, credential) = self
            .api()
            .post(
                "/v1/credentials",
                serde_json::json!({
                    "name": "demo",
                    "api_base_url": self.sim.base_url(),
                    "username": admin.user_name,
                    "api_key": admin.api_key.expose_secret(),
                    "is_administrator": is_administrator,
                }),
            )
            .await?;
        anyhow::ensure!(
            status == reqwest::StatusCode::CREATED,
            "adding the demo credential returned {status}: {credential}"
        );
        Ok(credential)
    }

    /// Adds the demo credential as [`System::add_demo_credential`] does, waits until a sync of
    /// its catalog (which orders are checked against) has succeeded, and returns its id.
    pub async fn add_synced_demo_credential(
        &self,
        is_administrator: bool,
    ) -> anyhow::Result<String> {
        let credential = self.add_demo_credential(is_administrator).await?;
        let credential_id = credential["id"]
            .as_str()
            .context("the credential has no id")?
            .to_owned();
        let api = self.api();
        let (status, sync) = api
            .post(
                &format!("/v1/credentials/{credential_id}/syncs"),
                serde_json::json!({}),
            )
            .await?;
        anyhow::ensure!(
            status == reqwest::StatusCode::ACCEPTED,
            "starting a sync returned {status}: {sync}"
        );
        let sync_path = format!("/v1/syncs/{}", sync["id"].as_str().unwrap_or_default());
        let sync = api
            .wait_for(&sync_path, std::time::Duration::from_secs(60), |run| {
                run["state"] != "running"
            })
            .await?;
        anyhow::ensure!(
            sync["state"] == "succeeded",
            "the sync did not succeed: {sync}"
        );
        Ok(credential_id)
    }

    /// Returns a REST client authenticated as the bootstrap admin.
    pub fn api(&self) -> Api {
        Api::new(&self.gateway_url, ADMIN_TOKEN)
    }

    /// Stops every service and waits for them; fails if any of them failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        for task in self.tasks {
            task.await.context("a service task panicked")??;
        }
        self.sim.shutdown().await;
        Ok(())
    }
}

fn with(mut vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (name, value) in extra {
        vars.retain(|(existing, _)| existing != name);
        vars.push(((*name).to_owned(), (*value).to_owned()));
    }
    vars
}
