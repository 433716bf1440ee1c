//! ListCertificates and GetCertificate through the gRPC client, on certificates written straight
//! into the table of a started inventory.

mod support;

use std::collections::HashSet;

use certitude_inventory::certificate;
use certitude_inventory::certificate_store::{
    self, CertificateStatus, ChainStatus, InsertOutcome, NewCertificate, Placement, Source,
};
use certitude_proto::inventory::v1::{GetCertificateRequest, ListCertificatesRequest};
use support::ca::TestCa;
use support::{Inventory, NOW};
use time::Duration;
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

/// Stores `count` certificates directly: every two share a `created_at`, so the id decides their
/// order. Returns their ids, newest first.
async fn store_certificates(inventory: &Inventory, count: u8) -> Vec<Uuid> {
    let ca = TestCa::new("Test Issuing CA");
    let mut conn = inventory.db.pool.acquire().await.expect("a connection");
    let mut stored = Vec::new();
    for index in 0..count {
        let pem = ca.issue_with_fresh_key(
            &format!("host{index}.example.com"),
            &[index + 1],
            datetime!(2030-05-01 00:00:00 UTC),
            datetime!(2031-05-01 00:00:00 UTC),
        );
        let created_at = NOW - Duration::minutes(i64::from(index / 2));
        let new = NewCertificate {
            id: Uuid::now_v7(),
            order_id: None,
            tracking_id: None,
            credential_id: None,
            key_id: None,
            replaces_certificate_id: None,
            replacement: None,
            facts: certificate::parse_pem(&pem).expect("the certificate parses"),
            certificate_pem: pem,
            chain_pem: Vec::new(),
            chain_status: ChainStatus::Missing,
            status: CertificateStatus::Active,
            source: Source::Import,
            created_at,
        };
        let outcome = certificate_store::insert(&mut conn, &new, &Placement::held())
            .await
            .expect("the insert succeeds");
        assert!(matches!(outcome, InsertOutcome::Inserted(_)), "{outcome:?}");
        stored.push((created_at, new.id));
    }
    stored.sort_by(|left, right| right.cmp(left));
    stored.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn pages_walk_every_certificate_newest_first() {
    let inventory = Inventory::start().await;
    let expected = store_certificates(&inventory, 5).await;

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = inventory
            .client
            .clone()
            .list_certificates(ListCertificatesRequest {
                page_size: 2,
                page_token: page_token.clone(),
                ..ListCertificatesRequest::default()
            })
            .await
            .expect("ListCertificates succeeds")
            .into_inner();
        pages += 1;
        assert!(page.certificates.len() <= 2);
        seen.extend(
            page.certificates
                .iter()
                .map(|c| Uuid::parse_str(&c.id).expect("UUID")),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    inventory.stop().await;
}

#[tokio::test]
async fn page_size_zero_returns_the_default_page() {
    let inventory = Inventory::start().await;
    store_certificates(&inventory, 3).await;

    let page = inventory
        .client
        .clone()
        .list_certificates(ListCertificatesRequest::default())
        .await
        .expect("ListCertificates succeeds")
        .into_inner();

    assert_eq!(page.certificates.len(), 3);
    assert_eq!(page.next_page_token, "");
    inventory.stop().await;
}

#[tokio::test]
async fn foreign_page_token_is_invalid_argument() {
    let inventory = Inventory::start().await;

    let status = inventory
        .client
        .clone()
        .list_certificates(ListCertificatesRequest {
            page_size: 10,
            page_token: "not-a-token".to_owned(),
            ..ListCertificatesRequest::default()
        })
        .await
        .expect_err("the token is rejected");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("page_token: "),
        "{}",
        status.message()
    );
    inventory.stop().await;
}

#[tokio::test]
async fn unknown_certificate_is_not_found() {
    let inventory = Inventory::start().await;

    let status = inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            id: Uuid::now_v7().to_string(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect_err("no such certificate");

    assert_eq!(status.code(), Code::NotFound);
    inventory.stop().await;
}

#[tokio::test]
async fn malformed_certificate_id_is_invalid_argument() {
    let inventory = Inventory::start().await;

    let status = inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            id: "cert-42".to_owned(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect_err("the id is not a UUID");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("id: "), "{}", status.message());
    inventory.stop().await;
}

#[tokio::test]
async fn active_certificate_reads_as_expired_after_not_after() {
    let inventory = Inventory::start().await;
    let ids = store_certificates(&inventory, 1).await;

    inventory.clock.set(datetime!(2031-05-01 00:00:01 UTC));
    let stored = inventory
        .client
        .clone()
        .get_certificate(GetCertificateRequest {
            id: ids[0].to_string(),
            ..GetCertificateRequest::default()
        })
        .await
        .expect("the certificate exists")
        .into_inner();

    assert_eq!(stored.status, "expired");
    inventory.stop().await;
}
