//! Importing the demo account: every order mapped per docs/order-states.md, each certificate
//! brought in once, and a second import changing nothing.

use std::collections::{HashMap, HashSet};

use certitude_proto::events::v1::{CertificateIssued, OrderImported};
use certitude_proto::order::v1::{GetImportJobRequest, ImportJob, StartImportRequest};
use entrust::model::OrderQuery;
use entrust_sim::{Fault, FaultKind, Scenario};
use tonic::Code;

use crate::support::{CREDENTIAL_ID, Harness, eventually, payloads};

/// Every demo order by tracking id: Entrust's status (with the system clock, orders past their
/// expiry read EXPIRED) and the Certitude state docs/order-states.md maps it to.
const DEMO_ORDERS: &[(i64, &str, &str)] = &[
    (2_100_000, "ACTIVE", "ISSUED"),
    (2_100_001, "ACTIVE", "ISSUED"),
    (2_100_002, "ACTIVE", "ISSUED"),
    (2_100_003, "ACTIVE", "ISSUED"),
    (2_100_004, "ACTIVE", "ISSUED"),
    (2_100_005, "ACTIVE", "ISSUED"),
    (2_100_006, "ACTIVE", "ISSUED"),
    (2_100_007, "EXPIRED", "EXPIRED"),
    (2_100_008, "EXPIRED", "EXPIRED"),
    (2_100_009, "REVOKED", "REVOKED"),
    (2_100_010, "EXPIRED", "EXPIRED"),
    (2_100_011, "REVOKED", "REVOKED"),
    (2_100_012, "EXPIRED", "EXPIRED"),
    (2_100_013, "EXPIRED", "EXPIRED"),
    (2_100_014, "PENDING", "PENDING"),
    (2_100_015, "PENDING", "PENDING"),
    (2_100_016, "PENDING", "PENDING"),
    (2_100_017, "DECLINED", "DECLINED"),
    (2_100_018, "SUSPENDED", "SUSPENDED"),
    (2_100_019, "ACTIVE", "ISSUED"),
    (2_100_020, "ACTIVE", "ISSUED"),
    (2_100_021, "DEACTIVATED", "DEACTIVATED"),
];

/// Demo orders whose certificate enters Certitude: ISSUED, and SUSPENDED, EXPIRED or REVOKED
/// with a certificate.
const CERTIFICATE_STATES: &[&str] = &["ISSUED", "SUSPENDED", "EXPIRED", "REVOKED"];

/// Returns how many records the simulator lists, and how many of them have tracking id 0
/// (certificates the account did not order through Entrust, which have no order to import).
async fn listed_records(harness: &Harness) -> (usize, usize) {
    let listed = harness
        .entrust
        .all_orders(OrderQuery::default())
        .await
        .expect("the simulator lists its orders");
    let untracked = listed
        .iter()
        .filter(|order| order.tracking_id.get() == 0)
        .count();
    (listed.len(), untracked)
}

