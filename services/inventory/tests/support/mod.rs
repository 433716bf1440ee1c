//! A started inventory on a fresh schema and fresh streams, and helpers to publish events and
//! wait for the consumer.

#![allow(dead_code)]

pub mod ca;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use certitude_inventory::certificate;
use certitude_inventory::certificate_store::{
    CertificateStatus, ChainStatus, NewCertificate, Source,
};
use certitude_inventory::{Config, RunningService};
use certitude_platform::clock::{ManualClock, SharedClock};
use certitude_platform::events::timestamp;
use certitude_platform::events::{self, Envelope, Event};
use certitude_platform::seal::{KeyId, Keyring, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::events::v1::{CertificateIssued, OrderStatusChanged};
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use certitude_proto::inventory::v1::{
    Certificate, GetCertificateRequest, GetLicenseRequest, License, SetLicenseRequest,
};
use prost::Message;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::time::Instant;
use tonic::transport::Channel;
use uuid::Uuid;

/// The instant the test clock shows.
pub const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);

/// Maximum wait for a condition on a real server.
const DEADLINE: Duration = Duration::from_secs(60);

/// Durable name of the inventory's CertificateIssued consumer.
pub const DURABLE: &str = "inventory-certificate-issued";

/// Durable name of the inventory's OrderStatusChanged consumer.
pub const STATUS_DURABLE: &str = "inventory-order-status-changed";

/// A running inventory and everything a test needs to drive it.
pub struct Inventory {
    pub db: TestDb,
    pub nats: TestNats,
    pub keyring: Keyring,
    pub clock: ManualClock,
    pub client: InventoryServiceClient<Channel>,
    /// The settings the service started with, to start a replica with the same ones.
    settings: Vec<(&'static str, String)>,
    shutdown: Shutdown,
    running: RunningService,
}

/// A second inventory process on the same schema and streams, with the same clock.
pub struct Replica {
    pub client: InventoryServiceClient<Channel>,
    shutdown: Shutdown,
    running: RunningService,
}

impl Replica {
    /// Stops the replica and checks that every task ended cleanly.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.running
            .wait()
            .await
            .expect("every task of the replica stops cleanly");
    }
}

impl Inventory {
    /// Starts the inventory on a fresh schema and fresh streams, with a manual clock at [`NOW`].
    pub async fn start() -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let master_key =
            MasterKey::generate(KeyId::parse("test").expect("valid id")).expect("key generates");
        let master_keys = master_key.to_config_entry();
        let keyring = Keyring::parse_list(master_keys.expose_secret()).expect("keyring parses");
        let settings = vec![
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
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
            (
                "CERTITUDE_MASTER_KEYS",
                master_keys.expose_secret().to_owned(),
            ),
        ];

