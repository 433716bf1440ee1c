//! Auto-renewal policies in order-manager: RenewalPolicyChanged events, published on the real
//! stream as renewal-scheduler's outbox would, and the rejection of a manual renewal of an
//! order that an enabled policy covers.

use certitude_order_manager::renewal_policies::DURABLE_NAME;
use certitude_platform::events::{self, Envelope, Event};
use certitude_proto::events::v1::RenewalPolicyChanged;
use certitude_proto::order::v1::RenewOrderRequest;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{Harness, eventually};

/// Publishes the `sequence`-th event of policy `policy_id`, which applies to `order_id`, and
/// waits until order-manager's consumer acknowledged it.
async fn deliver(harness: &Harness, policy_id: Uuid, order_id: &str, sequence: u64, enabled: bool) {
    let payload = RenewalPolicyChanged {
        policy_id: policy_id.to_string(),
        order_id: order_id.to_owned(),
        enabled,
        actor: "policy-test".to_owned(),
        ..RenewalPolicyChanged::default()
    };
    let envelope = Envelope {
        event_id: Uuid::now_v7().to_string(),
        event_type: RenewalPolicyChanged::TYPE.full_name.to_owned(),
        occurred_at: Some(events::timestamp(time::OffsetDateTime::now_utc())),
        producer: "renewal-scheduler".to_owned(),
        aggregate_type: RenewalPolicyChanged::TYPE.aggregate.to_owned(),
        aggregate_id: policy_id.to_string(),
        sequence,
        schema_version: 1,
        payload: prost::Message::encode_to_vec(&payload),
    };
    let subject = RenewalPolicyChanged::TYPE.subject(&harness.nats.settings.subject_prefix);
    let stream_sequence = harness
        .nats
        .jetstream
        .publish(subject, events::encode_envelope(&envelope).into())
        .await
        .expect("the publish is sent")
        .await
        .expect("JetStream stores the event")
        .sequence;
    let stream = harness
        .nats
        .jetstream
        .get_stream(&harness.nats.settings.stream)
        .await
        .expect("the test stream exists");
    eventually("the policy consumer acknowledged the event", || {
        let stream = stream.clone();
        async move {
            match stream.consumer_info(DURABLE_NAME).await {
                Ok(info) => info.ack_floor.stream_sequence >= stream_sequence,
                Err(_) => false,
            }
        }
    })
    .await;
}

async fn renew(harness: &Harness, order_id: &str, policy_id: Option<Uuid>) -> Status {
    harness
        .client
        .clone()
        .renew_order(RenewOrderRequest {
            id: order_id.to_owned(),
            idempotency_key: format!("renew-{}", Uuid::now_v7()),
            renewal_policy_id: policy_id.map(|id| id.to_string()).unwrap_or_default(),
            ..RenewOrderRequest::default()
        })
        .await
        .expect_err("a certificate issued today is not renewed")
}

fn names_policy(status: &Status) -> bool {
    status.message().contains("auto-renewal policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_policy_rejects_manual_renewal() {
    let harness = Harness::start().await;
    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("policy-order", "www.example.com"))
        .await
        .expect("the order is placed")
        .into_inner();
    let order = harness.wait_for_status(&order.id, "ISSUED").await;
    let policy_id = Uuid::now_v7();

    deliver(&harness, policy_id, &order.id, 2, true).await;
    let manual = renew(&harness, &order.id, None).await;
    let scheduled = renew(&harness, &order.id, Some(policy_id)).await;

    assert_eq!(manual.code(), Code::FailedPrecondition);
    assert!(names_policy(&manual), "{}", manual.message());
    assert!(
        manual.message().contains(&policy_id.to_string()),
        "{}",
        manual.message()
    );
    assert!(!names_policy(&scheduled), "{}", scheduled.message());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_policy_event_is_ignored() {
    let harness = Harness::start().await;
    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("policy-order-stale", "www.example.com"))
        .await
        .expect("the order is placed")
        .into_inner();
    let order = harness.wait_for_status(&order.id, "ISSUED").await;
    let policy_id = Uuid::now_v7();

    deliver(&harness, policy_id, &order.id, 3, false).await;
    deliver(&harness, policy_id, &order.id, 2, true).await;
    let disabled = renew(&harness, &order.id, None).await;
    deliver(&harness, policy_id, &order.id, 4, true).await;
    let enabled = renew(&harness, &order.id, None).await;

    assert!(!names_policy(&disabled), "{}", disabled.message());
    assert!(names_policy(&enabled), "{}", enabled.message());
    harness.stop().await;
}
