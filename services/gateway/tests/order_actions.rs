//! The order routes of the administrator operations, deletion and history: role checks, body
//! validation and what reaches order-manager. An in-process order-manager stand-in records
//! each call and responds with a fixed order. The tokens are stored in the real Postgres.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use certitude_gateway::clients::ServiceClients;
use certitude_gateway::{AppState, auth, router};
use certitude_platform::clock;
use certitude_platform::grpc::GrpcServer;
use certitude_platform::testing::TestDb;
use certitude_proto::order::v1 as proto;
use certitude_proto::order::v1::order_service_server::{OrderService, OrderServiceServer};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Request as GrpcRequest, Response, Status};
use tower::ServiceExt;

const ADMIN_TOKEN: &str = "ctk_test-admin-token-0123456789";
const OPERATOR_TOKEN: &str = "ctk_test-operator-token-0123456789";
const VIEWER_TOKEN: &str = "ctk_test-viewer-token-0123456789";
const ORDER_ID: &str = "0191d2a0-0000-7000-8000-000000000001";
const CREDENTIAL_ID: &str = "0191d2a0-0000-7000-8000-0000000000c1";
/// An order id for which the stand-in responds as order-manager does when Entrust rejected an
/// administrator operation with HTTP 403.
const REJECTED_ORDER_ID: &str = "0191d2a0-0000-7000-8000-0000000000ff";

/// A call order-manager received, as the stand-in recorded it.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Approve(proto::ApproveOrderRequest),
    Decline(proto::DeclineOrderRequest),
    Suspend(proto::SuspendOrderRequest),
    Resume(proto::ResumeOrderRequest),
    Renew(proto::RenewOrderRequest),
    Reissue(proto::ReissueOrderRequest),
    Revoke(proto::RevokeOrderRequest),
    Delete(proto::DeleteOrderRequest),
    History(proto::GetOrderHistoryRequest),
}

/// An order-manager stand-in that records the administrator calls and responds with a fixed
/// order. Other methods are unimplemented.
#[derive(Debug, Clone, Default)]
struct RecordingOrders {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl RecordingOrders {
    fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn answer(&self, id: &str, call: Call) -> Result<Response<proto::Order>, Status> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        if id == REJECTED_ORDER_ID {
            return Err(Status::permission_denied(
                "the Entrust user lacks administrator rights: Entrust rejected the request to approve order \
                 0191d2a0-0000-7000-8000-0000000000ff",
            ));
        }
        Ok(Response::new(proto::Order {
            id: id.to_owned(),
            credential_id: CREDENTIAL_ID.to_owned(),
            tracking_id: 4711,
            status: "ISSUED".to_owned(),
            renews_order_id: ORDER_ID.to_owned(),
            ..proto::Order::default()
        }))
    }
}

#[tonic::async_trait]
impl OrderService for RecordingOrders {
    async fn create_order(
        &self,
        _request: GrpcRequest<proto::CreateOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn get_order(
        &self,
        _request: GrpcRequest<proto::GetOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn list_orders(
        &self,
        _request: GrpcRequest<proto::ListOrdersRequest>,
    ) -> Result<Response<proto::ListOrdersResponse>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn start_import(
        &self,
        _request: GrpcRequest<proto::StartImportRequest>,
    ) -> Result<Response<proto::ImportJob>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn get_import_job(
        &self,
        _request: GrpcRequest<proto::GetImportJobRequest>,
    ) -> Result<Response<proto::ImportJob>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn count_orders(
        &self,
        _request: GrpcRequest<proto::CountOrdersRequest>,
    ) -> Result<Response<proto::CountOrdersResponse>, Status> {
        Err(Status::unimplemented("not part of these tests"))
    }

    async fn approve_order(
        &self,
        request: GrpcRequest<proto::ApproveOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Approve(request))
    }

    async fn decline_order(
        &self,
        request: GrpcRequest<proto::DeclineOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Decline(request))
    }

