//! The service started on the real Postgres and NATS with the Entrust simulator, in-test
//! sources, and helpers to read what it published.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use certitude_inventory::keys::{self, CsrSubject};
use certitude_order_manager::sources::key_algorithm_name;
use certitude_order_manager::{
    Config, CredentialSource, GeneratedKey, KeyRequest, KeySource, RunningService, SourceError,
    Sources, start_with_sources,
};
use certitude_platform::clock::{self, SharedClock};
use certitude_platform::events::{Envelope, Event, decode_envelope, decode_payload};
use certitude_platform::outbox;
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::{
    self as catalog, GetOrderingCatalogRequest, OrderingCatalog,
};
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::order::v1::{CreateOrderRequest, GetOrderRequest, ListOrdersRequest, Order};
use entrust::{CertificateAuthority, EntrustClient, EntrustConfig, SecretString};
use entrust_sim::{LoggedRequest, RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use tonic::transport::Channel;
use uuid::Uuid;

/// Id of the one credential the tests' credential source resolves.
pub const CREDENTIAL_ID: &str = "credential-demo";

/// The demo scenario's administrator.
const ADMIN_USER: &str = "demo-admin";
const ADMIN_KEY: &str = "sim-demo-admin-key";

/// Maximum wait for a condition that depends on background tasks.
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `condition` until it holds, failing the test after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A credential source that resolves one credential: the simulator's administrator.
#[derive(Debug)]
struct SimCredentials {
    authority: Arc<dyn CertificateAuthority>,
}

#[async_trait]
impl CredentialSource for SimCredentials {
    async fn authority(
        &self,
        credential_id: &str,
    ) -> Result<Arc<dyn CertificateAuthority>, SourceError> {
        if credential_id == CREDENTIAL_ID {
            Ok(Arc::clone(&self.authority))
        } else {
            Err(SourceError::CredentialNotFound(credential_id.to_owned()))
        }
    }

    /// Reads the whole catalog from the simulator, as if credential-sync had just synced it;
    /// the checks pick the entries that bear on the order.
    async fn ordering_catalog(
        &self,
        request: GetOrderingCatalogRequest,
    ) -> Result<OrderingCatalog, SourceError> {
        let authority = self.authority(&request.credential_id).await?;
        let read = |error: entrust::Error| SourceError::Rejected {
            service: "simulator",
            message: error.to_string(),
        };
        let client_id = |id: Option<u32>| id.and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
        let count = |value: Option<u64>| value.and_then(|v| i64::try_from(v).ok()).unwrap_or(0);
        let domains = authority.domains().await.map_err(read)?;
        let organizations = authority.organizations().await.map_err(read)?;
        let products = authority.products().await.map_err(read)?;
        Ok(OrderingCatalog {
            domains: domains
                .into_iter()
                .map(|d| catalog::Domain {
                    name: d.name,
                    client_id: client_id(d.client_id),
                    verification_status: d.verification_status.as_str().to_owned(),
                    ev_eligible: d.ev_eligible.unwrap_or(false),
                    ov_eligible: d.ov_eligible.unwrap_or(false),
                    ..catalog::Domain::default()
                })
                .collect(),
            organizations: organizations
                .into_iter()
                .map(|o| catalog::Organization {
                    name: o.name,
                    client_id: client_id(o.client_id),
                    verification_status: o.verification_status.as_str().to_owned(),
                    ..catalog::Organization::default()
                })
                .collect(),
            products: products
                .into_iter()
                .map(|p| catalog::Product {
                    counts_reported: p.remaining.is_some(),
                    product_type: p.product_type,
                    unlimited: p.unlimited,
                    remaining_count: count(p.remaining),
                    used_count: count(p.used),
                    total_count: count(p.total),
                    ..catalog::Product::default()
                })
                .collect(),
            synced_at: "2026-01-01T00:00:00Z".to_owned(),
        })
    }
}

/// A key source that generates keys as the inventory does, in process, once per idempotency
/// key.
#[derive(Debug, Default)]
pub struct LocalKeys {
    generated: Mutex<HashMap<String, GeneratedKey>>,
}

impl LocalKeys {
    /// Returns the key generated for `idempotency_key`.
    pub fn key_for(&self, idempotency_key: &str) -> Option<GeneratedKey> {
        let generated = self.generated.lock().expect("the key map is not poisoned");
        generated.get(idempotency_key).cloned()
    }
}

#[async_trait]
impl KeySource for LocalKeys {
    async fn generate_key(&self, request: &KeyRequest) -> Result<GeneratedKey, SourceError> {
        if let Some(existing) = self.key_for(&request.idempotency_key) {
            return Ok(existing);
        }
        let algorithm: keys::KeyAlgorithm = key_algorithm_name(request.algorithm)
            .parse()
            .expect("every algorithm of the contract is one the inventory generates");
        let subject = CsrSubject {
            common_name: request.common_name.clone(),
            dns_names: request.dns_names.clone(),
            organization: request.organization.clone(),
        };
        let pair = tokio::task::spawn_blocking(move || keys::generate(algorithm, &subject))
            .await
            .expect("key generation does not panic")
            .map_err(|error| SourceError::Rejected {
                service: "inventory",
                message: error.to_string(),
            })?;
        let key = GeneratedKey {
            key_id: Uuid::new_v4().to_string(),
            csr_pem: pair.csr_pem,
            public_key_spki: pair.public_key_spki,
        };
        let mut generated = self.generated.lock().expect("the key map is not poisoned");
        Ok(generated
            .entry(request.idempotency_key.clone())
            .or_insert(key)
            .clone())
    }
}

/// One order-manager with its own schema, streams and simulator.
pub struct Harness {
    pub db: TestDb,
    pub nats: TestNats,
    pub sim: RunningSimulator,
    pub keys: Arc<LocalKeys>,
    pub client: OrderServiceClient<Channel>,
    /// A client of the simulator as the demo administrator, to check Entrust's side.
    pub entrust: EntrustClient,
    settings: Vec<(String, String)>,
    sources: Sources,
    /// The clock of every replica the harness starts.
    clock: SharedClock,
    shutdown: Shutdown,
    running: RunningService,
}

/// Another replica of a [`Harness`]'s service, on the same schema and streams.
pub struct Replica {
    shutdown: Shutdown,
    running: RunningService,
}

impl Replica {
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.running
            .wait()
            .await
            .expect("every task of the replica stops cleanly");
    }
}

