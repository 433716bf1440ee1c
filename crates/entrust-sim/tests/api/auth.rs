//! HTTP Basic authentication and the ErrorResponse of unknown paths and methods.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;

use crate::helpers::{TestSim, assert_error, reply};

const ENDPOINTS: &[&str] = &[
    "/application/version",
    "/clients",
    "/organizations",
    "/domains",
    "/clients/1/domains",
    "/inventories",
    "/certificates",
    "/certificates/2100000",
];

#[tokio::test]
async fn wrong_api_key_is_401_on_every_endpoint() {
    let sim = TestSim::start().await;

    for path in ENDPOINTS {
        let reply = sim.get_as(path, ("demo-admin", "not-the-key")).await;

        assert_error(&reply, StatusCode::UNAUTHORIZED, None);
        assert_eq!(
            reply.headers["www-authenticate"].to_str().unwrap(),
            "Basic realm=\"Entrust Certificate Services\"",
            "{path}"
        );
    }
}

#[tokio::test]
async fn missing_credentials_are_401() {
    let sim = TestSim::start().await;

    for path in ENDPOINTS {
        let reply = reply(sim.http.get(sim.url(path))).await;

        assert_error(&reply, StatusCode::UNAUTHORIZED, None);
    }
}

#[tokio::test]
async fn unknown_user_is_401() {
    let sim = TestSim::start().await;

    let reply = sim
        .get_as("/application/version", ("mallory", "sim-demo-admin-key"))
        .await;

    assert_error(&reply, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn other_users_key_is_401() {
    let sim = TestSim::start().await;

    let reply = sim
        .get_as(
            "/application/version",
            ("demo-requester", "sim-demo-admin-key"),
        )
        .await;

    assert_error(&reply, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn post_without_credentials_is_401() {
    let sim = TestSim::start().await;

    let reply = reply(sim.http.post(sim.url("/certificates")).body("{}")).await;

    assert_error(&reply, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn malformed_authorization_header_is_401() {
    let sim = TestSim::start().await;
    let no_colon = format!("Basic {}", STANDARD.encode("demo-admin"));

    for header in ["Basic !!!", no_colon.as_str(), "Bearer sim-demo-admin-key"] {
        let request = sim
            .http
            .get(sim.url("/application/version"))
            .header("authorization", header);

        assert_error(&reply(request).await, StatusCode::UNAUTHORIZED, None);
    }
}

#[tokio::test]
async fn unknown_path_is_404_error_response() {
    let sim = TestSim::start().await;

    let reply = sim.get("/no-such-resource").await;

    assert_error(&reply, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn unsupported_method_is_405_error_response() {
    let sim = TestSim::start().await;

    let request = sim
        .http
        .delete(sim.url("/certificates/2100000"))
        .basic_auth("demo-admin", Some("sim-demo-admin-key"));

    assert_error(&reply(request).await, StatusCode::METHOD_NOT_ALLOWED, None);
}
