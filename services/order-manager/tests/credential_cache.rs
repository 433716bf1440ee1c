//! The cache of resolved credentials against CredentialUpdated and CredentialRemoved events on
//! the real NATS and Postgres: order-manager runs with the gRPC credential source pointed at an
//! in-process credential-sync that counts its ResolveCredential calls per credential.
//!
//! The consumers of these events keep no acknowledgement state to wait on, so the tests wait by
//! observation: they fetch the Entrust client until credential-sync resolves the credential
//! again, within a bounded deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

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

/// Maximum wait for an event to reach order-manager through the real NATS.
const DEADLINE: Duration = Duration::from_secs(60);

/// Pause between two fetches of an Entrust client while a test waits for an event.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// A credential-sync that resolves any id and counts its ResolveCredential calls per credential
/// id. Every other method is unimplemented. While a test locks `gate`, the responses wait for
/// it.
#[derive(Clone, Default)]
struct CountingCredentialSync {
    resolve_calls: Arc<Mutex<HashMap<String, usize>>>,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl CountingCredentialSync {
    fn resolve_calls(&self, credential_id: &str) -> usize {
        let calls = self
            .resolve_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        calls.get(credential_id).copied().unwrap_or(0)
    }
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
        let id = request.into_inner().id;
        *self
            .resolve_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.clone())
            .or_default() += 1;
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

/// The Postgres schema and event streams that the order-manager replicas of one test share.
struct Harness {
    db: TestDb,
    nats: TestNats,
    shutdown: Shutdown,
    replicas: Vec<RunningService>,
}

/// One started order-manager, with its own credential source and the credential-sync it calls.
struct Replica {
    credential_sync: CountingCredentialSync,
    source: Arc<GrpcCredentialSource>,
}

impl Harness {
    async fn new() -> Self {
        Self {
            db: TestDb::new().await,
            nats: TestNats::new().await,
            shutdown: Shutdown::new(),
            replicas: Vec::new(),
        }
    }

    /// Creates a fresh schema and streams and starts one order-manager on them.
    async fn with_replica() -> (Self, Replica) {
        let mut harness = Self::new().await;
        let replica = harness.start_replica().await;
        (harness, replica)
    }

    /// Starts another order-manager on the shared schema and streams. Its credential source
    /// calls a credential-sync of its own, so each replica counts its own resolutions.
    async fn start_replica(&mut self) -> Replica {
        let credential_sync = CountingCredentialSync::default();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the listener is bound")
        );
        let server = GrpcServer::new().add_service(credential_sync.clone());
        tokio::spawn(server.serve(listener, self.shutdown.cancelled()));

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

        let running = certitude_order_manager::start_with_sources(
            self.config(),
            clock::system(),
            self.shutdown.clone(),
            sources,
        )
        .await
        .expect("order-manager starts");
        self.replicas.push(running);
        Replica {
            credential_sync,
            source,
        }
    }

    fn config(&self) -> Config {
        Config::from_pairs([
            (
                "DATABASE_URL",
                self.db.settings.url.expose_secret().to_owned(),
            ),
            ("CERTITUDE_DB_SCHEMA", self.db.service.schema.clone()),
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
        ])
        .expect("the test config is valid")
    }

    /// Publishes `payload` as credential-sync's outbox would, and returns once JetStream has
    /// stored it.
    async fn publish<M: Event>(&self, payload: &M, credential_id: &str) {
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
        self.publish_body::<M>(events::encode_envelope(&envelope))
            .await;
    }

    /// Publishes `body` on the subject of `M` and returns once JetStream has stored it.
    async fn publish_body<M: Event>(&self, body: Vec<u8>) {
        let subject = M::TYPE.subject(&self.nats.settings.subject_prefix);
        self.nats
            .jetstream
            .publish(subject, body.into())
            .await
            .expect("the publish is sent")
            .await
            .expect("JetStream stores the event");
    }

    async fn stop(self) {
        self.shutdown.trigger();
        for running in self.replicas {
            running.wait().await.expect("every task stops cleanly");
        }
        self.nats.delete_streams().await;
        self.db.drop_now().await;
    }
}

impl Replica {
    fn resolve_calls(&self, credential_id: &str) -> usize {
        self.credential_sync.resolve_calls(credential_id)
    }

    /// Fetches the credential's Entrust client through the cached source.
    async fn authority(&self, credential_id: &str) {
        self.source
            .authority(credential_id)
            .await
            .expect("the fake credential-sync resolves every id");
    }

