//! ListCertificates' filters, sorts and keyset pages through the gRPC client, on certificates
//! written straight into the table of a started inventory with chosen attributes.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;

use certitude_inventory::certificate::CertificateFacts;
use certitude_inventory::certificate_store::{
    self, CertificateStatus, ChainStatus, InsertOutcome, InventoryState, NewCertificate, Placement,
    Source,
};
use certitude_proto::inventory::v1::{
    CertificateSort, ListCertificatesRequest, ListCertificatesResponse, SortOrder,
};
use support::ca::TestCa;
use support::{CURRENT, Inventory, NOW};
use time::{Duration, OffsetDateTime};
use tonic::{Code, Status};
use uuid::Uuid;

const ENTRUST_L1K: &str = "CN=Entrust Certification Authority - L1K, O=Entrust, Inc., C=US";
const OTHER_CA: &str = "CN=Other Issuing CA, O=Example Trust, C=DE";
const CREDENTIAL_A: &str = "0191d2a0-0000-7000-8000-00000000000a";

/// One certificate of the data set. Common names are chosen so that they sort the same under
/// the C collation and the usual language collations.
#[derive(Debug, Clone)]
struct Row {
    name: &'static str,
    common_name: Option<&'static str>,
    dns_names: &'static [&'static str],
    issuer: &'static str,
    key_type: &'static str,
    source: Source,
    credential_id: Option<&'static str>,
    /// Days from NOW.
    expires_in_days: i64,
    /// Minutes before NOW.
    created_minutes_ago: i64,
    status: CertificateStatus,
    superseded: bool,
    state: InventoryState,
}

const BASE: Row = Row {
    name: "",
    common_name: None,
    dns_names: &[],
    issuer: ENTRUST_L1K,
    key_type: "EC",
    source: Source::Order,
    credential_id: None,
    expires_in_days: 200,
    created_minutes_ago: 0,
    status: CertificateStatus::Active,
    superseded: false,
    state: InventoryState::Held,
};

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "shop",
            common_name: Some("shop.example.com"),
            dns_names: &["shop.example.com", "www.shop.example.com"],
            credential_id: Some(CREDENTIAL_A),
            expires_in_days: 10,
            created_minutes_ago: 1,
            ..BASE
        },
        Row {
            name: "shop-twin",
            common_name: Some("Shop.Example.com"),
            dns_names: &["shop.example.com"],
            key_type: "RSA",
            expires_in_days: 10,
            created_minutes_ago: 1,
            ..BASE
        },
        Row {
            name: "api",
            common_name: Some("API.Example.org"),
            dns_names: &["api.example.org"],
            key_type: "RSA",
            source: Source::Import,
            expires_in_days: 100,
            created_minutes_ago: 2,
            ..BASE
        },
        Row {
            name: "mail",
            common_name: None,
            dns_names: &["mail.corp.example"],
            issuer: OTHER_CA,
            key_type: "RSA",
            expires_in_days: -5,
            created_minutes_ago: 3,
            ..BASE
        },
        Row {
            name: "legacy",
            common_name: Some("legacy.example.net"),
            dns_names: &["legacy.example.net"],
            issuer: OTHER_CA,
            key_type: "RSA",
            expires_in_days: -100,
            created_minutes_ago: 3,
            status: CertificateStatus::Expired,
            ..BASE
        },
        Row {
            name: "underscore",
            common_name: Some("a_b.example.com"),
            dns_names: &["a-b.example.com"],
            created_minutes_ago: 4,
            ..BASE
        },
        Row {
            name: "letter",
            common_name: Some("axb.example.com"),
            dns_names: &["axb.example.com"],
            created_minutes_ago: 4,
            ..BASE
        },
        Row {
            name: "revoked",
            common_name: Some("revoked.example.com"),
            dns_names: &["revoked.example.com"],
            created_minutes_ago: 5,
            status: CertificateStatus::Revoked,
            ..BASE
        },
        Row {
            name: "suspended",
            common_name: Some("suspended.example.com"),
            dns_names: &["suspended.example.com"],
            created_minutes_ago: 6,
            status: CertificateStatus::Suspended,
            ..BASE
        },
        Row {
            name: "renewed",
            common_name: Some("renewed.shop.example.com"),
            dns_names: &["renewed.shop.example.com"],
            created_minutes_ago: 7,
            status: CertificateStatus::Superseded,
            superseded: true,
            ..BASE
        },
        Row {
            name: "reissued",
            common_name: Some("reissued.shop.example.com"),
            dns_names: &["reissued.shop.example.com"],
            created_minutes_ago: 8,
            status: CertificateStatus::Revoked,
            superseded: true,
            ..BASE
        },
        Row {
            name: "waiting",
            common_name: Some("queued.example.com"),
            dns_names: &["queued.example.com"],
            created_minutes_ago: 9,
            state: InventoryState::Waiting,
            ..BASE
        },
        Row {
            name: "removed",
            common_name: Some("gone.example.com"),
            dns_names: &["gone.example.com"],
            created_minutes_ago: 10,
            state: InventoryState::Removed,
            ..BASE
        },
    ]
}

