//! Reading existing orders from the simulator: lists, filters, paging and single orders.

use std::collections::HashMap;

use entrust::Error;
use entrust::model::{OrderQuery, OrderStatus, OrderSummary, SerialNumber, TrackingId};
use x509_parser::pem::parse_x509_pem;

use crate::sim::{FIRST_TRACKING_ID, Sim};

fn by_marker(orders: &[OrderSummary]) -> HashMap<String, &OrderSummary> {
    orders
        .iter()
        .filter_map(|order| Some((order.tracking_marker.clone()?, order)))
        .collect()
}

fn logged_list_requests(sim: &Sim) -> usize {
    sim.server
        .request_log()
        .iter()
        .filter(|entry| entry.method == "GET" && entry.path.ends_with("/certificates"))
        .count()
}

#[tokio::test]
async fn existing_orders_have_scenario_statuses() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let orders = sim.admin.all_orders(OrderQuery::default()).await?;

    assert_eq!(orders.len(), sim.listed_count());
    let ids: Vec<u32> = orders.iter().map(|o| o.tracking_id.get()).collect();
    // Certificates known only by thumbprint have tracking id 0 and sort first.
    let mut expected_ids = vec![0; sim.scenario.third_party_certificates.len()];
    expected_ids.extend(FIRST_TRACKING_ID..FIRST_TRACKING_ID + sim.scenario.orders.len() as u32);
    assert_eq!(ids, expected_ids);
    assert!(orders[0].third_party);
    assert_eq!(orders[0].status, OrderStatus::Unknown);

    let orders = by_marker(&orders);
    let expected = [
        ("web-frontend", OrderStatus::Active),
        ("api-gateway", OrderStatus::Active),
        ("vpn-due-soon", OrderStatus::Active),
        ("retired-host", OrderStatus::Expired),
        ("legacy-app", OrderStatus::Expired),
        ("key-leak-2025", OrderStatus::Revoked),
        ("awaiting-approval-1", OrderStatus::Pending),
        ("awaiting-approval-2", OrderStatus::Pending),
        ("awaiting-approval-3", OrderStatus::Pending),
        ("declined-request", OrderStatus::Declined),
        ("on-hold", OrderStatus::Suspended),
        ("decommissioned", OrderStatus::Deactivated),
        ("import-letsencrypt-x3", OrderStatus::Revoked),
    ];
    for (marker, status) in expected {
        let order = orders
            .get(marker)
            .unwrap_or_else(|| panic!("order {marker} missing"));
        assert_eq!(order.status, status, "{marker}");
    }

    let web = orders["web-frontend"];
    assert_eq!(web.product.as_deref(), Some("STANDARD_SSL"));
    assert_eq!(web.dns_names, vec!["www.example.com", "example.com"]);
    assert!(web.serial_number.is_some());
    assert!(web.expires_at.is_some());
    assert_eq!(
        web.requester.as_ref().map(|r| r.email.as_str()),
        Some("dana.operator@example.com")
    );
    assert_eq!(orders["awaiting-approval-1"].serial_number, None);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn real_world_certificates_keep_their_serials() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let orders = sim.admin.all_orders(OrderQuery::default()).await?;
    let orders = by_marker(&orders);

    let expected = [
        ("import-cryptography-io", "3F20"),
        ("import-letsencrypt-x3", "A0141420000015385736A0B85ECA708"),
        ("import-rapidssl-g3", "23A77"),
        ("import-v1-cert", "18"),
    ];
    for (marker, serial) in expected {
        let order = orders
            .get(marker)
            .unwrap_or_else(|| panic!("order {marker} missing"));
        assert_eq!(
            order.serial_number.as_ref().map(SerialNumber::as_str),
            Some(serial),
            "{marker}"
        );
    }
    assert_eq!(
        orders["import-cryptography-io"].dns_names,
        vec!["www.cryptography.io", "cryptography.io"]
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn serial_filter_finds_one_order_ignoring_leading_zeros() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let query = OrderQuery {
        serial_number: Some(SerialNumber::parse("023a77")),
        ..OrderQuery::default()
    };

    let orders = sim.admin.all_orders(query).await?;

    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].tracking_marker.as_deref(),
        Some("import-rapidssl-g3")
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn status_and_marker_filters_narrow_the_list() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let pending = sim
        .admin
        .all_orders(OrderQuery {
            statuses: vec![OrderStatus::Pending],
            ..OrderQuery::default()
        })
        .await?;
    let declined_or_suspended = sim
        .admin
        .all_orders(OrderQuery {
            statuses: vec![OrderStatus::Declined, OrderStatus::Suspended],
            ..OrderQuery::default()
        })
        .await?;
    let marked = sim
        .admin
        .all_orders(OrderQuery {
            tracking_marker: Some("shop-ev".to_owned()),
            ..OrderQuery::default()
        })
        .await?;

    let mut pending_markers: Vec<String> = pending
        .iter()
        .filter_map(|o| o.tracking_marker.clone())
        .collect();
    pending_markers.sort();
    assert_eq!(
        pending_markers,
        vec![
            "awaiting-approval-1",
            "awaiting-approval-2",
            "awaiting-approval-3"
        ]
    );
    assert_eq!(declined_or_suspended.len(), 2);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].product.as_deref(), Some("EV_SSL"));
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn small_pages_return_every_order_once() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let count = sim.listed_count();

    let paged = sim
        .admin
        .all_orders(OrderQuery {
            page_size: 5,
            ..OrderQuery::default()
        })
        .await?;
    let requests_for_small_pages = logged_list_requests(&sim);
    sim.server.clear_request_log();
    // The largest page size below the count that divides it, so the last page is exactly
    // full. A prime count gives one full page.
    let exact_size = (2..count)
        .find(|divisor| count % divisor == 0)
        .map_or(count, |divisor| count / divisor);
    let exact = sim
        .admin
        .all_orders(OrderQuery {
            page_size: u32::try_from(exact_size)?,
            ..OrderQuery::default()
        })
        .await?;
    let requests_for_exact_pages = logged_list_requests(&sim);

    let mut ids: Vec<TrackingId> = paged.iter().map(|o| o.tracking_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), count);
    assert_eq!(requests_for_small_pages, count.div_ceil(5));
    assert_eq!(exact.len(), count);
    // The last page is exactly full, and the reported total shows it is the last one.
    assert_eq!(requests_for_exact_pages, count / exact_size);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn single_page_reports_total() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let query = OrderQuery {
        page_size: 4,
        ..OrderQuery::default()
    };

    let page = sim.admin.order_page(&query, 8).await?;

    assert_eq!(page.offset, 8);
    assert_eq!(page.total, Some(sim.listed_count() as u64));
    // Item 8 follows the one certificate known only by thumbprint, which sorts first.
    let first = u32::try_from(8 - sim.scenario.third_party_certificates.len())?;
    assert_eq!(
        page.orders
            .iter()
            .map(|o| o.tracking_id)
            .collect::<Vec<_>>(),
        (first..first + 4).map(Sim::tracking_id).collect::<Vec<_>>()
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_detail_has_certificate_and_chain_leaf_first() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let order = sim.admin.order(Sim::tracking_id(0)).await?;

    assert_eq!(order.tracking_id, Sim::tracking_id(0));
    assert_eq!(order.status, OrderStatus::Active);
    assert_eq!(order.tracking_marker.as_deref(), Some("web-frontend"));
    assert_eq!(order.creator.as_deref(), Some("demo-admin"));
    assert!(order.csr_pem.is_some());
    let Some(certificate_pem) = order.certificate_pem.as_deref() else {
        panic!("an ACTIVE order must carry its certificate");
    };
    let (_, leaf) = parse_x509_pem(certificate_pem.as_bytes())?;
    let leaf = leaf.parse_x509()?;
    assert_eq!(
        order.serial_number,
        Some(SerialNumber::from_be_bytes(leaf.raw_serial()))
    );
    assert_eq!(
        order.chain_pem.first().map(String::as_str),
        Some(certificate_pem)
    );
    assert!(order.chain_pem.len() >= 2, "{:?}", order.chain_pem);
    let (_, issuer) = parse_x509_pem(order.chain_pem[1].as_bytes())?;
    let issuer = issuer.parse_x509()?;
    assert_eq!(issuer.subject().as_raw(), leaf.issuer().as_raw());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn declined_order_has_reason_and_no_certificate() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let order = sim.admin.order(Sim::tracking_id(17)).await?;

    assert_eq!(order.status, OrderStatus::Declined);
    assert_eq!(
        order.decline_reason.as_deref(),
        Some("Requester could not be verified.")
    );
    assert_eq!(order.certificate_pem, None);
    assert!(order.chain_pem.is_empty());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn deactivated_order_reports_deactivation() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let order = sim.admin.order(Sim::tracking_id(21)).await?;

    assert_eq!(order.status, OrderStatus::Deactivated);
    assert!(order.deactivated);
    assert!(order.deactivated_at.is_some());
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn unknown_tracking_id_is_not_found() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let error = sim.admin.order(TrackingId::new(99_999_999)).await.err();

    assert!(
        matches!(&error, Some(Error::NotFound { path, .. }) if path == "/certificates/99999999"),
        "{error:?}"
    );
    sim.stop().await;
    Ok(())
}
