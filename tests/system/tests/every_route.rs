//! The happy path of every REST route, on a running system with the Entrust simulator's demo
//! account: each route is called once as it is meant to be used and its response checked. The
//! test fails when a route of the gateway's role matrix was not called, so a new route needs a
//! step here.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use certitude_gateway::access::ROUTE_ROLES;
use certitude_system_tests::{ADMIN_TOKEN, Api, System};
use entrust_sim::Scenario;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Boundary of the multipart body of the certificate file import.
const BOUNDARY: &str = "every-route-boundary";

/// A REST client that records the route template of each call.
struct Sweep {
    api: Api,
    http: reqwest::Client,
    base_url: String,
    called: BTreeSet<(String, String)>,
}

impl Sweep {
    /// Calls `path`, an instance of the route `route`, and returns the status and JSON body.
    async fn call(
        &mut self,
        method: Method,
        route: &str,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        self.called
            .insert((method.as_str().to_owned(), route.to_owned()));
        self.api
            .call(method, path, body, idempotency_key)
            .await
            .unwrap()
    }

    /// Calls the route and fails the test unless it returns `expected`.
    async fn expect(
        &mut self,
        expected: StatusCode,
        method: Method,
        route: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, body) = self.call(method.clone(), route, path, body, None).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        body
    }

    /// Sends a request whose body or response is not JSON and returns the status and raw body.
    async fn raw(
        &mut self,
        method: Method,
        route: &str,
        path: &str,
        content: Option<(Vec<u8>, String)>,
    ) -> (StatusCode, Vec<u8>) {
        self.called
            .insert((method.as_str().to_owned(), route.to_owned()));
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(ADMIN_TOKEN);
        if let Some((bytes, media_type)) = content {
            request = request
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// Polls a job resource until its state is no longer `running`, and returns it.
    async fn finished_job(&mut self, route: &str, path: &str) -> Value {
        self.called.insert(("GET".to_owned(), route.to_owned()));
        self.api
            .wait_for(path, WAIT, |job| job["state"] != "running")
            .await
            .unwrap()
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn items(value: &Value) -> Vec<Value> {
    value["items"].as_array().unwrap().clone()
}

/// Builds a multipart body with one file part per (file name, content).
fn multipart(files: &[(&str, &[u8])]) -> (Vec<u8>, String) {
    let mut body = Vec::new();
    for (name, content) in files {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(content);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").into_bytes());
    (body, format!("multipart/form-data; boundary={BOUNDARY}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_happy_path() {
    let scenario = Scenario::demo();
    let admin = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == "demo-admin")
        .unwrap();
    let system = System::start().await.unwrap();
    let mut sweep = Sweep {
        api: system.api(),
        http: reqwest::Client::new(),
        base_url: system.gateway_url.clone(),
        called: BTreeSet::new(),
    };

    // Credentials and the catalog.
    sweep
        .called
        .insert(("POST".to_owned(), "/v1/credentials".to_owned()));
    let credential = system.add_demo_credential(true).await.unwrap();
    let credential_id = id(&credential);
    let credential_path = format!("/v1/credentials/{credential_id}");
    let listed = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/credentials",
            "/v1/credentials",
            None,
        )
        .await;
    assert_eq!(items(&listed).len(), 1, "{listed}");
    let got = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/credentials/{id}",
            &credential_path,
            None,
        )
        .await;
    assert_eq!(got["username"], admin.user_name.as_str());
    let renamed = sweep
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/v1/credentials/{id}",
            &credential_path,
            Some(json!({ "name": "demo-renamed" })),
        )
        .await;
    assert_eq!(renamed["name"], "demo-renamed");
    let sync = sweep
        .expect(
            StatusCode::ACCEPTED,
            Method::POST,
            "/v1/credentials/{id}/syncs",
            &format!("{credential_path}/syncs"),
            Some(json!({})),
        )
        .await;
    let sync = sweep
        .finished_job("/v1/syncs/{id}", &format!("/v1/syncs/{}", id(&sync)))
        .await;
    assert_eq!(sync["state"], "succeeded", "{sync}");
    let all_syncs = sweep
        .expect(
            StatusCode::ACCEPTED,
            Method::POST,
            "/v1/syncs",
            "/v1/syncs",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        all_syncs.to_string().matches(&credential_id).count(),
        1,
        "one job for the one credential: {all_syncs}"
    );
    for (kind, expected) in [
        ("organizations", scenario.organizations.len()),
        ("domains", scenario.domains.len()),
        ("products", scenario.inventory.len()),
    ] {
        let route = format!("/v1/credentials/{{id}}/{kind}");
        let page = sweep
            .expect(
                StatusCode::OK,
                Method::GET,
                &route,
                &format!("{credential_path}/{kind}?limit=500"),
                None,
            )
            .await;
        assert_eq!(items(&page).len(), expected, "{kind}: {page}");
    }

    // Import the account's orders, then place one.
    let import = sweep
        .expect(
            StatusCode::ACCEPTED,
            Method::POST,
            "/v1/imports",
            "/v1/imports",
            Some(json!({ "credential_id": credential_id })),
        )
        .await;
    let import = sweep
        .finished_job("/v1/imports/{id}", &format!("/v1/imports/{}", id(&import)))
        .await;
    assert_eq!(import["state"], "succeeded", "{import}");
    let orders = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/orders",
            "/v1/orders?limit=500",
            None,
        )
        .await;
    assert!(!items(&orders).is_empty(), "{orders}");
    let (status, order) = sweep
        .call(
            Method::POST,
            "/v1/orders",
            "/v1/orders",
            Some(json!({
                "credential_id": credential_id,
                "product": "STANDARD_SSL",
                "common_name": "www.example.com",
                "dns_names": ["www.example.com"],
            })),
            Some("every-route-order"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = id(&order);
    let order_path = format!("/v1/orders/{order_id}");
    sweep
        .called
        .insert(("GET".to_owned(), "/v1/orders/{id}".to_owned()));
    let order = system
        .api()
        .wait_for(&order_path, WAIT, |order| {
            order["status"] == "ISSUED" && order["inventory_state"] == "in_inventory"
        })
        .await
        .unwrap();
    let certificate_id = order["certificate_id"].as_str().unwrap().to_owned();
    let history = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/orders/{id}/history",
            &format!("{order_path}/history"),
            None,
        )
        .await;
    assert!(!items(&history).is_empty(), "{history}");

    // Administrator operations: approve and decline queued orders, suspend and resume,
    // renew, reissue and revoke.
    let mut queued = Vec::new();
    for key in ["every-route-approve", "every-route-decline"] {
        let (status, order) = sweep
            .call(
                Method::POST,
                "/v1/orders",
                "/v1/orders",
                Some(json!({
                    "credential_id": credential_id,
                    "product": "STANDARD_SSL",
                    "common_name": "www.example.com",
                    "queue_for_approval": true,
                })),
                Some(key),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!(order["status"], "PENDING", "{order}");
        queued.push(id(&order));
    }
    let approved = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/orders/{id}/approve",
            &format!("/v1/orders/{}/approve", queued[0]),
            Some(json!({})),
        )
        .await;
    assert_eq!(approved["id"], queued[0].as_str(), "{approved}");
    let declined = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/orders/{id}/decline",
            &format!("/v1/orders/{}/decline", queued[1]),
            Some(json!({ "reason": "not needed" })),
        )
        .await;
    assert_eq!(declined["status"], "DECLINED", "{declined}");
    let suspended = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/orders/{id}/suspend",
            &format!("{order_path}/suspend"),
            Some(json!({})),
        )
        .await;
    assert_eq!(suspended["status"], "SUSPENDED", "{suspended}");
    let resumed = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/orders/{id}/resume",
            &format!("{order_path}/resume"),
            Some(json!({})),
        )
        .await;
    assert_eq!(resumed["status"], "ISSUED", "{resumed}");

    // Entrust renews only certificates issued more than 30 days ago: an imported one.
    let imported_issued: Vec<String> = items(&orders)
        .iter()
        .filter(|order| order["status"] == "ISSUED")
        .map(id)
        .collect();
    let mut renewed = None;
    for (attempt, imported) in imported_issued.iter().enumerate() {
        let (status, body) = sweep
            .call(
                Method::POST,
                "/v1/orders/{id}/renew",
                &format!("/v1/orders/{imported}/renew"),
                Some(json!({})),
                Some(&format!("every-route-renew-{attempt}")),
            )
            .await;
        if status == StatusCode::CREATED {
            renewed = Some((imported.clone(), body));
            break;
        }
    }
    let (renewed_from, renewal) = renewed.expect("an imported certificate can be renewed");
    assert_eq!(
        renewal["renews_order_id"],
        renewed_from.as_str(),
        "{renewal}"
    );
    let reissue_of = imported_issued
        .iter()
        .find(|candidate| **candidate != renewed_from)
        .unwrap();
    let (status, reissue) = sweep
        .call(
            Method::POST,
            "/v1/orders/{id}/reissue",
            &format!("/v1/orders/{reissue_of}/reissue"),
            Some(json!({})),
            Some("every-route-reissue"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reissue}");
    assert_eq!(
        reissue["reissue_of_order_id"],
        reissue_of.as_str(),
        "{reissue}"
    );
    let revoked = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/orders/{id}/revoke",
            &format!("/v1/orders/{}/revoke", queued[0]),
            Some(json!({ "reason": "unspecified", "comment": "every route" })),
        )
        .await;
    assert_eq!(revoked["id"], queued[0].as_str(), "{revoked}");

    // The certificate inventory.
    let certificates = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/certificates",
            "/v1/certificates?limit=500",
            None,
        )
        .await;
    assert!(
        items(&certificates)
            .iter()
            .any(|certificate| certificate["id"] == certificate_id.as_str()),
        "{certificates}"
    );
    let certificate_path = format!("/v1/certificates/{certificate_id}");
    let certificate = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/certificates/{id}",
            &certificate_path,
            None,
        )
        .await;
    assert_eq!(certificate["id"], certificate_id.as_str());
    let (status, pem) = sweep
        .raw(
            Method::GET,
            "/v1/certificates/{id}/export",
            &format!("{certificate_path}/export?part=leaf"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN CERTIFICATE-----"));
    let (status, pkcs12) = sweep
        .raw(
            Method::POST,
            "/v1/certificates/{id}/export",
            &format!("{certificate_path}/export"),
            Some((
                serde_json::to_vec(&json!({ "password": "every-route-password" })).unwrap(),
                "application/json".to_owned(),
            )),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&pkcs12)
    );
    // A PKCS#12 file is a DER SEQUENCE.
    assert_eq!(pkcs12.first(), Some(&0x30));

    // Deployments.
    let deployments_path = format!("{certificate_path}/deployments");
    let deployment = sweep
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/v1/certificates/{id}/deployments",
            &deployments_path,
            Some(json!({ "host": "web-1.example.com", "port": 443, "needs_deployment": true })),
        )
        .await;
    let deployment_path = format!("{deployments_path}/{}", id(&deployment));
    let of_certificate = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/certificates/{id}/deployments",
            &deployments_path,
            None,
        )
        .await;
    assert_eq!(items(&of_certificate).len(), 1, "{of_certificate}");
    let confirmed = sweep
        .expect(
            StatusCode::OK,
            Method::POST,
            "/v1/certificates/{id}/deployments/{deployment_id}/confirm",
            &format!("{deployment_path}/confirm"),
            Some(json!({})),
        )
        .await;
    assert_eq!(confirmed["needs_deployment"], false, "{confirmed}");
    let every_deployment = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/deployments",
            "/v1/deployments",
            None,
        )
        .await;
    assert_eq!(items(&every_deployment).len(), 1, "{every_deployment}");
    let removed = sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/certificates/{id}/deployments/{deployment_id}",
            &deployment_path,
            None,
        )
        .await;
    assert_eq!(removed["id"], deployment["id"]);

    // A certificate file with its key, imported, then removed from the inventory.
    let key = rcgen::KeyPair::generate().unwrap();
    let self_signed = rcgen::CertificateParams::new(vec!["files.example.com".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (status, results) = sweep
        .raw(
            Method::POST,
            "/v1/certificates/import",
            "/v1/certificates/import",
            Some(multipart(&[(
                "files.pem",
                format!("{}{}", self_signed.pem(), key.serialize_pem()).as_bytes(),
            )])),
        )
        .await;
    let results: Value = serde_json::from_slice(&results).unwrap();
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(results["certificates_added"], 1, "{results}");
    assert_eq!(results["keys_stored"], 1, "{results}");
    let imported_id = results["files"][0]["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/certificates/{id}",
            &format!("/v1/certificates/{imported_id}"),
            None,
        )
        .await;
    assert_eq!(removed["inventory_state"], "removed", "{removed}");

    // License.
    let license = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/license",
            "/v1/license",
            None,
        )
        .await;
    assert!(license["held"].as_u64().unwrap() >= 1, "{license}");
    let license = sweep
        .expect(
            StatusCode::OK,
            Method::PUT,
            "/v1/license",
            "/v1/license",
            Some(json!({ "licensed": 100_000 })),
        )
        .await;
    assert_eq!(license["licensed"], 100_000, "{license}");

    // Renewal policy, forecast and audit.
    let policy_path = format!("{order_path}/renewal-policy");
    let (status, none) = sweep
        .api
        .call(Method::GET, &policy_path, None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{none}");
    assert!(
        none["detail"]
            .as_str()
            .unwrap()
            .contains("has no renewal policy"),
        "{none}"
    );
    let unknown_order = uuid::Uuid::new_v4();
    let (status, unknown) = sweep
        .api
        .call(
            Method::GET,
            &format!("/v1/orders/{unknown_order}/renewal-policy"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let detail = unknown["detail"].as_str().unwrap();
    assert!(detail.contains(&unknown_order.to_string()), "{unknown}");
    assert!(!detail.contains("renewal policy"), "{unknown}");
    let policy = sweep
        .expect(
            StatusCode::OK,
            Method::PUT,
            "/v1/orders/{id}/renewal-policy",
            &policy_path,
            Some(json!({ "renew_days_before_expiry": 30 })),
        )
        .await;
    assert_eq!(policy["enabled"], true, "{policy}");
    let policy = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/orders/{id}/renewal-policy",
            &policy_path,
            None,
        )
        .await;
    assert_eq!(policy["renew_days_before_expiry"], 30, "{policy}");
    let forecast = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/renewals/forecast",
            "/v1/renewals/forecast?days=3650",
            None,
        )
        .await;
    assert!(forecast["items"].is_array(), "{forecast}");
    let audit = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/renewals/audit",
            "/v1/renewals/audit",
            None,
        )
        .await;
    assert!(audit["items"].is_array(), "{audit}");
    let disabled = sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/orders/{id}/renewal-policy",
            &policy_path,
            None,
        )
        .await;
    assert_eq!(disabled["enabled"], false, "{disabled}");

    // Delete the order from Certitude: its certificate stays in the inventory.
    let deleted = sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/orders/{id}",
            &order_path,
            None,
        )
        .await;
    assert_eq!(deleted["id"], order_id.as_str());
    system.api().get(&certificate_path).await.unwrap();

    // Tokens, the audit trail and the document.
    let token = sweep
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/v1/tokens",
            "/v1/tokens",
            Some(json!({ "name": "every-route", "role": "viewer" })),
        )
        .await;
    assert!(token["token_secret"].as_str().unwrap().starts_with("ctk_"));
    let tokens = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/tokens",
            "/v1/tokens",
            None,
        )
        .await;
    assert_eq!(items(&tokens).len(), 2, "{tokens}");
    let revoked_token = sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/tokens/{id}",
            &format!("/v1/tokens/{}", id(&token)),
            None,
        )
        .await;
    assert!(revoked_token["revoked_at"].is_string(), "{revoked_token}");
    let trail = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/audit",
            "/v1/audit?limit=500",
            None,
        )
        .await;
    assert!(items(&trail).len() >= 20, "{trail}");
    let head = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/audit/head",
            "/v1/audit/head",
            None,
        )
        .await;
    assert!(head["sequence"].as_u64().unwrap() >= 20, "{head}");
    let document = sweep
        .expect(
            StatusCode::OK,
            Method::GET,
            "/v1/openapi.json",
            "/v1/openapi.json",
            None,
        )
        .await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));

    // Last, the credential, with the orders that use it.
    sweep
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/v1/credentials/{id}",
            &format!("{credential_path}?force=true"),
            None,
        )
        .await;

    let every_route: BTreeSet<(String, String)> = ROUTE_ROLES
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let missed: Vec<_> = every_route.difference(&sweep.called).collect();
    assert!(
        missed.is_empty(),
        "routes without a happy path here: {missed:?}"
    );
    system.stop().await.unwrap();
}
