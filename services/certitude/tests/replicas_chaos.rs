//! Two replicas of every service as `certitude` child processes on a 3-node NATS JetStream
//! cluster, the real Postgres and the Entrust simulator (in this process). While orders, an
//! import and automatic renewals are in flight, one replica of each service and the node that
//! leads the event stream are killed with SIGKILL. Client requests that failed with their replica
//! are sent again to the surviving gateway with the same `Idempotency-Key`.
//!
//! The test then checks that every effect happened exactly once: one Entrust order and one
//! Certitude order per request, one inventory certificate per issued order, one renewal per
//! policy, and every outbox event published once and consumed.
//!
//! The replicas form two chains, A and B: each replica calls the other services' replica of its
//! own chain, because a service takes one URL per dependency. Chain A is killed, so the
//! requests in flight on it fail and chain B finishes the work that chain A's replicas had
//! claimed.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use certitude_platform::clock;
use certitude_platform::events::{EventsSettings, decode_envelope, ensure_streams};
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::testing::{TestDb, free_loopback_address, unique_suffix};
use certitude_system_tests::nats_cluster::NatsCluster;
use certitude_system_tests::{ADMIN_TOKEN, Api};
use entrust_sim::{Fault, FaultKind, LoggedRequest, RunningSimulator, Scenario, SimConfig};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use uuid::Uuid;

/// Orders placed through the gateway.
const ORDERS: usize = 30;

/// Orders placed by this many clients at once.
const CLIENTS: usize = 4;

/// Pause of each client between two orders, so that the orders span the kill. The 30 orders
/// then take about 10 seconds.
const ORDER_PACE: Duration = Duration::from_secs(1);

/// Delay of the simulator's responses to `GET /certificates...`, which the import reads.
const ENTRUST_READ_LATENCY: Duration = Duration::from_millis(300);

/// Delay of the simulator's responses to new orders and renewals, which widens the time in
/// which Entrust accepted an order and order-manager has not stored the result.
const ENTRUST_ORDER_LATENCY: Duration = Duration::from_millis(400);

/// Orders with a response before the replicas are killed.
const ANSWERED_BEFORE_KILL: usize = 6;

/// Common names of the scenario orders that get a renewal policy. Their certificates were
/// issued 100 days ago and expire in 20 days, so a policy of 30 days before expiry makes them
/// due at once, on the system clock that the child processes read.
const RENEWED_NAMES: [&str; 3] = [
    "renew-1.example.com",
    "renew-2.example.com",
    "renew-3.example.com",
];

/// Maximum wait for a replica to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts of one replica before the test fails. A service exits at start when creating or
/// updating the streams times out while the new cluster is busy. It also exits when Postgres
/// has no free connection, because other processes on the server use them all for a while.
const START_ATTEMPTS: usize = 5;

/// Pause before a replica that exited at start is started again.
const RESTART_DELAY: Duration = Duration::from_secs(2);

/// Maximum wait for one step of the scenario, such as a request that is retried.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// Maximum wait for every order, certificate, renewal and event to settle after the kills.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Event types whose outbox rows are compared with the stream.
const CHECKED_EVENTS: [&str; 3] = [
    "certitude.events.v1.OrderCreated",
    "certitude.events.v1.CertificateIssued",
    "certitude.events.v1.CertificateAddedToInventory",
];

/// The five services, in the order their databases are kept.
const SERVICES: [&str; 5] = [
    "gateway",
    "credential-sync",
    "order-manager",
    "inventory",
    "renewal-scheduler",
];

/// Index of each service in [`SERVICES`] and in the database list.
const GATEWAY: usize = 0;
const CREDENTIAL_SYNC: usize = 1;
const ORDER_MANAGER: usize = 2;
const INVENTORY: usize = 3;
const RENEWAL_SCHEDULER: usize = 4;

/// Names of the two replica chains.
const CHAINS: [&str; 2] = ["a", "b"];
const CHAIN_A: usize = 0;
const CHAIN_B: usize = 1;

/// The addresses of one chain's replicas.
#[derive(Debug, Clone, Copy)]
struct ChainAddresses {
    /// gRPC address per service, indexed like [`SERVICES`].
    grpc: [SocketAddr; 5],
    /// The gateway's REST address.
    api: SocketAddr,
}

impl ChainAddresses {
    fn pick() -> Self {
        Self {
            grpc: std::array::from_fn(|_| free_loopback_address()),
            api: free_loopback_address(),
        }
    }

    fn url(&self, service: usize) -> String {
        format!("http://{}", self.grpc[service])
    }
}

/// One `certitude <service>` child process.
struct Replica {
    service: usize,
    chain: usize,
    child: Child,
}

