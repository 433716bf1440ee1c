//! CreateOrder with the requester's own CSR (`csr_pem`): issued with the CSR's key and no key
//! from the key source, names taken from the CSR, the CSR checks, idempotency and renewal with
//! `reuse_key`.

use certitude_proto::events::v1::CertificateIssued;
use certitude_proto::order::v1::{CreateOrderRequest, Order, RenewOrderRequest};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
    PublicKeyData, RsaKeySize,
};
use tonic::Code;

use crate::admin_support::AdminHarness;
use crate::creating::public_key_of;
use crate::support::{Harness, payloads};

/// A CSR for `www.example.com` with an RSA 1024-bit key, made with the OpenSSL CLI because
/// rcgen cannot generate such a key (see tests/fixtures/README.md).
const RSA_1024_CSR: &str = include_str!("../fixtures/rsa-1024.csr.pem");

/// A CERTIFICATE REQUEST block whose content is no DER structure.
const GARBAGE_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n-----END CERTIFICATE REQUEST-----\n";

/// Returns a CSR signed by `key` with `common_name` as its subject common name, when given,
/// and `dns_names` as its subject alternative names.
fn csr_pem(key: &KeyPair, common_name: Option<&str>, dns_names: &[&str]) -> String {
    let names: Vec<String> = dns_names.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("the names are valid");
    let mut subject = DistinguishedName::new();
    if let Some(name) = common_name {
        subject.push(DnType::CommonName, name);
    }
    params.distinguished_name = subject;
    params
        .serialize_request(key)
        .and_then(|request| request.pem())
        .expect("the CSR serializes")
}

fn p256_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("a P-256 key")
}

/// Returns `csr_pem` with the last byte of its signature flipped.
fn with_broken_signature(csr_pem: &str) -> String {
    let block = pem::parse(csr_pem).expect("the CSR is PEM");
    let mut der = block.contents().to_vec();
    let last = der.last_mut().expect("the CSR is not empty");
    *last ^= 0x01;
    pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der))
}

