//! Paging and searching orders at the simulator: empty results, totals that change during a
//! walk, the page-size cap, and serial-number lookups in every spelling.

use std::collections::HashSet;

use entrust::model::{OrderFilter, OrderQuery, OrderStatus, SerialNumber, TrackingId};
use futures::StreamExt;

use crate::helpers::generate_csr;
use crate::sim::{Sim, standard_order};

fn list_requests(sim: &Sim) -> Vec<String> {
    sim.server
        .request_log()
        .iter()
        .filter(|entry| entry.method == "GET" && entry.path.ends_with("/certificates"))
        .map(|entry| entry.query.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn empty_result_takes_one_request() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    sim.server.clear_request_log();

    let orders = sim
        .admin
        .all_orders(OrderQuery {
            tracking_marker: Some("no-order-has-this-marker".to_owned()),
            ..OrderQuery::default()
        })
        .await?;

    assert!(orders.is_empty());
    assert_eq!(list_requests(&sim).len(), 1);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_placed_during_a_walk_is_included_once() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let query = OrderQuery {
        page_size: 5,
        ..OrderQuery::default()
    };
    let csr = generate_csr(&["mid-walk.example.com"])?;
    let before = sim.order_count().await?;

    let mut stream = sim.admin.order_stream(query);
    let mut ids = Vec::new();
    let Some(first) = stream.next().await else {
        panic!("the demo account has orders");
    };
    ids.push(first?.tracking_id);
    sim.admin
        .place_order(&standard_order(&csr, &["mid-walk.example.com"], "mid-walk"))
        .await?;
    while let Some(order) = stream.next().await {
        ids.push(order?.tracking_id);
    }
    drop(stream);

    let unique: HashSet<TrackingId> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an order was returned twice");
    assert_eq!(ids.len(), before + 1);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn shrinking_total_ends_without_duplicates() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let query = OrderQuery {
        statuses: vec![OrderStatus::Pending],
        page_size: 1,
        ..OrderQuery::default()
    };

    let mut stream = sim.admin.order_stream(query);
    let mut ids = Vec::new();
    let Some(first) = stream.next().await else {
        panic!("the demo account has pending orders");
    };
    let first = first?.tracking_id;
    ids.push(first);
    sim.admin.approve(first).await?;
    while let Some(order) = stream.next().await {
        ids.push(order?.tracking_id);
    }
    drop(stream);

    let unique: HashSet<TrackingId> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an order was returned twice");
    // Approving the first pending order shifts the second onto offset 0, which the walk has
    // passed, so the walk returns the first and the third of the three.
    assert_eq!(ids, vec![Sim::tracking_id(14), Sim::tracking_id(16)]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn page_size_above_cap_is_clamped() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    sim.server.clear_request_log();

    let orders = sim
        .admin
        .all_orders(OrderQuery {
            page_size: 5_000,
            ..OrderQuery::default()
        })
        .await?;
    let sent = list_requests(&sim);
    let raw = sim.raw("GET", "/certificates?limit=1001", None).await?;

    assert_eq!(orders.len(), sim.order_count().await?);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("limit=1000"), "{sent:?}");
    assert_eq!(raw.status, 400);
    let (message, field) = raw.first_error();
    assert_eq!(field.as_deref(), Some("limit"));
    assert!(message.contains("from 1 to 1000"), "{message}");
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn serial_lookup_accepts_any_spelling() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let mut found = Vec::new();

    for spelling in ["23A77", "023a77", "0x02:3a:77", "00023A77"] {
        let orders = sim
            .admin
            .all_orders(OrderQuery {
                serial_number: Some(SerialNumber::parse(spelling)),
                ..OrderQuery::default()
            })
            .await?;
        found.push((spelling, orders));
    }
    let raw = sim
        .raw(
            "GET",
            "/certificates?serialNumber=00023a77&fields=trackingId",
            None,
        )
        .await?;
    let several = sim
        .admin
        .all_orders(OrderQuery {
            filters: vec![OrderFilter::SerialNumbers(vec![
                SerialNumber::parse("3f20"),
                SerialNumber::parse("0x18"),
            ])],
            ..OrderQuery::default()
        })
        .await?;

    for (spelling, orders) in found {
        assert_eq!(orders.len(), 1, "{spelling}");
        assert_eq!(
            orders[0].tracking_marker.as_deref(),
            Some("import-rapidssl-g3"),
            "{spelling}"
        );
    }
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body["summary"]["total"], 1, "{}", raw.body);
    let mut markers: Vec<String> = several
        .into_iter()
        .filter_map(|order| order.tracking_marker)
        .collect();
    markers.sort();
    assert_eq!(markers, vec!["import-cryptography-io", "import-v1-cert"]);
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn combined_filters_narrow_the_list() -> anyhow::Result<()> {
    let sim = Sim::start().await?;

    let soon = sim
        .admin
        .all_orders(OrderQuery {
            statuses: vec![OrderStatus::Active],
            filters: vec![
                OrderFilter::ExpiresAt(entrust::model::Comparison::GreaterOrEqual, crate::sim::NOW),
                OrderFilter::ExpiresAt(
                    entrust::model::Comparison::Less,
                    crate::sim::NOW + time::Duration::days(30),
                ),
                OrderFilter::Product(entrust::model::TextMatch::Equals("STANDARD_SSL".to_owned())),
            ],
            ..OrderQuery::default()
        })
        .await?;
    let invalid = sim
        .admin
        .all_orders(OrderQuery {
            filters: vec![OrderFilter::Product(entrust::model::TextMatch::Contains(
                "SSL".to_owned(),
            ))],
            ..OrderQuery::default()
        })
        .await
        .err();

    let markers: Vec<&str> = soon
        .iter()
        .filter_map(|order| order.tracking_marker.as_deref())
        .collect();
    assert_eq!(markers, vec!["vpn-due-soon"]);
    assert!(
        matches!(
            invalid,
            Some(entrust::Error::InvalidInput {
                field: "filters",
                ..
            })
        ),
        "{invalid:?}"
    );
    sim.stop().await;
    Ok(())
}
