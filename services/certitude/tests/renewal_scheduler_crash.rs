//! A crash of `certitude renewal-scheduler` in the middle of an automatic renewal: after
//! order-manager placed the renewal at Entrust and before the scheduler recorded it. The first
//! replica runs as a child process with the fault point `renewal-after-order-placed`, which
//! stops the renewal there, and is killed with SIGKILL. A second replica, started after it,
//! takes the certificate over when the first one's claim ends and finishes the renewal with the
//! same idempotency key, so Entrust receives one renewal only.
//!
//! credential-sync, inventory, order-manager and the simulator run in this process on a manual
//! clock that starts 70 days in the past, so the order's certificate is old enough to renew
//! when the clock is then set to the present, which the child processes read.

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use certitude_platform::clock::ManualClock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, free_loopback_address, nats_url};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{AddCredentialRequest, GetOrderingCatalogRequest};
use certitude_proto::order::v1::CreateOrderRequest;
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::renewal::v1::SetRenewalPolicyRequest;
use certitude_proto::renewal::v1::renewal_service_client::RenewalServiceClient;
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tonic::transport::Channel;

const DEMO_USER: &str = "demo-admin";
const DEMO_KEY: &str = "sim-demo-admin-key";

/// Maximum wait for a condition that depends on background tasks or a child process.
const DEADLINE: Duration = Duration::from_secs(90);

struct Deadline(Instant);

impl Deadline {
    fn start() -> Self {
        Self(Instant::now() + DEADLINE)
    }

    /// Fails the test once the deadline passed, and otherwise sleeps before the next look.
    async fn wait(&self, what: &str) {
        assert!(Instant::now() < self.0, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Deadline::start();
    while !condition().await {
        deadline.wait(what).await;
    }
}

fn common_vars(db: &TestDb, nats: &TestNats) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
        ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "4".to_owned()),
        ("NATS_URL", nats_url()),
        ("CERTITUDE_EVENT_STREAM", nats.settings.stream.clone()),
        (
            "CERTITUDE_SUBJECT_PREFIX",
            nats.settings.subject_prefix.clone(),
        ),
        (
            "CERTITUDE_DEAD_LETTER_STREAM",
            nats.settings.dead_letter_stream.clone(),
        ),
        ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
        ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

fn with(mut vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (name, value) in extra {
        vars.retain(|(existing, _)| existing != name);
        vars.push(((*name).to_owned(), (*value).to_owned()));
    }
    vars
}

/// The simulator, NATS, the databases, and every service but the scheduler in this process.
struct Deployment {
    clock: ManualClock,
    sim: RunningSimulator,
    nats: TestNats,
    databases: Vec<TestDb>,
    renewal_db: TestDb,
    shutdown: Shutdown,
    credential_sync: certitude_credential_sync::RunningService,
    order_manager: certitude_order_manager::RunningService,
    inventory: certitude_inventory::RunningService,
}

impl Deployment {
    async fn start() -> Self {
        let clock = ManualClock::new(time::OffsetDateTime::now_utc() - time::Duration::days(70));
        let sim = RunningSimulator::start(SimConfig {
            scenario: Scenario::demo(),
            clock: clock.shared(),
            listen: "127.0.0.1:0".parse().expect("the address parses"),
        })
        .await
        .expect("the simulator starts");
        let nats = TestNats::new().await;
        let credential_db = TestDb::new().await;
        let inventory_db = TestDb::new().await;
        let order_db = TestDb::new().await;
        let renewal_db = TestDb::new().await;
        let master_key = MasterKey::generate(KeyId::parse("crash").expect("the id is valid"))
            .expect("the RNG works");
        let master_keys = master_key.to_config_entry().expose_secret().to_owned();
        let order_manager_grpc = free_loopback_address();
        let order_manager_url = format!("http://{order_manager_grpc}");
        let shutdown = Shutdown::new();

        let credential_sync = certitude_credential_sync::start(
            certitude_credential_sync::Config::from_pairs(with(
                common_vars(&credential_db, &nats),
                &[
                    ("CERTITUDE_MASTER_KEYS", &master_keys),
                    ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true"),
                    ("CERTITUDE_ORDER_MANAGER_URL", &order_manager_url),
                ],
            ))
            .expect("the credential-sync config is valid"),
            clock.shared(),
            shutdown.clone(),
        )
        .await
        .expect("credential-sync starts");
        let inventory = certitude_inventory::start(
            certitude_inventory::Config::from_pairs(with(
                common_vars(&inventory_db, &nats),
                &[("CERTITUDE_MASTER_KEYS", &master_keys)],
            ))
            .expect("the inventory config is valid"),
            clock.shared(),
            shutdown.clone(),
        )
        .await
        .expect("the inventory starts");
        let credential_sync_url = format!("http://{}", credential_sync.grpc_addr);
        let inventory_url = format!("http://{}", inventory.grpc_addr);
        let order_manager = certitude_order_manager::start(
            certitude_order_manager::Config::from_pairs(with(
                common_vars(&order_db, &nats),
                &[
                    ("CERTITUDE_GRPC_LISTEN", &order_manager_grpc.to_string()),
                    ("CERTITUDE_CREDENTIAL_SYNC_URL", &credential_sync_url),
                    ("CERTITUDE_INVENTORY_URL", &inventory_url),
                    ("CERTITUDE_ORDER_POLL_INTERVAL", "200ms"),
                ],
            ))
            .expect("the order-manager config is valid"),
            clock.shared(),
            shutdown.clone(),
        )
        .await
        .expect("order-manager starts");
        Self {
            clock,
            sim,
            nats,
            databases: vec![credential_db, inventory_db, order_db],
            renewal_db,
            shutdown,
            credential_sync,
            order_manager,
            inventory,
        }
    }

