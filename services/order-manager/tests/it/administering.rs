//! Approve, decline, suspend, resume and revoke, with the administrator credential checks, on
//! the simulator through a started credential-sync.

use certitude_proto::events::v1::{CertificateIssued, CertificateRevoked, OrderStatusChanged};
use certitude_proto::order::v1::{
    ApproveOrderRequest, DeclineOrderRequest, ResumeOrderRequest, RevokeOrderRequest,
    SuspendOrderRequest,
};
use entrust::model::OrderStatus;
use tonic::Code;

use crate::admin_support::AdminHarness;
use crate::support::payloads;

fn approve(id: &str, admin_credential_id: &str) -> ApproveOrderRequest {
    ApproveOrderRequest {
        id: id.to_owned(),
        admin_credential_id: admin_credential_id.to_owned(),
        actor: "ops-lead".to_owned(),
    }
}

fn suspend(id: &str) -> SuspendOrderRequest {
    SuspendOrderRequest {
        id: id.to_owned(),
        actor: "ops-lead".to_owned(),
        ..SuspendOrderRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_issues_queued_order() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let queued = harness.queued_order("to-approve", &admin).await;

    let approved = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, ""))
        .await
        .expect("the administrator approves")
        .into_inner();

    assert_eq!(approved.status, "ISSUED");
    assert!(!approved.certificate_id.is_empty());
    let at_entrust = harness.at_entrust(queued.tracking_id).await;
    assert_eq!(at_entrust.status, OrderStatus::Active);
    let events = harness.published_events().await;
    let changes: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == queued.id)
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1.previous_status, "PENDING");
    assert_eq!(changes[0].1.status, "ISSUED");
    let certificates: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == queued.id)
        .collect();
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0].1.certificate_id, approved.certificate_id);
    assert!(certificates[0].1.replacement.is_empty());
    let history = harness.history(&queued.id).await;
    let step = history.last().expect("the approval is recorded");
    assert_eq!(step.action, "approve");
    assert_eq!(step.actor, "ops-lead");
    assert_eq!(step.from_status, "PENDING");
    assert_eq!(step.to_status, "ISSUED");
    assert_eq!(step.outcome, "issued");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_stores_the_reason() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let queued = harness.queued_order("to-decline", &admin).await;

    let declined = harness
        .orders
        .clone()
        .decline_order(DeclineOrderRequest {
            id: queued.id.clone(),
            reason: "Not needed any more.".to_owned(),
            actor: "ops-lead".to_owned(),
            ..DeclineOrderRequest::default()
        })
        .await
        .expect("the administrator declines")
        .into_inner();

    assert_eq!(declined.status, "DECLINED");
    let at_entrust = harness.at_entrust(queued.tracking_id).await;
    assert_eq!(at_entrust.status, OrderStatus::Declined);
    assert_eq!(
        at_entrust.decline_reason.as_deref(),
        Some("Not needed any more.")
    );
    let events = harness.published_events().await;
    let changes: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == queued.id)
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1.status, "DECLINED");
    assert_eq!(changes[0].1.entrust_status, "DECLINED");
    let history = harness.history(&queued.id).await;
    let step = history.last().expect("the decline is recorded");
    assert_eq!(step.action, "decline");
    assert_eq!(step.outcome, "declined");
    assert_eq!(step.detail, "Not needed any more.");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_then_resume() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("to-suspend", &admin).await;

    let suspended = harness
        .orders
        .clone()
        .suspend_order(suspend(&order.id))
        .await
        .expect("the administrator suspends")
        .into_inner();
    let suspended_at_entrust = harness.at_entrust(order.tracking_id).await.status;
    let resumed = harness
        .orders
        .clone()
        .resume_order(ResumeOrderRequest {
            id: order.id.clone(),
            actor: "ops-lead".to_owned(),
            ..ResumeOrderRequest::default()
        })
        .await
        .expect("the administrator resumes")
        .into_inner();

    assert_eq!(suspended.status, "SUSPENDED");
    assert_eq!(suspended_at_entrust, OrderStatus::Suspended);
    assert_eq!(resumed.status, "ISSUED");
    assert_eq!(resumed.certificate_id, order.certificate_id);
    let at_entrust = harness.at_entrust(order.tracking_id).await;
    assert_eq!(at_entrust.status, OrderStatus::Active);
    let events = harness.published_events().await;
    let changes: Vec<(String, String)> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .map(|(_, event)| (event.previous_status, event.status))
        .collect();
    assert_eq!(
        changes,
        [
            ("ISSUED".to_owned(), "SUSPENDED".to_owned()),
            ("SUSPENDED".to_owned(), "ISSUED".to_owned())
        ]
    );
    let actions: Vec<String> = harness
        .history(&order.id)
        .await
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["create", "submit", "suspend", "resume"]);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_emits_certificate_revoked() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("to-revoke", &admin).await;

    let revoked = harness
        .orders
        .clone()
        .revoke_order(RevokeOrderRequest {
            id: order.id.clone(),
            reason: "keyCompromise".to_owned(),
            comment: "Key left on a laptop.".to_owned(),
            actor: "ops-lead".to_owned(),
            ..RevokeOrderRequest::default()
        })
        .await
        .expect("the administrator revokes")
        .into_inner();

    assert_eq!(revoked.status, "REVOKED");
    let at_entrust = harness.at_entrust(order.tracking_id).await;
    assert_eq!(at_entrust.status, OrderStatus::Revoked);
    let revocation = harness
        .sim
        .revocation(order.tracking_id)
        .expect("the order exists")
        .expect("the certificate is revoked");
    assert_eq!(revocation.reason, "keyCompromise");
    assert_eq!(revocation.comment.as_deref(), Some("Key left on a laptop."));
    let events = harness.published_events().await;
    let revocations = payloads::<CertificateRevoked>(&events);
    assert_eq!(revocations.len(), 1);
    let event = &revocations[0].1;
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.certificate_id, order.certificate_id);
    assert_eq!(event.tracking_id, order.tracking_id);
    assert_eq!(event.serial_number, order.serial_number);
    assert_eq!(event.reason, "keyCompromise");
    assert_eq!(event.comment, "Key left on a laptop.");
    assert_eq!(event.actor, "ops-lead");
    let changes: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1.status, "REVOKED");
    let history = harness.history(&order.id).await;
    let step = history.last().expect("the revocation is recorded");
    assert_eq!(step.action, "revoke");
    assert_eq!(step.outcome, "revoked");
    assert_eq!(step.detail, "reason keyCompromise: Key left on a laptop.");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_transition_names_the_status() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("issued-order", &admin).await;

    let approval = harness
        .orders
        .clone()
        .approve_order(approve(&order.id, ""))
        .await
        .expect_err("an issued order cannot be approved");
    let resumption = harness
        .orders
        .clone()
        .resume_order(ResumeOrderRequest {
            id: order.id.clone(),
            ..ResumeOrderRequest::default()
        })
        .await
        .expect_err("an issued order cannot be resumed");

    assert_eq!(approval.code(), Code::FailedPrecondition);
    assert!(
        approval.message().contains("its status is ISSUED"),
        "{approval:?}"
    );
    assert!(
        approval.message().contains("approve needs a PENDING order"),
        "{approval:?}"
    );
    assert_eq!(resumption.code(), Code::FailedPrecondition);
    assert!(
        resumption
            .message()
            .contains("resume needs a SUSPENDED order"),
        "{resumption:?}"
    );
    assert!(
        harness.order_changes().is_empty(),
        "{:?}",
        harness.order_changes()
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requester_credential_alone_is_denied() {
    let harness = AdminHarness::start().await;
    let requester = harness.credentials.requester.clone();
    let queued = harness.queued_order("requested", &requester).await;

    let error = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, ""))
        .await
        .expect_err("a requester may not approve");

    assert_eq!(error.code(), Code::PermissionDenied);
    assert!(error.message().contains(&requester), "{error:?}");
    assert!(
        error
            .message()
            .contains("not marked as an Entrust administrator"),
        "{error:?}"
    );
    assert!(error.message().contains("admin_credential_id"), "{error:?}");
    assert!(
        harness.order_changes().is_empty(),
        "{:?}",
        harness.order_changes()
    );
    let order = harness
        .get_order(&queued.id)
        .await
        .expect("the order exists");
    assert_eq!(order.status, "PENDING");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_admin_credential_acts_for_requester() {
    let harness = AdminHarness::start().await;
    let requester = harness.credentials.requester.clone();
    let admin = harness.credentials.admin.clone();
    let queued = harness.queued_order("requested", &requester).await;

    let approved = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, &admin))
        .await
        .expect("the named administrator approves")
        .into_inner();

    assert_eq!(approved.status, "ISSUED");
    assert_eq!(approved.credential_id, requester);
    let changes = harness.order_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].user_name.as_deref(), Some("demo-admin"));
    assert_eq!(changes[0].status, 201);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_credential_of_other_account_is_denied() {
    let harness = AdminHarness::start().await;
    let requester = harness.credentials.requester.clone();
    let other = harness.credentials.other_account.clone();
    let queued = harness.queued_order("requested", &requester).await;

    let error = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, &other))
        .await
        .expect_err("the other account's administrator may not act");

    assert_eq!(error.code(), Code::PermissionDenied);
    assert!(error.message().contains(&other), "{error:?}");
    assert!(
        error
            .message()
            .contains("does not reach the Entrust account"),
        "{error:?}"
    );
    assert!(
        harness.order_changes().is_empty(),
        "{:?}",
        harness.order_changes()
    );
    assert!(
        harness.other_account_changes().is_empty(),
        "{:?}",
        harness.other_account_changes()
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrust_rejection_marks_the_credential() {
    let harness = AdminHarness::start().await;
    let claimed_admin = harness.credentials.claimed_admin.clone();
    let queued = harness.queued_order("claimed", &claimed_admin).await;

    let first = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, ""))
        .await
        .expect_err("Entrust rejects a requester's approval");
    let credential = harness.credential(&claimed_admin).await;
    let second = harness
        .orders
        .clone()
        .approve_order(approve(&queued.id, ""))
        .await
        .expect_err("the credential is marked now");

    assert_eq!(first.code(), Code::PermissionDenied);
    assert!(
        first
            .message()
            .starts_with("the Entrust user lacks administrator rights"),
        "{first:?}"
    );
    assert!(credential.lacks_administrator_right, "{credential:?}");
    assert_eq!(
        credential.denied_administrator_action,
        format!("approve order {}", queued.tracking_id)
    );
    assert_eq!(second.code(), Code::PermissionDenied);
    assert!(
        second
            .message()
            .contains("lacks Entrust administrator rights"),
        "{second:?}"
    );
    let changes = harness.order_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].status, 403);
    let history = harness.history(&queued.id).await;
    let step = history.last().expect("the rejection is recorded");
    assert_eq!(step.outcome, "permission_denied");
    assert_eq!(step.to_status, "PENDING");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_revoke_reason_names_the_field() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("keep", &admin).await;

    let error = harness
        .orders
        .clone()
        .revoke_order(RevokeOrderRequest {
            id: order.id.clone(),
            reason: "superseded".to_owned(),
            ..RevokeOrderRequest::default()
        })
        .await
        .expect_err("Entrust accepts two reasons only");

    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().starts_with("reason: "), "{error:?}");
    assert!(
        error.message().contains("use unspecified or keyCompromise"),
        "{error:?}"
    );
    assert!(
        harness.order_changes().is_empty(),
        "{:?}",
        harness.order_changes()
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_suspension_response_is_read_back() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("lost-answer", &admin).await;
    harness.loss.lose_next_suspension();

    let suspended = harness
        .orders
        .clone()
        .suspend_order(suspend(&order.id))
        .await
        .expect("the suspension shows when the order is read")
        .into_inner();

    assert_eq!(suspended.status, "SUSPENDED");
    let changes = harness.order_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let events = harness.published_events().await;
    let suspensions: Vec<_> = payloads::<OrderStatusChanged>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert_eq!(suspensions.len(), 1);
    assert_eq!(suspensions[0].1.status, "SUSPENDED");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_change_is_read_back_on_rejection() {
    let harness = AdminHarness::start().await;
    let admin = harness.credentials.admin.clone();
    let order = harness.issued_order("suspended-in-portal", &admin).await;
    harness
        .sim
        .suspend(order.tracking_id)
        .expect("the portal suspends the order");

    let error = harness
        .orders
        .clone()
        .suspend_order(suspend(&order.id))
        .await
        .expect_err("Entrust rejects a second suspension");

    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(error.message().contains("HTTP 400"), "{error:?}");
    assert!(
        error.message().contains("the order is now SUSPENDED"),
        "{error:?}"
    );
    let stored = harness
        .get_order(&order.id)
        .await
        .expect("the order exists");
    assert_eq!(stored.status, "SUSPENDED");
    let history = harness.history(&order.id).await;
    let outcomes: Vec<(&str, &str)> = history
        .iter()
        .map(|entry| (entry.action.as_str(), entry.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("create", "stored"),
            ("submit", "issued"),
            ("suspend", "rejected"),
            ("refresh", "suspended"),
        ]
    );
    harness.stop().await;
}
