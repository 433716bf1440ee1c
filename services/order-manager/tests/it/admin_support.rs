//! The harness of the administrator operations: order-manager with its gRPC credential source
//! pointed at a started credential-sync, which stores four credentials of two simulated Entrust
//! accounts. Everything runs on one manual clock, so a test can age a certificate past the
//! 30 days after which Entrust renews it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use certitude_order_manager::sources::GrpcCredentialSource;
use certitude_order_manager::{
    CredentialSource, KeySource, ResolvedAuthority, RunningService, SourceError, Sources,
};
use certitude_platform::clock::ManualClock;
use certitude_platform::events::Envelope;
use certitude_platform::grpc::connect_lazy;
use certitude_platform::outbox;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{
    AddCredentialRequest, Credential, GetCredentialRequest, GetOrderingCatalogRequest,
    OrderingCatalog,
};
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::order::v1::{
    CreateOrderRequest, GetOrderHistoryRequest, GetOrderRequest, Order, OrderHistoryEntry,
};
use entrust::model::{
    ApprovalOutcome, Domain, NewOrder, OrderDetail, OrderOutcome, OrderPage, OrderQuery,
    OrderSummary, Organization, Product, Reissue, Renewal, Revocation, TrackingId,
};
use entrust::{CertificateAuthority, EntrustClient, EntrustConfig, Error, SecretString};
use entrust_sim::{LoggedRequest, RunningSimulator, Scenario, SimConfig};
use futures::stream::BoxStream;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use tonic::transport::Channel;

use crate::support::{LocalKeys, eventually, pairs, start_service, stream_envelopes};

/// The demo scenario's API users and keys.
const ADMIN_USER: &str = "demo-admin";
const ADMIN_KEY: &str = "sim-demo-admin-key";
const REQUESTER_USER: &str = "demo-requester";
const REQUESTER_KEY: &str = "sim-demo-requester-key";

/// Limit on one Entrust call of order-manager.
const ENTRUST_TIMEOUT: Duration = Duration::from_secs(20);

/// Entrust responses that the next calls lose: each armed call reaches the simulator and takes
/// effect, and the caller then sees [`Error::OutcomeUnknown`] in place of the response.
#[derive(Debug, Default)]
pub struct AnswerLoss {
    renewals: AtomicU32,
    reissues: AtomicU32,
    suspensions: AtomicU32,
}

impl AnswerLoss {
    pub fn lose_next_renewal(&self) {
        self.renewals.fetch_add(1, Ordering::SeqCst);
    }

    pub fn lose_next_reissue(&self) {
        self.reissues.fetch_add(1, Ordering::SeqCst);
    }

    pub fn lose_next_suspension(&self) {
        self.suspensions.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes one armed loss from `counter`; reports whether there was one.
    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |armed| {
                armed.checked_sub(1)
            })
            .is_ok()
    }
}

fn lost(endpoint: &'static str) -> Error {
    Error::OutcomeUnknown {
        endpoint,
        status: None,
        source: None,
    }
}

/// An authority that forwards every call and loses the responses that [`AnswerLoss`] arms.
#[derive(Debug)]
struct LossyAuthority {
    inner: Arc<dyn CertificateAuthority>,
    loss: Arc<AnswerLoss>,
}

#[async_trait]
impl CertificateAuthority for LossyAuthority {
    async fn check_credentials(&self) -> Result<String, Error> {
        self.inner.check_credentials().await
    }

    async fn organizations(&self) -> Result<Vec<Organization>, Error> {
        self.inner.organizations().await
    }

    async fn domains(&self) -> Result<Vec<Domain>, Error> {
        self.inner.domains().await
    }

    async fn products(&self) -> Result<Vec<Product>, Error> {
        self.inner.products().await
    }

    async fn place_order(&self, order: &NewOrder) -> Result<OrderOutcome, Error> {
        self.inner.place_order(order).await
    }

    async fn order(&self, tracking_id: TrackingId) -> Result<OrderDetail, Error> {
        self.inner.order(tracking_id).await
    }

    async fn order_page(&self, query: &OrderQuery, offset: u64) -> Result<OrderPage, Error> {
        self.inner.order_page(query, offset).await
    }

    fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
        self.inner.order_stream(query)
    }

    async fn all_orders(&self, query: OrderQuery) -> Result<Vec<OrderSummary>, Error> {
        self.inner.all_orders(query).await
    }

    async fn approve(&self, tracking_id: TrackingId) -> Result<ApprovalOutcome, Error> {
        self.inner.approve(tracking_id).await
    }

    async fn decline(&self, tracking_id: TrackingId, reason: &str) -> Result<(), Error> {
        self.inner.decline(tracking_id, reason).await
    }

    async fn suspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        self.inner.suspend(tracking_id).await?;
        if AnswerLoss::take(&self.loss.suspensions) {
            return Err(lost("PATCH /certificates/{trackingId}"));
        }
        Ok(())
    }

    async fn unsuspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        self.inner.unsuspend(tracking_id).await
    }

    async fn reissue(
        &self,
        tracking_id: TrackingId,
        reissue: &Reissue,
    ) -> Result<OrderOutcome, Error> {
        let outcome = self.inner.reissue(tracking_id, reissue).await?;
        if AnswerLoss::take(&self.loss.reissues) {
            return Err(lost("POST /certificates/{trackingId}/reissues"));
        }
        Ok(outcome)
    }

    async fn renew(
        &self,
        tracking_id: TrackingId,
        renewal: &Renewal,
    ) -> Result<OrderOutcome, Error> {
        let outcome = self.inner.renew(tracking_id, renewal).await?;
        if AnswerLoss::take(&self.loss.renewals) {
            return Err(lost("POST /certificates/{trackingId}/renewals"));
        }
        Ok(outcome)
    }

    async fn revoke(&self, tracking_id: TrackingId, revocation: &Revocation) -> Result<(), Error> {
        self.inner.revoke(tracking_id, revocation).await
    }
}

/// The gRPC credential source, with every authority it resolves wrapped in a
/// [`LossyAuthority`].
#[derive(Debug)]
struct LossyCredentials {
    inner: GrpcCredentialSource,
    loss: Arc<AnswerLoss>,
}

impl LossyCredentials {
    fn wrap(&self, authority: Arc<dyn CertificateAuthority>) -> Arc<dyn CertificateAuthority> {
        Arc::new(LossyAuthority {
            inner: authority,
            loss: Arc::clone(&self.loss),
        })
    }
}

#[async_trait]
impl CredentialSource for LossyCredentials {
    async fn authority(
        &self,
        credential_id: &str,
    ) -> Result<Arc<dyn CertificateAuthority>, SourceError> {
        Ok(self.wrap(self.inner.authority(credential_id).await?))
    }

    async fn resolve(&self, credential_id: &str) -> Result<ResolvedAuthority, SourceError> {
        let resolved = self.inner.resolve(credential_id).await?;
        Ok(ResolvedAuthority {
            authority: self.wrap(resolved.authority),
            administrator: resolved.administrator,
        })
    }

    async fn report_permission_denied(
        &self,
        credential_id: &str,
        action: &str,
    ) -> Result<(), SourceError> {
        self.inner
            .report_permission_denied(credential_id, action)
            .await
    }

    async fn ordering_catalog(
        &self,
        request: GetOrderingCatalogRequest,
    ) -> Result<OrderingCatalog, SourceError> {
        self.inner.ordering_catalog(request).await
    }

    fn forget(&self, credential_id: &str) {
        self.inner.forget(credential_id);
    }
}

/// Ids of the credentials that credential-sync stores in the tests.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The demo administrator, marked as an administrator.
    pub admin: String,
    /// The demo requester, not marked as an administrator.
    pub requester: String,
    /// The demo requester marked as an administrator, which Entrust rejects (HTTP 403).
    pub claimed_admin: String,
    /// The administrator of another simulated Entrust account.
    pub other_account: String,
}

/// order-manager and credential-sync on their own schemas, one stream, two simulators and a
/// manual clock.
pub struct AdminHarness {
    pub db: TestDb,
    pub nats: TestNats,
    pub sim: RunningSimulator,
    pub other_sim: RunningSimulator,
    pub clock: ManualClock,
    pub keys: Arc<LocalKeys>,
    pub loss: Arc<AnswerLoss>,
    pub orders: OrderServiceClient<Channel>,
    pub credential_sync: CredentialServiceClient<Channel>,
    pub credentials: Credentials,
    /// A client of the first simulator as its administrator, to check Entrust's side.
    pub entrust: EntrustClient,
    credential_db: TestDb,
    order_manager: (Shutdown, RunningService),
    credential_service: (Shutdown, certitude_credential_sync::RunningService),
}

