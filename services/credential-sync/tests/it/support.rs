//! The test harness: a credential-sync service started on its own schema, streams and ports,
//! the Entrust simulator, and helpers to drive and observe them.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use certitude_credential_sync::{Config, RunningService, start};
use certitude_platform::clock;
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
}

impl TestService {
    /// Starts the service with plain HTTP to loopback allowed (for the simulator).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts the service with extra configuration variables.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
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
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        vars.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let config = Config::from_pairs(vars).expect("the test configuration is valid");

        let shutdown = Shutdown::new();
        let running = start(config, clock::system(), shutdown.clone())
            .await
            .expect("the service starts");
        let client = CredentialServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .expect("the gRPC server accepts connections");
        Self {
            client,
            db,
            nats,
            running: Some(running),
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

    /// Returns the full subject of `<aggregate>.<event>` under the test's prefix.
    pub fn subject(&self, event: &str) -> String {
        format!("{}.v1.{event}", self.nats.settings.subject_prefix)
    }
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

/// Returns the run that adding the credential started.
pub async fn first_run(client: &mut Client, credential_id: &str) -> SyncRun {
    let runs = sync_runs(client, credential_id).await;
    runs.into_iter()
        .find(|run| run.trigger == "credential_added")
        .expect("adding the credential started a sync run")
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
