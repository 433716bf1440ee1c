//! CreateOrder with `validate_only`: Entrust validates the order without placing it, and
//! Certitude stores nothing, sends no event and keeps no key.

use certitude_proto::order::v1::{CreateOrderRequest, Order};
use entrust::model::Product;
use rcgen::{CertificateParams, DistinguishedName, KeyPair, PKCS_ECDSA_P384_SHA384};
use tonic::Code;

use crate::support::Harness;

/// Returns a validate-only request without an idempotency key.
fn validation(harness: &Harness, common_name: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: String::new(),
        validate_only: true,
        ..harness.order_request("unused", common_name)
    }
}

async fn create(harness: &Harness, request: CreateOrderRequest) -> Result<Order, tonic::Status> {
    harness
        .client
        .clone()
        .create_order(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Reads the account's product inventory from the simulator (`GET /inventories`).
async fn inventory(harness: &Harness) -> Vec<Product> {
    harness
        .entrust
        .products()
        .await
        .expect("the simulator lists its inventory")
}

/// Checks that nothing of an order remains: no row, no event, no key.
async fn assert_nothing_kept(harness: &Harness) {
    assert!(harness.all_orders(50).await.is_empty());
    let events = harness.published_events().await;
    assert!(events.is_empty(), "{events:?}");
    assert!(harness.keys.key_for("").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_stores_nothing() {
    let harness = Harness::start().await;
    let before = inventory(&harness).await;
    let request = CreateOrderRequest {
        dns_names: vec!["Example.com".to_owned()],
        organization: "Certitude Demo Corp".to_owned(),
        key_algorithm: "RSA_2048".to_owned(),
        validity_days: 90,
        ..validation(&harness, "www.example.com")
    };

    let order = create(&harness, request)
        .await
        .expect("Entrust validates the order");

    assert_eq!(order.status, "VALIDATED");
    assert_eq!(order.id, "");
    assert_eq!(order.tracking_id, 0);
    assert_eq!(order.created_at, "");
    assert_eq!(order.product, "STANDARD_SSL");
    assert_eq!(order.common_name, "www.example.com");
    assert_eq!(order.dns_names, ["www.example.com", "example.com"]);
    assert_eq!(order.organization, "Certitude Demo Corp");
    assert_eq!(order.key_algorithm, "RSA_2048");
    assert_eq!(order.validity_days, 90);
    let posts = harness.order_posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0].status, 200,
        "a validateOnly request is answered 200"
    );
    assert_eq!(inventory(&harness).await, before);
    assert_nothing_kept(&harness).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_sends_a_supplied_csr() {
    let harness = Harness::start().await;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("a P-384 key");
    let mut params = CertificateParams::new(vec!["www.example.com".to_owned()]).expect("a name");
    // Without a common name, the order takes its common name from the first DNS name.
    params.distinguished_name = DistinguishedName::new();
    let csr_pem = params
        .serialize_request(&key)
        .and_then(|request| request.pem())
        .expect("the CSR serializes");
    let request = CreateOrderRequest {
        common_name: String::new(),
        key_algorithm: String::new(),
        csr_pem,
        ..validation(&harness, "unused.example.com")
    };

    let order = create(&harness, request)
        .await
        .expect("Entrust validates the order");

    assert_eq!(order.status, "VALIDATED");
    assert_eq!(order.common_name, "www.example.com");
    assert_eq!(order.dns_names, ["www.example.com"]);
    assert_eq!(order.key_algorithm, "ECDSA_P384");
    assert_eq!(harness.order_posts().len(), 1);
    assert_nothing_kept(&harness).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_domain_fails_before_entrust() {
    let harness = Harness::start().await;

    let status = create(&harness, validation(&harness, "www.new-product.test"))
        .await
        .expect_err("the domain is not verified");

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().starts_with(
            "dns_names: www.new-product.test is on domain new-product.test, whose verification \
             status is INITIAL_VERIFICATION"
        ),
        "{status:?}"
    );
    assert!(
        harness.order_posts().is_empty(),
        "{:?}",
        harness.order_posts()
    );
    assert_nothing_kept(&harness).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrust_rejection_carries_its_message() {
    let harness = Harness::start().await;
    // The catalog allows both names, but STANDARD_SSL adds only the www partner of the common
    // name, so Entrust rejects the order.
    let request = CreateOrderRequest {
        dns_names: vec!["api.example.com".to_owned()],
        ..validation(&harness, "www.example.com")
    };

    let status = create(&harness, request)
        .await
        .expect_err("Entrust rejects the names");

    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("Entrust rejected the order in validation: "),
        "{status:?}"
    );
    assert!(
        status.message().contains("may only add example.com"),
        "{status:?}"
    );
    let posts = harness.order_posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 400);
    assert_nothing_kept(&harness).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_idempotency_key_is_still_checked() {
    let harness = Harness::start().await;
    let request = CreateOrderRequest {
        idempotency_key: "line\nbreak".to_owned(),
        ..validation(&harness, "www.example.com")
    };

    let status = create(&harness, request)
        .await
        .expect_err("a given key must be well-formed");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("idempotency_key: "),
        "{status:?}"
    );
    assert!(harness.order_posts().is_empty());
    harness.stop().await;
}