impl AdminHarness {
    pub async fn start() -> Self {
        let clock = ManualClock::new(
            OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .expect("0 ns"),
        );
        let sim = start_simulator(&clock).await;
        let other_sim = start_simulator(&clock).await;
        let nats = TestNats::new().await;
        let credential_db = TestDb::new().await;
        let db = TestDb::new().await;

        let credential_service = start_credential_sync(&credential_db, &nats, &clock).await;
        let credential_sync_url = format!("http://{}", credential_service.1.grpc_addr);
        let mut credential_sync = CredentialServiceClient::connect(credential_sync_url.clone())
            .await
            .expect("credential-sync accepts connections");
        let credentials = Credentials {
            admin: add_credential(
                &mut credential_sync,
                "admin",
                &sim,
                ADMIN_USER,
                ADMIN_KEY,
                true,
            )
            .await,
            requester: add_credential(
                &mut credential_sync,
                "requester",
                &sim,
                REQUESTER_USER,
                REQUESTER_KEY,
                false,
            )
            .await,
            claimed_admin: add_credential(
                &mut credential_sync,
                "claimed-admin",
                &sim,
                REQUESTER_USER,
                REQUESTER_KEY,
                true,
            )
            .await,
            other_account: add_credential(
                &mut credential_sync,
                "other-account",
                &other_sim,
                ADMIN_USER,
                ADMIN_KEY,
                true,
            )
            .await,
        };

        let loss = Arc::new(AnswerLoss::default());
        let channel = connect_lazy(&credential_sync_url, Duration::from_secs(30))
            .expect("credential-sync's URL is usable");
        let keys = Arc::new(LocalKeys::default());
        let sources = Sources {
            credentials: Arc::new(LossyCredentials {
                inner: GrpcCredentialSource::new(
                    channel,
                    ENTRUST_TIMEOUT,
                    Duration::from_secs(300),
                ),
                loss: Arc::clone(&loss),
            }),
            keys: Arc::clone(&keys) as Arc<dyn KeySource>,
        };
        let settings = pairs(&db, &nats, &[]);
        let order_manager = start_service(&settings, sources, clock.shared()).await;
        let orders = OrderServiceClient::connect(format!("http://{}", order_manager.1.grpc_addr))
            .await
            .expect("order-manager accepts connections");
        let entrust = admin_client(&sim);

        Self {
            db,
            nats,
            sim,
            other_sim,
            clock,
            keys,
            loss,
            orders,
            credential_sync,
            credentials,
            entrust,
            credential_db,
            order_manager,
            credential_service,
        }
    }

    /// Stops both services and removes the schemas, the streams and the simulators.
    pub async fn stop(self) {
        let (shutdown, running) = self.order_manager;
        shutdown.trigger();
        running.wait().await.expect("order-manager stops cleanly");
        let (shutdown, running) = self.credential_service;
        shutdown.trigger();
        running.wait().await.expect("credential-sync stops cleanly");
        self.db.drop_now().await;
        self.credential_db.drop_now().await;
        self.nats.delete_streams().await;
        self.sim.shutdown().await;
        self.other_sim.shutdown().await;
    }

    /// Returns a CreateOrder request of `credential_id` for a verified demo domain.
    pub fn order_request(&self, idempotency_key: &str, credential_id: &str) -> CreateOrderRequest {
        CreateOrderRequest {
            idempotency_key: idempotency_key.to_owned(),
            credential_id: credential_id.to_owned(),
            product: "STANDARD_SSL".to_owned(),
            common_name: "www.example.com".to_owned(),
            key_algorithm: "ECDSA_P256".to_owned(),
            actor: "integration-test".to_owned(),
            ..CreateOrderRequest::default()
        }
    }

    /// Places an order with `credential_id` and expects Entrust to issue it at once.
    pub async fn issued_order(&self, idempotency_key: &str, credential_id: &str) -> Order {
        let order = self
            .create(self.order_request(idempotency_key, credential_id))
            .await;
        assert_eq!(order.status, "ISSUED", "{order:?}");
        order
    }

    /// Places an order with `credential_id` that waits for an administrator's approval.
    pub async fn queued_order(&self, idempotency_key: &str, credential_id: &str) -> Order {
        let mut request = self.order_request(idempotency_key, credential_id);
        request.queue_for_approval = true;
        let order = self.create(request).await;
        assert_eq!(order.status, "PENDING", "{order:?}");
        order
    }

    async fn create(&self, request: CreateOrderRequest) -> Order {
        self.orders
            .clone()
            .create_order(request)
            .await
            .expect("the order is placed")
            .into_inner()
    }

