//! Changing existing orders at the simulator: approval, decline, suspension, revocation and
//! deactivation, each checked by status code, message, the order as read back (one by one and
//! in lists) and the inventory.

use entrust::Error;
use entrust::model::{
    ApprovalOutcome, OrderOutcome, OrderQuery, OrderStatus, Revocation, RevocationReason,
    TrackingId, TrackingUpdate,
};

use crate::helpers::generate_csr;
use crate::sim::{REQUESTER_KEY, REQUESTER_USER, Sim, remaining, standard_order};

/// Index of a PENDING demo order, and of ACTIVE ones.
const PENDING: u32 = 14;
const ACTIVE: u32 = 0;
const ACTIVE_OTHER: u32 = 4;
const SUSPENDED: u32 = 18;

/// Reads the status of `id` from a list filtered to that id.
async fn listed_status(sim: &Sim, id: TrackingId) -> anyhow::Result<OrderStatus> {
    let orders = sim
        .admin
        .all_orders(OrderQuery {
            filters: vec![entrust::model::OrderFilter::TrackingIds(vec![id])],
            ..OrderQuery::default()
        })
        .await?;
    anyhow::ensure!(orders.len() == 1, "expected one order {id}, got {orders:?}");
    Ok(orders[0].status.clone())
}

fn message_of(error: &Error) -> String {
    error
        .api_messages()
        .iter()
        .map(|message| message.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn queued_order_is_approved_and_issued() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let requester = sim.client(REQUESTER_USER, REQUESTER_KEY)?;
    let csr = generate_csr(&["approve-me.example.com"])?;
    let mut order = standard_order(&csr, &["approve-me.example.com"], "approve-me");
    order.queue_for_approval = true;
    let before = sim.inventory().await?;

    let outcome = requester.place_order(&order).await?;
    let OrderOutcome::Pending { tracking_id } = outcome else {
        panic!("a queued order is pending, got {outcome:?}");
    };
    let queued = sim.inventory().await?;
    let approval = sim.admin.approve(tracking_id).await?;

    let ApprovalOutcome::Issued(issued) = approval else {
        panic!("the simulator issues on approval, got {approval:?}");
    };
    assert_eq!(issued.tracking_id, tracking_id);
    assert_eq!(issued.chain_pem.first(), Some(&issued.certificate_pem));
    let detail = sim.admin.order(tracking_id).await?;
    assert_eq!(detail.status, OrderStatus::Active);
    assert_eq!(
        detail.certificate_pem.as_ref(),
        Some(&issued.certificate_pem)
    );
    assert_eq!(listed_status(&sim, tracking_id).await?, OrderStatus::Active);
    // Queuing consumes the unit; approving consumes nothing more.
    assert_eq!(
        remaining(&queued, "STANDARD_SSL"),
        remaining(&before, "STANDARD_SSL").map(|n| n - 1)
    );
    assert_eq!(sim.inventory().await?, queued);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn declined_order_shows_reason_and_returns_inventory() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["decline-me.example.com"])?;
    let mut order = standard_order(&csr, &["decline-me.example.com"], "decline-me");
    order.queue_for_approval = true;
    let before = sim.inventory().await?;
    let OrderOutcome::Pending { tracking_id } = sim.admin.place_order(&order).await? else {
        panic!("a queued order is pending");
    };

    sim.admin
        .decline(tracking_id, "Domain owner did not confirm.")
        .await?;

    let detail = sim.admin.order(tracking_id).await?;
    assert_eq!(detail.status, OrderStatus::Declined);
    assert_eq!(
        detail.decline_reason.as_deref(),
        Some("Domain owner did not confirm.")
    );
    assert_eq!(detail.certificate_pem, None);
    assert!(detail.chain_pem.is_empty());
    assert_eq!(
        listed_status(&sim, tracking_id).await?,
        OrderStatus::Declined
    );
    assert_eq!(sim.inventory().await?, before);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn approving_an_active_order_is_invalid() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE);
    let before = sim.inventory().await?;

    let error = sim.admin.approve(id).await.err();

    let Some(error) = error else {
        panic!("approving an ACTIVE order must fail");
    };
    assert_eq!(error.http_status(), Some(400));
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert!(
        message_of(&error).contains("only PENDING certificates can be approved"),
        "{error}"
    );
    assert_eq!(sim.admin.order(id).await?.status, OrderStatus::Active);
    assert_eq!(sim.inventory().await?, before);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn requester_lacks_administrator_rights() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let requester = sim.client(REQUESTER_USER, REQUESTER_KEY)?;
    let pending = Sim::tracking_id(PENDING);
    let active = Sim::tracking_id(ACTIVE);

    let approve = requester.approve(pending).await.err();
    let revoke = requester.revoke(active, &Revocation::default()).await.err();
    let reissue = requester
        .reissue(active, &entrust::model::Reissue::default())
        .await
        .err();

    for (action, error) in [
        ("approve", approve),
        ("revoke", revoke),
        ("reissue", reissue),
    ] {
        let Some(error) = error else {
            panic!("a requester may not {action}");
        };
        assert_eq!(error.http_status(), Some(403), "{action}: {error:?}");
        assert!(matches!(error, Error::PermissionDenied { .. }));
        assert!(
            message_of(&error).contains(&format!("is not allowed to {action} certificates")),
            "{action}: {error}"
        );
    }
    assert_eq!(sim.admin.order(pending).await?.status, OrderStatus::Pending);
    assert_eq!(sim.admin.order(active).await?.status, OrderStatus::Active);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn suspend_and_unsuspend_show_in_get_and_list() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE_OTHER);

    sim.admin.suspend(id).await?;
    let suspended = (
        sim.admin.order(id).await?.status,
        listed_status(&sim, id).await?,
    );
    let again = sim.admin.suspend(id).await.err();
    sim.admin.unsuspend(id).await?;
    let resumed = (
        sim.admin.order(id).await?.status,
        listed_status(&sim, id).await?,
    );

    assert_eq!(suspended, (OrderStatus::Suspended, OrderStatus::Suspended));
    assert_eq!(resumed, (OrderStatus::Active, OrderStatus::Active));
    let Some(again) = again else {
        panic!("a second SUSPEND must fail");
    };
    assert_eq!(again.http_status(), Some(400));
    assert!(
        message_of(&again).contains("its status is SUSPENDED"),
        "{again}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unsuspending_an_active_order_is_invalid() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let error = sim.admin.unsuspend(Sim::tracking_id(ACTIVE)).await.err();
    let resumed = sim.admin.unsuspend(Sim::tracking_id(SUSPENDED)).await;

    let Some(error) = error else {
        panic!("UNSUSPEND of an ACTIVE order must fail");
    };
    assert_eq!(error.http_status(), Some(400));
    assert!(message_of(&error).contains("needs SUSPENDED"), "{error}");
    assert!(resumed.is_ok(), "{resumed:?}");
    assert_eq!(
        sim.admin.order(Sim::tracking_id(SUSPENDED)).await?.status,
        OrderStatus::Active
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn revocation_shows_and_is_final() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE);
    let before = sim.inventory().await?;

    sim.admin
        .revoke(
            id,
            &Revocation {
                reason: RevocationReason::KeyCompromise,
                comment: "Key found in a public repository".to_owned(),
            },
        )
        .await?;
    let again = sim.admin.revoke(id, &Revocation::default()).await.err();

    let detail = sim.admin.order(id).await?;
    assert_eq!(detail.status, OrderStatus::Revoked);
    assert!(detail.certificate_pem.is_some());
    assert_eq!(listed_status(&sim, id).await?, OrderStatus::Revoked);
    let revocation = sim.server.revocation(i64::from(id.get()))?;
    assert_eq!(
        revocation.as_ref().map(|r| r.reason.as_str()),
        Some("keyCompromise")
    );
    assert_eq!(
        revocation.and_then(|r| r.comment).as_deref(),
        Some("Key found in a public repository")
    );
    let Some(again) = again else {
        panic!("revoking a revoked certificate must fail");
    };
    assert_eq!(again.http_status(), Some(400));
    assert!(message_of(&again).contains("cannot be revoked"), "{again}");
    assert_eq!(sim.inventory().await?, before);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unspecified_revocation_is_accepted() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE_OTHER);

    sim.admin.revoke(id, &Revocation::default()).await?;

    assert_eq!(sim.admin.order(id).await?.status, OrderStatus::Revoked);
    assert_eq!(
        sim.server
            .revocation(i64::from(id.get()))?
            .map(|r| r.reason),
        Some("unspecified".to_owned())
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn deactivated_order_shows_flag_and_date() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE);

    sim.admin.deactivate(id).await?;
    let again = sim.admin.deactivate(id).await.err();

    let detail = sim.admin.order(id).await?;
    assert_eq!(detail.status, OrderStatus::Deactivated);
    assert!(detail.deactivated);
    assert_eq!(
        detail.deactivated_at.map(|t| t.date()),
        Some(crate::sim::NOW.date())
    );
    assert_eq!(listed_status(&sim, id).await?, OrderStatus::Deactivated);
    let Some(again) = again else {
        panic!("deactivating twice must fail");
    };
    assert_eq!(again.http_status(), Some(400));
    assert!(message_of(&again).contains("needs ACTIVE"), "{again}");
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn expired_orders_read_expired_in_get_and_list() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let expired = sim
        .admin
        .all_orders(OrderQuery {
            statuses: vec![OrderStatus::Expired],
            ..OrderQuery::default()
        })
        .await?;
    let retired = sim.admin.order(Sim::tracking_id(7)).await?;
    sim.clock.advance(time::Duration::days(15));
    let vpn = sim.admin.order(Sim::tracking_id(6)).await?;

    assert!(expired.iter().any(|o| o.tracking_id == Sim::tracking_id(7)));
    assert!(expired.iter().all(|o| o.status == OrderStatus::Expired));
    assert_eq!(retired.status, OrderStatus::Expired);
    assert!(retired.expires_at.is_some_and(|at| at < crate::sim::NOW));
    assert_eq!(
        vpn.status,
        OrderStatus::Expired,
        "expires 10 days after start"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn tracking_update_replaces_tracking_data() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(ACTIVE);

    sim.admin
        .update_tracking(
            id,
            &TrackingUpdate {
                tracking_marker: Some("moved-to-team-b".to_owned()),
                requester: entrust::model::Requester {
                    name: "Bo Builder".to_owned(),
                    email: "bo@example.com".to_owned(),
                    phone: String::new(),
                },
                additional_emails: vec!["team-b@example.com".to_owned()],
            },
        )
        .await?;

    let detail = sim.admin.order(id).await?;
    assert_eq!(detail.tracking_marker.as_deref(), Some("moved-to-team-b"));
    let requester = detail.requester.unwrap_or_default();
    assert_eq!(requester.name, "Bo Builder");
    assert_eq!(requester.email, "bo@example.com");
    assert_eq!(requester.phone, "", "fields left empty are erased");
    assert!(!detail.deactivated);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn changes_to_unknown_orders_are_not_found() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let unknown = TrackingId::new(99_999_999);

    let results = [
        ("approve", sim.admin.approve(unknown).await.err()),
        ("suspend", sim.admin.suspend(unknown).await.err()),
        (
            "revoke",
            sim.admin
                .revoke(unknown, &Revocation::default())
                .await
                .err(),
        ),
        ("deactivate", sim.admin.deactivate(unknown).await.err()),
        (
            "update_tracking",
            sim.admin
                .update_tracking(unknown, &TrackingUpdate::default())
                .await
                .err(),
        ),
    ];

    for (action, error) in results {
        assert!(
            matches!(&error, Some(Error::NotFound { .. })),
            "{action}: {error:?}"
        );
        assert!(
            error
                .as_ref()
                .is_some_and(|e| message_of(e).contains("99999999")),
            "{action}: {error:?}"
        );
    }
    sim.stop().await;
    Ok(())
}
