//! The events credential-sync publishes: CredentialAdded and CatalogSynced, each once.

use std::collections::HashSet;

use certitude_platform::events::{decode_envelope, decode_payload};
use certitude_proto::events::v1::{CatalogSynced, CredentialAdded};
use entrust_sim::Scenario;

use crate::support::{
    DEMO_DOMAINS, DEMO_KEY, DEMO_ORGANIZATIONS, DEMO_PRODUCTS, TestService, demo_request,
    eventually, finished_run, first_run, header, start_simulator,
};

#[tokio::test]
async fn added_credential_and_its_sync_are_published_once() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    let added_subject = service.subject("credential.added");
    let synced_subject = service.subject("catalog.synced");

    eventually("both events are on the stream", || async {
        !service.messages_on(&added_subject).await.is_empty()
            && !service.messages_on(&synced_subject).await.is_empty()
    })
    .await;
    let unpublished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&service.db.pool)
            .await
            .expect("the outbox can be counted");
    let added = service.messages_on(&added_subject).await;
    let synced = service.messages_on(&synced_subject).await;

    assert_eq!(unpublished, 0);
    for messages in [&added, &synced] {
        let ids: HashSet<Option<&str>> = messages
            .iter()
            .map(|message| header(message, "Nats-Msg-Id"))
            .collect();
        assert_eq!(messages.len(), 1);
        assert_eq!(ids.len(), 1);
        assert!(!ids.contains(&None));
        assert!(
            !messages[0]
                .payload
                .windows(DEMO_KEY.len())
                .any(|window| window == DEMO_KEY.as_bytes())
        );
    }

    let envelope = decode_envelope(&added[0].payload).expect("the body is an envelope");
    let payload: CredentialAdded = decode_payload(&envelope).expect("the payload decodes");
    assert_eq!(envelope.producer, "credential-sync");
    assert_eq!(envelope.aggregate_id, credential.id);
    assert_eq!(payload.credential_id, credential.id);
    assert_eq!(payload.name, "demo");
    assert_eq!(payload.username, "demo-admin");
    assert!(payload.is_administrator);

    let envelope = decode_envelope(&synced[0].payload).expect("the body is an envelope");
    let payload: CatalogSynced = decode_payload(&envelope).expect("the payload decodes");
    assert_eq!(payload.credential_id, credential.id);
    assert_eq!(payload.sync_run_id, run.id);
    assert_eq!(payload.outcome, "succeeded");
    assert_eq!(payload.trigger, "credential_added");
    assert_eq!(payload.organizations as usize, DEMO_ORGANIZATIONS);
    assert_eq!(payload.domains as usize, DEMO_DOMAINS);
    assert_eq!(payload.products as usize, DEMO_PRODUCTS);
    assert!(payload.error.is_empty());
    service.stop().await;
    simulator.shutdown().await;
}