    async fn suspend_order(
        &self,
        request: GrpcRequest<proto::SuspendOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Suspend(request))
    }

    async fn resume_order(
        &self,
        request: GrpcRequest<proto::ResumeOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Resume(request))
    }

    async fn renew_order(
        &self,
        request: GrpcRequest<proto::RenewOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer("0191d2a0-0000-7000-8000-000000000002", Call::Renew(request))
    }

    async fn reissue_order(
        &self,
        request: GrpcRequest<proto::ReissueOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(
            "0191d2a0-0000-7000-8000-000000000003",
            Call::Reissue(request),
        )
    }

    async fn revoke_order(
        &self,
        request: GrpcRequest<proto::RevokeOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Revoke(request))
    }

    async fn delete_order(
        &self,
        request: GrpcRequest<proto::DeleteOrderRequest>,
    ) -> Result<Response<proto::Order>, Status> {
        let request = request.into_inner();
        self.answer(&request.id.clone(), Call::Delete(request))
    }

    async fn get_order_history(
        &self,
        request: GrpcRequest<proto::GetOrderHistoryRequest>,
    ) -> Result<Response<proto::GetOrderHistoryResponse>, Status> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call::History(request.into_inner()));
        Ok(Response::new(proto::GetOrderHistoryResponse {
            entries: vec![proto::OrderHistoryEntry {
                at: "2026-03-01T10:00:00Z".to_owned(),
                actor: "ops-lead".to_owned(),
                action: "suspend".to_owned(),
                from_status: "ISSUED".to_owned(),
                to_status: "SUSPENDED".to_owned(),
                outcome: "suspended".to_owned(),
                detail: String::new(),
            }],
        }))
    }
}

/// The gateway on a fresh database with an admin, an operator and a viewer token, talking to a
/// [`RecordingOrders`] on a loopback port.
struct TestGateway {
    app: axum::Router,
    orders: RecordingOrders,
    db: TestDb,
    stop: oneshot::Sender<()>,
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
        insert_token(&db, "operator-token", "operator", OPERATOR_TOKEN).await;
        insert_token(&db, "viewer-token", "viewer", VIEWER_TOKEN).await;

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

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(content_type.unwrap(), "application/problem+json");
        }
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn stop(self) {
        // The server may have stopped already, when the test ends first.
        let _ = self.stop.send(());
        self.db.drop_now().await;
    }
}

