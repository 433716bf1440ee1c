//! Renewal and reissue lineage against a started inventory on the real Postgres and NATS:
//! CertificateIssued events with replaces_certificate_id and replacement go through the stream,
//! and the result is read through the gRPC API and from the stream.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod support;

use certitude_proto::events::v1::{
    CertificateIssued, CertificateReissued, CertificateRenewed, OrderStatusChanged,
};
use certitude_proto::inventory::v1::{
    AddDeploymentRequest, Deployment, GetCertificateRequest, ListDeploymentsRequest,
};
use support::ca::TestCa;
use support::{CURRENT, Inventory, STATUS_DURABLE, issued_event};
use uuid::Uuid;

async fn add_deployment(
    inventory: &Inventory,
    certificate_id: &str,
    host: &str,
    needs_deployment: bool,
) -> Deployment {
    inventory
        .client
        .clone()
        .add_deployment(AddDeploymentRequest {
            certificate_id: certificate_id.to_owned(),
            host: host.to_owned(),
            port: 443,
            system: "haproxy".to_owned(),
            note: "front door".to_owned(),
            needs_deployment,
            actor: "ops".to_owned(),
            ..AddDeploymentRequest::default()
        })
        .await
        .expect("AddDeployment succeeds")
        .into_inner()
}

async fn deployments_of(inventory: &Inventory, certificate_id: &str) -> Vec<Deployment> {
    inventory
        .client
        .clone()
        .list_deployments(ListDeploymentsRequest {
            certificate_id: certificate_id.to_owned(),
            ..ListDeploymentsRequest::default()
        })
        .await
        .expect("ListDeployments succeeds")
        .into_inner()
        .deployments
}

fn replacing(
    previous: &CertificateIssued,
    replacement: &str,
    next: CertificateIssued,
) -> CertificateIssued {
    CertificateIssued {
        replaces_certificate_id: previous.certificate_id.clone(),
        replacement: replacement.to_owned(),
        ..next
    }
}

#[tokio::test]
async fn renewal_supersedes_and_inherits_locations() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;
    let deployed = add_deployment(
        &inventory,
        &original.certificate_id,
        "lb1.example.com",
        false,
    )
    .await;
    let pending = add_deployment(
        &inventory,
        &original.certificate_id,
        "lb2.example.com",
        true,
    )
    .await;

    let renewal = replacing(
        &original,
        "renewal",
        issued_event(&ca, "shop.example.com", 2, CURRENT),
    );
    inventory.store(&renewal).await;

    let previous = inventory.certificate(&original.certificate_id).await;
    assert_eq!(previous.status, "superseded");
    assert_eq!(previous.superseded_by, renewal.certificate_id);
    assert_eq!(previous.inventory_state, "held");
    let current = inventory.certificate(&renewal.certificate_id).await;
    assert_eq!(current.status, "active");
    assert_eq!(current.replaces_certificate_id, original.certificate_id);
    assert_eq!(current.replacement, "renewal");
    assert_eq!(current.superseded_by, "");

    let inherited = deployments_of(&inventory, &renewal.certificate_id).await;
    assert_eq!(inherited.len(), 2);
    assert_eq!(inherited[0].host, "lb1.example.com");
    assert_eq!(inherited[0].port, 443);
    assert_eq!(inherited[0].system, "haproxy");
    assert_eq!(inherited[0].note, "front door");
    assert_eq!(inherited[0].inherited_from, deployed.id);
    assert_eq!(inherited[1].inherited_from, pending.id);
    assert!(inherited.iter().all(|location| location.needs_deployment));
    assert!(
        inherited
            .iter()
            .all(|location| location.confirmed_at.is_empty())
    );
    assert_eq!(
        deployments_of(&inventory, &original.certificate_id)
            .await
            .len(),
        2
    );

    let renewed = inventory.wait_for_events::<CertificateRenewed>(1).await;
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0].certificate_id, renewal.certificate_id);
    assert_eq!(renewed[0].previous_certificate_id, original.certificate_id);
    assert_eq!(renewed[0].order_id, renewal.order_id);
    assert_eq!(renewed[0].serial_number, "2");
    assert_eq!(renewed[0].not_after, renewal.not_after);
    let locations: Vec<(&str, &str)> = renewed[0]
        .locations
        .iter()
        .map(|location| (location.id.as_str(), location.host.as_str()))
        .collect();
    assert_eq!(
        locations,
        [
            (inherited[0].id.as_str(), "lb1.example.com"),
            (inherited[1].id.as_str(), "lb2.example.com")
        ]
    );
    assert!(inventory.events::<CertificateReissued>().await.is_empty());
    inventory.stop().await;
}

