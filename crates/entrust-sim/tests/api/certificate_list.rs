//! `GET /certificates`: fields, filters, sorting and paging over the demo orders.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;
use time::Duration;

use crate::helpers::{DEMO_ORDERS, DEMO_THIRD_PARTY, FIRST_ID, TestSim, assert_error, keys};

fn ids(body: &Value) -> Vec<i64> {
    body["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["trackingId"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn default_page_has_summary_and_default_fields() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(keys(&reply.body), vec!["certificates", "summary"]);
    let summary = &reply.body["summary"];
    assert_eq!(summary["timestamp"], "2026-03-10T15:00:00.000Z");
    assert!(summary["elapsed"].is_u64());
    assert_eq!(summary["offset"], 0);
    assert_eq!(summary["limit"], 25);
    assert_eq!(summary["total"], DEMO_ORDERS + DEMO_THIRD_PARTY);
    assert_eq!(summary["sort"], "trackingId:asc");
    // The third-party certificate has trackingId 0, so it sorts first.
    let mut expected_ids = vec![0];
    expected_ids.extend(FIRST_ID..FIRST_ID + DEMO_ORDERS);
    assert_eq!(ids(&reply.body), expected_ids);

    let first = &reply.body["certificates"][1];
    assert_eq!(
        keys(first),
        vec![
            "dn",
            "eku",
            "expiresAfter",
            "serialNumber",
            "signingAlg",
            "status",
            "trackingId"
        ]
    );
    assert_eq!(first["trackingId"], FIRST_ID);
    assert_eq!(first["dn"], "CN=www.example.com,O=Certitude Demo Corp");
    assert_eq!(first["expiresAfter"], "2026-11-30T23:59:59Z");
    assert_eq!(first["signingAlg"], "SHA-2");
    assert_eq!(first["eku"], "SERVER_AND_CLIENT_AUTH");
    assert_eq!(first["status"], "ACTIVE");
    let serial = first["serialNumber"].as_str().unwrap();
    assert!(!serial.starts_with('0'), "{serial}");
    assert!(
        serial
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "{serial}"
    );
}

#[tokio::test]
async fn demo_orders_by_reported_status() {
    let sim = TestSim::start().await;

    let mut counts = BTreeMap::new();
    for item in sim.all_certificates().await {
        *counts
            .entry(item["status"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }

    let expected: BTreeMap<String, i32> = [
        ("ACTIVE", 9),
        ("EXPIRED", 5),
        ("REVOKED", 2),
        ("PENDING", 3),
        ("DECLINED", 1),
        ("SUSPENDED", 1),
        ("DEACTIVATED", 1),
        ("UNKNOWN", 1),
    ]
    .into_iter()
    .map(|(status, count)| (status.to_owned(), count))
    .collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn pending_item_omits_certificate_fields() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates?trackingId=2100014").await;

    let item = &reply.body["certificates"][0];
    assert_eq!(
        keys(item),
        vec!["dn", "eku", "signingAlg", "status", "trackingId"]
    );
    assert_eq!(item["status"], "PENDING");
}

#[tokio::test]
async fn all_fields_include_uri_and_tracking() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates?fields=*&trackingId=2100003").await;

    let item = &reply.body["certificates"][0];
    assert_eq!(
        keys(item),
        vec![
            "certType",
            "dn",
            "domainUsed",
            "eku",
            "expiresAfter",
            "isThirdParty",
            "issueDateTime",
            "keySize",
            "keyType",
            "org",
            "serialNumber",
            "signingAlg",
            "status",
            "subjectAltName",
            "tracking",
            "trackingId",
            "uri",
        ]
    );
    assert_eq!(item["uri"], "/enterprise/v2/certificates/2100003");
    assert_eq!(item["certType"], "EV_SSL");
    assert_eq!(item["domainUsed"], "example.com");
    assert_eq!(item["isThirdParty"], false);
    assert_eq!(item["issueDateTime"], "2026-02-28T15:00:00Z");
    assert_eq!(item["expiresAfter"], "2027-02-28T23:59:59Z");
    assert_eq!(
        item["tracking"]["additionalEmails"][0],
        "pki-team@example.com"
    );
    assert_eq!(item["tracking"]["deactivated"], false);
}

#[tokio::test]
async fn explicit_fields_select_only_those() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates?fields=trackingId,uri&limit=1").await;

    assert_eq!(
        keys(&reply.body["certificates"][0]),
        vec!["trackingId", "uri"]
    );
}

#[tokio::test]
async fn unknown_field_is_400() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates?fields=trackingId,colour").await;

    assert_error(&reply, StatusCode::BAD_REQUEST, Some("fields"));
}

#[tokio::test]
async fn paging_with_exact_multiple_and_past_end() {
    let sim = TestSim::start().await;

    let orders = "/certificates?isThirdParty=false";
    let first = sim.get(&format!("{orders}&limit=11")).await;
    let last = sim.get(&format!("{orders}&offset=11&limit=11")).await;
    let past_end = sim.get(&format!("{orders}&offset=22&limit=11")).await;
    let single = sim.get(&format!("{orders}&offset=21&limit=1")).await;

    assert_eq!(
        ids(&first.body),
        (FIRST_ID..FIRST_ID + 11).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(&last.body),
        (FIRST_ID + 11..FIRST_ID + 22).collect::<Vec<_>>()
    );
    assert_eq!(last.body["summary"]["total"], DEMO_ORDERS);
    assert_eq!(past_end.status, StatusCode::OK);
    assert!(ids(&past_end.body).is_empty());
    assert_eq!(past_end.body["summary"]["offset"], 22);
    assert_eq!(past_end.body["summary"]["total"], DEMO_ORDERS);
    assert_eq!(ids(&single.body), vec![FIRST_ID + 21]);
}

