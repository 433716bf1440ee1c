//! A small HTTP proxy in front of the Entrust simulator. Tests switch its upstream to present a
//! changed account under the same URL. They also close a gate that delays `GET .../domains`
//! requests, so a sync run stays running until the test opens the gate again, and forbid a
//! path, which then gets HTTP 403 as from an API user without the permission.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone)]
struct ProxyState {
    upstream: Arc<RwLock<String>>,
    forbidden: Arc<RwLock<Option<String>>>,
    gate: watch::Receiver<bool>,
    http: reqwest::Client,
}

/// A running proxy on 127.0.0.1.
pub struct GatedProxy {
    address: std::net::SocketAddr,
    upstream: Arc<RwLock<String>>,
    forbidden: Arc<RwLock<Option<String>>>,
    gate: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl GatedProxy {
    /// Starts a proxy to `upstream_origin` (such as `http://127.0.0.1:1234`) with the gate open.
    pub async fn start(upstream_origin: &str) -> Self {
        let upstream = Arc::new(RwLock::new(upstream_origin.to_owned()));
        let forbidden = Arc::new(RwLock::new(None));
        let (gate, gate_receiver) = watch::channel(true);
        let state = ProxyState {
            upstream: upstream.clone(),
            forbidden: forbidden.clone(),
            gate: gate_receiver,
            http: reqwest::Client::new(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the loopback interface has a free port");
        let address = listener.local_addr().expect("the listener has an address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the proxy serves");
        });
        Self {
            address,
            upstream,
            forbidden,
            gate,
            server,
        }
    }

    /// Returns the Entrust API base URL through the proxy.
    pub fn base_url(&self) -> String {
        format!("http://{}/enterprise/v2", self.address)
    }

    /// Sends later requests to another origin.
    pub fn set_upstream(&self, origin: &str) {
        *self.upstream.write().expect("the lock is not poisoned") = origin.to_owned();
    }

    /// Responds to later requests whose path ends with `suffix` (such as `/inventories`) with
    /// HTTP 403.
    pub fn forbid(&self, suffix: &str) {
        *self.forbidden.write().expect("the lock is not poisoned") = Some(suffix.to_owned());
    }

    /// Delays domain list requests until [`GatedProxy::open_gate`].
    pub fn close_gate(&self) {
        self.gate.send_replace(false);
    }

    /// Lets delayed and later domain list requests through.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }
}

impl Drop for GatedProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(state): State<ProxyState>, uri: Uri, headers: HeaderMap) -> Response {
    let forbidden = state
        .forbidden
        .read()
        .expect("the lock is not poisoned")
        .clone();
    if forbidden.is_some_and(|suffix| uri.path().ends_with(&suffix)) {
        let body = r#"{"errors":[{"message":"The API user may not perform this action."}]}"#;
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    if uri.path().ends_with("/domains") {
        let mut gate = state.gate.clone();
        if gate.wait_for(|open| *open).await.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }

    let origin = state
        .upstream
        .read()
        .expect("the lock is not poisoned")
        .clone();
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut request = state.http.get(format!("{origin}{path}"));
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, authorization.clone());
    }
    let Ok(upstream) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };

    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
    let body: Bytes = upstream.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}