/// The simulator, the NATS cluster, the databases and the ten replicas. Dropping it kills every
/// child (`kill_on_drop`), then the NATS nodes, then removes the schemas and roles, also when
/// the test panics.
struct Fleet {
    replicas: Vec<Replica>,
    cluster: NatsCluster,
    jetstream: jetstream::Context,
    events: EventsSettings,
    /// One database per service, indexed like [`SERVICES`].
    databases: Vec<TestDb>,
    sim: RunningSimulator,
    chains: [ChainAddresses; 2],
    master_keys: String,
    log_dir: PathBuf,
}

impl Fleet {
    async fn start(scenario: Scenario) -> Self {
        let sim = RunningSimulator::start(SimConfig {
            scenario,
            clock: clock::system(),
            listen: "127.0.0.1:0".parse().expect("the address parses"),
        })
        .await
        .expect("the simulator starts");

        let cluster = NatsCluster::start(3).await;
        let client = async_nats::connect(cluster.node_urls())
            .await
            .expect("the NATS cluster accepts clients");
        let jetstream = jetstream::new(client);
        let suffix = unique_suffix();
        let mut events =
            EventsSettings::new(format!("REPLICAS_{suffix}"), format!("replicas_{suffix}"));
        events.replicas = 3;
        ensure_streams(&jetstream, &events)
            .await
            .expect("the streams are created with 3 replicas");

        let mut databases = Vec::new();
        for _ in SERVICES {
            databases.push(TestDb::new().await);
        }
        let master_key = MasterKey::generate(KeyId::parse("replicas").expect("the id is valid"))
            .expect("the RNG works");
        let log_dir = std::env::temp_dir().join(format!("certitude-replicas-{suffix}"));
        std::fs::create_dir_all(&log_dir).expect("the temporary directory is writable");

        let mut fleet = Self {
            replicas: Vec::new(),
            cluster,
            jetstream,
            events,
            databases,
            sim,
            chains: [ChainAddresses::pick(), ChainAddresses::pick()],
            master_keys: master_key.to_config_entry().expose_secret().to_owned(),
            log_dir,
        };

        // Dependencies first. The gateways start last, the second after the first, so that the
        // bootstrap token is stored once.
        for service in [
            INVENTORY,
            CREDENTIAL_SYNC,
            ORDER_MANAGER,
            RENEWAL_SCHEDULER,
            GATEWAY,
        ] {
            for chain in [CHAIN_A, CHAIN_B] {
                fleet.spawn(service, chain).await;
            }
        }
        fleet
    }

