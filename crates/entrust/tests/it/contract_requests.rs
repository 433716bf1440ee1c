//! Every request body the adapter writes validates against the ECS API definition of its
//! operation: names, types, enums, dates as `date` and booleans as booleans. The only allowed
//! departure is the CRL reason `unspecified`, which the live API requires.

use entrust::model::{
    CertLifetime, DomainVerificationRequest, EmailSource, ExtendedKeyUsage, NewDomain, NewOrder,
    Reissue, Renewal, Requester, Revocation, RevocationReason, TrackingId, TrackingUpdate,
    VerificationMethod,
};
use serde_json::Value;
use time::macros::date;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::contract_spec::{Departure, Spec};
use crate::helpers::{TEST_API_KEY, TEST_USER, client};

const BASE: &str = "/enterprise/v2";

/// A captured request: method, path template and JSON body.
struct Captured {
    method: String,
    template: String,
    body: Value,
}

/// Replaces the tracking id, client id and domain in a request path with their templates.
fn template_of(path: &str) -> String {
    let path = path.strip_prefix(BASE).unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let mut templated = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let previous = index.checked_sub(1).map(|i| segments[i]);
        templated.push(match previous {
            Some("certificates") if segment.parse::<u32>().is_ok() => "{trackingId}",
            Some("clients") if segment.parse::<u32>().is_ok() => "{clientId}",
            Some("domains") => "{domain}",
            _ => segment,
        });
    }
    templated.join("/")
}

fn requester() -> Requester {
    Requester {
        name: "Ada Admin".to_owned(),
        email: "ada@example.com".to_owned(),
        phone: "+1 613 555 0100".to_owned(),
    }
}

fn csr() -> String {
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n".to_owned()
}

/// Runs every writing call of the adapter against a server that accepts anything, and
/// returns the requests it received.
async fn capture_every_write() -> anyhow::Result<Vec<Captured>> {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"trackingId\": 1}"))
        .mount(&server)
        .await;
    let client = client(&format!("{}{BASE}", server.uri()), TEST_USER, TEST_API_KEY)?;
    let id = TrackingId::new(2_100_000);

    let mut order = NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: csr(),
        dns_names: vec!["www.example.com".to_owned(), "example.com".to_owned()],
        client_id: Some(1),
        organization: Some("Cañon City, Inc.".to_owned()),
        expires_on: date!(2027 - 02 - 28),
        lifetime: Some(CertLifetime::OneYear),
        eku: Some(ExtendedKeyUsage::ServerAndClientAuth),
        tracking_marker: Some("certitude:order:01".to_owned()),
        requester: requester(),
        queue_for_approval: true,
        validate_only: true,
    };
    client.place_order(&order).await?;
    order.validate_only = false;
    order.queue_for_approval = false;
    order.lifetime = None;
    // The 200 response to a non-validating order identifies no order; that is expected here.
    let _ = client.place_order(&order).await;

    let _ = client
        .reissue(
            id,
            &Reissue {
                csr_pem: Some(csr()),
                dns_names: vec!["www.example.com".to_owned()],
                client_id: Some(1),
                organization: Some("Example Inc".to_owned()),
                eku: Some(ExtendedKeyUsage::ServerAuth),
                tracking_marker: Some("certitude:reissue:01".to_owned()),
                requester: requester(),
            },
        )
        .await;
    let _ = client.reissue(id, &Reissue::default()).await;
    let _ = client
        .renew(
            id,
            &Renewal {
                csr_pem: Some(csr()),
                dns_names: vec!["www.example.com".to_owned()],
                client_id: Some(1),
                organization: None,
                eku: Some(ExtendedKeyUsage::ClientAuth),
                expires_on: Some(date!(2028 - 01 - 31)),
                lifetime: Some(CertLifetime::TwoYears),
                tracking_marker: Some("certitude:renewal:01".to_owned()),
                requester: requester(),
            },
        )
        .await;
    client.approve(id).await?;
    client
        .decline(id, "Requester could not be verified.")
        .await?;
    client.suspend(id).await?;
    client.unsuspend(id).await?;
    client.revoke(id, &Revocation::default()).await?;
    client
        .revoke(
            id,
            &Revocation {
                reason: RevocationReason::KeyCompromise,
                comment: "Key found in a public repository".to_owned(),
            },
        )
        .await?;
    client
        .update_tracking(
            id,
            &TrackingUpdate {
                tracking_marker: Some("moved to team B".to_owned()),
                requester: requester(),
                additional_emails: vec!["team-b@example.com".to_owned()],
            },
        )
        .await?;
    client
        .update_tracking(id, &TrackingUpdate::default())
        .await?;
    for verification in [
        DomainVerificationRequest {
            method: VerificationMethod::Dns,
            email: None,
        },
        DomainVerificationRequest {
            method: VerificationMethod::Email,
            email: Some(EmailSource::Specified("admin@example.com".to_owned())),
        },
        DomainVerificationRequest {
            method: VerificationMethod::Email,
            email: Some(EmailSource::Whois),
        },
        DomainVerificationRequest {
            method: VerificationMethod::WebServer,
            email: None,
        },
    ] {
        client
            .add_domain(
                1,
                &NewDomain {
                    name: "example.com".to_owned(),
                    verification: verification.clone(),
                },
            )
            .await?;
        client
            .reverify_domain(1, "example.com", &verification)
            .await?;
    }

    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .into_iter()
        .filter(|request| !request.body.is_empty())
        .map(|request| {
            Ok(Captured {
                method: request.method.to_string(),
                template: template_of(request.url.path()),
                body: serde_json::from_slice(&request.body)?,
            })
        })
        .collect()
}

