//! Event streams on a 3-node NATS JetStream cluster: a service connects with every member in
//! `NATS_URL`, the platform creates the streams with 3 replicas, and an event published after
//! the stream leader's node crashed is stored all the same.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use certitude_platform::events::ensure_streams;
use certitude_platform::service::connect_nats;
use certitude_platform::testing::unique_suffix;
use certitude_system_tests::nats_cluster::NatsCluster;

/// Maximum wait for the stream to elect a new leader after a node crashed.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes `payload` on `subject` until JetStream acknowledges it, and returns its sequence.
async fn publish_until_stored(
    jetstream: &jetstream::Context,
    subject: &str,
    payload: &'static [u8],
) -> u64 {
    let deadline = Instant::now() + FAILOVER_TIMEOUT;
    loop {
        let attempt = async {
            jetstream
                .publish(subject.to_owned(), payload.into())
                .await?
                .await
        };
        match attempt.await {
            Ok(ack) => return ack.sequence,
            Err(error) => assert!(
                Instant::now() < deadline,
                "publishing on {subject} failed for {FAILOVER_TIMEOUT:?}: {error}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stream_info(jetstream: &jetstream::Context, name: &str) -> stream::Info {
    let mut stream = jetstream
        .get_stream(name)
        .await
        .unwrap_or_else(|error| panic!("stream {name} exists: {error}"));
    stream
        .info()
        .await
        .unwrap_or_else(|error| panic!("stream {name} returns its info: {error}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicated_stream_survives_leader_crash() {
    let mut cluster = NatsCluster::start(3).await;
    let suffix = unique_suffix();
    let stream = format!("CLUSTER_{suffix}");
    let prefix = format!("cluster_{suffix}");
    let config = certitude_renewal_scheduler::Config::from_pairs([
        // Never connected to: connect_nats reads only the NATS settings.
        ("DATABASE_URL", "postgres://unused@127.0.0.1:5432/unused"),
        ("NATS_URL", cluster.url().as_str()),
        ("CERTITUDE_EVENT_STREAM", stream.as_str()),
        ("CERTITUDE_SUBJECT_PREFIX", prefix.as_str()),
        ("CERTITUDE_DEAD_LETTER_STREAM", &format!("{stream}_DLQ")),
        ("CERTITUDE_EVENT_STREAM_REPLICAS", "3"),
    ])
    .expect("the settings are valid");
    let client = connect_nats(&config.common, "nats-cluster-test")
        .await
        .expect("a service connects with the comma-separated cluster URLs");
    let jetstream = jetstream::new(client);
    let settings = config.common.events_settings();
    let subject = format!("{}.v1.order.created", settings.subject_prefix);

    ensure_streams(&jetstream, &settings)
        .await
        .expect("the streams are created with 3 replicas");
    let first = publish_until_stored(&jetstream, &subject, b"before the crash").await;
    let info = stream_info(&jetstream, &settings.stream).await;
    let dead_letters = stream_info(&jetstream, &settings.dead_letter_stream).await;
    let leader = info
        .cluster
        .as_ref()
        .and_then(|cluster| cluster.leader.clone())
        .expect("the replicated stream has a leader");
    let leader_index = cluster
        .node_index(&leader)
        .unwrap_or_else(|| panic!("the leader {leader} is a node of the cluster"));
    cluster.kill(leader_index).await;
    let second = publish_until_stored(&jetstream, &subject, b"after the crash").await;
    let stream = jetstream
        .get_stream(&settings.stream)
        .await
        .expect("the stream is still there");
    let stored_first = stream
        .get_raw_message(first)
        .await
        .expect("the first message is readable");
    let stored_second = stream
        .get_raw_message(second)
        .await
        .expect("the second message is readable");
    let after = stream_info(&jetstream, &settings.stream).await;

    assert_eq!(info.config.num_replicas, 3);
    assert_eq!(dead_letters.config.num_replicas, 3);
    assert_eq!(
        info.cluster.as_ref().map(|cluster| cluster.replicas.len()),
        Some(2),
        "the leader and two more copies"
    );
    assert_eq!(second, first + 1);
    assert_eq!(&stored_first.payload[..], b"before the crash");
    assert_eq!(&stored_second.payload[..], b"after the crash");
    let new_leader = after.cluster.and_then(|cluster| cluster.leader);
    assert!(
        new_leader.is_some_and(|name| name != cluster.node_name(leader_index)),
        "another node leads the stream after the crash"
    );
}
