//! DeleteCredential against a started order-manager: CountOrders over gRPC decides whether the
//! credential may go.

use std::sync::Arc;

use async_trait::async_trait;
use certitude_order_manager::{
    CredentialSource, GeneratedKey, KeyRequest, KeySource, RunningService, SourceError, Sources,
};
use certitude_platform::clock;
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::DeleteCredentialRequest;
use entrust::CertificateAuthority;
use entrust_sim::Scenario;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{TestService, demo_request, finished_run, first_run, start_simulator};

/// Sources order-manager never calls in these tests: no order is placed or polled.
#[derive(Debug)]
struct NoSources;

#[async_trait]
impl CredentialSource for NoSources {
    async fn authority(
        &self,
        credential_id: &str,
    ) -> Result<Arc<dyn CertificateAuthority>, SourceError> {
        Err(SourceError::CredentialNotFound(credential_id.to_owned()))
    }
}

#[async_trait]
impl KeySource for NoSources {
    async fn generate_key(&self, _request: &KeyRequest) -> Result<GeneratedKey, SourceError> {
        Err(SourceError::Rejected {
            service: "inventory",
            message: "the test places no orders".to_owned(),
        })
    }
}

/// An order-manager on its own schema and streams.
struct OrderManager {
    db: TestDb,
    nats: TestNats,
    running: RunningService,
    shutdown: Shutdown,
}

impl OrderManager {
    async fn start() -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let config = certitude_order_manager::Config::from_pairs([
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            ("CERTITUDE_DB_MAX_CONNECTIONS", "3".to_owned()),
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
        .expect("the order-manager configuration is valid");
        let sources = Sources {
            credentials: Arc::new(NoSources),
            keys: Arc::new(NoSources),
        };
        let shutdown = Shutdown::new();
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
            running,
            shutdown,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.running.grpc_addr)
    }

    /// Stores an issued order of `credential_id`, as an import would.
    async fn insert_order(&self, credential_id: &str) {
        let now = OffsetDateTime::now_utc();
        sqlx::query(
            "INSERT INTO orders (id, credential_id, product, common_name, status, source,
                                 created_at, updated_at)
             VALUES ($1, $2, 'STANDARD_SSL', 'www.example.com', 'ISSUED', 'imported', $3, $3)",
        )
        .bind(Uuid::now_v7())
        .bind(credential_id)
        .bind(now)
        .execute(&self.db.pool)
        .await
        .expect("the order is stored");
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.running
            .wait()
            .await
            .expect("order-manager stops cleanly");
        self.nats.delete_streams().await;
        self.db.drop_now().await;
    }
}

#[tokio::test]
async fn order_manager_orders_block_deletion_until_forced() {
    let simulator = start_simulator(Scenario::demo()).await;
    let order_manager = OrderManager::start().await;
    let url = order_manager.url();
    let mut service = TestService::start_with(&[("CERTITUDE_ORDER_MANAGER_URL", &url)]).await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    order_manager.insert_order(&credential.id).await;
    order_manager.insert_order(&credential.id).await;
    order_manager.insert_order("another-credential").await;

    let rejected = service
        .client
        .delete_credential(DeleteCredentialRequest {
            id: credential.id.clone(),
            force: false,
        })
        .await
        .expect_err("two orders use the credential");
    let forced = service
        .client
        .delete_credential(DeleteCredentialRequest {
            id: credential.id.clone(),
            force: true,
        })
        .await
        .expect("force deletes the credential");

    assert_eq!(rejected.code(), Code::FailedPrecondition);
    assert!(
        rejected.message().contains("is used by 2 order(s)"),
        "{}",
        rejected.message()
    );
    assert_eq!(forced.into_inner().id, credential.id);
    service.stop().await;
    order_manager.stop().await;
    simulator.shutdown().await;
}
