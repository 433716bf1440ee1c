//! Transport behaviour against a scripted HTTP server: credentials, retries, rate limits and
//! the never-retried order call. The scripted server produces faults the simulator may not produce
//! on demand (exact status sequences, stalls).

use std::time::Duration;

use entrust::model::{NewOrder, Requester};
use entrust::{EntrustConfig, Error, SecretString};
use serde_json::json;
use time::macros::date;
use url::Url;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TEST_API_KEY, TEST_USER, assert_no_secret, client, fast_config};

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

fn organizations_body() -> serde_json::Value {
    json!({"organizations": [{"name": "Example Inc", "verificationStatus": "APPROVED", "clientId": 1}]})
}

fn order() -> NewOrder {
    NewOrder {
        product: "STANDARD_SSL".to_owned(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
            .to_owned(),
        dns_names: vec!["www.example.com".to_owned()],
        client_id: None,
        organization: None,
        expires_on: date!(2027 - 01 - 01),
        lifetime: None,
        eku: None,
        tracking_marker: Some("marker-transport".to_owned()),
        requester: Requester {
            name: "Ada".to_owned(),
            email: "ada@example.com".to_owned(),
            phone: "+1 555 0100".to_owned(),
        },
        queue_for_approval: false,
        validate_only: false,
    }
}

#[tokio::test]
async fn every_call_sends_basic_credentials() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/organizations")))
        .and(basic_auth(TEST_USER, TEST_API_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(organizations_body()))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let organizations = client.organizations().await?;

    assert_eq!(organizations.len(), 1);
    assert_eq!(organizations[0].name, "Example Inc");
    Ok(())
}

#[tokio::test]
async fn read_is_retried_after_server_errors() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/organizations")))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"status": 503, "errors": [{"message": "maintenance"}]})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/organizations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(organizations_body()))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let organizations = client.organizations().await?;

    assert_eq!(organizations.len(), 1);
    assert_eq!(request_count(&server).await, 3);
    Ok(())
}

#[tokio::test]
async fn read_honours_retry_after_on_rate_limit() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/organizations")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-Rate-Limit-Limit", "30"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/organizations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(organizations_body()))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let organizations = client.organizations().await?;

    assert_eq!(organizations.len(), 1);
    assert_eq!(request_count(&server).await, 2);
    Ok(())
}

#[tokio::test]
async fn long_retry_after_is_returned_to_caller() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3600")
                .insert_header("X-Rate-Limit-Limit", "30"),
        )
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.organizations().await.err();

    let Some(Error::RateLimited {
        retry_after,
        limit_per_30s,
        ..
    }) = error
    else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(limit_per_30s, Some(30));
    assert_eq!(request_count(&server).await, 1);
    Ok(())
}

#[tokio::test]
async fn read_gives_up_after_max_retries() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.version().await.err();

    assert!(
        matches!(
            error,
            Some(Error::Unavailable {
                status: Some(502),
                ..
            })
        ),
        "{error:?}"
    );
    // One attempt plus max_retries (2) retries.
    assert_eq!(request_count(&server).await, 3);
    Ok(())
}

#[tokio::test]
async fn read_timeout_is_unavailable_and_retried() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"version": "12.5.0.138"}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let mut config = fast_config(&base_url(&server), TEST_USER, TEST_API_KEY)?;
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = entrust::EntrustClient::new(config)?;

    let error = client.version().await.err();

    assert!(
        matches!(&error, Some(Error::Unavailable { status: None, source: Some(source), .. }) if source.is_timeout()),
        "{error:?}"
    );
    assert_eq!(request_count(&server).await, 2);
    Ok(())
}

#[tokio::test]
async fn order_server_error_is_outcome_unknown() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/certificates")))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"status": 500, "errors": [{"message": "internal error"}]})),
        )
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.place_order(&order()).await.err();

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
    assert_eq!(request_count(&server).await, 1);
    Ok(())
}

