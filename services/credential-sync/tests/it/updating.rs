//! UpdateCredential: a new secret is verified against Entrust before it replaces the old one,
//! and each change emits CredentialUpdated without any secret.

use certitude_proto::credential::v1::{
    Credential, ResolveCredentialRequest, UpdateCredentialRequest,
};
use certitude_proto::events::v1::CredentialUpdated;
use entrust_sim::Scenario;
use secrecy::SecretString;
use tonic::Code;

use crate::proxy::GatedProxy;
use crate::support::{
    Client, DEMO_KEY, TestService, demo_request, finished_run, first_run, origin, start_simulator,
};

const ROTATED_KEY: &str = "rotated-admin-key";

fn update(id: &str) -> UpdateCredentialRequest {
    UpdateCredentialRequest {
        id: id.to_owned(),
        ..UpdateCredentialRequest::default()
    }
}

async fn resolved_key(client: &mut Client, id: &str) -> String {
    client
        .resolve_credential(ResolveCredentialRequest { id: id.to_owned() })
        .await
        .expect("the credential resolves")
        .into_inner()
        .api_key
}

async fn add_demo(service: &mut TestService, name: &str, url: &str) -> Credential {
    let credential = service
        .client
        .add_credential(demo_request(name, url))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    credential
}

#[tokio::test]
async fn wrong_new_key_keeps_old_key() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = add_demo(&mut service, "demo", &simulator.base_url()).await;

    let status = service
        .client
        .update_credential(UpdateCredentialRequest {
            api_key: Some("not-the-demo-key".to_owned()),
            name: Some("renamed".to_owned()),
            ..update(&credential.id)
        })
        .await
        .expect_err("Entrust rejects the new key");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("api_key: Entrust rejected the user name or API key"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains("not-the-demo-key"));
    assert_eq!(
        resolved_key(&mut service.client, &credential.id).await,
        DEMO_KEY
    );
    let stored: String = sqlx::query_scalar("SELECT name FROM credentials")
        .fetch_one(&service.db.pool)
        .await
        .expect("the credential is stored");
    assert_eq!(stored, "demo");
    assert!(service.published::<CredentialUpdated>().await.is_empty());
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn rotated_key_is_verified_stored_and_announced() {
    let demo = start_simulator(Scenario::demo()).await;
    let mut rotated = Scenario::demo();
    rotated.api_users[0].api_key = SecretString::from(ROTATED_KEY);
    let rotated = start_simulator(rotated).await;
    let proxy = GatedProxy::start(&origin(&demo)).await;
    let mut service = TestService::start().await;
    let credential = add_demo(&mut service, "demo", &proxy.base_url()).await;

    // Act: the key is rotated in the Entrust portal, then in Certitude.
    proxy.set_upstream(&origin(&rotated));
    let updated = service
        .client
        .update_credential(UpdateCredentialRequest {
            api_key: Some(ROTATED_KEY.to_owned()),
            ..update(&credential.id)
        })
        .await
        .expect("Entrust accepts the rotated key")
        .into_inner();

    assert_eq!(updated.name, "demo");
    assert_ne!(updated.updated_at, credential.updated_at);
    assert_eq!(
        resolved_key(&mut service.client, &credential.id).await,
        ROTATED_KEY
    );
    let (row_text,): (String,) = sqlx::query_as("SELECT c::text FROM credentials c")
        .fetch_one(&service.db.pool)
        .await
        .expect("the credential is stored");
    assert!(!row_text.contains(ROTATED_KEY), "{row_text}");
    let events = service.published::<CredentialUpdated>().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].credential_id, credential.id);
    assert_eq!(events[0].changed, ["api_key"]);
    assert!(!format!("{:?}", events[0]).contains(ROTATED_KEY));
    let run = crate::catalog::sync_now(&mut service.client, &credential.id).await;
    assert_eq!(run.state, "succeeded", "{}", run.error);
    service.stop().await;
    demo.shutdown().await;
    rotated.shutdown().await;
}

#[tokio::test]
async fn rename_and_flag_change_need_no_entrust_call() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = add_demo(&mut service, "demo", &simulator.base_url()).await;
    add_demo(&mut service, "taken", &simulator.base_url()).await;
    simulator.clear_request_log();

    let updated = service
        .client
        .update_credential(UpdateCredentialRequest {
            name: Some("production".to_owned()),
            is_administrator: Some(false),
            ..update(&credential.id)
        })
        .await
        .expect("the credential is renamed")
        .into_inner();
    let taken = service
        .client
        .update_credential(UpdateCredentialRequest {
            name: Some("taken".to_owned()),
            ..update(&credential.id)
        })
        .await
        .expect_err("another credential has the name");
    let unchanged = service
        .client
        .update_credential(update(&credential.id))
        .await
        .expect("an empty update returns the credential")
        .into_inner();

    assert_eq!(updated.name, "production");
    assert!(!updated.is_administrator);
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(unchanged, updated);
    assert!(simulator.request_log().is_empty());
    let events = service.published::<CredentialUpdated>().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].changed, ["name", "is_administrator"]);
    assert_eq!(events[0].name, "production");
    assert!(!events[0].is_administrator);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn client_certificate_is_replaced_then_removed() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = add_demo(&mut service, "demo", &simulator.base_url()).await;
    let certified = rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()])
        .expect("a certificate can be generated");
    let key_pem = certified.signing_key.serialize_pem();

    let replaced = service
        .client
        .update_credential(UpdateCredentialRequest {
            client_certificate_pem: Some(certified.cert.pem()),
            client_key_pem: Some(key_pem.clone()),
            ..update(&credential.id)
        })
        .await
        .expect("the certificate is replaced")
        .into_inner();
    let resolved = service
        .client
        .resolve_credential(ResolveCredentialRequest {
            id: credential.id.clone(),
        })
        .await
        .expect("the credential resolves")
        .into_inner();
    let removed = service
        .client
        .update_credential(UpdateCredentialRequest {
            remove_client_certificate: true,
            ..update(&credential.id)
        })
        .await
        .expect("the certificate is removed")
        .into_inner();

    assert!(replaced.has_client_certificate);
    assert_eq!(resolved.client_key_pem, key_pem);
    assert_eq!(resolved.api_key, DEMO_KEY);
    assert!(!removed.has_client_certificate);
    let client_key: Option<Vec<u8>> = sqlx::query_scalar("SELECT client_key FROM credentials")
        .fetch_one(&service.db.pool)
        .await
        .expect("the credential is stored");
    assert_eq!(client_key, None);
    let events = service.published::<CredentialUpdated>().await;
    let changed: Vec<Vec<String>> = events.iter().map(|event| event.changed.clone()).collect();
    assert_eq!(changed, [["client_certificate"], ["client_certificate"]]);
    assert!(events[0].has_client_certificate);
    assert!(!events[1].has_client_certificate);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn update_of_unknown_credential_is_not_found() {
    let mut service = TestService::start().await;

    let status = service
        .client
        .update_credential(UpdateCredentialRequest {
            name: Some("renamed".to_owned()),
            ..update(&uuid::Uuid::now_v7().to_string())
        })
        .await
        .expect_err("no credential has the id");

    assert_eq!(status.code(), Code::NotFound);
    service.stop().await;
}