    pub async fn get_order(&self, id: &str) -> Result<Order, tonic::Status> {
        self.orders
            .clone()
            .get_order(GetOrderRequest { id: id.to_owned() })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn history(&self, id: &str) -> Vec<OrderHistoryEntry> {
        self.orders
            .clone()
            .get_order_history(GetOrderHistoryRequest { id: id.to_owned() })
            .await
            .expect("the history is readable")
            .into_inner()
            .entries
    }

    pub async fn credential(&self, id: &str) -> Credential {
        self.credential_sync
            .clone()
            .get_credential(GetCredentialRequest { id: id.to_owned() })
            .await
            .expect("the credential exists")
            .into_inner()
    }

    /// Returns Entrust's view of the order `tracking_id` in the first simulator.
    pub async fn at_entrust(&self, tracking_id: i64) -> OrderDetail {
        let tracking_id = u32::try_from(tracking_id).expect("tracking ids fit in 32 bits");
        self.entrust
            .order(TrackingId::new(tracking_id))
            .await
            .expect("the simulator has the order")
    }

    /// Returns the first simulator's requests that change orders: PATCH, revocations,
    /// renewals and reissues, in order.
    pub fn order_changes(&self) -> Vec<LoggedRequest> {
        changes(&self.sim)
    }

    /// Returns the second simulator's requests that change orders.
    pub fn other_account_changes(&self) -> Vec<LoggedRequest> {
        changes(&self.other_sim)
    }

    /// Waits until the relay published every event written so far, then returns every event
    /// of the stream in stream order.
    pub async fn published_events(&self) -> Vec<Envelope> {
        eventually("the outbox is drained", || async {
            let backlog = outbox::backlog(&self.db.pool, OffsetDateTime::now_utc())
                .await
                .expect("the backlog is readable");
            backlog.unpublished == 0
        })
        .await;
        stream_envelopes(&self.nats).await
    }
}

fn changes(sim: &RunningSimulator) -> Vec<LoggedRequest> {
    sim.request_log()
        .into_iter()
        .filter(|request| {
            request.method == "PATCH"
                || (request.method == "POST"
                    && ["/renewals", "/reissues", "/revocations"]
                        .iter()
                        .any(|suffix| request.path.ends_with(suffix)))
        })
        .collect()
}

async fn start_simulator(clock: &ManualClock) -> RunningSimulator {
    RunningSimulator::start(SimConfig {
        scenario: Scenario::demo(),
        clock: clock.shared(),
        listen: "127.0.0.1:0".parse().expect("a valid address"),
    })
    .await
    .expect("the simulator starts")
}

async fn start_credential_sync(
    db: &TestDb,
    nats: &TestNats,
    clock: &ManualClock,
) -> (Shutdown, certitude_credential_sync::RunningService) {
    let master_key = MasterKey::generate(KeyId::parse("test").expect("the key id is valid"))
        .expect("a master key can be generated");
    let master_keys = master_key.to_config_entry();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port exists")
        .port();
    let vars: Vec<(String, String)> = [
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
        (
            "CERTITUDE_MASTER_KEYS",
            master_keys.expose_secret().to_owned(),
        ),
        ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true".to_owned()),
        (
            "CERTITUDE_ORDER_MANAGER_URL",
            format!("http://127.0.0.1:{closed_port}"),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let config =
        certitude_credential_sync::Config::from_pairs(vars).expect("the test config is valid");
    let shutdown = Shutdown::new();
    let running = certitude_credential_sync::start(config, clock.shared(), shutdown.clone())
        .await
        .expect("credential-sync starts");
    (shutdown, running)
}

async fn add_credential(
    client: &mut CredentialServiceClient<Channel>,
    name: &str,
    sim: &RunningSimulator,
    username: &str,
    api_key: &str,
    is_administrator: bool,
) -> String {
    client
        .add_credential(AddCredentialRequest {
            name: name.to_owned(),
            api_base_url: sim.base_url(),
            username: username.to_owned(),
            api_key: api_key.to_owned(),
            is_administrator,
            ..AddCredentialRequest::default()
        })
        .await
        .expect("credential-sync verifies and stores the credential")
        .into_inner()
        .id
}

fn admin_client(sim: &RunningSimulator) -> EntrustClient {
    let base_url = url::Url::parse(&sim.base_url()).expect("the simulator's URL parses");
    let mut config = EntrustConfig::new(base_url, ADMIN_USER, SecretString::from(ADMIN_KEY));
    config.max_retries = 0;
    EntrustClient::new(config).expect("the simulator's settings are valid")
}
