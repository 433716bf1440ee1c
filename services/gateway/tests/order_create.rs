//! `POST /v1/orders` with a supplied CSR and with `validate_only`: what reaches order-manager
//! and what the client receives. An in-process order-manager stand-in records each CreateOrder
//! call and responds as order-manager does. The tokens are stored in the real Postgres.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::grpc::GrpcServer;
use certitude_platform::testing::TestDb;
use certitude_proto::order::v1 as proto;
use certitude_proto::order::v1::order_service_server::{OrderService, OrderServiceServer};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Request as GrpcRequest, Response, Status};
use tower::ServiceExt;

const ADMIN_TOKEN: &str = "ctk_test-admin-token-0123456789";
const ORDER_ID: &str = "0191d2a0-0000-7000-8000-000000000001";
const CREDENTIAL_ID: &str = "0191d2a0-0000-7000-8000-0000000000c1";
/// Stands for a CSR; the stand-in passes it on without reading it.
const CSR_PEM: &str =
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";

/// An order-manager stand-in that records CreateOrder calls. A validate-only call gets the
/// VALIDATED response without an id, any other call an issued order. Other methods are
/// unimplemented.
#[derive(Debug, Clone, Default)]
struct RecordingOrders {
    calls: Arc<Mutex<Vec<proto::CreateOrderRequest>>>,
}

impl RecordingOrders {
    fn calls(&self) -> Vec<proto::CreateOrderRequest> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not part of these tests"))
}

#[tonic::async_trait]
impl OrderService for RecordingOrders {
    async fn create_order(
        &self,
        request: GrpcRequest<proto::CreateOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        let common_name = match request.common_name.as_str() {
            "" => "www.example.com".to_owned(),
            given => given.to_owned(),
        };
        let echoed = proto::Order {
            credential_id: request.credential_id,
            product: request.product,
            dns_names: vec![common_name.clone()],
            common_name,
            organization: request.organization,
            key_algorithm: match request.key_algorithm.as_str() {
                "" => "RSA_2048".to_owned(),
                given => given.to_owned(),
            },
            validity_days: 199,
            ..proto::Order::default()
        };
        let order = if request.validate_only {
            proto::Order {
                status: "VALIDATED".to_owned(),
                ..echoed
            }
        } else {
            proto::Order {
                id: ORDER_ID.to_owned(),
                status: "ISSUED".to_owned(),
                tracking_id: 4711,
                created_at: "2026-03-01T10:00:00Z".to_owned(),
                updated_at: "2026-03-01T10:00:01Z".to_owned(),
                source: "created".to_owned(),
                ..echoed
            }
        };
        Ok(Response::new(order))
    }

