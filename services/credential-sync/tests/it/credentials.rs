//! Adding, listing, reading and resolving credentials, and where their secrets end up.

use certitude_proto::credential::v1::{
    GetCredentialRequest, ListCredentialsRequest, ResolveCredentialRequest,
};
use entrust_sim::Scenario;
use prost::Message;
use tonic::Code;

use crate::support::{DEMO_KEY, TestService, demo_request, start_simulator};

async fn credential_rows(service: &TestService) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM credentials")
        .fetch_one(&service.db.pool)
        .await
        .expect("the credentials table can be counted")
}

async fn outbox_rows(service: &TestService) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&service.db.pool)
        .await
        .expect("the outbox can be counted")
}

#[tokio::test]
async fn wrong_api_key_is_rejected_and_nothing_stored() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let mut request = demo_request("production", &simulator.base_url());
    request.api_key = "not-the-demo-key".to_owned();

    let status = service
        .client
        .add_credential(request)
        .await
        .expect_err("Entrust rejects the key");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("api_key: Entrust rejected the user name or API key"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains("not-the-demo-key"));
    assert_eq!(credential_rows(&service).await, 0);
    assert_eq!(outbox_rows(&service).await, 0);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn unreachable_url_is_unavailable_and_nothing_stored() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port exists")
        .port();
    let url = format!("http://127.0.0.1:{closed_port}/enterprise/v2");
    let mut service = TestService::start().await;

    let status = service
        .client
        .add_credential(demo_request("production", &url))
        .await
        .expect_err("nothing listens on the port");

    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        format!(
            "Entrust at {url} is unreachable (connection failed): check api_base_url and the \
             network, then retry"
        )
    );
    assert_eq!(credential_rows(&service).await, 0);
    assert_eq!(outbox_rows(&service).await, 0);
    service.stop().await;
}

