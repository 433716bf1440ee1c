//! A crash of `certitude order-manager` after Entrust accepted an order and before order-manager
//! committed the result. The binary runs as a child process on the real Postgres and NATS with
//! credential-sync and the inventory started in this process and the Entrust simulator. The
//! simulator delays its response to `POST /certificates` after committing the order (a latency
//! fault, which applies after the request was handled). The test kills the child with SIGKILL
//! while the response is delayed, and starts it again. The restarted service must adopt the order
//! Entrust stores, not place a second one.

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use certitude_platform::clock;
use certitude_platform::events::{Envelope, decode_envelope, decode_payload};
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, free_loopback_address, nats_url};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{AddCredentialRequest, GetOrderingCatalogRequest};
use certitude_proto::events::v1::{CertificateIssued, OrderCreated};
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::order::v1::{CreateOrderRequest, GetOrderHistoryRequest, GetOrderRequest};
use entrust::model::OrderQuery;
use entrust::{EntrustClient, EntrustConfig, SecretString};
use entrust_sim::{Fault, FaultKind, LoggedRequest, RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tonic::transport::Channel;
use uuid::Uuid;

/// The demo account's administrator, from the simulator's demo scenario.
const DEMO_USER: &str = "demo-admin";
const DEMO_KEY: &str = "sim-demo-admin-key";

/// Maximum wait for a condition that depends on background tasks or the child process.
const DEADLINE: Duration = Duration::from_secs(90);

/// How long the simulator delays its response to the order. The child is killed well before.
const HELD_RESPONSE: Duration = Duration::from_secs(30);

/// Polls `condition` until it holds, failing the test after a generous deadline.
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

/// The deadline of one wait for a condition, for loops that keep what they read.
struct Deadline(Instant);

impl Deadline {
    fn start() -> Self {
        Self(Instant::now() + DEADLINE)
    }

    /// Fails the test once the deadline passed, and otherwise sleeps before the next look.
    async fn wait(&self, what: &str) {
        assert!(Instant::now() < self.0, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Settings every service of the test shares, for the database `db`.
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

/// The simulator, NATS, the three databases, and credential-sync and the inventory running in
/// this process.
struct Deployment {
    sim: RunningSimulator,
    nats: TestNats,
    credential_db: TestDb,
    inventory_db: TestDb,
    order_db: TestDb,
    shutdown: Shutdown,
    credential_sync: certitude_credential_sync::RunningService,
    inventory: certitude_inventory::RunningService,
    /// Address order-manager listens on, chosen before credential-sync starts because
    /// credential-sync is configured with it.
    order_manager_grpc: SocketAddr,
}

impl Deployment {
    async fn start() -> Self {
        let sim = RunningSimulator::start(SimConfig {
            scenario: Scenario::demo(),
            clock: clock::system(),
            listen: "127.0.0.1:0".parse().expect("the address parses"),
        })
        .await
        .expect("the simulator starts");
        let nats = TestNats::new().await;
        let credential_db = TestDb::new().await;
        let inventory_db = TestDb::new().await;
        let order_db = TestDb::new().await;
        let master_key = MasterKey::generate(KeyId::parse("crash").expect("the id is valid"))
            .expect("the RNG works");
        let master_keys = master_key.to_config_entry().expose_secret().to_owned();
        let order_manager_grpc = free_loopback_address();
        let order_manager_url = format!("http://{order_manager_grpc}");
        let shutdown = Shutdown::new();

        let credential_vars = with(
            common_vars(&credential_db, &nats),
            &[
                ("CERTITUDE_MASTER_KEYS", &master_keys),
                ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true"),
                ("CERTITUDE_ORDER_MANAGER_URL", &order_manager_url),
            ],
        );
        let credential_sync = certitude_credential_sync::start(
            certitude_credential_sync::Config::from_pairs(credential_vars)
                .expect("the credential-sync config is valid"),
            clock::system(),
            shutdown.clone(),
        )
        .await
        .expect("credential-sync starts");
        let inventory_vars = with(
            common_vars(&inventory_db, &nats),
            &[("CERTITUDE_MASTER_KEYS", &master_keys)],
        );
        let inventory = certitude_inventory::start(
            certitude_inventory::Config::from_pairs(inventory_vars)
                .expect("the inventory config is valid"),
            clock::system(),
            shutdown.clone(),
        )
        .await
        .expect("the inventory starts");
        Self {
            sim,
            nats,
            credential_db,
            inventory_db,
            order_db,
            shutdown,
            credential_sync,
            inventory,
            order_manager_grpc,
        }
    }

    /// Stores the demo administrator in credential-sync and waits for its first catalog sync,
    /// which order-manager's checks need. Returns the credential id.
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

    /// Returns the environment of `certitude order-manager`: the test database, streams and
    /// services, gRPC on `grpc`, and short intervals. A crashed replica's claim on the order
    /// lasts for the claim lease, so a short lease lets the restarted replica take the order
    /// over soon. It still outlasts every Entrust call of the test but the delayed one.
    fn order_manager_env(&self, grpc: SocketAddr) -> Vec<(String, String)> {
        let credential_sync_url = format!("http://{}", self.credential_sync.grpc_addr);
        let inventory_url = format!("http://{}", self.inventory.grpc_addr);
        with(
            common_vars(&self.order_db, &self.nats),
            &[
                ("CERTITUDE_GRPC_LISTEN", &grpc.to_string()),
                ("CERTITUDE_CREDENTIAL_SYNC_URL", &credential_sync_url),
                ("CERTITUDE_INVENTORY_URL", &inventory_url),
                ("CERTITUDE_ORDER_POLL_INTERVAL", "100ms"),
                ("CERTITUDE_ORDER_POLL_MAX_BACKOFF", "500ms"),
                ("CERTITUDE_ORDER_CLAIM_LEASE", "3s"),
                ("CERTITUDE_ENTRUST_TIMEOUT", "60s"),
            ],
        )
    }

    /// Starts `certitude order-manager` as a child process listening on `grpc`, and waits
    /// until it accepts gRPC connections.
    async fn spawn_order_manager(&self, grpc: SocketAddr) -> (Child, OrderServiceClient<Channel>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_certitude"));
        command
            .arg("order-manager")
            .env_clear()
            .envs(self.order_manager_env(grpc))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Ok(filter) = std::env::var("RUST_LOG") {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.spawn().expect("the certitude binary starts");
        let url = format!("http://{grpc}");
        let deadline = Deadline::start();
        loop {
            if let Ok(client) = OrderServiceClient::connect(url.clone()).await {
                return (child, client);
            }
            let exited = child.try_wait().expect("the child's state is readable");
            assert!(exited.is_none(), "order-manager exited early: {exited:?}");
            deadline
                .wait("order-manager accepts gRPC connections")
                .await;
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.credential_sync
            .wait()
            .await
            .expect("credential-sync stops cleanly");
        self.inventory
            .wait()
            .await
            .expect("the inventory stops cleanly");
        self.order_db.drop_now().await;
        self.credential_db.drop_now().await;
        self.inventory_db.drop_now().await;
        self.nats.delete_streams().await;
        self.sim.shutdown().await;
    }
}

/// Kills `child` with SIGKILL and waits for it to end.
async fn kill(mut child: Child) {
    child.start_kill().expect("the child can be killed");
    let status = child.wait().await.expect("the child ends");
    assert!(
        !status.success(),
        "a killed process does not succeed: {status}"
    );
}

fn admin_client(sim: &RunningSimulator) -> EntrustClient {
    let base_url = url::Url::parse(&sim.base_url()).expect("the simulator's URL parses");
    let mut config = EntrustConfig::new(base_url, DEMO_USER, SecretString::from(DEMO_KEY));
    config.max_retries = 0;
    EntrustClient::new(config).expect("the simulator's settings are valid")
}

/// Returns the orders Entrust lists with tracking info `marker`.
async fn entrust_orders_with_marker(entrust: &EntrustClient, marker: &str) -> usize {
    let query = OrderQuery {
        tracking_marker: Some(marker.to_owned()),
        ..OrderQuery::default()
    };
    entrust
        .all_orders(query)
        .await
        .expect("the simulator lists orders")
        .len()
}

fn order_posts(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|request| request.method == "POST" && request.path.ends_with("/certificates"))
        .collect()
}

/// The stored state of an order row: id, status, tracking id and marker.
type StoredOrder = (Uuid, String, Option<i64>, Option<String>);

async fn stored_orders(db: &TestDb) -> Vec<StoredOrder> {
    sqlx::query_as("SELECT id, status, tracking_id, submission_marker FROM orders")
        .fetch_all(&db.pool)
        .await
        .unwrap_or_default()
}

/// Returns every envelope on the test stream, in stream order.
async fn stream_envelopes(nats: &TestNats) -> Vec<Envelope> {
    let stream = nats
        .jetstream
        .get_stream(&nats.settings.stream)
        .await
        .expect("the stream exists");
    let state = stream.get_info().await.expect("stream info").state;
    let mut envelopes = Vec::new();
    if state.messages == 0 {
        return envelopes;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("each stored message can be read");
        envelopes.push(decode_envelope(&message.payload).expect("each body is an envelope"));
    }
    envelopes
}

/// Counts the events of type `M` about `order_id`.
fn count_events<M>(events: &[Envelope], order_id: &str, order_of: fn(&M) -> &str) -> usize
where
    M: certitude_platform::events::Event,
{
    events
        .iter()
        .filter(|envelope| envelope.event_type == M::TYPE.full_name)
        .map(|envelope| decode_payload::<M>(envelope).expect("the payload decodes"))
        .filter(|event| order_of(event) == order_id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_accepted_before_crash_is_adopted_once() {
    let deployment = Deployment::start().await;
    let credential_id = deployment.add_demo_credential().await;
    let entrust = admin_client(&deployment.sim);
    let orders_before = entrust
        .all_orders(OrderQuery::default())
        .await
        .expect("the simulator lists orders")
        .len();
    let (first, client) = deployment
        .spawn_order_manager(deployment.order_manager_grpc)
        .await;
    deployment
        .sim
        .inject_fault(Fault {
            kind: FaultKind::Latency {
                delay_ms: u64::try_from(HELD_RESPONSE.as_millis()).expect("fits"),
            },
            count: Some(1),
            method: Some("POST".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        })
        .expect("the fault is armed");

    let request = CreateOrderRequest {
        idempotency_key: "crash-before-commit".to_owned(),
        credential_id: credential_id.clone(),
        product: "STANDARD_SSL".to_owned(),
        common_name: "www.example.com".to_owned(),
        key_algorithm: "ECDSA_P256".to_owned(),
        actor: "crash-test".to_owned(),
        ..CreateOrderRequest::default()
    };
    let mut creating_client = client.clone();
    let creating = tokio::spawn(async move { creating_client.create_order(request).await });
    // The named point: Entrust committed the order, and the child waits for the response.
    let deadline = Deadline::start();
    let marker = loop {
        if let Some((_, _, _, Some(marker))) = stored_orders(&deployment.order_db).await.pop()
            && entrust_orders_with_marker(&entrust, &marker).await == 1
        {
            break marker;
        }
        deadline.wait("Entrust has the order").await;
    };
    kill(first).await;

    let response = creating.await.expect("the request task ends");
    assert!(
        response.is_err(),
        "the killed service sent no order: {response:?}"
    );
    let stored = stored_orders(&deployment.order_db).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (order_id, status, tracking_id, _) = stored[0].clone();
    assert_eq!(status, "SUBMITTING", "the crash came before the commit");
    assert_eq!(tracking_id, None);

    let (second, mut client) = deployment
        .spawn_order_manager(free_loopback_address())
        .await;
    let deadline = Deadline::start();
    let issued = loop {
        let order = client
            .get_order(GetOrderRequest {
                id: order_id.to_string(),
            })
            .await
            .expect("the order exists")
            .into_inner();
        if order.status == "ISSUED" {
            break order;
        }
        deadline
            .wait("the restarted service issues the order")
            .await;
    };
    let history = client
        .get_order_history(GetOrderHistoryRequest {
            id: order_id.to_string(),
        })
        .await
        .expect("the history is readable")
        .into_inner()
        .entries;
    let events = {
        eventually("the events are published", || async {
            let events = stream_envelopes(&deployment.nats).await;
            count_events::<CertificateIssued>(&events, &issued.id, |event| &event.order_id) > 0
        })
        .await;
        stream_envelopes(&deployment.nats).await
    };
    kill(second).await;

    assert!(issued.tracking_id > 0, "{issued:?}");
    assert_eq!(entrust_orders_with_marker(&entrust, &marker).await, 1);
    let orders_after = entrust
        .all_orders(OrderQuery::default())
        .await
        .expect("the simulator lists orders")
        .len();
    assert_eq!(orders_after, orders_before + 1);
    // The simulator logs the delayed request once the server drops it after the kill.
    eventually("the simulator logged the order request", || async {
        !order_posts(&deployment.sim.request_log()).is_empty()
    })
    .await;
    let log = deployment.sim.request_log();
    let posts = order_posts(&log);
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(
        posts[0].status, 0,
        "the response was never sent: {posts:#?}"
    );
    assert_eq!(posts[0].fault.as_deref(), Some("latency"));
    let stored = stored_orders(&deployment.order_db).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        history
            .iter()
            .any(|entry| entry.actor == "reconciler" && entry.action == "adopt"),
        "{history:#?}"
    );
    assert!(
        history.iter().all(|entry| entry.action != "resubmit"),
        "{history:#?}"
    );
    assert_eq!(
        count_events::<OrderCreated>(&events, &issued.id, |event| &event.order_id),
        1
    );
    assert_eq!(
        count_events::<CertificateIssued>(&events, &issued.id, |event| &event.order_id),
        1
    );
    deployment.stop().await;
}
