//! The test harness: a credential-sync service started on its own schema, streams and ports,
//! the Entrust simulator, and helpers to drive and observe them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use certitude_credential_sync::{Config, OrderCounter, RunningService, start, start_with_orders};
use certitude_platform::clock;
use certitude_platform::events::{Event, decode_envelope, decode_payload};
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{
    AddCredentialRequest, GetSyncRunRequest, ListSyncRunsRequest, SyncRun,
};
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use tonic::transport::Channel;

/// The demo account's administrator, from the simulator's demo scenario.
pub const DEMO_USER: &str = "demo-admin";
pub const DEMO_KEY: &str = "sim-demo-admin-key";

/// Catalog sizes of the demo scenario: organizations, domains, products.
pub const DEMO_ORGANIZATIONS: usize = 5;
pub const DEMO_DOMAINS: usize = 8;
pub const DEMO_PRODUCTS: usize = 7;

/// Maximum wait for a condition on a real server.
const DEADLINE: Duration = Duration::from_secs(60);

pub type Client = CredentialServiceClient<Channel>;

/// A started service with its own schema, streams and ports.
pub struct TestService {
    pub client: Client,
    pub db: TestDb,
    pub nats: TestNats,
    pub running: Option<RunningService>,
    shutdown: Shutdown,
    /// The configuration variables it started with, for replicas.
    vars: Vec<(String, String)>,
    orders: Option<Arc<dyn OrderCounter>>,
}

/// A second instance of a [`TestService`] on the same schema, streams and master key, as
/// another replica would run.
pub struct Replica {
    pub client: Client,
    running: RunningService,
    shutdown: Shutdown,
}

impl Replica {
    /// Stops the replica and checks that every task ended cleanly.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.running
            .wait()
            .await
            .expect("every task of the replica stops cleanly");
    }
}

impl TestService {
    /// Starts the service with plain HTTP to loopback allowed (for the simulator).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts the service with `orders` in place of order-manager.
    pub async fn start_with_orders(orders: Arc<dyn OrderCounter>) -> Self {
        Self::start_full(&[], Some(orders)).await
    }

    /// Starts the service with extra configuration variables.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::start_full(extra, None).await
    }

    async fn start_full(extra: &[(&str, &str)], orders: Option<Arc<dyn OrderCounter>>) -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let master_key = MasterKey::generate(KeyId::parse("test").expect("the key id is valid"))
            .expect("a master key can be generated");
        let master_keys = master_key.to_config_entry();
        let mut vars: Vec<(String, String)> = vec![
            ("DATABASE_URL", db.settings.url.expose_secret()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.as_str()),
            ("CERTITUDE_DB_MAX_CONNECTIONS", "5"),
            ("NATS_URL", &certitude_platform::testing::nats_url()),
            ("CERTITUDE_EVENT_STREAM", &nats.settings.stream),
            ("CERTITUDE_SUBJECT_PREFIX", &nats.settings.subject_prefix),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                &nats.settings.dead_letter_stream,
            ),
            ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0"),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0"),
            ("CERTITUDE_MASTER_KEYS", master_keys.expose_secret()),
            ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true"),
            ("CERTITUDE_ENTRUST_TIMEOUT", "10s"),
            ("CERTITUDE_ORDER_MANAGER_URL", &closed_port_url()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        vars.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let (client, running, shutdown) = start_instance(&vars, orders.clone()).await;
        Self {
            client,
            db,
            nats,
            running: Some(running),
            shutdown,
            vars,
            orders,
        }
    }

    /// Starts another instance with the same configuration, on its own ports.
    pub async fn start_replica(&self) -> Replica {
        let (client, running, shutdown) = start_instance(&self.vars, self.orders.clone()).await;
        Replica {
            client,
            running,
            shutdown,
        }
    }

    /// Stops the service and checks that every task ended cleanly; the schema and streams
    /// stay for inspection.
    pub async fn stop_service(&mut self) {
        self.shutdown.trigger();
        if let Some(running) = self.running.take() {
            running.wait().await.expect("every task stops cleanly");
        }
    }

    /// Stops the service, then removes the schema and streams.
    pub async fn stop(mut self) {
        self.stop_service().await;
        self.nats.delete_streams().await;
        self.db.drop_now().await;
    }

    /// Returns every message of the test's main stream on `subject`, in stream order.
    pub async fn messages_on(&self, subject: &str) -> Vec<StreamMessage> {
        let stream = self
            .nats
            .jetstream
            .get_stream(&self.nats.settings.stream)
            .await
            .expect("the test stream exists");
        let state = stream
            .get_info()
            .await
            .expect("stream info is available")
            .state;
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream
                .get_raw_message(sequence)
                .await
                .expect("each stored message can be read");
            if message.subject.as_str() == subject {
                messages.push(message);
            }
        }
        messages
    }

    /// Waits until every event written so far is published, then returns the payloads of
    /// type `M` on the stream, in stream order.
    pub async fn published<M: Event>(&self) -> Vec<M> {
        eventually("the outbox is drained", || async {
            let unpublished: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&self.db.pool)
                    .await
                    .expect("the outbox can be counted");
            unpublished == 0
        })
        .await;
        let subject = M::TYPE.subject(&self.nats.settings.subject_prefix);
        self.messages_on(&subject)
            .await
            .iter()
            .map(|message| {
                let envelope = decode_envelope(&message.payload).expect("the body is an envelope");
                decode_payload::<M>(&envelope).expect("the payload decodes")
            })
            .collect()
    }

    /// Returns the full subject of `<aggregate>.<event>` under the test's prefix.
    pub fn subject(&self, event: &str) -> String {
        format!("{}.v1.{event}", self.nats.settings.subject_prefix)
    }
}