#[tokio::test]
async fn reissue_supersedes_and_revokes() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;
    add_deployment(
        &inventory,
        &original.certificate_id,
        "lb1.example.com",
        false,
    )
    .await;

    // Entrust reissues on the same order.
    let reissue = replacing(
        &original,
        "reissue",
        CertificateIssued {
            order_id: original.order_id.clone(),
            ..issued_event(&ca, "shop.example.com", 2, CURRENT)
        },
    );
    inventory.store(&reissue).await;

    let previous = inventory.certificate(&original.certificate_id).await;
    assert_eq!(previous.status, "revoked");
    assert_eq!(previous.superseded_by, reissue.certificate_id);
    let current = inventory.certificate(&reissue.certificate_id).await;
    assert_eq!(current.status, "active");
    assert_eq!(current.replacement, "reissue");
    let inherited = deployments_of(&inventory, &reissue.certificate_id).await;
    assert_eq!(inherited.len(), 1);
    assert!(inherited[0].needs_deployment);

    let reissued = inventory.wait_for_events::<CertificateReissued>(1).await;
    assert_eq!(reissued.len(), 1);
    assert_eq!(reissued[0].certificate_id, reissue.certificate_id);
    assert_eq!(reissued[0].previous_certificate_id, original.certificate_id);
    assert_eq!(reissued[0].order_id, original.order_id);
    assert_eq!(reissued[0].locations.len(), 1);
    assert_eq!(reissued[0].locations[0].id, inherited[0].id);
    assert_eq!(reissued[0].locations[0].host, "lb1.example.com");
    assert!(inventory.events::<CertificateRenewed>().await.is_empty());

    // A later state of the shared order describes the new certificate only.
    let changed = OrderStatusChanged {
        order_id: original.order_id.clone(),
        previous_status: "ISSUED".to_owned(),
        status: "ISSUED".to_owned(),
        ..OrderStatusChanged::default()
    };
    let (_, sequence) = inventory.publish_status_changed(&changed, 2).await;
    inventory
        .wait_until_consumed_by(STATUS_DURABLE, sequence)
        .await;
    assert_eq!(
        inventory.certificate(&original.certificate_id).await.status,
        "revoked"
    );
    let by_order = inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            order_id: original.order_id.clone(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect("the order has a certificate")
        .into_inner();
    assert_eq!(by_order.id, reissue.certificate_id);
    inventory.stop().await;
}

#[tokio::test]
async fn revoked_order_revokes_its_superseded_certificate() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;
    let renewal = replacing(
        &original,
        "renewal",
        issued_event(&ca, "shop.example.com", 2, CURRENT),
    );
    inventory.store(&renewal).await;

    let changed = OrderStatusChanged {
        order_id: original.order_id.clone(),
        previous_status: "ISSUED".to_owned(),
        status: "REVOKED".to_owned(),
        ..OrderStatusChanged::default()
    };
    let (_, sequence) = inventory.publish_status_changed(&changed, 2).await;
    inventory
        .wait_until_consumed_by(STATUS_DURABLE, sequence)
        .await;

    let previous = inventory.certificate(&original.certificate_id).await;
    assert_eq!(previous.status, "revoked");
    assert_eq!(previous.superseded_by, renewal.certificate_id);
    assert_eq!(
        inventory.certificate(&renewal.certificate_id).await.status,
        "active"
    );
    inventory.stop().await;
}

#[tokio::test]
async fn predecessor_arriving_after_replacement_is_history() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    let reissue = replacing(
        &original,
        "reissue",
        issued_event(&ca, "shop.example.com", 2, CURRENT),
    );

    inventory.store(&reissue).await;
    inventory.store(&original).await;

    let previous = inventory.certificate(&original.certificate_id).await;
    assert_eq!(previous.status, "revoked");
    assert_eq!(previous.superseded_by, reissue.certificate_id);
    assert_eq!(previous.inventory_state, "held");
    assert_eq!(inventory.license().await.held, 1);
    inventory.stop().await;
}

#[tokio::test]
async fn replacement_without_kind_is_read_as_renewal() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let original = issued_event(&ca, "shop.example.com", 1, CURRENT);
    inventory.store(&original).await;
    let unknown_predecessor = Uuid::now_v7().to_string();
    let renewal = replacing(
        &original,
        "",
        issued_event(&ca, "shop.example.com", 2, CURRENT),
    );
    let orphan = CertificateIssued {
        replaces_certificate_id: unknown_predecessor,
        replacement: "renewal".to_owned(),
        ..issued_event(&ca, "other.example.com", 3, CURRENT)
    };

    inventory.store(&renewal).await;
    inventory.store(&orphan).await;

    assert_eq!(
        inventory.certificate(&original.certificate_id).await.status,
        "superseded"
    );
    assert_eq!(
        inventory
            .certificate(&renewal.certificate_id)
            .await
            .replacement,
        "renewal"
    );
    let stored_orphan = inventory.certificate(&orphan.certificate_id).await;
    assert_eq!(stored_orphan.inventory_state, "held");
    assert_eq!(stored_orphan.status, "active");
    assert_eq!(inventory.license().await.held, 2);
    inventory.stop().await;
}

#[tokio::test]
async fn middle_of_lineage_arriving_last_supersedes_both_ways() {
    let inventory = Inventory::start().await;
    let ca = TestCa::new("Test Issuing CA");
    let first = issued_event(&ca, "shop.example.com", 1, CURRENT);
    let second = replacing(
        &first,
        "renewal",
        issued_event(&ca, "shop.example.com", 2, CURRENT),
    );
    let third = replacing(
        &second,
        "renewal",
        issued_event(&ca, "shop.example.com", 3, CURRENT),
    );
    inventory.store(&first).await;
    inventory.store(&third).await;
    assert_eq!(inventory.license().await.held, 2);

    inventory.store(&second).await;

    let oldest = inventory.certificate(&first.certificate_id).await;
    assert_eq!(oldest.status, "superseded");
    assert_eq!(oldest.superseded_by, second.certificate_id);
    let middle = inventory.certificate(&second.certificate_id).await;
    assert_eq!(middle.status, "superseded");
    assert_eq!(middle.superseded_by, third.certificate_id);
    assert_eq!(middle.inventory_state, "held");
    let newest = inventory.certificate(&third.certificate_id).await;
    assert_eq!(newest.status, "active");
    assert_eq!(newest.superseded_by, "");
    assert_eq!(inventory.license().await.held, 1);
    inventory.stop().await;
}