/// A stored row with its id.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    row: Row,
}

impl Stored {
    fn created_at(&self) -> OffsetDateTime {
        NOW - Duration::minutes(self.row.created_minutes_ago)
    }

    fn not_after(&self) -> OffsetDateTime {
        NOW + Duration::days(self.row.expires_in_days)
    }

    fn common_name_key(&self) -> String {
        self.row.common_name.unwrap_or_default().to_lowercase()
    }
}

/// Writes every row of [`rows`] into the certificates table and returns them with their ids.
async fn store_rows(inventory: &Inventory) -> Vec<Stored> {
    let ca = TestCa::new("Test Issuing CA");
    let (not_before, not_after) = CURRENT;
    let pem = ca.issue_with_fresh_key("template.example.com", &[1], not_before, not_after);
    let mut conn = inventory.db.pool.acquire().await.unwrap();
    let mut stored = Vec::new();
    for row in rows() {
        let id = Uuid::now_v7();
        let stored_row = Stored {
            id: id.to_string(),
            row: row.clone(),
        };
        let facts = CertificateFacts {
            subject: row
                .common_name
                .map(|cn| format!("CN={cn}"))
                .unwrap_or_default(),
            common_name: row.common_name.map(str::to_owned),
            issuer: row.issuer.to_owned(),
            serial_number: format!("{:X}", stored.len() + 1),
            not_before: NOW - Duration::days(400),
            not_after: stored_row.not_after(),
            dns_names: row
                .dns_names
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            key_type: row.key_type.to_owned(),
            key_bits: if row.key_type == "RSA" { 2048 } else { 256 },
            signature_algorithm: "1.2.840.10045.4.3.2".to_owned(),
            sha256_fingerprint: id.simple().to_string().to_uppercase(),
            public_key_spki: Vec::new(),
            der: Vec::new(),
        };
        let certificate = NewCertificate {
            id,
            order_id: (row.source == Source::Order).then(|| Uuid::now_v7().to_string()),
            tracking_id: None,
            credential_id: row.credential_id.map(str::to_owned),
            key_id: None,
            replaces_certificate_id: None,
            replacement: None,
            facts,
            certificate_pem: pem.clone(),
            chain_pem: Vec::new(),
            chain_status: ChainStatus::Missing,
            status: row.status,
            source: row.source,
            created_at: stored_row.created_at(),
        };
        let placement = Placement {
            state: row.state,
            waiting: (row.state == InventoryState::Waiting)
                .then(|| ("license_limit".to_owned(), "waits".to_owned())),
            superseded_by: row.superseded.then(Uuid::now_v7),
        };
        let outcome = certificate_store::insert(&mut conn, &certificate, &placement)
            .await
            .unwrap();
        assert!(matches!(outcome, InsertOutcome::Inserted(_)), "{outcome:?}");
        stored.push(stored_row);
    }
    stored
}

async fn list(
    inventory: &Inventory,
    request: ListCertificatesRequest,
) -> Result<ListCertificatesResponse, Status> {
    inventory
        .client
        .clone()
        .list_certificates(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Returns the names of the rows one page of `request` lists, sorted.
async fn matched(
    inventory: &Inventory,
    stored: &[Stored],
    request: ListCertificatesRequest,
) -> Vec<&'static str> {
    let page = list(
        inventory,
        ListCertificatesRequest {
            page_size: 100,
            ..request
        },
    )
    .await
    .expect("ListCertificates succeeds");
    let mut names: Vec<&'static str> = page
        .certificates
        .iter()
        .map(|certificate| {
            stored
                .iter()
                .find(|row| row.id == certificate.id)
                .expect("a listed certificate is one of the stored rows")
                .row
                .name
        })
        .collect();
    names.sort_unstable();
    names
}

fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
    names.sort_unstable();
    names
}

#[tokio::test]
async fn text_filter_matches_names_case_insensitively() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let query = |text: &str| ListCertificatesRequest {
        query: text.to_owned(),
        ..ListCertificatesRequest::default()
    };

    assert_eq!(
        matched(&inventory, &stored, query("SHOP.example")).await,
        sorted(vec!["shop", "shop-twin", "renewed", "reissued"])
    );
    assert_eq!(
        matched(&inventory, &stored, query("www.shop")).await,
        ["shop"]
    );
    assert_eq!(
        matched(&inventory, &stored, query("corp.example")).await,
        ["mail"]
    );
    assert_eq!(
        matched(&inventory, &stored, query("a_b")).await,
        ["underscore"]
    );
    assert_eq!(
        matched(&inventory, &stored, query("a-b.example")).await,
        ["underscore"]
    );
    assert!(matched(&inventory, &stored, query("%")).await.is_empty());
    inventory.stop().await;
}

