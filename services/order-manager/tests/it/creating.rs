//! CreateOrder: issuing at once, idempotency and Entrust's refusals.

use std::collections::HashSet;

use certitude_proto::events::v1::{CertificateIssued, OrderCreated};
use certitude_proto::order::v1::CreateOrderRequest;
use tonic::Code;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::FromDer;

use crate::support::{CREDENTIAL_ID, Harness, payloads};

/// Returns the SubjectPublicKeyInfo (DER) of a certificate or CSR in PEM.
pub fn public_key_of(pem: &str, is_csr: bool) -> Vec<u8> {
    let (_, block) = parse_x509_pem(pem.as_bytes()).expect("the PEM parses");
    if is_csr {
        let (_, csr) = X509CertificationRequest::from_der(&block.contents).expect("the CSR parses");
        csr.certification_request_info.subject_pki.raw.to_vec()
    } else {
        let certificate = block.parse_x509().expect("the certificate parses");
        certificate.public_key().raw.to_vec()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_order_is_issued_with_csr_key() {
    let harness = Harness::start().await;
    let mut request = harness.order_request("issue-ecdsa", "www.example.com");
    request.dns_names = vec!["example.com".to_owned()];

    let order = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect("the order is placed")
        .into_inner();

    assert_eq!(order.status, "ISSUED");
    assert_eq!(order.entrust_status, "ACTIVE");
    assert!(order.tracking_id > 0, "{order:?}");
    assert!(!order.certificate_id.is_empty(), "{order:?}");
    assert!(!order.serial_number.is_empty(), "{order:?}");
    assert_eq!(order.dns_names, ["www.example.com", "example.com"]);
    assert_eq!(order.key_algorithm, "ECDSA_P256");

    let events = harness.published_events().await;
    let created: Vec<(String, OrderCreated)> = payloads::<OrderCreated>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    let issued: Vec<(String, CertificateIssued)> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    let created_ids: HashSet<&String> = created.iter().map(|(id, _)| id).collect();
    let issued_ids: HashSet<&String> = issued.iter().map(|(id, _)| id).collect();
    assert_eq!(created_ids.len(), 1, "OrderCreated events: {created:?}");
    assert_eq!(created.len(), 1);
    assert_eq!(issued_ids.len(), 1);
    assert_eq!(issued.len(), 1);

    let (_, created) = &created[0];
    assert_eq!(created.status, "ISSUED");
    assert_eq!(created.tracking_id, order.tracking_id);
    let (_, certificate) = &issued[0];
    let key = harness
        .keys
        .key_for("issue-ecdsa")
        .expect("a key was generated");
    assert_eq!(certificate.certificate_id, order.certificate_id);
    assert_eq!(certificate.key_id, key.key_id);
    assert_eq!(certificate.credential_id, CREDENTIAL_ID);
    assert_eq!(certificate.tracking_id, order.tracking_id);
    assert_eq!(certificate.serial_number, order.serial_number);
    assert_eq!(certificate.order_status, "ISSUED");
    assert!(!certificate.chain_pem.is_empty());
    assert_eq!(
        public_key_of(&certificate.certificate_pem, false),
        public_key_of(&key.csr_pem, true),
        "the certificate carries another key than the CSR"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_idempotency_key_places_one_order() {
    let harness = Harness::start().await;
    let request = harness.order_request("same-key", "www.example.org");

    let first = harness
        .client
        .clone()
        .create_order(request.clone())
        .await
        .expect("the first request places the order")
        .into_inner();
    let second = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect("the repeated request succeeds")
        .into_inner();

    assert_eq!(second.id, first.id);
    assert_eq!(second.tracking_id, first.tracking_id);
    assert_eq!(second.certificate_id, first.certificate_id);
    assert_eq!(
        harness.order_posts().len(),
        1,
        "{:?}",
        harness.order_posts()
    );
    assert_eq!(harness.all_orders(50).await.len(), 1);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_reused_for_other_order_is_rejected() {
    let harness = Harness::start().await;
    harness
        .client
        .clone()
        .create_order(harness.order_request("reused-key", "www.example.com"))
        .await
        .expect("the first order is placed");

    let status = harness
        .client
        .clone()
        .create_order(harness.order_request("reused-key", "shop.example.com"))
        .await
        .expect_err("the key belongs to another order");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("idempotency_key: "),
        "{status:?}"
    );
    assert_eq!(harness.order_posts().len(), 1);
    harness.stop().await;
}

/// Sends `request` and returns the status of its rejection, checking that nothing was stored
/// and nothing was sent to Entrust.
async fn rejected_before_entrust(harness: &Harness, request: CreateOrderRequest) -> tonic::Status {
    let status = harness
        .client
        .clone()
        .create_order(request)
        .await
        .expect_err("the catalog check rejects the order");
    assert!(harness.all_orders(50).await.is_empty());
    assert!(harness.order_posts().is_empty());
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_domain_is_rejected_before_entrust() {
    let harness = Harness::start().await;

    let status = rejected_before_entrust(
        &harness,
        harness.order_request("unverified", "www.new-product.test"),
    )
    .await;

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().starts_with(
            "dns_names: www.new-product.test is on domain new-product.test, whose verification \
             status is INITIAL_VERIFICATION"
        ),
        "{status:?}"
    );
    assert!(harness.keys.key_for("unverified").is_none());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_refusals_name_what_to_fix() {
    let harness = Harness::start().await;
    let base = harness.order_request("catalog", "www.example.com");
    let cases = [
        (
            CreateOrderRequest {
                dns_names: vec!["shop.unknown-domain.test".to_owned()],
                ..base.clone()
            },
            "dns_names: shop.unknown-domain.test is on no domain of the account",
        ),
        (
            CreateOrderRequest {
                organization: "Certitude Demo Labs".to_owned(),
                ..base.clone()
            },
            "organization: Certitude Demo Labs has verification status PENDING",
        ),
        (
            CreateOrderRequest {
                product: "PD_SSL".to_owned(),
                ..base.clone()
            },
            "product: PD_SSL has no certificates left (2 used of 2)",
        ),
        (
            CreateOrderRequest {
                product: "CODE_SIGNING".to_owned(),
                ..base.clone()
            },
            "product: CODE_SIGNING is not in the account's inventory",
        ),
    ];

    for (request, expected) in cases {
        let status = rejected_before_entrust(&harness, request).await;

        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(status.message().starts_with(expected), "{status:?}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validity_over_public_maximum_is_invalid() {
    let harness = Harness::start().await;
    let request = CreateOrderRequest {
        validity_days: 398,
        ..harness.order_request("too-long", "www.example.com")
    };

    let status = rejected_before_entrust(&harness, request).await;

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("validity_days: 398 days exceeds"),
        "{status:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flex_pool_and_unlimited_products_are_ordered() {
    let harness = Harness::start().await;

    for (key, product) in [("flex", "QWAC_SSL"), ("unlimited", "UC_SSL")] {
        let request = CreateOrderRequest {
            product: product.to_owned(),
            ..harness.order_request(key, "www.example.com")
        };

        let order = harness
            .client
            .clone()
            .create_order(request)
            .await
            .expect("the account can pay for the product")
            .into_inner();

        assert_eq!(order.status, "ISSUED", "{order:?}");
        assert_eq!(order.product, product);
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_request_stores_nothing() {
    let harness = Harness::start().await;

    let status = harness
        .client
        .clone()
        .create_order(CreateOrderRequest {
            common_name: "not a host name".to_owned(),
            ..harness.order_request("invalid", "www.example.com")
        })
        .await
        .expect_err("the common name is not a DNS name");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("common_name: "), "{status:?}");
    assert!(harness.all_orders(50).await.is_empty());
    assert!(harness.order_posts().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_credential_is_not_found() {
    let harness = Harness::start().await;

    let status = harness
        .client
        .clone()
        .create_order(CreateOrderRequest {
            credential_id: "no-such-credential".to_owned(),
            ..harness.order_request("unknown-credential", "www.example.com")
        })
        .await
        .expect_err("the credential does not exist");

    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("no-such-credential"),
        "{status:?}"
    );
    harness.stop().await;
}
