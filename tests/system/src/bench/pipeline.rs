//! The order pipeline: orders placed through the gateway, from the create request until the
//! inventory stores each order's certificate.
//!
//! Every service runs in this process ([`System`]) on the real Postgres and NATS, with the
//! simulator's demo scenario as Entrust. Each order is for UC_SSL, which the demo account has
//! without a count limit, with an ECDSA P-256 key that inventory generates, for a new name under
//! the verified domain example.com, so Entrust issues it at once. Clients keep [`CONCURRENCY`]
//! orders in flight. An order's latency runs from sending `POST /v1/orders` until the
//! inventory's CertificateAddedToInventory for that order reaches a plain NATS subscriber on
//! the event's subject. Inventory publishes that event from its outbox after the transaction
//! that stored the certificate has committed. The time until order-manager's
//! CertificateIssued for the order arrives the same way is reported too. The rate divides the
//! timed orders by the time from the first request to the last CertificateAddedToInventory.
//!
//! After timing, each order is read back: it must be ISSUED with the certificate the event
//! named, and inventory must return that certificate for the order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certitude_platform::clock;
use certitude_platform::events::{Event, decode_envelope, decode_payload};
use certitude_proto::events::v1::{CertificateAddedToInventory, CertificateIssued};
use entrust_sim::Scenario;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;

use super::{Scale, add_admin_credential, admin_key};
use crate::{Api, System};

/// Orders in flight at once.
pub const CONCURRENCY: usize = 8;

/// Orders placed and awaited before timing starts, so that connection pools and caches are
/// warm.
pub const WARM_UP_ORDERS: usize = 4;

/// A product of the demo account without a count limit.
pub const PRODUCT: &str = "UC_SSL";

/// The demo account's verified domain that every order's name is under.
const DOMAIN: &str = "example.com";

/// Limit on waiting for the events of one batch of orders.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Returns the number of timed orders at `scale`.
pub fn orders(scale: Scale) -> usize {
    match scale {
        Scale::Small => 20,
        Scale::Full => 200,
    }
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    /// Timed orders.
    pub orders: usize,
    /// Timed orders found ISSUED afterwards, with their certificate in the inventory.
    pub in_inventory: usize,
    /// From the first create request to the last certificate added to the inventory.
    pub elapsed: Duration,
    /// Per order, from the create request to CertificateAddedToInventory, sorted.
    pub latencies: Vec<Duration>,
    /// Per order, from the create request to order-manager's CertificateIssued, sorted.
    pub issued_latencies: Vec<Duration>,
    /// Per order, from the create request to its `201 Created` response, sorted.
    pub create_latencies: Vec<Duration>,
}

impl PipelineReport {
    /// Returns the orders per second, from the first request to the last certificate.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds == 0.0 {
            return 0.0;
        }
        self.orders as f64 / seconds
    }
}

/// One order as its create request returned it.
struct Placed {
    order_id: String,
    sent_at: Instant,
    created_after: Duration,
}

/// An event about an order's certificate, as the subscriber received it.
struct Arrival {
    certificate_id: String,
    received_at: Instant,
}

/// Runs the benchmark at `scale` and returns its measurements.
pub async fn run(scale: Scale) -> anyhow::Result<PipelineReport> {
    let scenario = Scenario::demo();
    let api_key = admin_key(&scenario)?;
    let system = System::start_with(scenario, clock::system()).await?;
    let result = measure(&system, &api_key, orders(scale)).await;
    system.stop().await?;
    result
}

async fn measure(system: &System, api_key: &str, count: usize) -> anyhow::Result<PipelineReport> {
    let credential_id = add_admin_credential(system, api_key).await?;
    let mut issued = Events::new(subscribe::<CertificateIssued>(system).await?);
    let mut added = Events::new(subscribe::<CertificateAddedToInventory>(system).await?);
    let api = system.api();

    let warm_up = place_orders(&api, &credential_id, "warm-up", WARM_UP_ORDERS).await?;
    added.wait_for(&warm_up).await?;

    let started = Instant::now();
    let placed = place_orders(&api, &credential_id, "timed", count).await?;
    issued.wait_for(&placed).await?;
    added.wait_for(&placed).await?;

    let mut latencies = Vec::with_capacity(placed.len());
    let mut issued_latencies = Vec::with_capacity(placed.len());
    let mut create_latencies = Vec::with_capacity(placed.len());
    let mut last = started;
    for order in &placed {
        let added_at = added.received[&order.order_id].received_at;
        let issued_at = issued.received[&order.order_id].received_at;
        latencies.push(added_at.duration_since(order.sent_at));
        issued_latencies.push(issued_at.duration_since(order.sent_at));
        create_latencies.push(order.created_after);
        last = last.max(added_at);
    }
    latencies.sort_unstable();
    issued_latencies.sort_unstable();
    create_latencies.sort_unstable();

    let mut in_inventory = 0;
    for order in &placed {
        check_in_inventory(&api, order, &added.received[&order.order_id]).await?;
        in_inventory += 1;
    }
    Ok(PipelineReport {
        orders: placed.len(),
        in_inventory,
        elapsed: last.duration_since(started),
        latencies,
        issued_latencies,
        create_latencies,
    })
}

