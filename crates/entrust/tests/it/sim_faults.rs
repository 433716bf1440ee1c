//! Transport behaviour against the simulator's injected faults and access checks: rate limits,
//! server errors, dropped connections, orders committed before a failure, and client
//! certificates.

use std::time::{Duration, Instant};

use entrust::Error;
use entrust::model::{OrderOutcome, OrderQuery};
use entrust_sim::{CommitFailure, Fault, FaultKind};

use crate::helpers::{fast_config, generate_csr};
use crate::sim::{MTLS_KEY, MTLS_USER, Sim, standard_order};

fn fault(kind: FaultKind, count: u32, method: &str, path_prefix: &str) -> Fault {
    Fault {
        kind,
        count: Some(count),
        method: Some(method.to_owned()),
        path_prefix: Some(path_prefix.to_owned()),
    }
}

/// Statuses the simulator logged for requests whose path ends with `suffix`.
fn logged_statuses(sim: &Sim, method: &str, suffix: &str) -> Vec<u16> {
    sim.server
        .request_log()
        .iter()
        .filter(|entry| entry.method == method && entry.path.ends_with(suffix))
        .map(|entry| entry.status)
        .collect()
}

#[tokio::test]
async fn list_waits_out_three_rate_limits() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let mut config = fast_config(
        &sim.server.base_url(),
        crate::sim::ADMIN_USER,
        crate::sim::ADMIN_KEY,
    )?;
    config.max_retries = 3;
    let client = entrust::EntrustClient::new(config)?;
    sim.server.inject_fault(fault(
        FaultKind::RateLimit {
            retry_after_seconds: 1,
        },
        3,
        "GET",
        "/certificates",
    ))?;

    let started = Instant::now();
    let orders = client.all_orders(OrderQuery::default()).await?;
    let elapsed = started.elapsed();

    assert_eq!(orders.len(), sim.listed_count());
    assert_eq!(
        logged_statuses(&sim, "GET", "/certificates"),
        vec![429, 429, 429, 200]
    );
    // Correctness of the wait, not a speed goal: three advertised waits of 1 s each.
    assert!(
        elapsed >= Duration::from_secs(3),
        "retried after {elapsed:?}, before the advertised 3 s"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn long_rate_limit_returns_quota() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    sim.server.set_rate_limit(Some(2))?;

    sim.admin.version().await?;
    sim.admin.version().await?;
    let error = sim.admin.version().await.err();

    let Some(Error::RateLimited {
        retry_after,
        limit_per_30s,
        ..
    }) = &error
    else {
        panic!("the third call in the window must be rate-limited, got {error:?}");
    };
    assert_eq!(*limit_per_30s, Some(2));
    assert!(
        retry_after.is_some_and(|wait| wait > Duration::from_secs(5)),
        "{retry_after:?}"
    );
    assert_eq!(error.as_ref().and_then(Error::http_status), Some(429));
    assert_eq!(
        logged_statuses(&sim, "GET", "/application/version"),
        vec![200, 200, 429]
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn reads_retry_server_errors_and_drops() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    sim.server.inject_fault(fault(
        FaultKind::ServerError { status: 503 },
        1,
        "GET",
        "/organizations",
    ))?;
    sim.server
        .inject_fault(fault(FaultKind::DropConnection, 1, "GET", "/inventories"))?;

    let organizations = sim.admin.organizations().await?;
    let products = sim.admin.products().await?;

    assert_eq!(organizations.len(), sim.scenario.organizations.len());
    assert_eq!(products.len(), sim.scenario.inventory.len());
    assert_eq!(
        logged_statuses(&sim, "GET", "/organizations"),
        vec![503, 200]
    );
    assert_eq!(
        logged_statuses(&sim, "GET", "/inventories").last(),
        Some(&200)
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn server_error_on_new_order_is_not_retried() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let csr = generate_csr(&["five-hundred.example.com"])?;
    let order = standard_order(&csr, &["five-hundred.example.com"], "five-hundred");
    let inventory = sim.inventory().await?;
    let orders = sim.order_count().await?;
    sim.server.inject_fault(fault(
        FaultKind::ServerError { status: 502 },
        1,
        "POST",
        "/certificates",
    ))?;

    let error = sim.admin.place_order(&order).await.err();

    assert!(
        matches!(
            error,
            Some(Error::OutcomeUnknown {
                status: Some(502),
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(logged_statuses(&sim, "POST", "/certificates"), vec![502]);
    assert_eq!(sim.order_count().await?, orders);
    assert_eq!(sim.inventory().await?, inventory);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn commit_then_fail_is_outcome_unknown() -> anyhow::Result<()> {
    for (outcome, expected_status) in [
        (CommitFailure::ServerError, Some(500)),
        (CommitFailure::DropConnection, None),
    ] {
        let sim = Sim::start().await?;
        let marker = format!("commit-then-fail-{outcome:?}");
        let csr = generate_csr(&["committed.example.com"])?;
        let order = standard_order(&csr, &["committed.example.com"], &marker);
        let orders_before = sim.order_count().await?;
        sim.server.inject_fault(fault(
            FaultKind::CommitThenFail { outcome },
            1,
            "POST",
            "/certificates",
        ))?;

        let error = sim.admin.place_order(&order).await.err();

        let Some(Error::OutcomeUnknown { status, .. }) = &error else {
            panic!("{outcome:?}: expected OutcomeUnknown, got {error:?}");
        };
        assert_eq!(*status, expected_status, "{outcome:?}");
        assert_eq!(
            sim.server
                .request_log()
                .iter()
                .filter(|entry| entry.method == "POST")
                .count(),
            1,
            "{outcome:?}: the order was sent again"
        );
        assert_eq!(sim.order_count().await?, orders_before + 1, "{outcome:?}");
        let found = sim
            .admin
            .all_orders(OrderQuery {
                tracking_marker: Some(marker.clone()),
                ..OrderQuery::default()
            })
            .await?;
        assert_eq!(found.len(), 1, "{outcome:?}: {found:?}");
        sim.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn server_error_on_renewal_is_outcome_unknown() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let id = Sim::tracking_id(4);
    sim.server.inject_fault(fault(
        FaultKind::ServerError { status: 500 },
        1,
        "POST",
        &format!("/certificates/{id}/renewals"),
    ))?;

    let error = sim
        .admin
        .renew(id, &entrust::model::Renewal::default())
        .await
        .err();

    assert!(
        matches!(
            error,
            Some(Error::OutcomeUnknown {
                status: Some(500),
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(logged_statuses(&sim, "POST", "/renewals"), vec![500]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn bound_client_certificate_is_required() -> anyhow::Result<()> {
    let sim = Sim::start_tls().await?;
    let without = sim.client(MTLS_USER, MTLS_KEY)?;
    let Some(identity) = sim.server.client_identity(MTLS_USER) else {
        panic!("the demo scenario generates a certificate for {MTLS_USER}");
    };
    let mut config = fast_config(&sim.server.base_url(), MTLS_USER, MTLS_KEY)?;
    config.extra_root_certificates_pem = vec![sim.server.root_ca_pem()];
    config.client_identity = Some(entrust::ClientIdentity {
        certificate_pem: identity.certificate_pem.clone(),
        private_key_pem: identity.private_key_pem.clone(),
    });
    let with = entrust::EntrustClient::new(config)?;

    let rejected = without.version().await.err();
    let version = with.version().await?;

    let Some(Error::CredentialsRejected { messages, .. }) = &rejected else {
        panic!("a bound user without its certificate must be rejected, got {rejected:?}");
    };
    assert!(
        messages.as_slice()[0]
            .message
            .contains("must present the client certificate bound to it"),
        "{messages:?}"
    );
    assert_eq!(version, "12.5.0.138-sim");
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn bound_user_over_plain_http_is_rejected() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let error = sim.client(MTLS_USER, MTLS_KEY)?.version().await.err();

    let Some(Error::CredentialsRejected { messages, .. }) = &error else {
        panic!("expected a 401, got {error:?}");
    };
    assert!(
        messages.as_slice()[0].message.contains("needs HTTPS"),
        "{messages:?}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_placed_over_mutual_tls_is_issued() -> anyhow::Result<()> {
    let sim = Sim::start_tls().await?;
    let csr = generate_csr(&["mtls.example.com"])?;

    let outcome = sim
        .admin
        .place_order(&standard_order(&csr, &["mtls.example.com"], "over-tls"))
        .await?;

    assert!(matches!(outcome, OrderOutcome::Issued(_)), "{outcome:?}");
    sim.stop().await;
    Ok(())
}