    async fn get_order(
        &self,
        _request: GrpcRequest<proto::GetOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn list_orders(
        &self,
        _request: GrpcRequest<proto::ListOrdersRequest>,
    ) -> Result<Response<proto::ListOrdersResponse>, Status> {
        unimplemented()
    }

    async fn start_import(
        &self,
        _request: GrpcRequest<proto::StartImportRequest>,
    ) -> Result<Response<proto::ImportJob>, Status> {
        unimplemented()
    }

    async fn get_import_job(
        &self,
        _request: GrpcRequest<proto::GetImportJobRequest>,
    ) -> Result<Response<proto::ImportJob>, Status> {
        unimplemented()
    }

    async fn count_orders(
        &self,
        _request: GrpcRequest<proto::CountOrdersRequest>,
    ) -> Result<Response<proto::CountOrdersResponse>, Status> {
        unimplemented()
    }

    async fn approve_order(
        &self,
        _request: GrpcRequest<proto::ApproveOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn decline_order(
        &self,
        _request: GrpcRequest<proto::DeclineOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn suspend_order(
        &self,
        _request: GrpcRequest<proto::SuspendOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn resume_order(
        &self,
        _request: GrpcRequest<proto::ResumeOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn renew_order(
        &self,
        _request: GrpcRequest<proto::RenewOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn reissue_order(
        &self,
        _request: GrpcRequest<proto::ReissueOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn revoke_order(
        &self,
        _request: GrpcRequest<proto::RevokeOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn delete_order(
        &self,
        _request: GrpcRequest<proto::DeleteOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        unimplemented()
    }

    async fn get_order_history(
        &self,
        _request: GrpcRequest<proto::GetOrderHistoryRequest>,
    ) -> Result<Response<proto::GetOrderHistoryResponse>, Status> {
        unimplemented()
    }
}

/// The gateway on a fresh database with an admin token, talking to a [`RecordingOrders`] on a
/// loopback port.
struct TestGateway {
    app: axum::Router,
    orders: RecordingOrders,
    db: TestDb,
    stop: oneshot::Sender<()>,
}

/// A response: its status, headers and JSON body.
struct CreateResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl TestGateway {
    async fn start() -> Self {
        let db = TestDb::new().await;
        static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
        certitude_platform::db::migrate(&db.pool, &MIGRATOR)
            .await
            .unwrap();
        auth::store_bootstrap_token(&db.pool, ADMIN_TOKEN, clock::system().now())
            .await
            .unwrap();

        let orders = RecordingOrders::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let order_manager_url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = GrpcServer::new().add_service(OrderServiceServer::new(orders.clone()));
        tokio::spawn(async move {
            let shutdown = async {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            };
            server.serve(listener, shutdown).await.unwrap();
        });
        // Nothing listens on port 9, so the other services are unreachable.
        let clients = ServiceClients::connect(
            "http://127.0.0.1:9",
            &order_manager_url,
            "http://127.0.0.1:9",
            Duration::from_secs(10),
        )
        .unwrap();
        let app = router(AppState {
            pool: db.pool.clone(),
            clients,
            clock: clock::system(),
        });
        Self {
            app,
            orders,
            db,
            stop,
        }
    }

    /// Sends `body` to `POST /v1/orders`, with `idempotency_key` as the header when given.
    async fn create(&self, idempotency_key: Option<&str>, body: &Value) -> CreateResponse {
        let mut request = Request::post("/v1/orders")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"));
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        CreateResponse {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn stop(self) {
        // The server may have stopped already, when the test ends first.
        let _ = self.stop.send(());
        self.db.drop_now().await;
    }
}

#[tokio::test]
async fn supplied_csr_is_passed_without_default_algorithm() {
    let gateway = TestGateway::start().await;
    let body = json!({
        "credential_id": CREDENTIAL_ID,
        "product": "STANDARD_SSL",
        "csr_pem": CSR_PEM,
    });

    let response = gateway.create(Some("csr-1"), &body).await;

    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(
        response.headers[header::LOCATION],
        format!("/v1/orders/{ORDER_ID}").as_str()
    );
    assert_eq!(response.body["id"], ORDER_ID);
    assert_eq!(response.body["key_algorithm"], "RSA_2048");
    assert_eq!(response.body["validity_days"], 199);
    assert!(response.body.get("key_id").is_none(), "{}", response.body);
    let calls = gateway.orders.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].csr_pem, CSR_PEM);
    assert_eq!(calls[0].common_name, "");
    assert_eq!(calls[0].key_algorithm, "");
    assert_eq!(calls[0].idempotency_key, "csr-1");
    assert!(!calls[0].validate_only);
    gateway.stop().await;
}

#[tokio::test]
async fn validate_only_answers_200_without_idempotency_key() {
    let gateway = TestGateway::start().await;
    let body = json!({
        "credential_id": CREDENTIAL_ID,
        "product": "STANDARD_SSL",
        "common_name": "www.example.com",
        "organization": "Example Inc.",
        "validate_only": true,
    });

    let response = gateway.create(None, &body).await;

    assert_eq!(response.status, StatusCode::OK);
    assert!(response.headers.get(header::LOCATION).is_none());
    assert_eq!(response.body["status"], "VALIDATED");
    assert!(response.body.get("id").is_none(), "{}", response.body);
    assert!(
        response.body.get("created_at").is_none(),
        "{}",
        response.body
    );
    assert!(
        response.body.get("tracking_id").is_none(),
        "{}",
        response.body
    );
    assert_eq!(response.body["common_name"], "www.example.com");
    assert_eq!(response.body["organization"], "Example Inc.");
    assert_eq!(response.body["key_algorithm"], "ECDSA_P256");
    assert_eq!(response.body["validity_days"], 199);
    let calls = gateway.orders.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].validate_only);
    assert_eq!(calls[0].idempotency_key, "");
    assert_eq!(calls[0].key_algorithm, "ECDSA_P256");
    assert_eq!(calls[0].actor, "bootstrap-admin");
    gateway.stop().await;
}

#[tokio::test]
async fn validate_only_passes_a_given_idempotency_key() {
    let gateway = TestGateway::start().await;
    let body = json!({
        "credential_id": CREDENTIAL_ID,
        "product": "STANDARD_SSL",
        "common_name": "www.example.com",
        "validate_only": true,
    });

    let response = gateway.create(Some("check-1"), &body).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(gateway.orders.calls()[0].idempotency_key, "check-1");
    gateway.stop().await;
}

#[tokio::test]
async fn order_without_validate_only_needs_idempotency_key() {
    let gateway = TestGateway::start().await;
    let body = json!({
        "credential_id": CREDENTIAL_ID,
        "product": "STANDARD_SSL",
        "csr_pem": CSR_PEM,
    });

    let response = gateway.create(None, &body).await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.body["invalid_params"][0]["name"], "Idempotency-Key",
        "{}",
        response.body
    );
    assert!(gateway.orders.calls().is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn malformed_new_fields_name_the_field() {
    let gateway = TestGateway::start().await;
    let cases = [("csr_pem", json!(42)), ("validate_only", json!("yes"))];

    for (field, value) in cases {
        let mut body = json!({
            "credential_id": CREDENTIAL_ID,
            "product": "STANDARD_SSL",
            "common_name": "www.example.com",
        });
        body[field] = value;

        let response = gateway.create(Some("malformed-1"), &body).await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(
            response.body["invalid_params"][0]["name"], field,
            "{}",
            response.body
        );
    }
    assert!(gateway.orders.calls().is_empty());
    gateway.stop().await;
}