        let clock = ManualClock::new(NOW);
        let (client, shutdown, running) = start_service(&settings, clock.shared()).await;
        Self {
            db,
            nats,
            keyring,
            clock,
            client,
            settings,
            shutdown,
            running,
        }
    }

    /// Starts a second inventory on the same schema and streams, as another replica would run.
    pub async fn start_replica(&self) -> Replica {
        let (client, shutdown, running) = start_service(&self.settings, self.clock.shared()).await;
        Replica {
            client,
            shutdown,
            running,
        }
    }

    /// Stops the service, checks that every task ended cleanly, and removes the schema and
    /// streams.
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.running.wait().await.expect("every task stops cleanly");
        self.db.drop_now().await;
        self.nats.delete_streams().await;
    }

    /// Returns the subject of `M` under the test prefix.
    pub fn subject<M: Event>(&self) -> String {
        M::TYPE.subject(&self.nats.settings.subject_prefix)
    }

    /// Publishes `payload` as a CertificateIssued event with a fresh event id, and returns that
    /// id and the stream sequence.
    pub async fn publish_issued(&self, payload: &CertificateIssued) -> (Uuid, u64) {
        let event_id = Uuid::now_v7();
        let sequence = self
            .publish_envelope(&issued_envelope(event_id, payload), None)
            .await;
        (event_id, sequence)
    }

    /// Publishes an envelope on the CertificateIssued subject. With a `msg_id`, JetStream drops
    /// a copy of a message with that id seen within its duplicate window.
    pub async fn publish_envelope(&self, envelope: &Envelope, msg_id: Option<&str>) -> u64 {
        self.publish_on(self.subject::<CertificateIssued>(), envelope, msg_id)
            .await
    }

    /// Publishes `payload` as an OrderStatusChanged event with a fresh event id and the
    /// order's envelope `sequence`, and returns the event id and the stream sequence.
    pub async fn publish_status_changed(
        &self,
        payload: &OrderStatusChanged,
        sequence: u64,
    ) -> (Uuid, u64) {
        let event_id = Uuid::now_v7();
        let envelope = status_changed_envelope(event_id, payload, sequence);
        let stream_sequence = self
            .publish_on(self.subject::<OrderStatusChanged>(), &envelope, None)
            .await;
        (event_id, stream_sequence)
    }

    /// Publishes an envelope on `subject`, with `Nats-Msg-Id` set to `msg_id` when given.
    pub async fn publish_on(
        &self,
        subject: String,
        envelope: &Envelope,
        msg_id: Option<&str>,
    ) -> u64 {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(msg_id) = msg_id {
            headers.insert("Nats-Msg-Id", msg_id);
        }
        let body = events::encode_envelope(envelope);
        self.nats
            .jetstream
            .publish_with_headers(subject, headers, body.into())
            .await
            .expect("the publish is sent")
            .await
            .expect("JetStream stores the event")
            .sequence
    }

    /// Waits until the inventory's CertificateIssued consumer has acknowledged every message
    /// up to stream `sequence`.
    pub async fn wait_until_consumed(&self, sequence: u64) {
        self.wait_until_consumed_by(DURABLE, sequence).await;
    }

    /// Waits until the durable consumer `durable` has acknowledged every message of its
    /// subject up to stream `sequence`.
    pub async fn wait_until_consumed_by(&self, durable: &str, sequence: u64) {
        let stream = self.stream().await;
        eventually("the consumer acknowledged the published events", || {
            let stream = stream.clone();
            async move {
                match stream.consumer_info(durable).await {
                    Ok(info) => info.ack_floor.stream_sequence >= sequence,
                    Err(_) => false,
                }
            }
        })
        .await;
    }

    /// Stores the certificate of `event` and waits until the consumer is done with it.
    pub async fn store(&self, event: &CertificateIssued) {
        let (_, sequence) = self.publish_issued(event).await;
        self.wait_until_consumed(sequence).await;
    }

    /// Returns certificate `id` through GetCertificate.
    pub async fn certificate(&self, id: &str) -> Certificate {
        self.client
            .clone()
            .get_certificate(GetCertificateRequest {
                id: id.to_owned(),
                ..GetCertificateRequest::default()
            })
            .await
            .expect("GetCertificate finds the certificate")
            .into_inner()
    }

    /// Sets the licensed count through SetLicense; `None` lifts the limit.
    pub async fn set_license(&self, licensed: Option<u64>) -> License {
        self.client
            .clone()
            .set_license(SetLicenseRequest {
                licensed,
                actor: "test-admin".to_owned(),
            })
            .await
            .expect("SetLicense succeeds")
            .into_inner()
    }

    /// Returns the license through GetLicense.
    pub async fn license(&self) -> License {
        self.client
            .clone()
            .get_license(GetLicenseRequest {})
            .await
            .expect("GetLicense succeeds")
            .into_inner()
    }

    /// Returns the payloads of every `M` event on the test stream, in stream order.
    pub async fn events<M: Event>(&self) -> Vec<M> {
        let stream = self.stream().await;
        let state = stream
            .get_info()
            .await
            .expect("the stream info is readable")
            .state;
        let subject = self.subject::<M>();
        let mut payloads = Vec::new();
        if state.messages == 0 {
            return payloads;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            if message.subject.as_str() != subject {
                continue;
            }
            let envelope =
                events::decode_envelope(&message.payload).expect("the body is an envelope");
            payloads.push(events::decode_payload(&envelope).expect("the payload decodes"));
        }
        payloads
    }

    /// Waits until the stream has at least `count` events `M`, and returns all of them.
    pub async fn wait_for_events<M: Event>(&self, count: usize) -> Vec<M> {
        eventually_some("the events are on the stream", || async {
            let found = self.events::<M>().await;
            (found.len() >= count).then_some(found)
        })
        .await
    }

    /// Returns the main test stream.
    pub async fn stream(&self) -> Stream {
        self.nats
            .jetstream
            .get_stream(&self.nats.settings.stream)
            .await
            .expect("the test stream exists")
    }
}