/// Starts one instance from configuration variables, with `orders` in place of order-manager
/// when given.
async fn start_instance(
    vars: &[(String, String)],
    orders: Option<Arc<dyn OrderCounter>>,
) -> (Client, RunningService, Shutdown) {
    let config = Config::from_pairs(vars.to_vec()).expect("the test configuration is valid");
    let shutdown = Shutdown::new();
    let running = match orders {
        Some(orders) => start_with_orders(config, clock::system(), shutdown.clone(), orders).await,
        None => start(config, clock::system(), shutdown.clone()).await,
    }
    .expect("the service starts");
    let client = CredentialServiceClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .expect("the gRPC server accepts connections");
    (client, running, shutdown)
}

/// Returns an http URL of a loopback port that nothing listens on.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port exists")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Starts a simulator for `scenario` on a free loopback port.
pub async fn start_simulator(scenario: Scenario) -> RunningSimulator {
    RunningSimulator::start(SimConfig {
        scenario,
        clock: clock::system(),
        listen: "127.0.0.1:0".parse().expect("the address parses"),
    })
    .await
    .expect("the simulator starts")
}

/// Returns the origin (`http://127.0.0.1:PORT`) of a simulator.
pub fn origin(simulator: &RunningSimulator) -> String {
    format!("http://{}", simulator.local_addr())
}

/// Returns a request that adds the demo administrator at `api_base_url`.
pub fn demo_request(name: &str, api_base_url: &str) -> AddCredentialRequest {
    AddCredentialRequest {
        name: name.to_owned(),
        api_base_url: api_base_url.to_owned(),
        username: DEMO_USER.to_owned(),
        api_key: DEMO_KEY.to_owned(),
        is_administrator: true,
        ..AddCredentialRequest::default()
    }
}

/// Returns the credential's runs, newest first.
pub async fn sync_runs(client: &mut Client, credential_id: &str) -> Vec<SyncRun> {
    client
        .list_sync_runs(ListSyncRunsRequest {
            credential_id: credential_id.to_owned(),
            ..ListSyncRunsRequest::default()
        })
        .await
        .expect("the runs are listed")
        .into_inner()
        .sync_runs
}

/// Returns the run that adding the credential started, or the scheduled run that it joined:
/// the schedule may find the new credential due between its insert and its first sync.
pub async fn first_run(client: &mut Client, credential_id: &str) -> SyncRun {
    let runs = sync_runs(client, credential_id).await;
    let added = runs
        .iter()
        .find(|run| run.trigger == "credential_added")
        .cloned();
    added
        .or_else(|| runs.into_iter().find(|run| run.trigger == "schedule"))
        .expect("adding the credential started or joined a sync run")
}

/// Polls a run until it is no longer running, and returns it.
pub async fn finished_run(client: &mut Client, run_id: &str) -> SyncRun {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let run = client
            .get_sync_run(GetSyncRunRequest {
                id: run_id.to_owned(),
            })
            .await
            .expect("the run exists")
            .into_inner();
        if run.state != "running" {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "sync run {run_id} still running after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `condition` until it holds, failing the test after a generous deadline.
pub async fn eventually<F, Fut>(description: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {description}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Returns the value of header `name`, if present.
pub fn header<'a>(message: &'a StreamMessage, name: &str) -> Option<&'a str> {
    message.headers.get(name).map(|value| value.as_str())
}