#[tokio::test]
async fn silent_url_is_unavailable_without_retry() {
    // The kernel completes the TCP handshake of every connection to a listening socket, so the
    // client sees its connection accepted, but nothing ever reads the request or responds.
    // The test accepts the connections only after the call, to count them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port exists");
    let url = format!(
        "http://{}/enterprise/v2",
        listener.local_addr().expect("the listener has an address")
    );
    let mut service = TestService::start_with(&[("CERTITUDE_ENTRUST_VERIFY_TIMEOUT", "1s")]).await;

    let status = service
        .client
        .add_credential(demo_request("production", &url))
        .await
        .expect_err("Entrust never answers");

    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        format!(
            "api_base_url: Entrust at {url} did not answer within 1s; check the URL, or raise \
             CERTITUDE_ENTRUST_VERIFY_TIMEOUT when Entrust is slow to respond"
        )
    );
    assert_eq!(credential_rows(&service).await, 0);
    assert_eq!(outbox_rows(&service).await, 0);
    listener
        .set_nonblocking(true)
        .expect("the listener can stop blocking");
    let connections = std::iter::from_fn(|| listener.accept().ok()).count();
    assert_eq!(connections, 1, "the check must not retry");
    service.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_named_without_calling_entrust() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let blank_name = demo_request("  ", &simulator.base_url());
    let remote_http = demo_request("remote", "http://entrust.example/enterprise/v2");

    let name_status = service
        .client
        .add_credential(blank_name)
        .await
        .expect_err("the name is blank");
    let url_status = service
        .client
        .add_credential(remote_http)
        .await
        .expect_err("plain HTTP to a remote host");

    assert_eq!(name_status.code(), Code::InvalidArgument);
    assert!(name_status.message().starts_with("name: is required"));
    assert_eq!(url_status.code(), Code::InvalidArgument);
    assert!(url_status.message().starts_with("api_base_url: "));
    assert!(simulator.request_log().is_empty());
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn duplicate_name_is_already_exists() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    service
        .client
        .add_credential(demo_request("production", &simulator.base_url()))
        .await
        .expect("the first credential is added");

    let status = service
        .client
        .add_credential(demo_request("production", &simulator.base_url()))
        .await
        .expect_err("the name is taken");

    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().starts_with("name: "),
        "{}",
        status.message()
    );
    assert_eq!(credential_rows(&service).await, 1);
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn list_and_get_never_return_the_api_key() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let added = service
        .client
        .add_credential(demo_request("production", &simulator.base_url()))
        .await
        .expect("the credential is added")
        .into_inner();

    let listed = service
        .client
        .list_credentials(ListCredentialsRequest::default())
        .await
        .expect("credentials are listed")
        .into_inner();
    let got = service
        .client
        .get_credential(GetCredentialRequest {
            id: added.id.clone(),
        })
        .await
        .expect("the credential is found")
        .into_inner();

    assert_eq!(listed.credentials, vec![got.clone()]);
    assert_eq!(got.name, "production");
    assert_eq!(got.username, "demo-admin");
    assert!(got.is_administrator);
    assert!(!got.has_client_certificate);
    for bytes in [
        added.encode_to_vec(),
        listed.encode_to_vec(),
        got.encode_to_vec(),
    ] {
        assert!(!contains(&bytes, DEMO_KEY.as_bytes()));
    }
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn stored_row_holds_secrets_only_sealed() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let identity = client_identity();
    let mut request = demo_request("with-certificate", &simulator.base_url());
    request.client_certificate_pem = identity.certificate_pem.clone();
    request.client_key_pem = identity.key_pem.clone();
    service
        .client
        .add_credential(request)
        .await
        .expect("the credential is added");

    let (api_key, client_key, row_text): (Vec<u8>, Option<Vec<u8>>, String) =
        sqlx::query_as("SELECT api_key, client_key, c::text FROM credentials c")
            .fetch_one(&service.db.pool)
            .await
            .expect("the row is stored");

    let client_key = client_key.expect("the client key is stored");
    let key_body = identity.key_body();
    assert!(!contains(&api_key, DEMO_KEY.as_bytes()));
    assert!(!contains(&client_key, key_body.as_bytes()));
    assert!(!row_text.contains(DEMO_KEY), "{row_text}");
    assert!(!row_text.contains(&hex(DEMO_KEY.as_bytes())));
    assert!(!row_text.contains(&key_body));
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn resolve_returns_the_opened_secrets() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let identity = client_identity();
    let mut request = demo_request("with-certificate", &simulator.base_url());
    request.client_certificate_pem = identity.certificate_pem.clone();
    request.client_key_pem = identity.key_pem.clone();
    let added = service
        .client
        .add_credential(request)
        .await
        .expect("the credential is added")
        .into_inner();

    let resolved = service
        .client
        .resolve_credential(ResolveCredentialRequest {
            id: added.id.clone(),
        })
        .await
        .expect("the credential resolves")
        .into_inner();

    assert_eq!(resolved.api_key, DEMO_KEY);
    assert_eq!(resolved.client_key_pem, identity.key_pem);
    assert_eq!(
        resolved.client_certificate_pem,
        identity.certificate_pem.trim()
    );
    assert_eq!(resolved.credential, Some(added));
    service.stop().await;
    simulator.shutdown().await;
}

#[tokio::test]
async fn unknown_credential_is_not_found() {
    let mut service = TestService::start().await;

    let status = service
        .client
        .get_credential(GetCredentialRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("no credential has the id");
    let malformed = service
        .client
        .resolve_credential(ResolveCredentialRequest {
            id: "42".to_owned(),
        })
        .await
        .expect_err("the id is not a UUID");

    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().starts_with("id: "));
    service.stop().await;
}

#[tokio::test]
async fn credentials_page_oldest_first() {
    let simulator = start_simulator(Scenario::demo()).await;
    let mut service = TestService::start().await;
    let mut names = Vec::new();
    for index in 0..3 {
        let name = format!("credential-{index}");
        service
            .client
            .add_credential(demo_request(&name, &simulator.base_url()))
            .await
            .expect("the credential is added");
        names.push(name);
    }

    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = service
            .client
            .list_credentials(ListCredentialsRequest {
                page_size: 2,
                page_token,
            })
            .await
            .expect("a page is listed")
            .into_inner();
        assert!(page.credentials.len() <= 2);
        listed.extend(page.credentials.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    assert_eq!(listed, names);
    service.stop().await;
    simulator.shutdown().await;
}

/// A client certificate and its key in PEM.
struct Identity {
    certificate_pem: String,
    key_pem: String,
}

impl Identity {
    /// Returns the key's base64 body, the part that must never be stored in plain text.
    fn key_body(&self) -> String {
        self.key_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    }
}

fn client_identity() -> Identity {
    let certified = rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()])
        .expect("a certificate can be generated");
    Identity {
        certificate_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
