//! Deployment locations through the gRPC API of a started inventory on the real Postgres and
//! NATS: recording, listing, confirming and removing them, and CertificateDeploymentRequired.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;

use certitude_proto::events::v1::CertificateDeploymentRequired;
use certitude_proto::inventory::v1::{
    AddDeploymentRequest, ConfirmDeploymentRequest, Deployment, ListDeploymentsRequest,
    RemoveCertificateRequest, RemoveDeploymentRequest,
};
use support::ca::TestCa;
use support::{CURRENT, Inventory, issued_event};
use tonic::{Code, Status};
use uuid::Uuid;

async fn stored_certificate(inventory: &Inventory, ca: &TestCa, serial: u32) -> String {
    let event = issued_event(ca, &format!("host{serial}.example.com"), serial, CURRENT);
    inventory.store(&event).await;
    event.certificate_id
}

fn location(certificate_id: &str, host: &str) -> AddDeploymentRequest {
    AddDeploymentRequest {
        certificate_id: certificate_id.to_owned(),
        host: host.to_owned(),
        port: 443,
        actor: "ops".to_owned(),
        ..AddDeploymentRequest::default()
    }
}

async fn add(inventory: &Inventory, request: AddDeploymentRequest) -> Result<Deployment, Status> {
    inventory
        .client
        .clone()
        .add_deployment(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn list(inventory: &Inventory, request: ListDeploymentsRequest) -> Vec<Deployment> {
    inventory
        .client
        .clone()
        .list_deployments(request)
        .await
        .expect("ListDeployments succeeds")
        .into_inner()
        .deployments
}

fn needing() -> ListDeploymentsRequest {
    ListDeploymentsRequest {
        needs_deployment: Some(true),
        ..ListDeploymentsRequest::default()
    }
}

#[tokio::test]
async fn deployment_is_added_confirmed_and_removed() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_id = stored_certificate(&inventory, &ca, 1).await;

    let needed = add(
        &inventory,
        AddDeploymentRequest {
            needs_deployment: true,
            note: "new front door".to_owned(),
            ..location(&certificate_id, "LB1.Example.com")
        },
    )
    .await
    .unwrap();
    let deployed = add(
        &inventory,
        AddDeploymentRequest {
            certificate_id: certificate_id.clone(),
            path: "/etc/ssl/shop.pem".to_owned(),
            system: "nginx on web1".to_owned(),
            actor: "ops".to_owned(),
            ..AddDeploymentRequest::default()
        },
    )
    .await
    .unwrap();

    assert_eq!(needed.host, "lb1.example.com");
    assert_eq!(needed.port, 443);
    assert!(needed.needs_deployment);
    assert_eq!(needed.confirmed_at, "");
    assert_eq!(needed.created_by, "ops");
    assert_eq!(needed.certificate_common_name, "host1.example.com");
    assert_eq!(needed.certificate_not_after, "2031-05-01T00:00:00Z");
    assert!(!deployed.needs_deployment);
    assert_eq!(deployed.confirmed_by, "ops");
    assert_eq!(deployed.confirmed_at, "2030-06-01T12:00:00Z");
    let required = inventory
        .wait_for_events::<CertificateDeploymentRequired>(1)
        .await;
    assert_eq!(required.len(), 1);
    assert_eq!(required[0].certificate_id, certificate_id);
    assert_eq!(required[0].locations.len(), 1);
    assert_eq!(required[0].locations[0].id, needed.id);
    assert_eq!(required[0].locations[0].host, "lb1.example.com");
    assert_eq!(required[0].locations[0].port, 443);
    assert_eq!(required[0].locations[0].note, "new front door");

    let of_certificate = list(
        &inventory,
        ListDeploymentsRequest {
            certificate_id: certificate_id.clone(),
            ..ListDeploymentsRequest::default()
        },
    )
    .await;
    assert_eq!(of_certificate, [needed.clone(), deployed.clone()]);
    assert_eq!(
        list(&inventory, needing()).await,
        std::slice::from_ref(&needed)
    );

    let confirm = ConfirmDeploymentRequest {
        certificate_id: certificate_id.clone(),
        deployment_id: needed.id.clone(),
        actor: "deployer".to_owned(),
    };
    let confirmed = inventory
        .client
        .clone()
        .confirm_deployment(confirm.clone())
        .await
        .unwrap()
        .into_inner();
    inventory.clock.advance(time::Duration::hours(1));
    let confirmed_again = inventory
        .client
        .clone()
        .confirm_deployment(confirm)
        .await
        .unwrap()
        .into_inner();

    assert!(!confirmed.needs_deployment);
    assert_eq!(confirmed.confirmed_by, "deployer");
    assert_eq!(confirmed.confirmed_at, "2030-06-01T12:00:00Z");
    assert_eq!(confirmed_again, confirmed);
    assert!(list(&inventory, needing()).await.is_empty());
    assert_eq!(
        inventory
            .events::<CertificateDeploymentRequired>()
            .await
            .len(),
        1
    );

    let removed = inventory
        .client
        .clone()
        .remove_deployment(RemoveDeploymentRequest {
            certificate_id: certificate_id.clone(),
            deployment_id: deployed.id.clone(),
            actor: "ops".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed, deployed);
    let remaining = list(
        &inventory,
        ListDeploymentsRequest {
            certificate_id,
            ..ListDeploymentsRequest::default()
        },
    )
    .await;
    assert_eq!(remaining, [confirmed]);
    inventory.stop().await;
}

#[tokio::test]
async fn rejected_deployments_name_the_reason() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let certificate_id = stored_certificate(&inventory, &ca, 1).await;
    let removed_id = stored_certificate(&inventory, &ca, 2).await;
    inventory
        .client
        .clone()
        .remove_certificate(RemoveCertificateRequest {
            id: removed_id.clone(),
            actor: "admin".to_owned(),
        })
        .await
        .unwrap();
    let first = add(&inventory, location(&certificate_id, "lb1.example.com"))
        .await
        .unwrap();

    let duplicate = add(&inventory, location(&certificate_id, "LB1.example.com "))
        .await
        .unwrap_err();
    let unknown = add(
        &inventory,
        location(&Uuid::now_v7().to_string(), "lb1.example.com"),
    )
    .await
    .unwrap_err();
    let of_removed = add(&inventory, location(&removed_id, "lb1.example.com"))
        .await
        .unwrap_err();
    let port_without_host = add(
        &inventory,
        AddDeploymentRequest {
            host: String::new(),
            path: "/etc/ssl/a.pem".to_owned(),
            ..location(&certificate_id, "")
        },
    )
    .await
    .unwrap_err();
    let bad_certificate_id = add(&inventory, location("cert-1", "lb1.example.com"))
        .await
        .unwrap_err();
    let wrong_certificate = inventory
        .client
        .clone()
        .confirm_deployment(ConfirmDeploymentRequest {
            certificate_id: removed_id,
            deployment_id: first.id.clone(),
            actor: String::new(),
        })
        .await
        .unwrap_err();

    assert_eq!(duplicate.code(), Code::AlreadyExists);
    assert!(
        duplicate.message().contains(&first.id),
        "{}",
        duplicate.message()
    );
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(of_removed.code(), Code::FailedPrecondition);
    assert_eq!(port_without_host.code(), Code::InvalidArgument);
    assert!(
        port_without_host.message().starts_with("port: "),
        "{}",
        port_without_host.message()
    );
    assert_eq!(bad_certificate_id.code(), Code::InvalidArgument);
    assert!(
        bad_certificate_id.message().starts_with("certificate_id: "),
        "{}",
        bad_certificate_id.message()
    );
    assert_eq!(wrong_certificate.code(), Code::NotFound);
    inventory.stop().await;
}

#[tokio::test]
async fn needed_deployments_page_across_certificates() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let first = stored_certificate(&inventory, &ca, 1).await;
    let second = stored_certificate(&inventory, &ca, 2).await;
    let removed = stored_certificate(&inventory, &ca, 3).await;
    let mut expected = Vec::new();
    for (certificate_id, host) in [
        (&first, "a.example.com"),
        (&second, "b.example.com"),
        (&first, "c.example.com"),
        (&second, "d.example.com"),
        (&first, "e.example.com"),
    ] {
        let deployment = add(
            &inventory,
            AddDeploymentRequest {
                needs_deployment: true,
                ..location(certificate_id, host)
            },
        )
        .await
        .unwrap();
        expected.push(deployment.id);
    }
    add(
        &inventory,
        AddDeploymentRequest {
            needs_deployment: true,
            ..location(&removed, "z.example.com")
        },
    )
    .await
    .unwrap();
    inventory
        .client
        .clone()
        .remove_certificate(RemoveCertificateRequest {
            id: removed,
            actor: "admin".to_owned(),
        })
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = inventory
            .client
            .clone()
            .list_deployments(ListDeploymentsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                ..needing()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.deployments.into_iter().map(|deployment| deployment.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    inventory.stop().await;
}