impl Harness {
    /// Starts the service with short poll intervals.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts the service with `settings` added to (or replacing) the test defaults.
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        Self::start_with_authority(settings, |client| Arc::new(client)).await
    }

    /// Starts the service with the authority `wrap` builds around the simulator's client.
    pub async fn start_with_authority(
        settings: &[(&str, &str)],
        wrap: impl FnOnce(EntrustClient) -> Arc<dyn CertificateAuthority>,
    ) -> Self {
        Self::start_on_clock(settings, clock::system(), wrap).await
    }

    /// Starts the service on `service_clock` (the simulator keeps the system clock), with the
    /// authority `wrap` builds around the simulator's client.
    pub async fn start_on_clock(
        settings: &[(&str, &str)],
        service_clock: SharedClock,
        wrap: impl FnOnce(EntrustClient) -> Arc<dyn CertificateAuthority>,
    ) -> Self {
        let sim = RunningSimulator::start(SimConfig {
            scenario: Scenario::demo(),
            clock: clock::system(),
            listen: "127.0.0.1:0".parse().expect("a valid address"),
        })
        .await
        .expect("the simulator starts");
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let entrust = admin_client(&sim);
        let keys = Arc::new(LocalKeys::default());
        let sources = Sources {
            credentials: Arc::new(SimCredentials {
                authority: wrap(entrust.clone()),
            }),
            keys: Arc::clone(&keys) as Arc<dyn KeySource>,
        };

        let settings = pairs(&db, &nats, settings);
        let (shutdown, running) =
            start_service(&settings, sources.clone(), service_clock.clone()).await;
        let channel = Channel::from_shared(format!("http://{}", running.grpc_addr))
            .expect("a valid URL")
            .connect()
            .await
            .expect("the gRPC server accepts connections");
        Self {
            db,
            nats,
            sim,
            keys,
            client: OrderServiceClient::new(channel),
            entrust,
            settings,
            sources,
            clock: service_clock,
            shutdown,
            running,
        }
    }

    /// Starts a second replica with the same settings and sources, as another pod would run.
    pub async fn start_replica(&self) -> Replica {
        let (shutdown, running) =
            start_service(&self.settings, self.sources.clone(), self.clock.clone()).await;
        Replica { shutdown, running }
    }

    /// Stops the service and removes the schema, the streams and the simulator.
    pub async fn stop(self) {
        self.stop_with_request_log().await;
    }

    /// Stops the service, then removes the schema, the streams and the simulator, and returns
    /// the simulator's request log as it was once every task of the service had stopped.
    pub async fn stop_with_request_log(self) -> Vec<LoggedRequest> {
        self.shutdown.trigger();
        self.running.wait().await.expect("every task stops cleanly");
        let log = self.sim.request_log();
        self.db.drop_now().await;
        self.nats.delete_streams().await;
        self.sim.shutdown().await;
        log
    }

    /// Returns a CreateOrder request for a verified demo domain with an ECDSA P-256 key.
    pub fn order_request(&self, idempotency_key: &str, common_name: &str) -> CreateOrderRequest {
        CreateOrderRequest {
            idempotency_key: idempotency_key.to_owned(),
            credential_id: CREDENTIAL_ID.to_owned(),
            product: "STANDARD_SSL".to_owned(),
            common_name: common_name.to_owned(),
            key_algorithm: "ECDSA_P256".to_owned(),
            actor: "integration-test".to_owned(),
            ..CreateOrderRequest::default()
        }
    }

    pub async fn get_order(&self, id: &str) -> Order {
        self.client
            .clone()
            .get_order(GetOrderRequest { id: id.to_owned() })
            .await
            .expect("the order exists")
            .into_inner()
    }

    /// Lists every order, walking the pages `page_size` at a time.
    pub async fn all_orders(&self, page_size: u32) -> Vec<Order> {
        let mut orders = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_orders(ListOrdersRequest {
                    page_size,
                    page_token,
                    credential_id: CREDENTIAL_ID.to_owned(),
                })
                .await
                .expect("listing works")
                .into_inner();
            orders.extend(page.orders);
            if page.next_page_token.is_empty() {
                return orders;
            }
            page_token = page.next_page_token;
        }
    }

    /// Waits until `order_id` reaches `status`.
    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> Order {
        eventually(&format!("order {order_id} is {status}"), || async {
            self.get_order(order_id).await.status == status
        })
        .await;
        self.get_order(order_id).await
    }

    /// Waits until the relay published every event written so far, then returns every event of
    /// the stream in stream order.
    pub async fn published_events(&self) -> Vec<Envelope> {
        eventually("the outbox is drained", || async {
            let backlog = outbox::backlog(&self.db.pool, time::OffsetDateTime::now_utc())
                .await
                .expect("the backlog is readable");
            backlog.unpublished == 0
        })
        .await;
        stream_envelopes(&self.nats).await
    }

    /// Returns the simulator's `POST /certificates` requests.
    pub fn order_posts(&self) -> Vec<LoggedRequest> {
        self.sim
            .request_log()
            .into_iter()
            .filter(|request| request.method == "POST" && request.path.ends_with("/certificates"))
            .collect()
    }

    /// Returns the marker the service sent to Entrust for `order_id`.
    pub async fn submission_marker(&self, order_id: &str) -> String {
        let id = Uuid::parse_str(order_id).expect("order ids are UUIDs");
        sqlx::query_scalar("SELECT submission_marker FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .expect("the order has a marker")
    }
}