#[tokio::test]
async fn issuer_key_type_source_and_credential_filters() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;

    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                issuer: "example trust".to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        sorted(vec!["mail", "legacy"])
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                key_type: "rsa".to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        sorted(vec!["shop-twin", "api", "mail", "legacy"])
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                source: "import".to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        ["api"]
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                credential_id: CREDENTIAL_A.to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        ["shop"]
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                issuer: "l1k".to_owned(),
                key_type: "RSA".to_owned(),
                query: "example.org".to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        ["api"]
    );
    inventory.stop().await;
}

#[tokio::test]
async fn status_and_expiry_filters() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let status = |statuses: &[&str]| ListCertificatesRequest {
        status: statuses.iter().map(|s| (*s).to_owned()).collect(),
        ..ListCertificatesRequest::default()
    };

    assert_eq!(
        matched(&inventory, &stored, status(&["active"])).await,
        sorted(vec!["shop", "shop-twin", "api", "underscore", "letter"])
    );
    assert_eq!(
        matched(&inventory, &stored, status(&["expired"])).await,
        sorted(vec!["mail", "legacy"])
    );
    assert_eq!(
        matched(&inventory, &stored, status(&["revoked"])).await,
        sorted(vec!["revoked", "reissued"])
    );
    assert_eq!(
        matched(&inventory, &stored, status(&["suspended"])).await,
        ["suspended"]
    );
    assert_eq!(
        matched(&inventory, &stored, status(&["superseded"])).await,
        sorted(vec!["renewed", "reissued"])
    );
    assert_eq!(
        matched(&inventory, &stored, status(&["suspended", "expired"])).await,
        sorted(vec!["suspended", "mail", "legacy"])
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                expiring_within_days: Some(30),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        sorted(vec!["shop", "shop-twin"])
    );
    assert_eq!(
        matched(
            &inventory,
            &stored,
            ListCertificatesRequest {
                expiring_within_days: Some(150),
                status: vec!["active".to_owned()],
                key_type: "RSA".to_owned(),
                ..ListCertificatesRequest::default()
            }
        )
        .await,
        sorted(vec!["shop-twin", "api"])
    );
    inventory.stop().await;
}

#[tokio::test]
async fn inventory_state_filter_shows_waiting_and_removed() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let state = |value: &str| ListCertificatesRequest {
        inventory_state: value.to_owned(),
        ..ListCertificatesRequest::default()
    };

    let held = matched(&inventory, &stored, state("")).await;
    assert_eq!(held.len(), stored.len() - 2);
    assert!(!held.contains(&"waiting"));
    assert!(!held.contains(&"removed"));
    assert_eq!(held, matched(&inventory, &stored, state("held")).await);
    assert_eq!(
        matched(&inventory, &stored, state("waiting")).await,
        ["waiting"]
    );
    assert_eq!(
        matched(&inventory, &stored, state("removed")).await,
        ["removed"]
    );
    assert_eq!(
        matched(&inventory, &stored, state("any")).await.len(),
        stored.len()
    );
    inventory.stop().await;
}