async fn insert_token(db: &TestDb, name: &str, role: &str, token: &str) {
    sqlx::query(
        "INSERT INTO tokens (id, name, role, digest, created_at) VALUES ($1, $2, $3, $4, now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(name)
    .bind(role)
    .bind(certitude_gateway::tokens::token_digest(token))
    .execute(&db.pool)
    .await
    .unwrap();
}

fn post(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn post_with_key(path: &str, token: &str, key: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn without_body(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn first_invalid_field(problem: &Value) -> &str {
    problem["invalid_params"][0]["name"].as_str().unwrap()
}

#[tokio::test]
async fn viewer_cannot_approve() {
    let gateway = TestGateway::start().await;

    let (status, problem) = gateway
        .send(post(
            &format!("/v1/orders/{ORDER_ID}/approve"),
            VIEWER_TOKEN,
            "{}",
        ))
        .await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        problem["detail"].as_str().unwrap().contains("operator"),
        "{problem}"
    );
    assert!(gateway.orders.calls().is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn operator_cannot_delete() {
    let gateway = TestGateway::start().await;

    let (status, problem) = gateway
        .send(without_body(
            "DELETE",
            &format!("/v1/orders/{ORDER_ID}"),
            OPERATOR_TOKEN,
        ))
        .await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        problem["detail"].as_str().unwrap().contains("admin"),
        "{problem}"
    );
    assert!(gateway.orders.calls().is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn admin_deletes_with_token_name_as_actor() {
    let gateway = TestGateway::start().await;

    let (status, body) = gateway
        .send(without_body(
            "DELETE",
            &format!("/v1/orders/{ORDER_ID}"),
            ADMIN_TOKEN,
        ))
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], ORDER_ID);
    assert_eq!(
        gateway.orders.calls(),
        [Call::Delete(proto::DeleteOrderRequest {
            id: ORDER_ID.to_owned(),
            actor: "bootstrap-admin".to_owned(),
        })]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn operator_runs_each_operation() {
    let gateway = TestGateway::start().await;
    let base = format!("/v1/orders/{ORDER_ID}");

    let approve = gateway
        .send(post(&format!("{base}/approve"), OPERATOR_TOKEN, "{}"))
        .await;
    let decline = gateway
        .send(post(
            &format!("{base}/decline"),
            OPERATOR_TOKEN,
            r#"{"reason":"Not needed."}"#,
        ))
        .await;
    let suspend = gateway
        .send(post(
            &format!("{base}/suspend"),
            OPERATOR_TOKEN,
            &format!(r#"{{"admin_credential_id":"{CREDENTIAL_ID}"}}"#),
        ))
        .await;
    let resume = gateway
        .send(post(&format!("{base}/resume"), OPERATOR_TOKEN, "{}"))
        .await;
    let revoke = gateway
        .send(post(
            &format!("{base}/revoke"),
            OPERATOR_TOKEN,
            r#"{"reason":"KEYCOMPROMISE","comment":"Key left on a laptop."}"#,
        ))
        .await;

    for (name, (status, _)) in [
        ("approve", &approve),
        ("decline", &decline),
        ("suspend", &suspend),
        ("resume", &resume),
        ("revoke", &revoke),
    ] {
        assert_eq!(*status, StatusCode::OK, "{name}");
    }
    assert_eq!(approve.1["status"], "ISSUED");
    let calls = gateway.orders.calls();
    assert_eq!(calls.len(), 5);
    assert_eq!(
        calls[0],
        Call::Approve(proto::ApproveOrderRequest {
            id: ORDER_ID.to_owned(),
            admin_credential_id: String::new(),
            actor: "operator-token".to_owned(),
        })
    );
    assert!(
        matches!(&calls[1], Call::Decline(request) if request.reason == "Not needed."),
        "{:?}",
        calls[1]
    );
    assert!(
        matches!(&calls[2], Call::Suspend(request) if request.admin_credential_id == CREDENTIAL_ID),
        "{:?}",
        calls[2]
    );
    assert!(matches!(&calls[3], Call::Resume(_)), "{:?}", calls[3]);
    assert_eq!(
        calls[4],
        Call::Revoke(proto::RevokeOrderRequest {
            id: ORDER_ID.to_owned(),
            admin_credential_id: String::new(),
            actor: "operator-token".to_owned(),
            reason: "keyCompromise".to_owned(),
            comment: "Key left on a laptop.".to_owned(),
        })
    );
    gateway.stop().await;
}

#[tokio::test]
async fn renewal_needs_an_idempotency_key() {
    let gateway = TestGateway::start().await;
    let path = format!("/v1/orders/{ORDER_ID}/renew");

    let (missing, problem) = gateway
        .send(post(&path, OPERATOR_TOKEN, r#"{"reuse_key":true}"#))
        .await;
    let (status, body) = gateway
        .send(post_with_key(
            &path,
            OPERATOR_TOKEN,
            "renew-1",
            r#"{"reuse_key":true}"#,
        ))
        .await;

    assert_eq!(missing, StatusCode::BAD_REQUEST);
    assert_eq!(first_invalid_field(&problem), "Idempotency-Key");
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["renews_order_id"], ORDER_ID);
    assert_eq!(
        gateway.orders.calls(),
        [Call::Renew(proto::RenewOrderRequest {
            id: ORDER_ID.to_owned(),
            admin_credential_id: String::new(),
            actor: "operator-token".to_owned(),
            idempotency_key: "renew-1".to_owned(),
            reuse_key: true,
            key_algorithm: String::new(),
            validity_days: 0,
            renewal_policy_id: String::new(),
        })]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn reissue_passes_the_key_and_algorithm() {
    let gateway = TestGateway::start().await;

    let (status, _) = gateway
        .send(post_with_key(
            &format!("/v1/orders/{ORDER_ID}/reissue"),
            OPERATOR_TOKEN,
            "reissue-1",
            r#"{"key_algorithm":"RSA_3072"}"#,
        ))
        .await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        gateway.orders.calls(),
        [Call::Reissue(proto::ReissueOrderRequest {
            id: ORDER_ID.to_owned(),
            admin_credential_id: String::new(),
            actor: "operator-token".to_owned(),
            idempotency_key: "reissue-1".to_owned(),
            key_algorithm: "RSA_3072".to_owned(),
        })]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn invalid_bodies_name_the_field() {
    let gateway = TestGateway::start().await;
    let base = format!("/v1/orders/{ORDER_ID}");
    let cases = [
        ("revoke", r#"{"comment":"no reason"}"#, "reason"),
        ("revoke", r#"{"reason":"superseded"}"#, "reason"),
        (
            "approve",
            r#"{"admin_credential_id":"admin"}"#,
            "admin_credential_id",
        ),
        ("suspend", r#"{"force":true}"#, "force"),
        ("decline", r#"{"reason":5}"#, "reason"),
    ];

    for (operation, body, field) in cases {
        let (status, problem) = gateway
            .send(post(&format!("{base}/{operation}"), ADMIN_TOKEN, body))
            .await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{operation} {body}");
        assert_eq!(first_invalid_field(&problem), field, "{operation} {body}");
    }
    let long_reason = format!(r#"{{"reason":"{}"}}"#, "r".repeat(255));
    let (status, problem) = gateway
        .send(post(&format!("{base}/decline"), ADMIN_TOKEN, &long_reason))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_invalid_field(&problem), "reason");
    let (status, problem) = gateway
        .send(post_with_key(
            &format!("{base}/renew"),
            ADMIN_TOKEN,
            "renew-2",
            r#"{"reuse_key":true,"key_algorithm":"RSA_2048"}"#,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_invalid_field(&problem), "key_algorithm");
    let (status, problem) = gateway
        .send(post("/v1/orders/not-an-id/suspend", ADMIN_TOKEN, "{}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_invalid_field(&problem), "id");
    assert!(
        gateway.orders.calls().is_empty(),
        "{:?}",
        gateway.orders.calls()
    );
    gateway.stop().await;
}

#[tokio::test]
async fn viewer_reads_the_history() {
    let gateway = TestGateway::start().await;

    let (status, body) = gateway
        .send(without_body(
            "GET",
            &format!("/v1/orders/{ORDER_ID}/history"),
            VIEWER_TOKEN,
        ))
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["action"], "suspend");
    assert_eq!(body["items"][0]["actor"], "ops-lead");
    assert_eq!(body["items"][0]["from_status"], "ISSUED");
    assert!(body["items"][0].get("detail").is_none(), "{body}");
    assert!(body.get("next_cursor").is_none(), "{body}");
    assert_eq!(
        gateway.orders.calls(),
        [Call::History(proto::GetOrderHistoryRequest {
            id: ORDER_ID.to_owned()
        })]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn entrust_rejection_is_forbidden_with_the_reason() {
    let gateway = TestGateway::start().await;

    let (status, problem) = gateway
        .send(post(
            &format!("/v1/orders/{REJECTED_ORDER_ID}/approve"),
            OPERATOR_TOKEN,
            "{}",
        ))
        .await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("the Entrust user lacks administrator rights"),
        "{problem}"
    );
    gateway.stop().await;
}