pub async fn run_import(harness: &Harness) -> ImportJob {
    let job = harness
        .client
        .clone()
        .start_import(StartImportRequest {
            credential_id: CREDENTIAL_ID.to_owned(),
            restore_deleted: false,
        })
        .await
        .expect("the import starts")
        .into_inner();
    let get = || async {
        harness
            .client
            .clone()
            .get_import_job(GetImportJobRequest { id: job.id.clone() })
            .await
            .expect("the job exists")
            .into_inner()
    };
    eventually("the import finishes", || async {
        get().await.state != "running"
    })
    .await;
    get().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_maps_every_demo_order() {
    let harness = Harness::start().await;
    assert_eq!(Scenario::demo().orders.len(), DEMO_ORDERS.len());
    let (listed, untracked) = listed_records(&harness).await;
    let expected_certificates = DEMO_ORDERS
        .iter()
        .filter(|(_, _, state)| CERTIFICATE_STATES.contains(state))
        .count();

    let job = run_import(&harness).await;

    assert_eq!(job.state, "succeeded", "{job:?}");
    assert_eq!(job.orders as usize, listed);
    assert_eq!(job.imported as usize, DEMO_ORDERS.len());
    assert_eq!(job.skipped as usize, untracked);
    assert_eq!(job.issued as usize, expected_certificates);
    assert_eq!(job.failed, 0);
    assert_eq!(job.pages as usize, listed.div_ceil(5), "pages of 5 orders");
    assert!(!job.finished_at.is_empty());

    let orders = harness.all_orders(7).await;
    assert_eq!(orders.len(), DEMO_ORDERS.len());
    let by_tracking_id: HashMap<i64, _> = orders.iter().map(|o| (o.tracking_id, o)).collect();
    for (tracking_id, entrust_status, state) in DEMO_ORDERS {
        let order = by_tracking_id
            .get(tracking_id)
            .unwrap_or_else(|| panic!("order {tracking_id} was not imported"));
        assert_eq!(order.entrust_status, *entrust_status, "order {tracking_id}");
        assert_eq!(order.status, *state, "order {tracking_id}");
        assert_eq!(order.source, "imported", "order {tracking_id}");
        let has_certificate = !order.certificate_id.is_empty();
        assert_eq!(
            has_certificate,
            CERTIFICATE_STATES.contains(state),
            "certificate of order {tracking_id}"
        );
    }

    let events = harness.published_events().await;
    let imported = payloads::<OrderImported>(&events);
    let certificates = payloads::<CertificateIssued>(&events);
    let imported_ids: HashSet<&String> = imported.iter().map(|(id, _)| id).collect();
    let certificate_ids: HashSet<&String> = certificates.iter().map(|(id, _)| id).collect();
    assert_eq!(imported_ids.len(), DEMO_ORDERS.len());
    assert_eq!(imported.len(), DEMO_ORDERS.len());
    assert_eq!(certificate_ids.len(), expected_certificates);
    assert_eq!(certificates.len(), expected_certificates);
    assert!(
        certificates
            .iter()
            .all(|(_, event)| event.key_id.is_empty() && !event.certificate_pem.is_empty())
    );
    let demo_states: HashMap<i64, &str> = DEMO_ORDERS
        .iter()
        .map(|(tracking_id, _, state)| (*tracking_id, *state))
        .collect();
    let order_statuses: HashMap<i64, &str> = certificates
        .iter()
        .map(|(_, event)| (event.tracking_id, event.order_status.as_str()))
        .collect();
    for (tracking_id, order_status) in &order_statuses {
        assert_eq!(
            Some(order_status),
            demo_states.get(tracking_id),
            "order_status of the certificate of order {tracking_id}"
        );
    }
    assert_eq!(order_statuses.get(&2_100_009), Some(&"REVOKED"));
    assert_eq!(order_statuses.get(&2_100_018), Some(&"SUSPENDED"));
    assert_eq!(order_statuses.get(&2_100_000), Some(&"ISSUED"));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_import_changes_nothing() {
    let harness = Harness::start().await;
    let (listed, _) = listed_records(&harness).await;
    let first = run_import(&harness).await;
    assert_eq!(first.state, "succeeded", "{first:?}");
    let events_after_first = harness.published_events().await.len();

    let second = run_import(&harness).await;

    assert_ne!(second.id, first.id);
    assert_eq!(second.state, "succeeded", "{second:?}");
    assert_eq!(second.orders as usize, listed);
    assert_eq!(second.imported, 0);
    assert_eq!(second.updated, 0);
    assert_eq!(second.issued, 0);
    assert_eq!(second.skipped as usize, listed);
    assert_eq!(harness.all_orders(50).await.len(), DEMO_ORDERS.len());
    assert_eq!(harness.published_events().await.len(), events_after_first);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_unknown_credential_is_not_found() {
    let harness = Harness::start().await;

    let status = harness
        .client
        .clone()
        .start_import(StartImportRequest {
            credential_id: "no-such-credential".to_owned(),
            restore_deleted: false,
        })
        .await
        .expect_err("the credential does not exist");

    assert_eq!(status.code(), Code::NotFound);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_order_is_counted_and_skipped() {
    let harness = Harness::start().await;
    let (listed, untracked) = listed_records(&harness).await;
    harness
        .sim
        .inject_fault(Fault {
            kind: FaultKind::ServerError { status: 500 },
            count: None,
            method: Some("GET".to_owned()),
            path_prefix: Some("/certificates/2100000".to_owned()),
        })
        .expect("the fault is armed");

    let job = run_import(&harness).await;

    assert_eq!(job.state, "succeeded", "{job:?}");
    assert_eq!(job.orders as usize, listed);
    assert_eq!(job.failed, 1);
    assert_eq!(job.imported as usize, listed - untracked - 1);
    let imported: Vec<i64> = harness
        .all_orders(50)
        .await
        .iter()
        .map(|order| order.tracking_id)
        .collect();
    assert!(!imported.contains(&2_100_000), "{imported:?}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_page_fails_the_job() {
    let harness = Harness::start().await;
    harness
        .sim
        .inject_fault(Fault {
            kind: FaultKind::ServerError { status: 503 },
            count: None,
            method: Some("GET".to_owned()),
            path_prefix: Some("/certificates".to_owned()),
        })
        .expect("the fault is armed");

    let job = run_import(&harness).await;

    assert_eq!(job.state, "failed", "{job:?}");
    assert!(
        job.error.contains("fetching a page of orders failed"),
        "{job:?}"
    );
    assert!(job.error.contains("503"), "{job:?}");
    assert_eq!(job.orders, 0);
    assert!(!job.finished_at.is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_failing_to_store_fails_alone() {
    let harness = Harness::start().await;
    let (listed, untracked) = listed_records(&harness).await;
    // A trigger rejects one order's row, so the page's shared transaction fails and the
    // import writes the page's orders one transaction each.
    let schema = &harness.db.settings.schema;
    for statement in [
        format!(
            "CREATE FUNCTION \"{schema}\".reject_one_order() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.tracking_id = 2100001 THEN
                     RAISE EXCEPTION 'rejected by the test';
                 END IF;
                 RETURN NEW;
             END $$"
        ),
        format!(
            "CREATE TRIGGER reject_one_order BEFORE INSERT ON \"{schema}\".orders
             FOR EACH ROW EXECUTE FUNCTION \"{schema}\".reject_one_order()"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&harness.db.admin)
            .await
            .expect("the trigger is created");
    }

    let job = run_import(&harness).await;

    assert_eq!(job.state, "succeeded", "{job:?}");
    assert_eq!(job.orders as usize, listed);
    assert_eq!(job.failed, 1);
    assert_eq!(job.imported as usize, listed - untracked - 1);
    let imported: HashSet<i64> = harness
        .all_orders(50)
        .await
        .iter()
        .map(|order| order.tracking_id)
        .collect();
    assert!(!imported.contains(&2_100_001), "{imported:?}");
    assert!(imported.contains(&2_100_000), "{imported:?}");
    assert!(imported.contains(&2_100_002), "{imported:?}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keeps_listed_fields_and_history() {
    let harness = Harness::start().await;
    let listed = harness
        .entrust
        .all_orders(OrderQuery::default())
        .await
        .expect("the simulator lists its orders");

    let with_several_names = listed.iter().filter(|s| s.dns_names.len() > 1).count();

    let job = run_import(&harness).await;

    assert!(
        with_several_names > 0,
        "the demo lists orders with several names"
    );
    assert_eq!(job.state, "succeeded", "{job:?}");
    let orders = harness.all_orders(50).await;
    let by_tracking_id: HashMap<i64, _> = orders.iter().map(|o| (o.tracking_id, o)).collect();
    for summary in listed.iter().filter(|s| s.tracking_id.get() != 0) {
        let tracking_id = i64::from(summary.tracking_id.get());
        let order = by_tracking_id
            .get(&tracking_id)
            .unwrap_or_else(|| panic!("order {tracking_id} was not imported"));
        assert_eq!(order.dns_names, summary.dns_names, "order {tracking_id}");
        assert_eq!(
            order.organization,
            summary.organization.clone().unwrap_or_default(),
            "order {tracking_id}"
        );
        assert_eq!(
            order.product,
            summary.product.clone().unwrap_or_default(),
            "order {tracking_id}"
        );
        assert_eq!(
            order.entrust_status,
            summary.status.as_str(),
            "order {tracking_id}"
        );
    }
    let history: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT actor, action, outcome, to_status FROM order_history ORDER BY order_id",
    )
    .fetch_all(&harness.db.pool)
    .await
    .expect("history rows");
    assert_eq!(history.len(), orders.len());
    for (order, (actor, action, outcome, to_status)) in orders.iter().zip(&history) {
        assert_eq!(actor, "import");
        assert_eq!(action, "import");
        assert_eq!(outcome, "imported");
        assert!(to_status.is_some(), "order {}", order.tracking_id);
    }
    let sequences: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT sequence FROM outbox")
        .fetch_all(&harness.db.pool)
        .await
        .expect("outbox sequences");
    assert_eq!(sequences, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_pending_first_checks_are_spaced() {
    // A long poll interval keeps the poller from checking, and so moving, the orders.
    let harness = Harness::start_with(&[("CERTITUDE_ORDER_POLL_INTERVAL", "1h")]).await;
    let started = time::OffsetDateTime::now_utc();

    let job = run_import(&harness).await;
    assert_eq!(job.state, "succeeded", "{job:?}");

    let first_checks: Vec<time::OffsetDateTime> = sqlx::query_scalar(
        "SELECT next_poll_at FROM orders WHERE status = 'PENDING' ORDER BY tracking_id",
    )
    .fetch_all(&harness.db.pool)
    .await
    .expect("the orders are readable");
    let pending = DEMO_ORDERS
        .iter()
        .filter(|(_, _, state)| *state == "PENDING")
        .count();
    assert_eq!(first_checks.len(), pending);
    assert!(
        first_checks[0] >= started + time::Duration::HOUR,
        "the first check comes one poll interval after the import: {first_checks:?}"
    );
    // Orders of one page share an import time, so only the spacing sets them apart.
    for pair in first_checks.windows(2) {
        assert!(
            pair[1] - pair[0] >= time::Duration::milliseconds(100),
            "{first_checks:?}"
        );
    }
    harness.stop().await;
}
