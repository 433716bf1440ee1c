use serde_json::{Value, json};
use time::macros::date;

use super::*;
use crate::model::{CertLifetime, ExtendedKeyUsage, Requester};

fn order() -> NewOrder {
    NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
            .to_owned(),
        dns_names: vec!["www.example.com".to_owned(), "example.com".to_owned()],
        client_id: Some(1),
        organization: Some("Example Inc".to_owned()),
        expires_on: date!(2027 - 03 - 01),
        lifetime: None,
        eku: None,
        tracking_marker: Some("certitude-0192".to_owned()),
        requester: Requester {
            name: "Ada Admin".to_owned(),
            email: "ada@example.com".to_owned(),
            phone: String::new(),
        },
        queue_for_approval: false,
        validate_only: false,
    }
}

fn body_of(order: &NewOrder) -> Value {
    let bytes = new_order_body(order).unwrap_or_else(|error| panic!("body failed: {error}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("body is not JSON: {error}"))
}

#[test]
fn order_body_writes_date_and_booleans() {
    let body = body_of(&order());

    assert_eq!(
        body,
        json!({
            "certType": "STANDARD_SSL",
            "csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----",
            "subjectAltName": ["www.example.com", "example.com"],
            "clientId": 1,
            "org": "Example Inc",
            "certExpiryDate": "2027-03-01",
            "signingAlg": "SHA-2",
            "queueForApproval": false,
            "validateOnly": false,
            "tracking": {
                "trackingInfo": "certitude-0192",
                "requesterName": "Ada Admin",
                "requesterEmail": "ada@example.com"
            }
        })
    );
}

#[test]
fn order_body_pads_single_digit_dates() {
    let mut order = order();
    order.expires_on = date!(0999 - 01 - 05);

    assert_eq!(body_of(&order)["certExpiryDate"], "0999-01-05");
}

#[test]
fn order_body_omits_unset_optional_fields() {
    let mut order = order();
    order.dns_names.clear();
    order.client_id = None;
    order.organization = Some("  ".to_owned());
    order.tracking_marker = None;
    order.requester = Requester::default();
    order.queue_for_approval = true;
    order.validate_only = true;
    order.lifetime = Some(CertLifetime::TwoYears);
    order.eku = Some(ExtendedKeyUsage::ServerAuth);

    let body = body_of(&order);

    for absent in ["subjectAltName", "clientId", "org", "tracking"] {
        assert!(
            body.get(absent).is_none(),
            "{absent} must be omitted: {body}"
        );
    }
    assert_eq!(body["queueForApproval"], Value::Bool(true));
    assert_eq!(body["validateOnly"], Value::Bool(true));
    assert_eq!(body["certLifetime"], "P2Y");
    assert_eq!(body["eku"], "SERVER_AUTH");
}

#[test]
fn order_with_long_marker_is_rejected_locally() {
    let mut order = order();
    order.tracking_marker = Some("m".repeat(129));

    let error = new_order_body(&order).err();

    assert!(matches!(
        error,
        Some(Error::InvalidInput {
            field: "tracking_marker",
            ..
        })
    ));
}

#[test]
fn order_without_csr_is_rejected_locally() {
    let mut order = order();
    order.csr_pem = " \n".to_owned();

    assert!(matches!(
        new_order_body(&order),
        Err(Error::InvalidInput {
            field: "csr_pem",
            ..
        })
    ));
}

fn success(status: u16, body: &str) -> Success {
    Success {
        status,
        body: body.as_bytes().to_vec(),
        ..Success::default()
    }
}

#[test]
fn validate_only_response_is_validated() -> Result<(), Error> {
    assert_eq!(
        order_outcome(NEW_ORDER, true, &success(200, ""))?,
        OrderOutcome::Validated
    );
    assert_eq!(
        order_outcome(NEW_ORDER, true, &success(200, "{}"))?,
        OrderOutcome::Validated
    );
    Ok(())
}

#[test]
fn accepted_response_is_pending() -> Result<(), Error> {
    let outcome = order_outcome(NEW_ORDER, false, &success(202, r#"{"trackingId": 4711}"#))?;

    assert_eq!(
        outcome,
        OrderOutcome::Pending {
            tracking_id: TrackingId::new(4711)
        }
    );
    Ok(())
}

#[test]
fn unreadable_order_response_is_outcome_unknown() {
    for (status, body) in [(201, "<html>"), (201, "{}"), (202, "")] {
        let outcome = order_outcome(NEW_ORDER, false, &success(status, body));

        assert!(
            matches!(outcome, Err(Error::OutcomeUnknown { status: Some(s), .. }) if s == status),
            "{status} {body:?} gave {outcome:?}"
        );
    }
}