#[tokio::test]
async fn limit_and_offset_out_of_range_are_400() {
    let sim = TestSim::start().await;

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("offset=-1", "offset"),
        ("offset=first", "offset"),
    ] {
        let reply = sim.get(&format!("/certificates?{query}")).await;

        assert_error(&reply, StatusCode::BAD_REQUEST, Some(field));
    }
    assert_eq!(
        sim.get("/certificates?limit=1000").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn status_filter_uses_derived_status() {
    let sim = TestSim::start().await;

    let expired = sim.get("/certificates?status=EXPIRED").await;
    let waiting = sim.get("/certificates?status=in:PENDING,DECLINED").await;
    let lower_case = sim.get("/certificates?status=eq:revoked").await;

    assert_eq!(
        ids(&expired.body),
        vec![2_100_007, 2_100_008, 2_100_010, 2_100_012, 2_100_013]
    );
    assert_eq!(
        ids(&waiting.body),
        vec![2_100_014, 2_100_015, 2_100_016, 2_100_017]
    );
    assert_eq!(ids(&lower_case.body), vec![2_100_009, 2_100_011]);
}

#[tokio::test]
async fn clock_moves_active_order_to_expired() {
    let sim = TestSim::start().await;
    let before = sim.get("/certificates?trackingId=2100006").await;

    sim.clock.advance(Duration::days(11));
    let after = sim.get("/certificates?trackingId=2100006").await;

    assert_eq!(before.body["certificates"][0]["status"], "ACTIVE");
    assert_eq!(after.body["certificates"][0]["status"], "EXPIRED");
    assert_eq!(
        after.body["summary"]["timestamp"],
        "2026-03-21T15:00:00.000Z"
    );
}

#[tokio::test]
async fn tracking_id_filter_eq_and_in() {
    let sim = TestSim::start().await;

    let single_id = sim.get("/certificates?trackingId=2100002").await;
    let listed_ids = sim
        .get("/certificates?trackingId=in:2100003,2100001,2199999")
        .await;

    assert_eq!(ids(&single_id.body), vec![2_100_002]);
    assert_eq!(ids(&listed_ids.body), vec![2_100_001, 2_100_003]);
}

#[tokio::test]
async fn serial_filter_ignores_case_and_leading_zeros() {
    let sim = TestSim::start().await;

    // The Let's Encrypt X3 certificate's serial starts with a zero nibble.
    let exact = sim
        .get("/certificates?serialNumber=A0141420000015385736A0B85ECA708")
        .await;
    let padded = sim
        .get("/certificates?serialNumber=0a0141420000015385736a0b85eca708")
        .await;
    let listed = sim.get("/certificates?serialNumber=in:3f20,023A77").await;

    assert_eq!(ids(&exact.body), vec![2_100_011]);
    assert_eq!(ids(&padded.body), vec![2_100_011]);
    assert_eq!(ids(&listed.body), vec![2_100_010, 2_100_012]);
}

#[tokio::test]
async fn tracking_info_filter_eq_and_con() {
    let sim = TestSim::start().await;

    let exact = sim
        .get("/certificates?tracking.trackingInfo=web-frontend")
        .await;
    let imports = sim
        .get("/certificates?tracking.trackingInfo=con:import-")
        .await;

    assert_eq!(ids(&exact.body), vec![FIRST_ID]);
    assert_eq!(
        ids(&imports.body),
        vec![2_100_010, 2_100_011, 2_100_012, 2_100_013]
    );
}

#[tokio::test]
async fn expires_after_filters_compare_instants() {
    let sim = TestSim::start().await;

    let past = sim
        .get("/certificates?expiresAfter=lt:2026-03-10T15:00:00Z")
        .await;
    let window = sim
        .get("/certificates?expiresAfter=ge:2026-03-20T00:00:00.000Z&expiresAfter=le:2026-08-31T00:00:00Z")
        .await;
    let bad = sim.get("/certificates?expiresAfter=gt:tomorrow").await;

    assert_eq!(
        ids(&past.body),
        vec![
            2_100_007, 2_100_008, 2_100_010, 2_100_011, 2_100_012, 2_100_013
        ]
    );
    assert_eq!(ids(&window.body), vec![2_100_004, 2_100_006]);
    assert_error(&bad, StatusCode::BAD_REQUEST, Some("expiresAfter"));
}

#[tokio::test]
async fn sort_descending_by_tracking_id() {
    let sim = TestSim::start().await;

    let reply = sim.get("/certificates?sort=trackingId:desc&limit=2").await;

    assert_eq!(reply.body["summary"]["sort"], "trackingId:desc");
    assert_eq!(ids(&reply.body), vec![2_100_021, 2_100_020]);
}

#[tokio::test]
async fn unsortable_field_and_unknown_filter_are_400() {
    let sim = TestSim::start().await;

    let by_uri = sim.get("/certificates?sort=uri:asc").await;
    let unknown = sim.get("/certificates?colour=blue").await;
    let wrong_op = sim.get("/certificates?status=con:ACT").await;

    assert_error(&by_uri, StatusCode::BAD_REQUEST, Some("sort"));
    assert_error(&unknown, StatusCode::BAD_REQUEST, Some("colour"));
    assert_error(&wrong_op, StatusCode::BAD_REQUEST, Some("status"));
}

#[tokio::test]
async fn subject_alt_name_filter_matches_any_name() {
    let sim = TestSim::start().await;

    let contains = sim
        .get("/certificates?subjectAltName=con:example.org")
        .await;
    let single = sim
        .get("/certificates?subjectAltName=shop.example.com")
        .await;

    assert_eq!(ids(&contains.body), vec![2_100_006, 2_100_015, 2_100_019]);
    assert_eq!(ids(&single.body), vec![2_100_003]);
}