/// Returns a request that takes its names and key algorithm from `csr_pem`.
fn csr_request(harness: &Harness, idempotency_key: &str, csr_pem: String) -> CreateOrderRequest {
    CreateOrderRequest {
        common_name: String::new(),
        key_algorithm: String::new(),
        csr_pem,
        ..harness.order_request(idempotency_key, "unused.example.com")
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

/// Returns the CertificateIssued event of `order_id`, checking that there is exactly one.
async fn certificate_issued(harness: &Harness, order_id: &str) -> CertificateIssued {
    let events = harness.published_events().await;
    let mut issued: Vec<CertificateIssued> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .map(|(_, event)| event)
        .filter(|event| event.order_id == order_id)
        .collect();
    assert_eq!(issued.len(), 1, "{issued:?}");
    issued.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_csr_is_issued_with_its_key() {
    let harness = Harness::start().await;
    let key = p256_key();
    let csr = csr_pem(
        &key,
        Some("www.example.com"),
        &["www.example.com", "example.com"],
    );

    let order = create(&harness, csr_request(&harness, "own-ecdsa", csr))
        .await
        .expect("the order is placed");

    assert_eq!(order.status, "ISSUED", "{order:?}");
    assert_eq!(order.common_name, "www.example.com");
    assert_eq!(order.dns_names, ["www.example.com", "example.com"]);
    assert_eq!(order.key_algorithm, "ECDSA_P256");
    assert_eq!(order.key_id, "");
    assert!(harness.keys.key_for("own-ecdsa").is_none());
    let issued = certificate_issued(&harness, &order.id).await;
    assert_eq!(issued.key_id, "");
    assert_eq!(issued.certificate_id, order.certificate_id);
    assert_eq!(
        public_key_of(&issued.certificate_pem, false),
        key.subject_public_key_info(),
        "the certificate carries another key than the CSR"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_csr_is_issued_with_its_key() {
    let harness = Harness::start().await;
    let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).expect("an RSA key");
    let csr = csr_pem(&key, None, &["www.example.org"]);
    let request = CreateOrderRequest {
        common_name: "www.example.org".to_owned(),
        dns_names: vec!["example.org".to_owned()],
        key_algorithm: "rsa_2048".to_owned(),
        ..csr_request(&harness, "own-rsa", csr)
    };

    let order = create(&harness, request)
        .await
        .expect("the order is placed");

    assert_eq!(order.status, "ISSUED", "{order:?}");
    assert_eq!(order.dns_names, ["www.example.org", "example.org"]);
    assert_eq!(order.key_algorithm, "RSA_2048");
    assert_eq!(order.key_id, "");
    assert!(harness.keys.key_for("own-rsa").is_none());
    let issued = certificate_issued(&harness, &order.id).await;
    assert_eq!(issued.key_id, "");
    assert_eq!(
        public_key_of(&issued.certificate_pem, false),
        key.subject_public_key_info(),
        "the certificate carries another key than the CSR"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_csr_order_places_one() {
    let harness = Harness::start().await;
    let csr = csr_pem(&p256_key(), Some("www.example.com"), &["www.example.com"]);
    let request = csr_request(&harness, "own-repeat", csr);

    let first = create(&harness, request.clone())
        .await
        .expect("the order is placed");
    let again = create(&harness, request.clone())
        .await
        .expect("the repeat returns the order");
    let other_csr = csr_pem(&p256_key(), Some("www.example.com"), &["www.example.com"]);
    let other = create(
        &harness,
        CreateOrderRequest {
            csr_pem: other_csr,
            ..request.clone()
        },
    )
    .await
    .expect_err("the key belongs to an order with another CSR");
    let generated = create(
        &harness,
        CreateOrderRequest {
            csr_pem: String::new(),
            common_name: "www.example.com".to_owned(),
            key_algorithm: "ECDSA_P256".to_owned(),
            ..request
        },
    )
    .await
    .expect_err("the key belongs to an order with a supplied CSR");

    assert_eq!(again.id, first.id);
    assert_eq!(other.code(), Code::InvalidArgument);
    assert!(
        other.message().starts_with("idempotency_key: "),
        "{other:?}"
    );
    assert_eq!(generated.code(), Code::InvalidArgument);
    assert!(
        generated.message().starts_with("idempotency_key: "),
        "{generated:?}"
    );
    assert_eq!(harness.order_posts().len(), 1);
    assert!(harness.keys.key_for("own-repeat").is_none());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csr_refusals_name_the_field() {
    let harness = Harness::start().await;
    let valid = csr_pem(&p256_key(), Some("www.example.com"), &["www.example.com"]);
    let with_extra_name = csr_pem(
        &p256_key(),
        Some("www.example.com"),
        &["www.example.com", "x.example.com"],
    );
    let cases = [
        (
            "not PEM",
            csr_request(&harness, "refused", "not a CSR".to_owned()),
            "csr_pem: contains no PEM block;",
        ),
        (
            "not a certification request",
            csr_request(&harness, "refused", GARBAGE_CSR.to_owned()),
            "csr_pem: the PEM block does not contain a PKCS #10 certification request",
        ),
        (
            "broken signature",
            csr_request(&harness, "refused", with_broken_signature(&valid)),
            "csr_pem: the CSR's signature does not verify",
        ),
        (
            "RSA 1024",
            csr_request(&harness, "refused", RSA_1024_CSR.to_owned()),
            "csr_pem: the CSR's key is RSA 1024 bits;",
        ),
        (
            "name outside the order",
            CreateOrderRequest {
                dns_names: vec!["example.com".to_owned()],
                ..csr_request(&harness, "refused", with_extra_name)
            },
            "csr_pem: the CSR names x.example.com, which the order does not;",
        ),
        (
            "other key algorithm",
            CreateOrderRequest {
                key_algorithm: "RSA_2048".to_owned(),
                ..csr_request(&harness, "refused", valid.clone())
            },
            "key_algorithm: is RSA_2048 but the CSR's key is ECDSA_P256;",
        ),
        (
            "other common name",
            CreateOrderRequest {
                common_name: "example.com".to_owned(),
                dns_names: vec!["www.example.com".to_owned()],
                ..csr_request(&harness, "refused", valid)
            },
            "common_name: is example.com but the CSR's common name is www.example.com;",
        ),
    ];

    for (case, request, expected) in cases {
        let status = create(&harness, request)
            .await
            .expect_err("the CSR is rejected");

        assert_eq!(status.code(), Code::InvalidArgument, "{case}: {status:?}");
        assert!(status.message().starts_with(expected), "{case}: {status:?}");
    }
    assert!(harness.all_orders(50).await.is_empty());
    assert!(
        harness.order_posts().is_empty(),
        "{:?}",
        harness.order_posts()
    );
    assert!(harness.keys.key_for("refused").is_none());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_with_reuse_key_sends_the_csr_again() {
    let harness = AdminHarness::start().await;
    let key = p256_key();
    let request = CreateOrderRequest {
        common_name: String::new(),
        key_algorithm: String::new(),
        csr_pem: csr_pem(&key, Some("www.example.com"), &["www.example.com"]),
        ..harness.order_request("own-first", &harness.credentials.admin)
    };
    let previous = harness
        .orders
        .clone()
        .create_order(request)
        .await
        .expect("the order is placed")
        .into_inner();
    assert_eq!(previous.status, "ISSUED", "{previous:?}");
    harness.clock.advance(time::Duration::days(31));

    let renewed = harness
        .orders
        .clone()
        .renew_order(RenewOrderRequest {
            id: previous.id.clone(),
            idempotency_key: "own-renew".to_owned(),
            reuse_key: true,
            actor: "renewal-bot".to_owned(),
            ..RenewOrderRequest::default()
        })
        .await
        .expect("the certificate is old enough to renew")
        .into_inner();

    assert_eq!(renewed.status, "ISSUED", "{renewed:?}");
    assert_eq!(renewed.renews_order_id, previous.id);
    assert_eq!(renewed.key_id, "");
    assert_eq!(renewed.key_algorithm, "ECDSA_P256");
    assert!(harness.keys.key_for("own-renew").is_none());
    let certificate = harness
        .at_entrust(renewed.tracking_id)
        .await
        .certificate_pem
        .expect("the renewal is issued");
    assert_eq!(
        public_key_of(&certificate, false),
        key.subject_public_key_info()
    );
    let history = harness.history(&renewed.id).await;
    assert_eq!(
        history[0].detail,
        format!(
            "renewal of order {} with the previous order's supplied CSR (ECDSA_P256)",
            previous.id
        )
    );
    harness.stop().await;
}
