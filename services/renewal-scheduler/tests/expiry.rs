//! The renewal scheduler started on a fresh schema and fresh streams: CertificateIssued events
//! published on the test stream, expiries read back with GetExpiry.

use std::future::Future;
use std::time::Duration;

use certitude_platform::clock::ManualClock;
use certitude_platform::events::{self, Envelope, Event, timestamp};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::events::v1::{CertificateIssued, OrderStatusChanged};
use certitude_proto::renewal::v1::GetExpiryRequest;
use certitude_proto::renewal::v1::renewal_service_client::RenewalServiceClient;
use certitude_renewal_scheduler::{Config, RunningService};
use prost::Message;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);
const DURABLE: &str = "renewal-certificate-issued";
const CRYPTOGRAPHY_IO: &str = include_str!("../../../tests/fixtures/x509/pem/cryptography.io.pem");

struct Scheduler {
    db: TestDb,
    nats: TestNats,
    client: RenewalServiceClient<Channel>,
    shutdown: Shutdown,
    running: RunningService,
}

impl Scheduler {
    async fn start() -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let config = Config::from_pairs([
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
        ])
        .expect("the test config loads");
        let shutdown = Shutdown::new();
        let running = certitude_renewal_scheduler::start(
            config,
            ManualClock::new(NOW).shared(),
            shutdown.clone(),
        )
        .await
        .expect("the scheduler starts");
        let client = RenewalServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .expect("the gRPC server accepts connections");
        Self {
            db,
            nats,
            client,
            shutdown,
            running,
        }
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.running.wait().await.expect("every task stops cleanly");
        self.db.drop_now().await;
        self.nats.delete_streams().await;
    }

    /// Publishes an envelope without a Nats-Msg-Id, so JetStream keeps every copy, and returns
    /// its stream sequence.
    async fn publish(&self, envelope: &Envelope) -> u64 {
        let subject = CertificateIssued::TYPE.subject(&self.nats.settings.subject_prefix);
        self.nats
            .jetstream
            .publish(subject, events::encode_envelope(envelope).into())
            .await
            .expect("the publish is sent")
            .await
            .expect("JetStream stores the event")
            .sequence
    }

    async fn wait_until_consumed(&self, sequence: u64) {
        let stream = self
            .nats
            .jetstream
            .get_stream(&self.nats.settings.stream)
            .await
            .expect("the test stream exists");
        eventually("the consumer acknowledged the published events", || {
            let stream = stream.clone();
            async move {
                match stream.consumer_info(DURABLE).await {
                    Ok(info) => info.ack_floor.stream_sequence >= sequence,
                    Err(_) => false,
                }
            }
        })
        .await;
    }

    async fn get_expiry(&self, certificate_id: &str) -> Result<String, tonic::Status> {
        let request = GetExpiryRequest {
            certificate_id: certificate_id.to_owned(),
        };
        let expiry = self.client.clone().get_expiry(request).await?.into_inner();
        assert_eq!(expiry.certificate_id, certificate_id);
        Ok(expiry.not_after)
    }

    async fn expiry_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM certificate_expiries")
            .fetch_one(&self.db.pool)
            .await
            .expect("the table is readable")
    }
}

fn envelope(event_id: Uuid, payload: &CertificateIssued) -> Envelope {
    Envelope {
        event_id: event_id.to_string(),
        event_type: CertificateIssued::TYPE.full_name.to_owned(),
        occurred_at: Some(timestamp(NOW)),
        producer: "order-manager".to_owned(),
        aggregate_type: CertificateIssued::TYPE.aggregate.to_owned(),
        aggregate_id: payload.certificate_id.clone(),
        sequence: 1,
        schema_version: 1,
        payload: payload.encode_to_vec(),
    }
}

async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn issued(not_after: Option<OffsetDateTime>) -> CertificateIssued {
    CertificateIssued {
        order_id: Uuid::now_v7().to_string(),
        certificate_pem: CRYPTOGRAPHY_IO.to_owned(),
        not_after: not_after.map(timestamp),
        certificate_id: Uuid::now_v7().to_string(),
        ..CertificateIssued::default()
    }
}

#[tokio::test]
async fn published_certificate_expiry_is_served() {
    let scheduler = Scheduler::start().await;
    let event = issued(Some(datetime!(2031-05-01 00:00:00 UTC)));

    let sequence = scheduler.publish(&envelope(Uuid::now_v7(), &event)).await;
    scheduler.wait_until_consumed(sequence).await;

    let not_after = scheduler
        .get_expiry(&event.certificate_id)
        .await
        .expect("the expiry is recorded");
    assert_eq!(not_after, "2031-05-01T00:00:00Z");
    scheduler.stop().await;
}

#[tokio::test]
async fn missing_not_after_read_from_certificate() {
    let scheduler = Scheduler::start().await;
    let event = issued(None);

    let sequence = scheduler.publish(&envelope(Uuid::now_v7(), &event)).await;
    scheduler.wait_until_consumed(sequence).await;

    let not_after = scheduler
        .get_expiry(&event.certificate_id)
        .await
        .expect("the expiry is recorded");
    assert_eq!(not_after, "2018-11-16T01:15:03Z");
    scheduler.stop().await;
}