/// Walks every page of `request` with pages of `page_size` and returns the ids in order.
async fn walk(
    inventory: &Inventory,
    request: &ListCertificatesRequest,
    page_size: u32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = list(
            inventory,
            ListCertificatesRequest {
                page_size,
                page_token: page_token.clone(),
                ..request.clone()
            },
        )
        .await
        .expect("ListCertificates succeeds");
        assert!(page.certificates.len() <= page_size as usize);
        ids.extend(page.certificates.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn every_sort_pages_without_gaps_or_repeats() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let held: Vec<&Stored> = stored
        .iter()
        .filter(|row| row.row.state == InventoryState::Held)
        .collect();

    let sorts = [
        (CertificateSort::CreatedAt, SortOrder::Ascending),
        (CertificateSort::CreatedAt, SortOrder::Descending),
        (CertificateSort::NotAfter, SortOrder::Ascending),
        (CertificateSort::NotAfter, SortOrder::Descending),
        (CertificateSort::CommonName, SortOrder::Ascending),
        (CertificateSort::CommonName, SortOrder::Descending),
    ];
    for (sort, order) in sorts {
        let mut expected = held.clone();
        expected.sort_by(|left, right| {
            let by_key = match sort {
                CertificateSort::NotAfter => left.not_after().cmp(&right.not_after()),
                CertificateSort::CommonName => left.common_name_key().cmp(&right.common_name_key()),
                _ => left.created_at().cmp(&right.created_at()),
            };
            let ascending = by_key.then_with(|| {
                Uuid::parse_str(&left.id)
                    .unwrap()
                    .cmp(&Uuid::parse_str(&right.id).unwrap())
            });
            if order == SortOrder::Descending {
                ascending.reverse()
            } else {
                ascending
            }
        });
        let expected: Vec<String> = expected.iter().map(|row| row.id.clone()).collect();
        let request = ListCertificatesRequest {
            sort: sort.into(),
            order: order.into(),
            ..ListCertificatesRequest::default()
        };

        for page_size in [1, 3, 4] {
            let ids = walk(&inventory, &request, page_size).await;

            assert_eq!(ids, expected, "{sort:?} {order:?}, pages of {page_size}");
            assert_eq!(
                ids.iter().collect::<HashSet<_>>().len(),
                ids.len(),
                "{sort:?} {order:?}: an id repeats"
            );
        }
    }
    inventory.stop().await;
}

#[tokio::test]
async fn default_direction_of_each_sort() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let newest_first = walk(&inventory, &ListCertificatesRequest::default(), 5).await;
    let by_expiry = walk(
        &inventory,
        &ListCertificatesRequest {
            sort: CertificateSort::NotAfter.into(),
            ..ListCertificatesRequest::default()
        },
        5,
    )
    .await;
    let name_of = |id: &String| {
        stored
            .iter()
            .find(|row| &row.id == id)
            .map(|row| row.row.name)
            .unwrap()
    };

    assert!(matches!(name_of(&newest_first[0]), "shop" | "shop-twin"));
    assert_eq!(name_of(&by_expiry[0]), "legacy");
    assert_eq!(name_of(&by_expiry[1]), "mail");
    inventory.stop().await;
}

#[tokio::test]
async fn filtered_pages_keep_their_filter() {
    let inventory = Inventory::start().await;
    let stored = store_rows(&inventory).await;
    let request = ListCertificatesRequest {
        key_type: "RSA".to_owned(),
        sort: CertificateSort::CommonName.into(),
        ..ListCertificatesRequest::default()
    };

    let ids = walk(&inventory, &request, 1).await;
    let first_page = list(
        &inventory,
        ListCertificatesRequest {
            page_size: 1,
            ..request.clone()
        },
    )
    .await
    .unwrap();
    let with_other_filter = list(
        &inventory,
        ListCertificatesRequest {
            page_size: 1,
            page_token: first_page.next_page_token.clone(),
            key_type: "EC".to_owned(),
            ..request.clone()
        },
    )
    .await
    .unwrap_err();
    let with_other_sort = list(
        &inventory,
        ListCertificatesRequest {
            page_size: 1,
            page_token: first_page.next_page_token,
            sort: CertificateSort::NotAfter.into(),
            ..request
        },
    )
    .await
    .unwrap_err();

    let names: Vec<&str> = ids
        .iter()
        .map(|id| stored.iter().find(|row| &row.id == id).unwrap().row.name)
        .collect();
    // "mail" has no common name and sorts first; the twins' names differ only in case.
    assert_eq!(names, ["mail", "api", "legacy", "shop-twin"]);
    for status in [with_other_filter, with_other_sort] {
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("page_token: belongs to a list"),
            "{}",
            status.message()
        );
    }
    inventory.stop().await;
}

#[tokio::test]
async fn invalid_parameters_are_rejected_by_name() {
    let inventory = Inventory::start().await;
    let cases = [
        (
            ListCertificatesRequest {
                status: vec!["valid".to_owned()],
                ..ListCertificatesRequest::default()
            },
            "status",
        ),
        (
            ListCertificatesRequest {
                expiring_within_days: Some(3651),
                ..ListCertificatesRequest::default()
            },
            "expiring_within_days",
        ),
        (
            ListCertificatesRequest {
                credential_id: "credential-1".to_owned(),
                ..ListCertificatesRequest::default()
            },
            "credential_id",
        ),
        (
            ListCertificatesRequest {
                query: "q".repeat(300),
                ..ListCertificatesRequest::default()
            },
            "query",
        ),
        (
            ListCertificatesRequest {
                sort: 42,
                ..ListCertificatesRequest::default()
            },
            "sort",
        ),
    ];
    for (request, field) in cases {
        let status = list(&inventory, request).await.unwrap_err();

        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert!(
            status.message().starts_with(&format!("{field}: ")),
            "{field}: {}",
            status.message()
        );
    }
    inventory.stop().await;
}
