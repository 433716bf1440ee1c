//! Calls that change orders and domains, against a scripted HTTP server: which failures are
//! retried, which become `OutcomeUnknown`, and what each call sends.

use std::time::Duration;

use entrust::Error;
use entrust::model::{
    ApprovalOutcome, DomainVerificationRequest, NewDomain, OrderOutcome, Reissue, Renewal,
    Revocation, TrackingId, TrackingUpdate, VerificationMethod,
};
use serde_json::json;
use time::macros::datetime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TEST_API_KEY, TEST_USER, client, fast_config};

const BASE: &str = "/enterprise/v2";

fn base_url(server: &MockServer) -> String {
    format!("{}{BASE}", server.uri())
}

async fn request_count(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map_or(0, |requests| requests.len())
}

fn server_error(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"status": status, "errors": [{"message": "internal error"}]}))
}

/// Runs the call named `name`, which changes state at Entrust, once.
async fn run_change(client: &entrust::EntrustClient, name: &str) -> Result<(), Error> {
    let id = TrackingId::new(4711);
    match name {
        "reissue" => client.reissue(id, &Reissue::default()).await.map(drop),
        "renew" => client.renew(id, &Renewal::default()).await.map(drop),
        "approve" => client.approve(id).await.map(drop),
        "decline" => client.decline(id, "not ours").await,
        "suspend" => client.suspend(id).await,
        "unsuspend" => client.unsuspend(id).await,
        "revoke" => client.revoke(id, &Revocation::default()).await,
        "deactivate" => client.deactivate(id).await,
        "add_domain" => client
            .add_domain(
                1,
                &NewDomain {
                    name: "example.com".to_owned(),
                    verification: DomainVerificationRequest {
                        method: VerificationMethod::Dns,
                        email: None,
                    },
                },
            )
            .await
            .map(drop),
        "reverify_domain" => client
            .reverify_domain(
                1,
                "example.com",
                &DomainVerificationRequest {
                    method: VerificationMethod::Dns,
                    email: None,
                },
            )
            .await
            .map(drop),
        other => panic!("no change named {other}"),
    }
}

const CHANGES: [&str; 10] = [
    "reissue",
    "renew",
    "approve",
    "decline",
    "suspend",
    "unsuspend",
    "revoke",
    "deactivate",
    "add_domain",
    "reverify_domain",
];

#[tokio::test]
async fn change_server_error_is_outcome_unknown() -> anyhow::Result<()> {
    for change in CHANGES {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(server_error(503))
            .mount(&server)
            .await;
        let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

        let error = run_change(&client, change).await.err();

        assert!(
            matches!(
                error,
                Some(Error::OutcomeUnknown {
                    status: Some(503),
                    ..
                })
            ),
            "{change}: {error:?}"
        );
        assert_eq!(request_count(&server).await, 1, "{change} was repeated");
    }
    Ok(())
}

#[tokio::test]
async fn change_timeout_is_outcome_unknown() -> anyhow::Result<()> {
    for change in CHANGES {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let mut config = fast_config(&base_url(&server), TEST_USER, TEST_API_KEY)?;
        config.timeout = Duration::from_millis(150);
        let client = entrust::EntrustClient::new(config)?;

        let error = run_change(&client, change).await.err();

        assert!(
            matches!(&error, Some(Error::OutcomeUnknown { status: None, source: Some(source), .. }) if source.is_timeout()),
            "{change}: {error:?}"
        );
        assert_eq!(request_count(&server).await, 1, "{change} was repeated");
    }
    Ok(())
}

#[tokio::test]
async fn change_refused_connection_is_unavailable() -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    drop(listener);
    let client = client(&format!("http://{address}{BASE}"), TEST_USER, TEST_API_KEY)?;

    for change in CHANGES {
        let error = run_change(&client, change).await.err();

        assert!(
            matches!(&error, Some(Error::Unavailable { source: Some(source), .. }) if source.is_connect()),
            "{change}: {error:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn tracking_update_is_retried_after_server_error() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(format!("{BASE}/certificates/4711/tracking")))
        .respond_with(server_error(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{BASE}/certificates/4711/tracking")))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    client
        .update_tracking(TrackingId::new(4711), &TrackingUpdate::default())
        .await?;

    assert_eq!(request_count(&server).await, 2);
    Ok(())
}

#[tokio::test]
async fn approval_returns_certificate_or_approved() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{BASE}/certificates/1")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec!["approved.example.com".to_owned()])?
        .self_signed(&key)?;
    Mock::given(method("PATCH"))
        .and(path(format!("{BASE}/certificates/2")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "trackingId": 2,
            "endEntityCert": leaf.pem(),
            "chainCerts": [leaf.pem()],
            "serialNumber": "0A",
            "expiresAfter": "2027-01-01T00:00:00Z"
        })))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let later = client.approve(TrackingId::new(1)).await?;
    let now = client.approve(TrackingId::new(2)).await?;

    assert_eq!(
        later,
        ApprovalOutcome::Approved {
            tracking_id: TrackingId::new(1)
        }
    );
    let ApprovalOutcome::Issued(issued) = now else {
        panic!("a 201 with a certificate is issued, got {now:?}");
    };
    assert_eq!(issued.tracking_id, TrackingId::new(2));
    assert_eq!(issued.certificate_pem.trim(), leaf.pem().trim());
    assert_eq!(issued.expires_at, Some(datetime!(2027-01-01 00:00 UTC)));
    Ok(())
}

#[tokio::test]
async fn successor_without_tracking_id_is_unknown() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("{}"))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let renewal = client.renew(TrackingId::new(5), &Renewal::default()).await;
    let reissue = client
        .reissue(TrackingId::new(5), &Reissue::default())
        .await;

    assert!(
        matches!(
            renewal,
            Err(Error::OutcomeUnknown {
                status: Some(201),
                ..
            })
        ),
        "{renewal:?}"
    );
    assert!(
        matches!(
            reissue,
            Err(Error::OutcomeUnknown {
                status: Some(201),
                ..
            })
        ),
        "{reissue:?}"
    );
    Ok(())
}

#[tokio::test]
async fn reissue_pending_response_is_pending() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/certificates/5/reissues")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"trackingId": 6})))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let outcome = client
        .reissue(TrackingId::new(5), &Reissue::default())
        .await?;

    assert_eq!(
        outcome,
        OrderOutcome::Pending {
            tracking_id: TrackingId::new(6)
        }
    );
    Ok(())
}

#[tokio::test]
async fn domain_request_reads_location_and_http_date() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/clients/1/domains")))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("Location", "/clients/1/domains/example.com")
                .insert_header("Retry-After", "Mon, 02 Mar 2026 12:00:05 GMT"),
        )
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let accepted = client
        .add_domain(
            1,
            &NewDomain {
                name: "Example.com".to_owned(),
                verification: DomainVerificationRequest {
                    method: VerificationMethod::Dns,
                    email: None,
                },
            },
        )
        .await?;

    assert_eq!(
        accepted.location.as_deref(),
        Some("/clients/1/domains/example.com")
    );
    assert_eq!(accepted.ready_at, Some(datetime!(2026-03-02 12:00:05 UTC)));
    Ok(())
}
