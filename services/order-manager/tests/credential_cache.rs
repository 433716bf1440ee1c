//! The cache of resolved credentials against CredentialUpdated and CredentialRemoved events on
//! the real NATS and Postgres: order-manager runs with the gRPC credential source pointed at an
//! in-process credential-sync that counts its ResolveCredential calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use certitude_order_manager::credential_cache::{REMOVED_DURABLE_NAME, UPDATED_DURABLE_NAME};
use certitude_order_manager::sources::{GrpcCredentialSource, GrpcKeySource};
use certitude_order_manager::{Config, CredentialSource, RunningService, Sources};
use certitude_platform::clock;
use certitude_platform::events::{self, Envelope, Event};
use certitude_platform::grpc::{GrpcServer, connect_lazy};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::{Credential, ResolveCredentialRequest, ResolvedCredential};
use certitude_proto::events::v1::{CredentialRemoved, CredentialUpdated};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use uuid::Uuid;

/// Maximum wait for a consumer on the real NATS.
const DEADLINE: Duration = Duration::from_secs(60);

/// A credential-sync that resolves any id and counts its ResolveCredential calls. Every other
/// method is unimplemented. While a test locks `gate`, the responses wait for it.
#[derive(Clone, Default)]
struct CountingCredentialSync {
    resolve_calls: Arc<AtomicUsize>,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl NamedService for CountingCredentialSync {
    const NAME: &'static str = "certitude.credential.v1.CredentialService";
}

impl Service<http::Request<Body>> for CountingCredentialSync {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let resolve = self.clone();
        Box::pin(async move {
            if request.uri().path()
                != "/certitude.credential.v1.CredentialService/ResolveCredential"
            {
                return Ok(tonic::Status::unimplemented("not faked").into_http());
            }
            let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(resolve, request).await)
        })
    }
}

impl UnaryService<ResolveCredentialRequest> for CountingCredentialSync {
    type Response = ResolvedCredential;
    type Future = BoxFuture<tonic::Response<ResolvedCredential>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<ResolveCredentialRequest>) -> Self::Future {
        self.resolve_calls.fetch_add(1, Ordering::SeqCst);
        let id = request.into_inner().id;
        let resolved = ResolvedCredential {
            credential: Some(Credential {
                id,
                api_base_url: "http://127.0.0.1:9/enterprise/v2".to_owned(),
                username: "demo-admin".to_owned(),
                ..Credential::default()
            }),
            api_key: "cached-api-key".to_owned(),
            ..ResolvedCredential::default()
        };
        let gate = Arc::clone(&self.gate);
        Box::pin(async move {
            let _open = gate.lock().await;
            Ok(tonic::Response::new(resolved))
        })
    }
}

/// order-manager started on a fresh schema and streams, with its credential source.
struct Harness {
    db: TestDb,
    nats: TestNats,
    credential_sync: CountingCredentialSync,
    source: Arc<GrpcCredentialSource>,
    shutdown: Shutdown,
    running: RunningService,
}

impl Harness {
    async fn start() -> Self {
        let shutdown = Shutdown::new();
        let credential_sync = CountingCredentialSync::default();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the listener is bound")
        );
        let server = GrpcServer::new().add_service(credential_sync.clone());
        tokio::spawn(server.serve(listener, shutdown.cancelled()));