    /// Fetches the credential's Entrust client until credential-sync has resolved it `calls`
    /// times, which shows that an event dropped the cached client.
    async fn wait_for_resolve_calls(&self, credential_id: &str, calls: usize) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.authority(credential_id).await;
            if self.resolve_calls(credential_id) >= calls {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "credential {credential_id} was resolved {} times, expected {calls}: \
                 the event did not drop the cached client",
                self.resolve_calls(credential_id)
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
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
    let (harness, replica) = Harness::with_replica().await;
    let id = Uuid::new_v4().to_string();
    replica.authority(&id).await;
    replica.authority(&id).await;
    assert_eq!(replica.resolve_calls(&id), 1);

    harness.publish(&updated(&id), &id).await;
    replica.wait_for_resolve_calls(&id, 2).await;

    assert_eq!(replica.resolve_calls(&id), 2);
    harness.stop().await;
}

#[tokio::test]
async fn credential_removed_drops_cached_client() {
    let (harness, replica) = Harness::with_replica().await;
    let id = Uuid::new_v4().to_string();
    replica.authority(&id).await;
    let removed = CredentialRemoved {
        credential_id: id.clone(),
        name: "production".to_owned(),
        forced: false,
    };

    harness.publish(&removed, &id).await;
    replica.wait_for_resolve_calls(&id, 2).await;

    assert_eq!(replica.resolve_calls(&id), 2);
    harness.stop().await;
}

#[tokio::test]
async fn update_of_other_credential_keeps_cached_client() {
    let (harness, replica) = Harness::with_replica().await;
    let id = Uuid::new_v4().to_string();
    let other = Uuid::new_v4().to_string();
    let sentinel = Uuid::new_v4().to_string();
    replica.authority(&id).await;
    replica.authority(&sentinel).await;

    // Events of one subject arrive in order, so once the sentinel is forgotten the update of
    // `other` has been handled too.
    harness.publish(&updated(&other), &other).await;
    harness.publish(&updated(&sentinel), &sentinel).await;
    replica.wait_for_resolve_calls(&sentinel, 2).await;
    replica.authority(&id).await;

    assert_eq!(replica.resolve_calls(&id), 1);
    harness.stop().await;
}

#[tokio::test]
async fn undecodable_event_is_skipped() {
    let (harness, replica) = Harness::with_replica().await;
    let id = Uuid::new_v4().to_string();
    replica.authority(&id).await;

    harness
        .publish_body::<CredentialUpdated>(b"not an envelope".to_vec())
        .await;
    harness.publish(&updated(&id), &id).await;
    replica.wait_for_resolve_calls(&id, 2).await;

    assert_eq!(replica.resolve_calls(&id), 2);
    harness.stop().await;
}

#[tokio::test]
async fn credential_updated_reaches_every_replica() {
    let mut harness = Harness::new().await;
    let first = harness.start_replica().await;
    let second = harness.start_replica().await;
    let id = Uuid::new_v4().to_string();
    first.authority(&id).await;
    second.authority(&id).await;

    harness.publish(&updated(&id), &id).await;
    first.wait_for_resolve_calls(&id, 2).await;
    second.wait_for_resolve_calls(&id, 2).await;

    assert_eq!(first.resolve_calls(&id), 2);
    assert_eq!(second.resolve_calls(&id), 2);
    harness.stop().await;
}

#[tokio::test]
async fn client_resolved_while_forgetting_is_not_cached() {
    let (harness, replica) = Harness::with_replica().await;
    let id = Uuid::new_v4().to_string();
    let held = replica.credential_sync.gate.lock().await;
    let source = Arc::clone(&replica.source);
    let in_flight_id = id.clone();
    let in_flight = tokio::spawn(async move { source.authority(&in_flight_id).await.is_ok() });
    let deadline = Instant::now() + DEADLINE;
    while replica.resolve_calls(&id) == 0 {
        assert!(
            Instant::now() < deadline,
            "ResolveCredential was never called"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The update arrives while credential-sync is still sending the old credential.
    replica.source.forget(&id);
    drop(held);
    assert!(
        in_flight
            .await
            .expect("the in-flight lookup does not panic")
    );
    replica.authority(&id).await;

    assert_eq!(replica.resolve_calls(&id), 2);
    harness.stop().await;
}