#[tokio::test]
async fn order_timeout_is_outcome_unknown() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"trackingId": 1}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let mut config = fast_config(&base_url(&server), TEST_USER, TEST_API_KEY)?;
    config.timeout = Duration::from_millis(200);
    let client = entrust::EntrustClient::new(config)?;

    let error = client.place_order(&order()).await.err();

    assert!(
        matches!(&error, Some(Error::OutcomeUnknown { status: None, source: Some(source), .. }) if source.is_timeout()),
        "{error:?}"
    );
    assert_eq!(request_count(&server).await, 1);
    Ok(())
}

#[tokio::test]
async fn order_rate_limit_is_returned_without_retry() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.place_order(&order()).await.err();

    assert!(
        matches!(error, Some(Error::RateLimited { .. })),
        "{error:?}"
    );
    assert_eq!(request_count(&server).await, 1);
    Ok(())
}

#[tokio::test]
async fn order_to_closed_port_is_unavailable_not_unknown() -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    drop(listener);
    let client = client(&format!("http://{address}{BASE}"), TEST_USER, TEST_API_KEY)?;

    let error = client.place_order(&order()).await.err();

    assert!(
        matches!(&error, Some(Error::Unavailable { source: Some(source), .. }) if source.is_connect()),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn redirect_is_not_followed() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "http://127.0.0.1:9/x"))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.version().await.err();

    assert!(
        matches!(error, Some(Error::UnexpectedStatus { status: 302, .. })),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn undecodable_list_is_a_decode_error() -> anyhow::Result<()> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let client = client(&base_url(&server), TEST_USER, TEST_API_KEY)?;

    let error = client.organizations().await.err();

    assert!(
        matches!(error, Some(Error::Decode { status: 200, .. })),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn plain_http_to_remote_host_is_rejected() -> anyhow::Result<()> {
    let config = EntrustConfig::new(
        Url::parse("http://api.entrust.net/enterprise/v2")?,
        TEST_USER,
        SecretString::from(TEST_API_KEY),
    );

    let error = entrust::EntrustClient::new(config).err();

    assert!(
        matches!(
            error,
            Some(Error::Config {
                field: "base_url",
                ..
            })
        ),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn base_url_with_credentials_is_rejected() -> anyhow::Result<()> {
    let config = EntrustConfig::new(
        Url::parse("https://user:pass@api.entrust.net/enterprise/v2")?,
        TEST_USER,
        SecretString::from(TEST_API_KEY),
    );

    let error = entrust::EntrustClient::new(config).err();

    assert!(
        matches!(
            error,
            Some(Error::Config {
                field: "base_url",
                ..
            })
        ),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn unparseable_client_key_error_does_not_quote_it() -> anyhow::Result<()> {
    let mut config = fast_config("https://127.0.0.1:1/enterprise/v2", TEST_USER, TEST_API_KEY)?;
    let key_text = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----";
    config.client_identity = Some(entrust::ClientIdentity {
        certificate_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".to_owned(),
        private_key_pem: SecretString::from(key_text),
    });

    let error = entrust::EntrustClient::new(config).err();

    let Some(error) = error else {
        panic!("a garbage identity must be rejected");
    };
    assert!(
        matches!(
            error,
            Error::Config {
                field: "client_identity",
                ..
            }
        ),
        "{error:?}"
    );
    let rendered = format!("{error} {error:?}");
    assert!(!rendered.contains("c2VjcmV0"), "{rendered}");
    Ok(())
}

#[tokio::test]
async fn valid_client_identity_is_accepted() -> anyhow::Result<()> {
    let key = rcgen::KeyPair::generate()?;
    let certificate =
        rcgen::CertificateParams::new(vec!["api-user.example".to_owned()])?.self_signed(&key)?;
    let mut config = fast_config("https://127.0.0.1:1/enterprise/v2", TEST_USER, TEST_API_KEY)?;
    config.client_identity = Some(entrust::ClientIdentity {
        certificate_pem: certificate.pem(),
        private_key_pem: SecretString::from(key.serialize_pem()),
    });
    config.extra_root_certificates_pem = vec![certificate.pem()];

    let client = entrust::EntrustClient::new(config)?;

    assert_no_secret(
        &format!("{client:?}"),
        TEST_USER,
        TEST_API_KEY,
        "client Debug",
    );
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
    Ok(())
}
