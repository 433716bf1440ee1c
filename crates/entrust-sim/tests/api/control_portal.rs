//! Control routes that act as the Entrust portal (decline, suspend, revoke, domain and
//! organization verification), move the clock, and reset the simulator.

use entrust_sim::{DomainUpdate, OrganizationUpdate, Scenario};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::macros::datetime;

use crate::helpers::{NOW, TestSim, assert_error, ec_csr};

fn order_for(name: &str) -> serde_json::Value {
    let (csr, _) = ec_csr(name, &[]);
    json!({"certType": "STANDARD_SSL", "csr": csr, "certLifetime": "P1Y"})
}

#[tokio::test]
async fn server_side_decline_suspend_and_revoke() {
    let sim = TestSim::start().await;

    let declined = sim
        .control_json(
            Method::POST,
            "/certificates/2100014/decline",
            &json!({"declineReason": "Duplicate request."}),
        )
        .await;
    let suspended = sim
        .control(Method::POST, "/certificates/2100000/suspend")
        .await;
    let revoked = sim
        .control_json(
            Method::POST,
            "/certificates/2100001/revoke",
            &json!({"crlReason": "superseded", "revocationComment": "Portal test"}),
        )
        .await;
    let revocation = sim
        .control(Method::GET, "/certificates/2100001/revocation")
        .await;

    assert_eq!(declined.status, StatusCode::OK, "{}", declined.text);
    let detail = sim.get("/certificates/2100014").await.body;
    assert_eq!(detail["status"], "DECLINED");
    assert_eq!(detail["declineReason"], "Duplicate request.");
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text);
    assert_eq!(sim.status_of(2_100_000).await, "SUSPENDED");
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(sim.status_of(2_100_001).await, "REVOKED");
    assert_eq!(
        revocation.body,
        json!({"revocation": {"revokedAt": "2026-03-10T15:00:00Z", "reason": "superseded",
                              "comment": "Portal test"}})
    );
}

#[tokio::test]
async fn server_side_changes_check_status() {
    let sim = TestSim::start().await;

    let decline_active = sim
        .control(Method::POST, "/certificates/2100000/decline")
        .await;
    let suspend_pending = sim
        .control(Method::POST, "/certificates/2100014/suspend")
        .await;
    let revoke_revoked = sim
        .control(Method::POST, "/certificates/2100009/revoke")
        .await;
    let unknown = sim
        .control(Method::POST, "/certificates/2199999/suspend")
        .await;

    assert_error(&decline_active, StatusCode::BAD_REQUEST, None);
    assert_error(&suspend_pending, StatusCode::BAD_REQUEST, None);
    assert_error(&revoke_revoked, StatusCode::BAD_REQUEST, None);
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    assert!(sim.sim.decline(2_100_000, None).is_err());
}

#[tokio::test]
async fn domain_status_controls_ordering() {
    let sim = TestSim::start().await;

    let declined = sim
        .control_json(
            Method::PATCH,
            "/clients/1/domains/example.com",
            &json!({"verificationStatus": "DECLINED", "ovEligible": false}),
        )
        .await;
    let rejected = sim
        .post("/certificates", &order_for("app.example.com"))
        .await;
    sim.sim
        .update_domain(
            1,
            "example.com",
            &DomainUpdate {
                verification_status: Some(entrust_sim::model::DomainStatus::Approved),
                ov_eligible: Some(true),
                ov_expires_in_days: Some(100),
                ..DomainUpdate::default()
            },
        )
        .unwrap();
    let accepted = sim
        .post("/certificates", &order_for("app.example.com"))
        .await;

    assert_eq!(declined.status, StatusCode::OK, "{}", declined.text);
    let message = assert_error(&rejected, StatusCode::BAD_REQUEST, Some("csr"));
    assert!(message.contains("DECLINED"), "{message}");
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
    let domain = sim.get("/clients/1/domains/example.com").await.body;
    assert_eq!(domain["verificationStatus"], "APPROVED");
    assert_eq!(domain["ovExpiry"], "2026-06-18T15:00:00Z");
}