#[tokio::test]
async fn every_request_body_matches_its_definition() -> anyhow::Result<()> {
    let spec = Spec::load(&[Departure::CrlReasonUnspecified])?;

    let captured = capture_every_write().await?;

    let mut operations: Vec<String> = captured
        .iter()
        .map(|request| format!("{} {}", request.method, request.template))
        .collect();
    operations.dedup();
    assert_eq!(
        operations,
        vec![
            "POST /certificates",
            "POST /certificates/{trackingId}/reissues",
            "POST /certificates/{trackingId}/renewals",
            "PATCH /certificates/{trackingId}",
            "POST /certificates/{trackingId}/revocations",
            "PUT /certificates/{trackingId}/tracking",
            "POST /clients/{clientId}/domains",
            "PUT /clients/{clientId}/domains/{domain}",
            "POST /clients/{clientId}/domains",
            "PUT /clients/{clientId}/domains/{domain}",
            "POST /clients/{clientId}/domains",
            "PUT /clients/{clientId}/domains/{domain}",
            "POST /clients/{clientId}/domains",
            "PUT /clients/{clientId}/domains/{domain}",
        ]
    );
    for request in &captured {
        spec.validate_request(&request.method, &request.template, &request.body)?;
    }
    Ok(())
}

#[tokio::test]
async fn revocation_reasons_need_the_named_departure() -> anyhow::Result<()> {
    let strict = Spec::load(&[])?;
    let captured = capture_every_write().await?;

    let revocations: Vec<&Captured> = captured
        .iter()
        .filter(|request| request.template.ends_with("/revocations"))
        .collect();

    assert_eq!(revocations.len(), 2);
    assert_eq!(revocations[0].body["crlReason"], "unspecified");
    assert!(
        strict
            .validate_request("POST", &revocations[0].template, &revocations[0].body)
            .is_err(),
        "`unspecified` is outside the 2.1.0 enum"
    );
    assert!(
        strict
            .validate_request("POST", &revocations[1].template, &revocations[1].body)
            .is_ok()
    );
    Ok(())
}

#[tokio::test]
async fn bodies_write_dates_and_booleans() -> anyhow::Result<()> {
    let captured = capture_every_write().await?;
    let body_of = |template: &str| -> Vec<&Value> {
        captured
            .iter()
            .filter(|request| request.template == template)
            .map(|request| &request.body)
            .collect()
    };

    let orders = body_of("/certificates");
    assert_eq!(orders[0]["certExpiryDate"], "2027-02-28");
    assert_eq!(orders[0]["validateOnly"], Value::Bool(true));
    assert_eq!(orders[0]["queueForApproval"], Value::Bool(true));
    assert_eq!(orders[1]["validateOnly"], Value::Bool(false));
    assert_eq!(orders[0]["org"], "Cañon City, Inc.");

    let renewal = body_of("/certificates/{trackingId}/renewals");
    assert_eq!(renewal[0]["certExpiryDate"], "2028-01-31");
    assert!(renewal[0].get("validateOnly").is_none(), "{}", renewal[0]);

    for reissue in body_of("/certificates/{trackingId}/reissues") {
        for field in ["certExpiryDate", "certLifetime", "validateOnly", "certType"] {
            assert!(reissue.get(field).is_none(), "{field} in {reissue}");
        }
    }
    for request in &captured {
        let tracking = match request.template.as_str() {
            "/certificates/{trackingId}/tracking" => Some(&request.body),
            _ => request.body.get("tracking"),
        };
        if let Some(tracking) = tracking {
            assert!(tracking.get("deactivated").is_none(), "{tracking}");
            assert!(tracking.get("deactivatedOn").is_none(), "{tracking}");
        }
        assert!(
            !request.body.to_string().contains("null"),
            "{} sends null: {}",
            request.template,
            request.body
        );
    }
    Ok(())
}