#[tokio::test]
async fn duplicate_deliveries_leave_one_row() {
    let scheduler = Scheduler::start().await;
    let event = issued(Some(datetime!(2031-05-01 00:00:00 UTC)));
    let event_id = Uuid::now_v7();

    scheduler.publish(&envelope(event_id, &event)).await;
    scheduler.publish(&envelope(event_id, &event)).await;
    let later = CertificateIssued {
        not_after: Some(timestamp(datetime!(2032-01-01 00:00:00 UTC))),
        ..event.clone()
    };
    let last = scheduler.publish(&envelope(Uuid::now_v7(), &later)).await;
    scheduler.wait_until_consumed(last).await;

    assert_eq!(scheduler.expiry_rows().await, 1);
    let not_after = scheduler
        .get_expiry(&event.certificate_id)
        .await
        .expect("the expiry is recorded");
    assert_eq!(not_after, "2031-05-01T00:00:00Z");
    scheduler.stop().await;
}

#[tokio::test]
async fn unknown_certificate_is_not_found() {
    let scheduler = Scheduler::start().await;

    let status = scheduler
        .get_expiry(&Uuid::now_v7().to_string())
        .await
        .expect_err("nothing was recorded");

    assert_eq!(status.code(), Code::NotFound);
    scheduler.stop().await;
}

#[tokio::test]
async fn malformed_certificate_id_is_invalid_argument() {
    let scheduler = Scheduler::start().await;

    let status = scheduler
        .get_expiry("cert-42")
        .await
        .expect_err("the id is not a UUID");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("certificate_id: "),
        "{}",
        status.message()
    );
    scheduler.stop().await;
}

/// Publishes OrderStatusChanged of `order_id` to `status` and returns its stream sequence.
async fn publish_status(scheduler: &Scheduler, order_id: &str, status: &str) -> u64 {
    let changed = OrderStatusChanged {
        order_id: order_id.to_owned(),
        previous_status: "ISSUED".to_owned(),
        status: status.to_owned(),
        entrust_status: status.to_owned(),
        ..OrderStatusChanged::default()
    };
    let envelope = Envelope {
        event_id: Uuid::now_v7().to_string(),
        event_type: OrderStatusChanged::TYPE.full_name.to_owned(),
        occurred_at: Some(timestamp(NOW)),
        producer: "order-manager".to_owned(),
        aggregate_type: OrderStatusChanged::TYPE.aggregate.to_owned(),
        aggregate_id: order_id.to_owned(),
        sequence: 2,
        schema_version: 1,
        payload: changed.encode_to_vec(),
    };
    let subject = OrderStatusChanged::TYPE.subject(&scheduler.nats.settings.subject_prefix);
    scheduler
        .nats
        .jetstream
        .publish(subject, events::encode_envelope(&envelope).into())
        .await
        .expect("the publish is sent")
        .await
        .expect("JetStream stores the event")
        .sequence
}

async fn revoked_at(scheduler: &Scheduler, certificate_id: &str) -> Option<OffsetDateTime> {
    sqlx::query_scalar("SELECT revoked_at FROM certificate_expiries WHERE certificate_id = $1")
        .bind(Uuid::parse_str(certificate_id).expect("a UUID"))
        .fetch_one(&scheduler.db.pool)
        .await
        .expect("the expiry is recorded")
}

#[tokio::test]
async fn order_revoked_in_portal_stops_renewals() {
    let scheduler = Scheduler::start().await;
    let revoked = issued(Some(datetime!(2031-05-01 00:00:00 UTC)));
    let suspended = issued(Some(datetime!(2031-05-01 00:00:00 UTC)));
    scheduler.publish(&envelope(Uuid::now_v7(), &revoked)).await;
    let sequence = scheduler
        .publish(&envelope(Uuid::now_v7(), &suspended))
        .await;
    scheduler.wait_until_consumed(sequence).await;

    publish_status(&scheduler, &suspended.order_id, "SUSPENDED").await;
    publish_status(&scheduler, &revoked.order_id, "REVOKED").await;
    eventually("the revocation is recorded", || async {
        revoked_at(&scheduler, &revoked.certificate_id)
            .await
            .is_some()
    })
    .await;

    assert_eq!(
        revoked_at(&scheduler, &revoked.certificate_id).await,
        Some(NOW)
    );
    assert_eq!(
        revoked_at(&scheduler, &suspended.certificate_id).await,
        None
    );
    let due_at: Option<OffsetDateTime> =
        sqlx::query_scalar("SELECT due_at FROM certificate_expiries WHERE certificate_id = $1")
            .bind(Uuid::parse_str(&revoked.certificate_id).expect("a UUID"))
            .fetch_one(&scheduler.db.pool)
            .await
            .expect("the expiry is recorded");
    assert_eq!(due_at, None);
    scheduler.stop().await;
}