/// An event that names an order and its certificate.
trait CertificateEvent: Event + Send + 'static {
    fn order_and_certificate(self) -> (String, String);
}

impl CertificateEvent for CertificateIssued {
    fn order_and_certificate(self) -> (String, String) {
        (self.order_id, self.certificate_id)
    }
}

impl CertificateEvent for CertificateAddedToInventory {
    fn order_and_certificate(self) -> (String, String) {
        (self.order_id, self.certificate_id)
    }
}

/// Subscribes to events of type `E` on the system's subject prefix and returns each event's
/// order id with what arrived. Core NATS subscribers receive what JetStream stores on that
/// subject, without a consumer.
async fn subscribe<E: CertificateEvent>(
    system: &System,
) -> anyhow::Result<mpsc::UnboundedReceiver<(String, Arrival)>> {
    let subject = E::TYPE.subject(&system.nats.settings.subject_prefix);
    let mut subscriber = system.nats.client.subscribe(subject).await?;
    // The server has registered the subscription once a flush returns.
    system.nats.client.flush().await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let received_at = Instant::now();
            let Ok(envelope) = decode_envelope(&message.payload) else {
                continue;
            };
            let Ok(event) = decode_payload::<E>(&envelope) else {
                continue;
            };
            let (order_id, certificate_id) = event.order_and_certificate();
            let arrival = Arrival {
                certificate_id,
                received_at,
            };
            if sender.send((order_id, arrival)).is_err() {
                return;
            }
        }
    });
    Ok(receiver)
}

/// Places `count` orders, [`CONCURRENCY`] at a time, named after `batch`.
async fn place_orders(
    api: &Api,
    credential_id: &str,
    batch: &str,
    count: usize,
) -> anyhow::Result<Vec<Placed>> {
    futures::stream::iter(0..count)
        .map(|index| place_order(api, credential_id, batch, index))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
}

async fn place_order(
    api: &Api,
    credential_id: &str,
    batch: &str,
    index: usize,
) -> anyhow::Result<Placed> {
    let name = format!("{batch}-{index}.{DOMAIN}");
    let body = json!({
        "credential_id": credential_id,
        "product": PRODUCT,
        "common_name": name,
        "dns_names": [name],
        "key_algorithm": "ECDSA_P256",
        "validity_days": 90,
    });
    let idempotency_key = format!("bench-{batch}-{index}");
    let sent_at = Instant::now();
    let (status, order) = api
        .call(
            Method::POST,
            "/v1/orders",
            Some(body),
            Some(&idempotency_key),
        )
        .await?;
    let created_after = sent_at.elapsed();
    if status != StatusCode::CREATED {
        bail!("creating order {name} returned {status}: {order}");
    }
    let order_id = order["id"]
        .as_str()
        .with_context(|| format!("the created order {name} has no id: {order}"))?
        .to_owned();
    Ok(Placed {
        order_id,
        sent_at,
        created_after,
    })
}

/// The events of one type received so far, by order id.
struct Events {
    receiver: mpsc::UnboundedReceiver<(String, Arrival)>,
    received: HashMap<String, Arrival>,
}

impl Events {
    fn new(receiver: mpsc::UnboundedReceiver<(String, Arrival)>) -> Self {
        Self {
            receiver,
            received: HashMap::new(),
        }
    }

    /// Receives events until every order of `placed` has one.
    async fn wait_for(&mut self, placed: &[Placed]) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let missing = placed
                .iter()
                .filter(|order| !self.received.contains_key(&order.order_id))
                .count();
            if missing == 0 {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some((order_id, arrival))) => {
                    self.received.insert(order_id, arrival);
                }
                Ok(None) => bail!("the NATS subscription ended with {missing} orders outstanding"),
                Err(_) => bail!(
                    "{missing} of {} orders had no event after {TIMEOUT:?}",
                    placed.len()
                ),
            }
        }
    }
}

/// Fails unless `order` is ISSUED with the certificate the event named, and inventory returns
/// that certificate for the order.
async fn check_in_inventory(api: &Api, order: &Placed, added: &Arrival) -> anyhow::Result<()> {
    let order_id = &order.order_id;
    let stored = api.get(&format!("/v1/orders/{order_id}")).await?;
    if stored["status"] != "ISSUED" {
        bail!("order {order_id} is not ISSUED: {stored}");
    }
    if stored["certificate_id"] != added.certificate_id.as_str() {
        bail!(
            "order {order_id} has certificate {} but the inventory added {}",
            stored["certificate_id"],
            added.certificate_id
        );
    }
    let certificate = api
        .get(&format!("/v1/certificates/{}", added.certificate_id))
        .await?;
    if certificate["order_id"] != order_id.as_str() {
        bail!(
            "certificate {} is not order {order_id}'s: {certificate}",
            added.certificate_id
        );
    }
    Ok(())
}