    fn order_db(&self) -> &TestDb {
        &self.databases[2]
    }

    async fn add_demo_credential(&self) -> String {
        let mut client =
            CredentialServiceClient::connect(format!("http://{}", self.credential_sync.grpc_addr))
                .await
                .expect("credential-sync accepts connections");
        let credential_id = client
            .add_credential(AddCredentialRequest {
                name: "demo".to_owned(),
                api_base_url: self.sim.base_url(),
                username: DEMO_USER.to_owned(),
                api_key: DEMO_KEY.to_owned(),
                is_administrator: true,
                ..AddCredentialRequest::default()
            })
            .await
            .expect("credential-sync verifies and stores the credential")
            .into_inner()
            .id;
        eventually("the credential's catalog is synced", || {
            let mut client = client.clone();
            let request = GetOrderingCatalogRequest {
                credential_id: credential_id.clone(),
                ..GetOrderingCatalogRequest::default()
            };
            async move {
                let catalog = client
                    .get_ordering_catalog(request)
                    .await
                    .expect("the catalog is readable")
                    .into_inner();
                !catalog.synced_at.is_empty()
            }
        })
        .await;
        credential_id
    }

    /// Starts `certitude renewal-scheduler` listening on `grpc`, with `fault_point` armed when
    /// given, and waits until it accepts gRPC connections.
    async fn spawn_scheduler(
        &self,
        grpc: SocketAddr,
        fault_point: Option<&str>,
    ) -> (Child, RenewalServiceClient<Channel>) {
        let order_manager_url = format!("http://{}", self.order_manager.grpc_addr);
        let mut vars = with(
            common_vars(&self.renewal_db, &self.nats),
            &[
                ("CERTITUDE_GRPC_LISTEN", &grpc.to_string()),
                ("CERTITUDE_ORDER_MANAGER_URL", &order_manager_url),
                ("CERTITUDE_RENEWAL_SCAN_INTERVAL", "200ms"),
                ("CERTITUDE_RENEWAL_CLAIM_LEASE", "3s"),
                ("CERTITUDE_RENEWAL_JITTER", "0s"),
            ],
        );
        if let Some(point) = fault_point {
            vars.push(("CERTITUDE_RENEWAL_FAULT_POINT".to_owned(), point.to_owned()));
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_certitude"));
        command
            .arg("renewal-scheduler")
            .env_clear()
            .envs(vars)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Ok(filter) = std::env::var("RUST_LOG") {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.spawn().expect("the certitude binary starts");
        let url = format!("http://{grpc}");
        let deadline = Deadline::start();
        loop {
            if let Ok(client) = RenewalServiceClient::connect(url.clone()).await {
                return (child, client);
            }
            let exited = child.try_wait().expect("the child's state is readable");
            assert!(
                exited.is_none(),
                "renewal-scheduler exited early: {exited:?}"
            );
            deadline
                .wait("renewal-scheduler accepts gRPC connections")
                .await;
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.credential_sync
            .wait()
            .await
            .expect("credential-sync stops");
        self.inventory.wait().await.expect("the inventory stops");
        self.order_manager
            .wait()
            .await
            .expect("order-manager stops");
        for db in self.databases {
            db.drop_now().await;
        }
        self.renewal_db.drop_now().await;
        self.nats.delete_streams().await;
        self.sim.shutdown().await;
    }
}

async fn kill(mut child: Child) {
    child.start_kill().expect("the child can be killed");
    let status = child.wait().await.expect("the child ends");
    assert!(
        !status.success(),
        "a killed process does not succeed: {status}"
    );
}

fn renewal_posts(sim: &RunningSimulator) -> usize {
    sim.request_log()
        .iter()
        .filter(|request| request.method == "POST" && request.path.ends_with("/renewals"))
        .count()
}

async fn count(db: &TestDb, query: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_interrupted_by_crash_completes_once() {
    let deployment = Deployment::start().await;
    let credential_id = deployment.add_demo_credential().await;
    let mut orders =
        OrderServiceClient::connect(format!("http://{}", deployment.order_manager.grpc_addr))
            .await
            .expect("order-manager accepts connections");
    let order = orders
        .create_order(CreateOrderRequest {
            idempotency_key: "crash-renewal-order".to_owned(),
            credential_id,
            product: "STANDARD_SSL".to_owned(),
            common_name: "www.example.com".to_owned(),
            key_algorithm: "ECDSA_P256".to_owned(),
            validity_days: 90,
            actor: "crash-test".to_owned(),
            ..CreateOrderRequest::default()
        })
        .await
        .expect("the order is placed")
        .into_inner();
    assert_eq!(order.status, "ISSUED", "{order:?}");
    deployment.clock.set(time::OffsetDateTime::now_utc());

    let (first, mut client) = deployment
        .spawn_scheduler(free_loopback_address(), Some("renewal-after-order-placed"))
        .await;
    client
        .set_renewal_policy(SetRenewalPolicyRequest {
            order_id: order.id.clone(),
            enabled: true,
            actor: "crash-test".to_owned(),
            ..SetRenewalPolicyRequest::default()
        })
        .await
        .expect("the policy is stored");
    // The named point: order-manager stored the renewal that Entrust accepted, and the child
    // waits before recording it.
    eventually("order-manager stored the renewal", || async {
        count(
            deployment.order_db(),
            "SELECT count(*) FROM orders WHERE renews_order_id IS NOT NULL AND status = 'ISSUED'",
        )
        .await
            == 1
    })
    .await;
    kill(first).await;
    assert_eq!(
        count(&deployment.renewal_db, "SELECT count(*) FROM renewal_audit").await,
        0,
        "the crash came before the scheduler recorded the renewal"
    );

    let (second, _client) = deployment
        .spawn_scheduler(free_loopback_address(), None)
        .await;
    eventually("the second replica recorded the renewal", || async {
        count(
            &deployment.renewal_db,
            "SELECT count(*) FROM renewal_audit WHERE outcome = 'succeeded'",
        )
        .await
            == 1
    })
    .await;
    kill(second).await;

    assert_eq!(renewal_posts(&deployment.sim), 1);
    assert_eq!(
        count(
            deployment.order_db(),
            "SELECT count(*) FROM orders WHERE renews_order_id IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&deployment.renewal_db, "SELECT count(*) FROM renewal_audit").await,
        1
    );
    deployment.stop().await;
}
