//! The administrator right: an Entrust 403 to an administrator action, reported by
//! order-manager or met by a sync, marks the credential until is_administrator is set again.

use certitude_proto::credential::v1::{
    CatalogRequest, Credential, GetCredentialRequest, ListCredentialsRequest,
    ReportPermissionDeniedRequest, UpdateCredentialRequest,
};
use certitude_proto::events::v1::CredentialUpdated;
use entrust_sim::Scenario;
use tonic::Code;

use crate::catalog::sync_now;
use crate::proxy::GatedProxy;
use crate::support::{
    DEMO_PRODUCTS, TestService, demo_request, finished_run, first_run, origin, start_simulator,
};

fn report(credential_id: &str, action: &str) -> ReportPermissionDeniedRequest {
    ReportPermissionDeniedRequest {
        credential_id: credential_id.to_owned(),
        action: action.to_owned(),
    }
}

async fn get(service: &mut TestService, id: &str) -> Credential {
    service
        .client
        .get_credential(GetCredentialRequest { id: id.to_owned() })
        .await
        .expect("the credential exists")
        .into_inner()
}

#[tokio::test]
async fn reported_denial_marks_credential_until_flag_is_set() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    assert!(!credential.lacks_administrator_right);

    let marked = service
        .client
        .report_permission_denied(report(&credential.id, "approve order 12345"))
        .await
        .expect("the denial is recorded")
        .into_inner();
    let again = service
        .client
        .report_permission_denied(report(&credential.id, "revoke order 777"))
        .await
        .expect("a second denial is accepted")
        .into_inner();
    let listed = service
        .client
        .list_credentials(ListCredentialsRequest::default())
        .await
        .expect("the credentials are listed")
        .into_inner()
        .credentials;

    assert!(marked.lacks_administrator_right);
    assert!(!marked.administrator_right_missing_since.is_empty());
    assert_eq!(marked.denied_administrator_action, "approve order 12345");
    let message = &marked.administrator_right_message;
    assert!(
        message.starts_with("Entrust refused the administrator action \"approve order 12345\""),
        "{message}"
    );
    assert!(message.contains("set is_administrator"), "{message}");
    assert_eq!(again, marked);
    assert_eq!(listed, vec![marked.clone()]);
    assert!(marked.is_administrator);

    // Act: the right was granted in the Entrust portal, and the user says so.
    let cleared = service
        .client
        .update_credential(UpdateCredentialRequest {
            id: credential.id.clone(),
            is_administrator: Some(true),
            ..UpdateCredentialRequest::default()
        })
        .await
        .expect("the flag is set")
        .into_inner();

    assert!(!cleared.lacks_administrator_right);
    assert!(cleared.administrator_right_missing_since.is_empty());
    assert!(cleared.administrator_right_message.is_empty());
    let events = service.published::<CredentialUpdated>().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].changed, ["administrator_right"]);
    assert!(events[0].lacks_administrator_right);
    assert_eq!(events[0].denied_administrator_action, "approve order 12345");
    assert_eq!(
        events[0].administrator_right_missing_since,
        marked.administrator_right_missing_since
    );
    assert_eq!(events[1].changed, ["administrator_right"]);
    assert!(!events[1].lacks_administrator_right);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn invalid_reports_are_rejected() {
    let mut service = TestService::start().await;

    let blank = service
        .client
        .report_permission_denied(report(&uuid::Uuid::now_v7().to_string(), "  "))
        .await
        .expect_err("the action is blank");
    let unknown = service
        .client
        .report_permission_denied(report(&uuid::Uuid::now_v7().to_string(), "approve"))
        .await
        .expect_err("no credential has the id");

    assert_eq!(blank.code(), Code::InvalidArgument);
    assert!(
        blank.message().starts_with("action: "),
        "{}",
        blank.message()
    );
    assert_eq!(unknown.code(), Code::NotFound);
    service.stop().await;
}

#[tokio::test]
async fn sync_denied_by_entrust_marks_the_credential() {
    let simulator = start_simulator(Scenario::demo()).await;
    let proxy = GatedProxy::start(&origin(&simulator)).await;
    let mut service = TestService::start().await;
    let credential = service
        .client
        .add_credential(demo_request("demo", &proxy.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;

    // Act: Entrust stops letting the API user read the inventory.
    proxy.forbid("/inventories");
    let run = sync_now(&mut service.client, &credential.id).await;

    assert_eq!(run.state, "partial");
    assert!(run.error.starts_with("products: "), "{}", run.error);
    assert!(run.error.contains("HTTP 403"), "{}", run.error);
    assert_eq!(run.products, 0);
    let marked = get(&mut service, &credential.id).await;
    assert!(marked.lacks_administrator_right);
    assert_eq!(marked.denied_administrator_action, "GET /inventories");
    let products = service
        .client
        .list_products(CatalogRequest {
            credential_id: credential.id.clone(),
            ..CatalogRequest::default()
        })
        .await
        .expect("the products are listed")
        .into_inner()
        .products;
    assert_eq!(products.len(), DEMO_PRODUCTS);
    let events = service.published::<CredentialUpdated>().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].changed, ["administrator_right"]);
    service.stop().await;
    simulator.shutdown().await;
}
