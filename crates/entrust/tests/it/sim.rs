//! Starting the ECS simulator with the demo scenario, clients of its API users, and raw HTTP
//! calls for what the adapter deliberately never sends.

use certitude_clock::ManualClock;
use entrust::EntrustClient;
use entrust::model::{Product, TrackingId};
use entrust_sim::{RunningSimulator, Scenario, SimConfig, SimOptions};
use serde_json::Value;
use time::macros::datetime;
use time::{Date, Duration, OffsetDateTime};

use crate::helpers;

/// Demo API users and their keys.
pub const ADMIN_USER: &str = "demo-admin";
pub const ADMIN_KEY: &str = "sim-demo-admin-key";
pub const REQUESTER_USER: &str = "demo-requester";
pub const REQUESTER_KEY: &str = "sim-demo-requester-key";
/// A requester bound to a client certificate the simulator generates.
pub const MTLS_USER: &str = "demo-mtls";
pub const MTLS_KEY: &str = "sim-demo-mtls-key";

/// The simulator's clock time. Scenario dates are relative to it.
pub const NOW: OffsetDateTime = datetime!(2026-03-02 12:00 UTC);

/// Tracking id of the first demo order; the others follow in scenario order.
pub const FIRST_TRACKING_ID: u32 = 2_100_000;

pub struct Sim {
    pub server: RunningSimulator,
    pub admin: EntrustClient,
    pub scenario: Scenario,
    /// The simulator's clock; moving it moves the simulator.
    pub clock: ManualClock,
}

/// A response read without the adapter.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The JSON body, or `Value::Null` for an empty one.
    pub body: Value,
}

impl RawResponse {
    /// Returns `errors[0].message` and `errors[0].field` of an ErrorResponse.
    pub fn first_error(&self) -> (String, Option<String>) {
        let error = &self.body["errors"][0];
        (
            error["message"].as_str().unwrap_or_default().to_owned(),
            error["field"].as_str().map(str::to_owned),
        )
    }
}

impl Sim {
    /// Starts a simulator of the demo account on a free loopback port, over plain HTTP.
    pub async fn start() -> anyhow::Result<Sim> {
        Sim::start_with(false).await
    }

    /// Starts a simulator of the demo account that serves HTTPS and checks client
    /// certificates.
    pub async fn start_tls() -> anyhow::Result<Sim> {
        Sim::start_with(true).await
    }

    async fn start_with(tls: bool) -> anyhow::Result<Sim> {
        let scenario = Scenario::demo();
        let clock = ManualClock::new(NOW);
        let server = RunningSimulator::start_with(
            SimConfig {
                scenario: scenario.clone(),
                clock: clock.shared(),
                listen: "127.0.0.1:0".parse()?,
            },
            SimOptions {
                tls,
                manual_clock: Some(clock.clone()),
            },
        )
        .await?;
        let mut config = helpers::fast_config(&server.base_url(), ADMIN_USER, ADMIN_KEY)?;
        if tls {
            config.extra_root_certificates_pem = vec![server.root_ca_pem()];
        }
        let admin = EntrustClient::new(config)?;
        Ok(Sim {
            server,
            admin,
            scenario,
            clock,
        })
    }

    /// Builds a client of this simulator with other credentials.
    pub fn client(&self, username: &str, api_key: &str) -> anyhow::Result<EntrustClient> {
        let mut config = helpers::fast_config(&self.server.base_url(), username, api_key)?;
        if self.server.is_tls() {
            config.extra_root_certificates_pem = vec![self.server.root_ca_pem()];
        }
        Ok(EntrustClient::new(config)?)
    }

    /// Returns the number of certificate records the account lists: the scenario's orders and
    /// the certificates it has on record by thumbprint only (tracking id 0, listed first).
    pub fn listed_count(&self) -> usize {
        self.scenario.orders.len() + self.scenario.third_party_certificates.len()
    }

    /// Tracking id of the scenario order at `index` (file order).
    pub fn tracking_id(index: u32) -> TrackingId {
        TrackingId::new(FIRST_TRACKING_ID + index)
    }

    /// Returns a valid expiry date for a new order, 90 days after the simulator's clock.
    pub fn expiry() -> Date {
        (NOW + Duration::days(90)).date()
    }

    /// Reads the inventory through the adapter.
    pub async fn inventory(&self) -> anyhow::Result<Vec<Product>> {
        Ok(self.admin.products().await?)
    }

    /// Counts every order through the simulator's listing.
    pub async fn order_count(&self) -> anyhow::Result<usize> {
        let response = self
            .raw("GET", "/certificates?limit=1&fields=trackingId", None)
            .await?;
        let total = response.body["summary"]["total"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no summary.total in {}", response.body))?;
        Ok(usize::try_from(total)?)
    }

    /// Sends a request as the demo administrator without the adapter.
    pub async fn raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<RawResponse> {
        self.raw_as(ADMIN_USER, ADMIN_KEY, method, path_and_query, body)
            .await
    }

    /// Sends a request as `user` without the adapter; `body` is sent as JSON.
    pub async fn raw_as(
        &self,
        user: &str,
        key: &str,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<RawResponse> {
        let mut builder = reqwest::Client::builder();
        if self.server.is_tls() {
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(
                self.server.root_ca_pem().as_bytes(),
            )?);
        }
        let http = builder.build()?;
        let url = format!("{}{path_and_query}", self.server.base_url());
        let mut request = http
            .request(reqwest::Method::from_bytes(method.as_bytes())?, url)
            .basic_auth(user, Some(key));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body)?);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// Builds a STANDARD_SSL order under client 1 for `names`, with a marker and a requester.
pub fn standard_order(
    csr: &crate::helpers::GeneratedCsr,
    names: &[&str],
    marker: &str,
) -> entrust::model::NewOrder {
    entrust::model::NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: csr.csr_pem.clone(),
        dns_names: names.iter().map(|name| (*name).to_owned()).collect(),
        client_id: Some(1),
        organization: Some("Certitude Demo Corp".to_owned()),
        expires_on: Sim::expiry(),
        lifetime: None,
        eku: None,
        tracking_marker: Some(marker.to_owned()),
        requester: entrust::model::Requester {
            name: "Test Requester".to_owned(),
            email: "requester@example.com".to_owned(),
            phone: "+1 613 555 0199".to_owned(),
        },
        queue_for_approval: false,
        validate_only: false,
    }
}

/// Returns the remaining count of `product`, or `None` when not reported.
pub fn remaining(products: &[Product], product: &str) -> Option<u64> {
    products
        .iter()
        .find(|p| p.product_type == product)
        .and_then(|p| p.remaining)
}