/// Starts order-manager with `settings`, `sources` and `clock`.
pub async fn start_service(
    settings: &[(String, String)],
    sources: Sources,
    clock: SharedClock,
) -> (Shutdown, RunningService) {
    let config = Config::from_pairs(settings.to_vec()).expect("the test config is valid");
    let shutdown = Shutdown::new();
    let running = start_with_sources(config, clock, shutdown.clone(), sources)
        .await
        .expect("the service starts");
    (shutdown, running)
}

fn admin_client(sim: &RunningSimulator) -> EntrustClient {
    let base_url = url::Url::parse(&sim.base_url()).expect("the simulator's URL parses");
    let mut config = EntrustConfig::new(base_url, ADMIN_USER, SecretString::from(ADMIN_KEY));
    config.max_retries = 0;
    EntrustClient::new(config).expect("the simulator's settings are valid")
}

/// Returns the test settings of order-manager on `db` and `nats`, with `settings` added to (or
/// replacing) the defaults.
pub fn pairs(db: &TestDb, nats: &TestNats, settings: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: HashMap<String, String> = [
        ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
        ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "5".to_owned()),
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
        ("CERTITUDE_ORDER_POLL_INTERVAL", "100ms".to_owned()),
        ("CERTITUDE_ORDER_POLL_MAX_BACKOFF", "500ms".to_owned()),
        ("CERTITUDE_ORDER_CLAIM_LEASE", "30s".to_owned()),
        ("CERTITUDE_IMPORT_PAGE_SIZE", "5".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for (name, value) in settings {
        pairs.insert((*name).to_owned(), (*value).to_owned());
    }
    pairs.into_iter().collect()
}

/// Returns every envelope on the test stream, in stream order.
pub async fn stream_envelopes(nats: &TestNats) -> Vec<Envelope> {
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

/// Returns the event id and payload of each event of `M`'s type, in stream order.
pub fn payloads<M: Event>(events: &[Envelope]) -> Vec<(String, M)> {
    events
        .iter()
        .filter(|envelope| envelope.event_type == M::TYPE.full_name)
        .map(|envelope| {
            let payload = decode_payload::<M>(envelope).expect("the payload decodes");
            (envelope.event_id.clone(), payload)
        })
        .collect()
}