#[tokio::test]
async fn domain_update_sets_each_status_and_expiry() {
    let sim = TestSim::start().await;

    for status in ["APPROVED", "DECLINED", "CANCELLED", "EXPIRING", "EXPIRED"] {
        let reply = sim
            .control_json(
                Method::PATCH,
                "/clients/2/domains/canon-city.test",
                &json!({"verificationStatus": status, "evEligible": true,
                        "evExpiry": "2027-01-01T00:00:00Z"}),
            )
            .await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let domain = sim.get("/clients/2/domains/canon-city.test").await.body;
        assert_eq!(domain["verificationStatus"], status);
        assert_eq!(domain["evEligible"], true);
        assert_eq!(domain["evExpiry"], "2027-01-01T00:00:00Z");
    }
    let both = sim
        .control_json(
            Method::PATCH,
            "/clients/2/domains/canon-city.test",
            &json!({"ovExpiry": "2027-01-01T00:00:00Z", "ovExpiresInDays": 3}),
        )
        .await;
    assert_error(&both, StatusCode::BAD_REQUEST, Some("ovExpiry"));
    let unknown = sim
        .control_json(Method::PATCH, "/clients/1/domains/nope.test", &json!({}))
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
    let bad_key = sim
        .control_json(
            Method::PATCH,
            "/clients/1/domains/example.com",
            &json!({"status": "APPROVED"}),
        )
        .await;
    assert_error(&bad_key, StatusCode::BAD_REQUEST, None);
}

#[tokio::test]
async fn organization_status_controls_ordering() {
    let sim = TestSim::start().await;

    let expired = sim
        .control_json(
            Method::PATCH,
            "/organizations",
            &json!({"name": "certitude demo corp", "verificationStatus": "EXPIRED"}),
        )
        .await;
    let organizations = sim.get("/organizations").await.body;
    let rejected = sim
        .post("/certificates", &order_for("app.example.com"))
        .await;
    sim.sim
        .update_organization(&OrganizationUpdate {
            client_id: 1,
            name: "Certitude Demo Corp".to_owned(),
            verification_status: entrust_sim::model::VerificationStatus::Approved,
        })
        .unwrap();
    let accepted = sim
        .post("/certificates", &order_for("app.example.com"))
        .await;

    assert_eq!(expired.status, StatusCode::OK, "{}", expired.text);
    assert_eq!(
        organizations["organizations"][0]["verificationStatus"],
        "EXPIRED"
    );
    assert_error(&rejected, StatusCode::BAD_REQUEST, Some("org"));
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
    let unknown = sim
        .control_json(
            Method::PATCH,
            "/organizations",
            &json!({"clientId": 2, "name": "Nobody Ltd", "verificationStatus": "APPROVED"}),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn clock_moves_only_with_a_manual_clock() {
    let plain = TestSim::start().await;
    let refused = plain
        .control_json(Method::POST, "/clock/advance", &json!({"days": 1}))
        .await;
    assert_error(&refused, StatusCode::CONFLICT, None);
    assert!(plain.sim.advance_clock(time::Duration::days(1)).is_err());

    let sim = TestSim::start_controlled(Scenario::demo()).await;
    let advanced = sim
        .control_json(
            Method::POST,
            "/clock/advance",
            &json!({"days": 300, "seconds": 5}),
        )
        .await;
    let expired_now = sim.status_of(2_100_000).await;
    let set = sim
        .control_json(
            Method::PUT,
            "/clock",
            &json!({"now": "2026-03-01T00:00:00Z"}),
        )
        .await;

    assert_eq!(advanced.body, json!({"now": "2027-01-04T15:00:05Z"}));
    assert_eq!(expired_now, "EXPIRED");
    assert_eq!(set.body, json!({"now": "2026-03-01T00:00:00Z"}));
    assert_eq!(sim.sim.now(), datetime!(2026-03-01 00:00 UTC));
    sim.sim.set_clock(NOW).unwrap();
    assert_eq!(sim.status_of(2_100_000).await, "ACTIVE");
}

#[tokio::test]
async fn reset_restores_scenario_and_clears_log_and_faults() {
    let sim = TestSim::start().await;
    let original = sim.get("/certificates/2100000").await.body;
    let inventory = sim.get("/inventories").await.body;
    sim.post("/certificates", &order_for("app.example.com"))
        .await;
    sim.post(
        "/certificates/2100000/revocations",
        &json!({"crlReason": "unspecified"}),
    )
    .await;
    sim.control_json(
        Method::PATCH,
        "/clients/1/domains/example.com",
        &json!({"verificationStatus": "EXPIRED"}),
    )
    .await;
    sim.control_json(
        Method::POST,
        "/faults",
        &json!({"kind": "serverError", "status": 503}),
    )
    .await;

    let reset = sim.control(Method::POST, "/reset").await;

    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert!(sim.sim.request_log().is_empty());
    assert!(sim.sim.armed_faults().is_empty());
    let after = sim.get("/certificates/2100000").await.body;
    assert_eq!(after["status"], "ACTIVE");
    assert_eq!(after["serialNumber"], original["serialNumber"]);
    assert_eq!(sim.get("/inventories").await.body, inventory);
    let next = sim.get("/certificates/2100022").await;
    assert_error(&next, StatusCode::NOT_FOUND, None);
    let domain = sim.get("/clients/1/domains/example.com").await.body;
    assert_eq!(domain["verificationStatus"], "APPROVED");
    assert!(sim.sim.revocation(2_100_000).unwrap().is_none());
}
