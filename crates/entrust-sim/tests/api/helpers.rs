//! A started simulator with an HTTP client and helpers for requests, CSRs and error bodies.

use certitude_clock::ManualClock;
use entrust_sim::{RunningSimulator, Scenario, SimConfig, SimOptions};
use rcgen::{
    CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

/// The instant every test starts at.
pub const NOW: OffsetDateTime = datetime!(2026-03-10 15:00:00 UTC);

/// The demo administrator.
pub const ADMIN: (&str, &str) = ("demo-admin", "sim-demo-admin-key");
/// The demo requester.
pub const REQUESTER: (&str, &str) = ("demo-requester", "sim-demo-requester-key");

/// Tracking id of the first demo order.
pub const FIRST_ID: i64 = 2_100_000;
/// Number of demo orders.
pub const DEMO_ORDERS: i64 = 22;
/// Number of third-party certificates (trackingId 0) in the demo.
pub const DEMO_THIRD_PARTY: i64 = 1;

/// A running simulator, its clock and an HTTP client.
pub struct TestSim {
    pub sim: RunningSimulator,
    pub clock: ManualClock,
    pub http: reqwest::Client,
}

/// A response: status, parsed JSON body (Null when empty) and raw text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl TestSim {
    /// Starts the demo scenario on a free port.
    pub async fn start() -> TestSim {
        TestSim::start_with(Scenario::demo()).await
    }

    /// Starts `scenario` on a free port.
    pub async fn start_with(scenario: Scenario) -> TestSim {
        let clock = ManualClock::new(NOW);
        let sim = RunningSimulator::start(SimConfig {
            scenario,
            clock: clock.shared(),
            listen: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("simulator starts");
        TestSim {
            sim,
            clock,
            http: reqwest::Client::new(),
        }
    }

    /// Starts `scenario` with the test's clock as the simulator's manual clock, so that the
    /// control API can move it too.
    pub async fn start_controlled(scenario: Scenario) -> TestSim {
        let clock = ManualClock::new(NOW);
        let sim = RunningSimulator::start_with(
            SimConfig {
                scenario,
                clock: clock.shared(),
                listen: "127.0.0.1:0".parse().unwrap(),
            },
            SimOptions {
                tls: false,
                manual_clock: Some(clock.clone()),
            },
        )
        .await
        .expect("simulator starts");
        TestSim {
            sim,
            clock,
            http: reqwest::Client::new(),
        }
    }

    /// Returns the URL of an API path such as `/certificates`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// GETs an API path as the administrator.
    pub async fn get(&self, path: &str) -> Reply {
        self.get_as(path, ADMIN).await
    }

    /// GETs an API path as `user`.
    pub async fn get_as(&self, path: &str, user: (&str, &str)) -> Reply {
        let request = self
            .http
            .get(self.url(path))
            .basic_auth(user.0, Some(user.1));
        reply(request).await
    }

    /// POSTs JSON to an API path as the administrator.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_as(path, body, ADMIN).await
    }

    /// POSTs JSON to an API path as `user`.
    pub async fn post_as(&self, path: &str, body: &Value, user: (&str, &str)) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .basic_auth(user.0, Some(user.1))
            .json(body);
        reply(request).await
    }

    /// Sends `method` with an optional JSON body to an API path as `user`.
    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        user: (&str, &str),
    ) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .basic_auth(user.0, Some(user.1));
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request).await
    }

    /// PATCHes JSON to an API path as the administrator.
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send_as(reqwest::Method::PATCH, path, Some(body), ADMIN)
            .await
    }

    /// PUTs JSON to an API path as the administrator.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send_as(reqwest::Method::PUT, path, Some(body), ADMIN)
            .await
    }

    /// Sends a control API request with a JSON body.
    pub async fn control_json(&self, method: reqwest::Method, path: &str, body: &Value) -> Reply {
        let url = format!("{}{path}", self.sim.control_url());
        reply(self.http.request(method, url).json(body)).await
    }

    /// Returns the status the API reports for `tracking_id`.
    pub async fn status_of(&self, tracking_id: i64) -> String {
        let reply = self.get(&format!("/certificates/{tracking_id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["status"].as_str().unwrap().to_owned()
    }

    /// POSTs raw bytes without a Content-Type header, as the Go client does.
    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .body(body.to_owned());
        reply(request).await
    }

    /// Sends a control API request (no authentication).
    pub async fn control(&self, method: reqwest::Method, path: &str) -> Reply {
        let url = format!("{}{path}", self.sim.control_url());
        reply(self.http.request(method, url)).await
    }

    /// Returns every certificate list item with all fields.
    pub async fn all_certificates(&self) -> Vec<Value> {
        let reply = self.get("/certificates?limit=1000&fields=*").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["certificates"].as_array().unwrap().clone()
    }

    /// Returns the inventory item of `product`.
    pub async fn inventory(&self, product: &str) -> Value {
        let reply = self.get("/inventories").await;
        reply.body["inventories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["productType"] == product)
            .cloned()
            .unwrap_or_else(|| panic!("no {product} in the inventory"))
    }
}

/// Sends a request and reads the reply. Every 2xx body is checked to be free of the word
/// `errors`, because Keyfactor's client treats any body containing it as an error.
pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request reaches the simulator");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body is readable");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is JSON: {text}"))
    };
    if status.is_success() {
        assert!(
            !text.contains("errors"),
            "a success body must not contain 'errors': {text}"
        );
    }
    Reply {
        status,
        body,
        text,
        headers,
    }
}

/// Asserts an ErrorResponse: the HTTP status, the same `status` in the body, exactly one error
/// with a non-empty message, and the given `field` (or none). Returns the message.
pub fn assert_error(reply: &Reply, status: StatusCode, field: Option<&str>) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = reply.body.as_object().expect("error body is an object");
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["errors", "status"], "{}", reply.text);
    assert_eq!(body["status"], status.as_u16(), "{}", reply.text);
    let errors = body["errors"].as_array().expect("errors is an array");
    assert_eq!(errors.len(), 1, "{}", reply.text);
    let message = errors[0]["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(errors[0]["field"].as_str(), field, "{}", reply.text);
    message.to_owned()
}

/// Returns the sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("value is an object")
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

/// Builds a PEM CSR with common name `cn` and DNS names `sans` on a new ECDSA P-256 key.
pub fn ec_csr(cn: &str, sans: &[&str]) -> (String, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    (csr_for(&key, cn, sans), key)
}

/// Builds a PEM CSR with common name `cn` and DNS names `sans` on a new RSA 2048 key.
pub fn rsa_csr(cn: &str, sans: &[&str]) -> (String, KeyPair) {
    let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
    (csr_for(&key, cn, sans), key)
}

fn csr_for(key: &KeyPair, cn: &str, sans: &[&str]) -> String {
    let names: Vec<String> = sans.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serialize_request(key).unwrap().pem().unwrap()
}