async fn start_service(
    settings: &[(&'static str, String)],
    clock: SharedClock,
) -> (InventoryServiceClient<Channel>, Shutdown, RunningService) {
    let config = Config::from_pairs(settings.iter().cloned()).expect("the test config loads");
    let shutdown = Shutdown::new();
    let running = certitude_inventory::start(config, clock, shutdown.clone())
        .await
        .expect("the inventory starts");
    let client = InventoryServiceClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .expect("the gRPC server accepts connections");
    (client, shutdown, running)
}

/// Validity that contains the test clock's [`NOW`].
pub const CURRENT: (OffsetDateTime, OffsetDateTime) = (
    datetime!(2030-05-01 00:00:00 UTC),
    datetime!(2031-05-01 00:00:00 UTC),
);

/// Builds a CertificateIssued event for a fresh certificate of `dns_name` on a new order, as
/// order-manager publishes it, valid over `validity`.
pub fn issued_event(
    ca: &ca::TestCa,
    dns_name: &str,
    serial: u32,
    validity: (OffsetDateTime, OffsetDateTime),
) -> CertificateIssued {
    let (not_before, not_after) = validity;
    let certificate_pem =
        ca.issue_with_fresh_key(dns_name, &serial.to_be_bytes(), not_before, not_after);
    CertificateIssued {
        order_id: Uuid::now_v7().to_string(),
        credential_id: Uuid::now_v7().to_string(),
        tracking_id: 3_000_000 + i64::from(serial),
        certificate_pem,
        chain_pem: vec![ca.pem()],
        serial_number: format!("{serial:X}"),
        not_after: Some(timestamp(not_after)),
        key_id: String::new(),
        replaces_certificate_id: String::new(),
        certificate_id: Uuid::now_v7().to_string(),
        order_status: "ISSUED".to_owned(),
        replacement: String::new(),
    }
}

/// Builds the envelope of a CertificateIssued event, as order-manager's outbox would.
pub fn issued_envelope(event_id: Uuid, payload: &CertificateIssued) -> Envelope {
    Envelope {
        event_id: event_id.to_string(),
        event_type: CertificateIssued::TYPE.full_name.to_owned(),
        occurred_at: Some(events::timestamp(NOW)),
        producer: "order-manager".to_owned(),
        aggregate_type: CertificateIssued::TYPE.aggregate.to_owned(),
        aggregate_id: payload.certificate_id.clone(),
        sequence: 1,
        schema_version: 1,
        payload: payload.encode_to_vec(),
    }
}

/// Builds the envelope of an OrderStatusChanged event with the order's per-aggregate
/// `sequence`, as order-manager's outbox would.
pub fn status_changed_envelope(
    event_id: Uuid,
    payload: &OrderStatusChanged,
    sequence: u64,
) -> Envelope {
    Envelope {
        event_id: event_id.to_string(),
        event_type: OrderStatusChanged::TYPE.full_name.to_owned(),
        occurred_at: Some(events::timestamp(NOW)),
        producer: "order-manager".to_owned(),
        aggregate_type: OrderStatusChanged::TYPE.aggregate.to_owned(),
        aggregate_id: payload.order_id.clone(),
        sequence,
        schema_version: 1,
        payload: payload.encode_to_vec(),
    }
}

/// Polls `condition` until it holds, failing the test after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `probe` until it returns a value, failing the test after a generous deadline.
pub async fn eventually_some<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Builds the NewCertificate that ingest would make of `event`, stored at [`NOW`] without a
/// chain.
pub fn new_certificate(event: &CertificateIssued) -> NewCertificate {
    let facts = certificate::parse_pem(&event.certificate_pem).expect("the certificate parses");
    NewCertificate {
        id: Uuid::parse_str(&event.certificate_id).expect("UUID"),
        order_id: Some(event.order_id.clone()),
        tracking_id: Some(event.tracking_id),
        credential_id: Some(event.credential_id.clone()),
        key_id: None,
        replaces_certificate_id: None,
        replacement: None,
        certificate_pem: event.certificate_pem.clone(),
        chain_pem: Vec::new(),
        chain_status: ChainStatus::Missing,
        status: CertificateStatus::Active,
        source: Source::Order,
        created_at: NOW,
        facts,
    }
}