        let timeout = Duration::from_secs(10);
        let source = Arc::new(GrpcCredentialSource::new(
            connect_lazy(&url, timeout).expect("the URL is valid"),
            timeout,
            Duration::from_secs(3600),
        ));
        // No test generates a key; the channel points at a closed port and is never used.
        let keys = GrpcKeySource::new(
            connect_lazy("http://127.0.0.1:9", timeout).expect("the URL is valid"),
        );
        let sources = Sources {
            credentials: Arc::clone(&source) as Arc<dyn CredentialSource>,
            keys: Arc::new(keys),
        };

        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let config = Config::from_pairs([
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
        ])
        .expect("the test config is valid");
        let running = certitude_order_manager::start_with_sources(
            config,
            clock::system(),
            shutdown.clone(),
            sources,
        )
        .await
        .expect("order-manager starts");
        Self {
            db,
            nats,
            credential_sync,
            source,
            shutdown,
            running,
        }
    }

    fn resolve_calls(&self) -> usize {
        self.credential_sync.resolve_calls.load(Ordering::SeqCst)
    }

    /// Fetches the credential's Entrust client through the cached source.
    async fn authority(&self, credential_id: &str) {
        self.source
            .authority(credential_id)
            .await
            .expect("the fake credential-sync resolves every id");
    }

    /// Publishes `payload` as credential-sync's outbox would, and waits until the consumer
    /// `durable` has acknowledged it.
    async fn publish_and_wait<M: Event>(&self, payload: &M, credential_id: &str, durable: &str) {
        let envelope = Envelope {
            event_id: Uuid::now_v7().to_string(),
            event_type: M::TYPE.full_name.to_owned(),
            occurred_at: Some(events::timestamp(time::OffsetDateTime::now_utc())),
            producer: "credential-sync".to_owned(),
            aggregate_type: M::TYPE.aggregate.to_owned(),
            aggregate_id: credential_id.to_owned(),
            sequence: 1,
            schema_version: 1,
            payload: payload.encode_to_vec(),
        };
        let subject = M::TYPE.subject(&self.nats.settings.subject_prefix);
        let sequence = self
            .nats
            .jetstream
            .publish(subject, events::encode_envelope(&envelope).into())
            .await
            .expect("the publish is sent")
            .await
            .expect("JetStream stores the event")
            .sequence;
        self.wait_until_acknowledged(durable, sequence).await;
    }

    async fn wait_until_acknowledged(&self, durable: &str, sequence: u64) {
        let stream = self
            .nats
            .jetstream
            .get_stream(&self.nats.settings.stream)
            .await
            .expect("the test stream exists");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(info) = stream.consumer_info(durable).await
                && info.ack_floor.stream_sequence >= sequence
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "consumer {durable} did not acknowledge stream sequence {sequence}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.running.wait().await.expect("every task stops cleanly");
        self.nats.delete_streams().await;
        self.db.drop_now().await;
    }
}

fn updated(credential_id: &str) -> CredentialUpdated {
    CredentialUpdated {
        credential_id: credential_id.to_owned(),
        name: "production".to_owned(),
        changed: vec!["api_key".to_owned()],
        ..CredentialUpdated::default()
    }
}

#[tokio::test]
async fn credential_updated_drops_cached_client() {
    let harness = Harness::start().await;
    let id = Uuid::new_v4().to_string();
    harness.authority(&id).await;
    harness.authority(&id).await;
    assert_eq!(harness.resolve_calls(), 1);

    harness
        .publish_and_wait(&updated(&id), &id, UPDATED_DURABLE_NAME)
        .await;
    harness.authority(&id).await;

    assert_eq!(harness.resolve_calls(), 2);
    harness.stop().await;
}

#[tokio::test]
async fn credential_removed_drops_cached_client() {
    let harness = Harness::start().await;
    let id = Uuid::new_v4().to_string();
    harness.authority(&id).await;
    let removed = CredentialRemoved {
        credential_id: id.clone(),
        name: "production".to_owned(),
        forced: false,
    };

    harness
        .publish_and_wait(&removed, &id, REMOVED_DURABLE_NAME)
        .await;
    harness.authority(&id).await;

    assert_eq!(harness.resolve_calls(), 2);
    harness.stop().await;
}

#[tokio::test]
async fn update_of_other_credential_keeps_cached_client() {
    let harness = Harness::start().await;
    let id = Uuid::new_v4().to_string();
    let other = Uuid::new_v4().to_string();
    harness.authority(&id).await;

    harness
        .publish_and_wait(&updated(&other), &other, UPDATED_DURABLE_NAME)
        .await;
    harness.authority(&id).await;

    assert_eq!(harness.resolve_calls(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn client_resolved_while_forgetting_is_not_cached() {
    let harness = Harness::start().await;
    let id = Uuid::new_v4().to_string();
    let held = harness.credential_sync.gate.lock().await;
    let source = Arc::clone(&harness.source);
    let in_flight_id = id.clone();
    let in_flight = tokio::spawn(async move { source.authority(&in_flight_id).await.is_ok() });
    let deadline = Instant::now() + DEADLINE;
    while harness.resolve_calls() == 0 {
        assert!(
            Instant::now() < deadline,
            "ResolveCredential was never called"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The update arrives while credential-sync is still sending the old credential.
    harness.source.forget(&id);
    drop(held);
    assert!(in_flight.await.unwrap());
    harness.authority(&id).await;

    assert_eq!(harness.resolve_calls(), 2);
    harness.stop().await;
}