    /// Returns the environment of replica `chain` of `service`.
    fn env(&self, service: usize, chain: usize) -> Vec<(String, String)> {
        let db = &self.databases[service];
        let addresses = &self.chains[chain];
        let mut vars: Vec<(&str, String)> = vec![
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            // Ten processes share the server's 100 connections with other tests.
            ("CERTITUDE_DB_MAX_CONNECTIONS", "2".to_owned()),
            ("NATS_URL", self.cluster.url()),
            ("CERTITUDE_EVENT_STREAM", self.events.stream.clone()),
            (
                "CERTITUDE_SUBJECT_PREFIX",
                self.events.subject_prefix.clone(),
            ),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                self.events.dead_letter_stream.clone(),
            ),
            ("CERTITUDE_EVENT_STREAM_REPLICAS", "3".to_owned()),
            ("CERTITUDE_GRPC_LISTEN", addresses.grpc[service].to_string()),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
        ];
        match service {
            GATEWAY => vars.extend([
                ("CERTITUDE_API_LISTEN", addresses.api.to_string()),
                (
                    "CERTITUDE_CREDENTIAL_SYNC_URL",
                    addresses.url(CREDENTIAL_SYNC),
                ),
                ("CERTITUDE_ORDER_MANAGER_URL", addresses.url(ORDER_MANAGER)),
                ("CERTITUDE_INVENTORY_URL", addresses.url(INVENTORY)),
                (
                    "CERTITUDE_RENEWAL_SCHEDULER_URL",
                    addresses.url(RENEWAL_SCHEDULER),
                ),
                ("CERTITUDE_BOOTSTRAP_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ]),
            CREDENTIAL_SYNC => vars.extend([
                ("CERTITUDE_MASTER_KEYS", self.master_keys.clone()),
                ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true".to_owned()),
                ("CERTITUDE_ORDER_MANAGER_URL", addresses.url(ORDER_MANAGER)),
            ]),
            // A killed replica's claims on orders end after the lease, and an import it ran
            // counts as abandoned after two leases, so the survivor takes both over soon.
            ORDER_MANAGER => vars.extend([
                (
                    "CERTITUDE_CREDENTIAL_SYNC_URL",
                    addresses.url(CREDENTIAL_SYNC),
                ),
                ("CERTITUDE_INVENTORY_URL", addresses.url(INVENTORY)),
                ("CERTITUDE_ORDER_POLL_INTERVAL", "200ms".to_owned()),
                ("CERTITUDE_ORDER_POLL_MAX_BACKOFF", "1s".to_owned()),
                ("CERTITUDE_ORDER_CLAIM_LEASE", "3s".to_owned()),
                // Small pages keep the import running while the replicas are killed.
                ("CERTITUDE_IMPORT_PAGE_SIZE", "2".to_owned()),
                ("CERTITUDE_IMPORT_FETCH_CONCURRENCY", "1".to_owned()),
            ]),
            INVENTORY => vars.push(("CERTITUDE_MASTER_KEYS", self.master_keys.clone())),
            // Replica A scans often and stops each renewal after order-manager placed it, so
            // it claims the renewals and keeps them in flight until it is killed. Replica B
            // scans less often and finishes them once A's claims end.
            RENEWAL_SCHEDULER if chain == CHAIN_A => vars.extend([
                ("CERTITUDE_ORDER_MANAGER_URL", addresses.url(ORDER_MANAGER)),
                ("CERTITUDE_RENEWAL_SCAN_INTERVAL", "200ms".to_owned()),
                (
                    "CERTITUDE_RENEWAL_FAULT_POINT",
                    "renewal-after-order-placed".to_owned(),
                ),
                ("CERTITUDE_RENEWAL_CLAIM_LEASE", "5s".to_owned()),
                ("CERTITUDE_RENEWAL_JITTER", "0s".to_owned()),
            ]),
            RENEWAL_SCHEDULER => vars.extend([
                ("CERTITUDE_ORDER_MANAGER_URL", addresses.url(ORDER_MANAGER)),
                ("CERTITUDE_RENEWAL_SCAN_INTERVAL", "2s".to_owned()),
                ("CERTITUDE_RENEWAL_CLAIM_LEASE", "5s".to_owned()),
                ("CERTITUDE_RENEWAL_JITTER", "0s".to_owned()),
                ("CERTITUDE_RENEWAL_RETRY_BACKOFF", "1s".to_owned()),
                ("CERTITUDE_RENEWAL_RETRY_MAX_BACKOFF", "2s".to_owned()),
            ]),
            _ => unreachable!("service index {service}"),
        }
        vars.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    /// Starts replica `chain` of `service` and waits until it accepts connections. A replica
    /// that exits at start is started again, up to [`START_ATTEMPTS`] times, as a supervisor
    /// would restart it.
    async fn spawn(&mut self, service: usize, chain: usize) {
        let name = format!("{}-{}", SERVICES[service], CHAINS[chain]);
        for attempt in 1..=START_ATTEMPTS {
            let log_path = self.log_dir.join(format!("{name}-{attempt}.log"));
            match self.try_spawn(service, chain, &log_path).await {
                Ok(child) => {
                    self.replicas.push(Replica {
                        service,
                        chain,
                        child,
                    });
                    return;
                }
                Err(status) => {
                    eprintln!(
                        "{name} exited at start ({status}, attempt {attempt} of \
                         {START_ATTEMPTS}); see {}",
                        log_path.display()
                    );
                    tokio::time::sleep(RESTART_DELAY).await;
                }
            }
        }
        panic!("{name} exited at start {START_ATTEMPTS} times; see the logs above");
    }

    /// Starts replica `chain` of `service` with its output in `log_path`, and returns it once
    /// it accepts connections, or its exit status when it exits first.
    async fn try_spawn(
        &self,
        service: usize,
        chain: usize,
        log_path: &Path,
    ) -> Result<Child, ExitStatus> {
        let log = File::create(log_path).expect("the log file can be created");
        let mut command = Command::new(env!("CARGO_BIN_EXE_certitude"));
        command
            .arg(SERVICES[service])
            .env_clear()
            .envs(self.env(service, chain))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file handle can be cloned"))
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the certitude binary starts");
        let address = match service {
            GATEWAY => self.chains[chain].api,
            _ => self.chains[chain].grpc[service],
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(address).is_err() {
            if let Some(status) = child.try_wait().expect("the child's state is readable") {
                return Err(status);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {address} within {START_TIMEOUT:?}; see {}",
                SERVICES[service],
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(child)
    }

    /// Kills every replica of `chain` with SIGKILL and waits for them to end.
    async fn kill_chain(&mut self, chain: usize) {
        for replica in self.replicas.iter_mut().filter(|r| r.chain == chain) {
            replica.child.start_kill().expect("the child can be killed");
        }
        for replica in self.replicas.iter_mut().filter(|r| r.chain == chain) {
            let status = replica.child.wait().await.expect("the child ends");
            assert!(
                !status.success(),
                "killed {}-{} does not succeed: {status}",
                SERVICES[replica.service],
                CHAINS[chain]
            );
        }
    }

    /// Kills the NATS node that leads the event stream and returns its name.
    async fn kill_stream_leader(&mut self) -> String {
        let info = self
            .jetstream
            .get_stream(&self.events.stream)
            .await
            .expect("the stream exists")
            .get_info()
            .await
            .expect("the stream returns its info");
        let leader = info
            .cluster
            .and_then(|cluster| cluster.leader)
            .expect("the replicated stream has a leader");
        let index = self
            .cluster
            .node_index(&leader)
            .unwrap_or_else(|| panic!("the leader {leader} is a node of the cluster"));
        self.cluster.kill(index).await;
        leader
    }

    /// Asserts that every replica of `chain` still runs.
    fn assert_chain_running(&mut self, chain: usize) {
        for replica in self.replicas.iter_mut().filter(|r| r.chain == chain) {
            let exited = replica
                .child
                .try_wait()
                .expect("the child's state is readable");
            assert!(
                exited.is_none(),
                "{}-{} exited: {exited:?}",
                SERVICES[replica.service],
                CHAINS[chain]
            );
        }
    }

    /// Counts the renewals that renewal-scheduler A stopped at its fault point, from its log.
    fn renewals_held_by_chain_a(&self) -> usize {
        let name = format!("{}-{}", SERVICES[RENEWAL_SCHEDULER], CHAINS[CHAIN_A]);
        (1..=START_ATTEMPTS)
            .map(|attempt| self.log_dir.join(format!("{name}-{attempt}.log")))
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|log| log.matches("fault point reached").count())
            .sum()
    }

    fn api(&self, chain: usize) -> Api {
        Api::new(&format!("http://{}", self.chains[chain].api), ADMIN_TOKEN)
    }

    fn db(&self, service: usize) -> &sqlx::PgPool {
        &self.databases[service].pool
    }
}

/// Requests that failed and were sent again.
static RETRIED_REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// Requests to gateway A that have no response yet.
static IN_FLIGHT_ON_A: AtomicUsize = AtomicUsize::new(0);

/// Sends a request to gateway A while `chain_a_alive` and to gateway B otherwise, and again to
/// gateway B when it failed in a way a killed replica causes (no response, 409, 5xx). Returns
/// the first response with another status.
async fn call_with_failover(
    apis: &[Api; 2],
    chain_a_alive: &AtomicUsize,
    method: Method,
    path: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut last = String::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "{method} {path} (key {idempotency_key:?}) failed for {STEP_TIMEOUT:?}: {last}"
        );
        let chain = if chain_a_alive.load(Ordering::SeqCst) == 1 && last.is_empty() {
            CHAIN_A
        } else {
            CHAIN_B
        };
        if chain == CHAIN_A {
            IN_FLIGHT_ON_A.fetch_add(1, Ordering::SeqCst);
        }
        let response = apis[chain]
            .call(method.clone(), path, body.clone(), idempotency_key)
            .await;
        if chain == CHAIN_A {
            IN_FLIGHT_ON_A.fetch_sub(1, Ordering::SeqCst);
        }
        match response {
            Ok((status, body)) if status != StatusCode::CONFLICT && !status.is_server_error() => {
                return (status, body);
            }
            Ok((status, body)) => last = format!("gateway {}: {status}: {body}", CHAINS[chain]),
            Err(error) => last = format!("gateway {}: {error:#}", CHAINS[chain]),
        }
        RETRIED_REQUESTS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Returns the demo scenario with three more active orders, old enough to renew and due for renewal,
/// and enough STANDARD_SSL units for the placed orders and the renewals.
fn scenario_with_renewable_orders() -> Scenario {
    let mut scenario = Scenario::demo();
    let standard = scenario
        .inventory
        .iter_mut()
        .find(|item| item.product_type == "STANDARD_SSL")
        .expect("the demo account has STANDARD_SSL units");
    let added = u32::try_from(2 * ORDERS).unwrap();
    standard.total_count += added;
    standard.remaining_count += added;
    for name in RENEWED_NAMES {
        let order = serde_json::from_value(json!({
            "status": "ACTIVE",
            "certType": "STANDARD_SSL",
            "commonName": name,
            "issuedDaysAgo": 100,
            "expiresInDays": 20,
        }))
        .expect("the scenario order is valid");
        // First in the listing, so the import brings them early and goes on after the kill.
        scenario.orders.insert(0, order);
    }
    scenario
}

/// Adds the demo administrator through gateway A and waits for its products to be synced.
async fn add_credential(api: &Api, sim: &RunningSimulator) -> String {
    let (status, credential) = api
        .post(
            "/v1/credentials",
            json!({
                "name": "demo",
                "api_base_url": sim.base_url(),
                "username": "demo-admin",
                "api_key": "sim-demo-admin-key",
                "is_administrator": true,
            }),
        )
        .await
        .expect("the gateway responds");
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    let credential_id = credential["id"].as_str().unwrap().to_owned();
    api.wait_for(
        &format!("/v1/credentials/{credential_id}/products"),
        STEP_TIMEOUT,
        |products| {
            products["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        },
    )
    .await
    .expect("the credential's catalog is synced");
    credential_id
}

/// Places [`ORDERS`] orders from [`CLIENTS`] concurrent clients, and counts the orders with a
/// response in `answered`. Returns the order id per idempotency key.
async fn place_orders(
    apis: Arc<[Api; 2]>,
    chain_a_alive: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    credential_id: String,
    run: String,
) -> HashMap<String, String> {
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let apis = apis.clone();
        let chain_a_alive = chain_a_alive.clone();
        let answered = answered.clone();
        let credential_id = credential_id.clone();
        let run = run.clone();
        clients.push(tokio::spawn(async move {
            let mut placed = HashMap::new();
            for index in (client..ORDERS).step_by(CLIENTS) {
                let key = format!("replicas-{run}-{index}");
                let body = json!({
                    "credential_id": credential_id,
                    "product": "STANDARD_SSL",
                    "common_name": format!("replica-{index}.example.com"),
                    "key_algorithm": "ECDSA_P256",
                    "validity_days": 90,
                });
                let (status, order) = call_with_failover(
                    &apis,
                    &chain_a_alive,
                    Method::POST,
                    "/v1/orders",
                    Some(body),
                    Some(&key),
                )
                .await;
                assert!(
                    status == StatusCode::CREATED || status == StatusCode::OK,
                    "order {key} was rejected: {status}: {order}"
                );
                placed.insert(key, order["id"].as_str().unwrap().to_owned());
                answered.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(ORDER_PACE).await;
            }
            placed
        }));
    }
    let mut placed = HashMap::new();
    for client in clients {
        placed.extend(client.await.expect("an ordering client does not panic"));
    }
    placed
}

/// Runs an import of the credential until one import job succeeded. A job left by a killed
/// replica stays `running` until it is abandoned; the next start then begins a new job.
async fn import_until_succeeded(
    apis: Arc<[Api; 2]>,
    chain_a_alive: Arc<AtomicUsize>,
    credential_id: String,
) -> Value {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let (status, job) = call_with_failover(
            &apis,
            &chain_a_alive,
            Method::POST,
            "/v1/imports",
            Some(json!({ "credential_id": credential_id })),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "the import starts: {job}");
        let path = format!("/v1/imports/{}", job["id"].as_str().unwrap());
        let job_deadline = Instant::now() + Duration::from_secs(15);
        let mut job = job;
        while job["state"] == "running" && Instant::now() < job_deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (status, body) =
                call_with_failover(&apis, &chain_a_alive, Method::GET, &path, None, None).await;
            if status == StatusCode::OK {
                job = body;
            }
        }
        if job["state"] == "succeeded" {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "no import succeeded within {SETTLE_TIMEOUT:?}; the last job: {job}"
        );
    }
}

/// Waits until the imported scenario orders of [`RENEWED_NAMES`] exist and sets a renewal
/// policy due at once on each. Returns their order ids.
async fn set_renewal_policies(apis: Arc<[Api; 2]>, chain_a_alive: Arc<AtomicUsize>) -> Vec<String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let order_ids = loop {
        let chain = if chain_a_alive.load(Ordering::SeqCst) == 1 {
            CHAIN_A
        } else {
            CHAIN_B
        };
        let orders = apis[chain]
            .all_pages("/v1/orders")
            .await
            .unwrap_or_default();
        let found: Vec<String> = RENEWED_NAMES
            .iter()
            .filter_map(|name| {
                orders
                    .iter()
                    .find(|order| order["common_name"] == *name && order["status"] == "ISSUED")
                    .map(|order| order["id"].as_str().unwrap().to_owned())
            })
            .collect();
        if found.len() == RENEWED_NAMES.len() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not bring {RENEWED_NAMES:?} within {STEP_TIMEOUT:?}: found {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for order_id in &order_ids {
        let (status, policy) = call_with_failover(
            &apis,
            &chain_a_alive,
            Method::PUT,
            &format!("/v1/orders/{order_id}/renewal-policy"),
            Some(json!({ "renew_days_before_expiry": 30, "rotate_key": true })),
            None,
        )
        .await;
        assert!(
            status == StatusCode::OK || status == StatusCode::CREATED,
            "the renewal policy of {order_id} is stored: {status}: {policy}"
        );
    }
    order_ids
}

async fn count(pool: &sqlx::PgPool, query: &'static str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| panic!("{query} failed: {error}"))
}

fn entrust_posts<'a>(log: &'a [LoggedRequest], suffix: &str) -> Vec<&'a LoggedRequest> {
    log.iter()
        .filter(|request| request.method == "POST" && request.path.ends_with(suffix))
        .collect()
}

/// An outbox row: event id, event type, aggregate id, and whether it was published.
type OutboxRow = (Uuid, String, String, bool);

async fn outbox_rows(pool: &sqlx::PgPool) -> Vec<OutboxRow> {
    let types: Vec<String> = CHECKED_EVENTS
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    sqlx::query_as(
        "SELECT id, event_type, aggregate_id, published_at IS NOT NULL FROM outbox
         WHERE event_type = ANY($1)",
    )
    .bind(types)
    .fetch_all(pool)
    .await
    .expect("the outbox is readable")
}

/// Returns the event id of every message on `stream` whose type is one of [`CHECKED_EVENTS`],
/// once per message.
async fn stream_event_ids(jetstream: &jetstream::Context, stream: &str) -> Vec<Uuid> {
    let stream = jetstream
        .get_stream(stream)
        .await
        .expect("the stream exists");
    let state = stream.get_info().await.expect("stream info").state;
    let mut ids = Vec::new();
    if state.messages == 0 {
        return ids;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .unwrap_or_else(|error| panic!("message {sequence} is readable: {error}"));
        let envelope = decode_envelope(&message.payload).expect("each body is an envelope");
        if CHECKED_EVENTS.contains(&envelope.event_type.as_str()) {
            ids.push(envelope.event_id.parse().expect("an event id is a UUID"));
        }
    }
    ids
}

async fn stream_messages(jetstream: &jetstream::Context, stream: &str) -> u64 {
    jetstream
        .get_stream(stream)
        .await
        .expect("the stream exists")
        .get_info()
        .await
        .expect("stream info")
        .state
        .messages
}

/// Waits until every placed order is issued and in the inventory.
async fn wait_for_issued(api: &Api, placed: &HashMap<String, String>) {
    for (key, order_id) in placed {
        api.wait_for(&format!("/v1/orders/{order_id}"), SETTLE_TIMEOUT, |order| {
            order["status"] == "ISSUED" && order["inventory_state"] == "in_inventory"
        })
        .await
        .unwrap_or_else(|error| panic!("order {order_id} (key {key}) settles: {error:#}"));
    }
}

/// Polls `condition` until it holds, for at most [`SETTLE_TIMEOUT`].
async fn settle<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {SETTLE_TIMEOUT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_survive_kills_with_effects_once() {
    let started = Instant::now();
    let scenario = scenario_with_renewable_orders();
    let scenario_orders = scenario.orders.len();
    let mut fleet = Fleet::start(scenario).await;
    eprintln!(
        "ten replicas started in {:?}; logs in {}",
        started.elapsed(),
        fleet.log_dir.display()
    );
    let apis = Arc::new([fleet.api(CHAIN_A), fleet.api(CHAIN_B)]);
    let chain_a_alive = Arc::new(AtomicUsize::new(1));
    let answered = Arc::new(AtomicUsize::new(0));
    let credential_id = add_credential(&apis[CHAIN_A], &fleet.sim).await;
    // Slow reads of orders keep the import's pages going past the kill; they change no result.
    fleet
        .sim
        .inject_fault(Fault {
            kind: FaultKind::Latency {
                delay_ms: u64::try_from(ENTRUST_READ_LATENCY.as_millis()).unwrap(),
            },
            count: None,
            method: Some("GET".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        })
        .expect("the latency fault is armed");
    fleet
        .sim
        .inject_fault(Fault {
            kind: FaultKind::Latency {
                delay_ms: u64::try_from(ENTRUST_ORDER_LATENCY.as_millis()).unwrap(),
            },
            count: None,
            method: Some("POST".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        })
        .expect("the latency fault is armed");

    // Work in flight: the import, the orders and, once the import brought the renewable
    // orders, the renewal policies.
    let import = tokio::spawn(import_until_succeeded(
        apis.clone(),
        chain_a_alive.clone(),
        credential_id.clone(),
    ));
    let ordering = tokio::spawn(place_orders(
        apis.clone(),
        chain_a_alive.clone(),
        answered.clone(),
        credential_id.clone(),
        unique_suffix(),
    ));
    let policies = tokio::spawn(set_renewal_policies(apis.clone(), chain_a_alive.clone()));

    // The kill: chain A and the stream leader's node, once the policies are set and a few
    // orders have a response, so orders, renewals and import pages are in flight.
    let renewed_order_ids = policies.await.expect("setting the policies does not panic");
    settle("a few orders are answered", || async {
        answered.load(Ordering::SeqCst) >= ANSWERED_BEFORE_KILL
    })
    .await;
    settle(
        "renewal-scheduler A holds a renewal placed at Entrust",
        || async { fleet.renewals_held_by_chain_a() >= 1 },
    )
    .await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while IN_FLIGHT_ON_A.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "no request to gateway A was in flight within {STEP_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Only cheap reads sit between seeing the request in flight and the kill, so that the
    // request is unlikely to finish in between. The slower reads follow the kill: chain A's
    // logs no longer change then.
    let answered_at_kill = answered.load(Ordering::SeqCst);
    let import_running_at_kill = !import.is_finished();
    chain_a_alive.store(0, Ordering::SeqCst);
    fleet.kill_chain(CHAIN_A).await;
    let renewals_at_kill = entrust_posts(&fleet.sim.request_log(), "/renewals").len();
    let renewals_held_at_kill = fleet.renewals_held_by_chain_a();
    let leader = fleet.kill_stream_leader().await;
    eprintln!(
        "killed chain A and NATS node {leader} at {:?}: {answered_at_kill} of {ORDERS} orders \
         answered, {renewals_at_kill} of {} renewals at Entrust ({renewals_held_at_kill} held by \
         renewal-scheduler-a), import running: {import_running_at_kill}",
        started.elapsed(),
        RENEWED_NAMES.len(),
    );
    assert!(
        answered_at_kill < ORDERS,
        "the kill came after every order was answered; it tests no order in flight"
    );
    assert!(
        renewals_held_at_kill >= 1,
        "the kill came before renewal-scheduler A held a renewal"
    );

    let placed = ordering.await.expect("placing the orders does not panic");
    assert!(
        RETRIED_REQUESTS.load(Ordering::SeqCst) >= 1,
        "a request in flight on gateway A at the kill is sent again to gateway B"
    );
    let import_job = import.await.expect("the import does not panic");
    let api = &apis[CHAIN_B];
    wait_for_issued(api, &placed).await;
    let placed_ids: Vec<Uuid> = placed.values().map(|id| id.parse().unwrap()).collect();
    let placed_text: Vec<String> = placed.values().cloned().collect();

    // Renewals: each renewal's order is issued and audited.
    let renewal_db = fleet.db(RENEWAL_SCHEDULER).clone();
    settle("every renewal succeeded", || async {
        count(
            &renewal_db,
            "SELECT count(*) FROM renewal_audit WHERE outcome = 'succeeded'",
        )
        .await
            >= i64::try_from(RENEWED_NAMES.len()).unwrap()
    })
    .await;
    let order_db = fleet.db(ORDER_MANAGER).clone();
    settle("every renewal's order is issued", || async {
        count(
            &order_db,
            "SELECT count(*) FROM orders WHERE renews_order_id IS NOT NULL AND status = 'ISSUED'",
        )
        .await
            >= i64::try_from(RENEWED_NAMES.len()).unwrap()
    })
    .await;

    // Every issued order's certificate is in the inventory.
    let inventory_db = fleet.db(INVENTORY).clone();
    settle(
        "every issued order has its certificate in the inventory",
        || async {
            let issued: HashSet<String> =
                sqlx::query_scalar("SELECT id::text FROM orders WHERE status = 'ISSUED'")
                    .fetch_all(&order_db)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
            let stored: HashSet<String> =
                sqlx::query_scalar("SELECT order_id FROM certificates WHERE order_id IS NOT NULL")
                    .fetch_all(&inventory_db)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
            issued.is_subset(&stored)
        },
    )
    .await;

    // Every outbox row of the checked types is published and on the stream.
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let outbox = loop {
        let mut outbox = Vec::new();
        for db in &fleet.databases {
            outbox.extend(outbox_rows(&db.pool).await);
        }
        let on_stream: HashSet<Uuid> = stream_event_ids(&fleet.jetstream, &fleet.events.stream)
            .await
            .into_iter()
            .collect();
        let missing: Vec<_> = outbox
            .iter()
            .filter(|(id, _, _, published)| !*published || !on_stream.contains(id))
            .collect();
        if missing.is_empty() {
            break outbox;
        }
        assert!(
            Instant::now() < deadline,
            "outbox rows unpublished or missing on the stream after {SETTLE_TIMEOUT:?}: \
             {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let stream_ids = stream_event_ids(&fleet.jetstream, &fleet.events.stream).await;
    fleet.assert_chain_running(CHAIN_B);
    // Everything settled, so chain B stops here and frees its Postgres connections for the
    // checks below.
    fleet.kill_chain(CHAIN_B).await;

    // Entrust: one new order per placed order, one renewal per policy. A request whose
    // response the kill cut off is logged with status 0; Entrust stored it all the same.
    let log = fleet.sim.request_log();
    let accepted =
        |request: &&LoggedRequest| request.status == 0 || (200..300).contains(&request.status);
    let new_orders = entrust_posts(&log, "/certificates");
    assert_eq!(
        new_orders.len(),
        ORDERS,
        "Entrust received one new order per placed order: {new_orders:#?}"
    );
    assert!(
        new_orders.iter().all(accepted),
        "Entrust accepted every new order: {new_orders:#?}"
    );
    let renewals = entrust_posts(&log, "/renewals");
    assert_eq!(
        renewals.len(),
        RENEWED_NAMES.len(),
        "Entrust received one renewal per policy: {renewals:#?}"
    );
    assert!(
        renewals.iter().all(accepted),
        "Entrust accepted every renewal: {renewals:#?}"
    );

    // order-manager: one row per placed order and per tracking id.
    assert_eq!(placed.len(), ORDERS, "every order was answered");
    let placed_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = ANY($1)")
        .bind(&placed_ids)
        .fetch_one(&order_db)
        .await
        .unwrap();
    assert_eq!(placed_rows, i64::try_from(ORDERS).unwrap());
    let duplicated_tracking_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT tracking_id FROM orders WHERE tracking_id IS NOT NULL
         GROUP BY tracking_id HAVING count(*) > 1",
    )
    .fetch_all(&order_db)
    .await
    .unwrap();
    assert!(
        duplicated_tracking_ids.is_empty(),
        "tracking ids with more than one order row: {duplicated_tracking_ids:?}"
    );
    let all_orders = count(&order_db, "SELECT count(*) FROM orders").await;
    assert_eq!(
        all_orders,
        i64::try_from(scenario_orders + ORDERS + RENEWED_NAMES.len()).unwrap(),
        "the scenario's orders, the placed orders and the renewals"
    );
    assert_eq!(import_job["state"], "succeeded", "{import_job}");
    let audit_rows = count(&renewal_db, "SELECT count(*) FROM renewal_audit").await;
    assert_eq!(
        audit_rows,
        i64::try_from(RENEWED_NAMES.len()).unwrap(),
        "one audit row per renewal"
    );
    let renewed_from: Vec<String> = sqlx::query_scalar(
        "SELECT renews_order_id::text FROM orders WHERE renews_order_id IS NOT NULL",
    )
    .fetch_all(&order_db)
    .await
    .unwrap();
    let renewed_from: HashSet<String> = renewed_from.into_iter().collect();
    let expected_renewed: HashSet<String> = renewed_order_ids.into_iter().collect();
    assert_eq!(
        renewed_from, expected_renewed,
        "each policy's order renewed once"
    );

    // inventory: one certificate per order, and one per placed order.
    let duplicated_certificates: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM certificates WHERE order_id IS NOT NULL
         GROUP BY order_id HAVING count(*) > 1",
    )
    .fetch_all(&inventory_db)
    .await
    .unwrap();
    assert!(
        duplicated_certificates.is_empty(),
        "orders with more than one certificate: {duplicated_certificates:?}"
    );
    let placed_certificates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM certificates WHERE order_id = ANY($1)")
            .bind(&placed_text)
            .fetch_one(&inventory_db)
            .await
            .unwrap();
    assert_eq!(placed_certificates, i64::try_from(ORDERS).unwrap());

    // Events: the stream contains each outbox event once, and nothing else of those types.
    let outbox_ids: HashSet<Uuid> = outbox.iter().map(|(id, ..)| *id).collect();
    let unique_stream_ids: HashSet<Uuid> = stream_ids.iter().copied().collect();
    assert_eq!(
        unique_stream_ids, outbox_ids,
        "the stream's events of {CHECKED_EVENTS:?} are the outbox rows"
    );
    assert_eq!(
        stream_ids.len(),
        unique_stream_ids.len(),
        "no event is stored twice on the stream"
    );
    let mut per_aggregate: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, event_type, aggregate_id, _) in &outbox {
        *per_aggregate
            .entry((event_type.as_str(), aggregate_id.as_str()))
            .or_default() += 1;
    }
    let repeated: Vec<_> = per_aggregate.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "events written more than once for one aggregate: {repeated:?}"
    );
    let issued_events: HashSet<Uuid> = outbox
        .iter()
        .filter(|(_, event_type, ..)| event_type == CHECKED_EVENTS[1])
        .map(|(id, ..)| *id)
        .collect();
    let consumed: HashSet<Uuid> = sqlx::query_scalar("SELECT DISTINCT event_id FROM inbox")
        .fetch_all(&inventory_db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let unconsumed: Vec<_> = issued_events.difference(&consumed).collect();
    assert!(
        unconsumed.is_empty(),
        "CertificateIssued events the inventory never consumed: {unconsumed:?}"
    );
    let dead_letters = stream_messages(&fleet.jetstream, &fleet.events.dead_letter_stream).await;
    assert_eq!(dead_letters, 0, "no event went to the dead-letter stream");

    eprintln!(
        "finished in {:?}, with {} requests sent again",
        started.elapsed(),
        RETRIED_REQUESTS.load(Ordering::SeqCst)
    );
    std::fs::remove_dir_all(&fleet.log_dir).ok();
}
