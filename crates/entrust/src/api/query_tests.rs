use time::macros::datetime;

use super::*;
use crate::model::{OrderStatus, SerialNumber, TrackingId};

fn params(query: &OrderQuery) -> Vec<(String, String)> {
    list_query(query, 0, 10).unwrap_or_else(|error| panic!("query builds: {error}"))
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn with_filter(filter: OrderFilter) -> OrderQuery {
    OrderQuery {
        fields: FieldSelection::CaDefault,
        sort: None,
        filters: vec![filter],
        ..OrderQuery::default()
    }
}

#[test]
fn list_query_writes_common_filters_and_paging() {
    let query = OrderQuery {
        statuses: vec![OrderStatus::Active, OrderStatus::Pending],
        tracking_marker: Some("order:42".to_owned()),
        serial_number: Some(SerialNumber::parse("00ab")),
        fields: FieldSelection::Only(vec!["trackingId".to_owned(), "status".to_owned()]),
        sort: Some("trackingId:asc".to_owned()),
        page_size: 50,
        ..OrderQuery::default()
    };

    let params = list_query(&query, 100, 50).unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(
        params,
        vec![
            pair("offset", "100"),
            pair("limit", "50"),
            pair("fields", "trackingId,status"),
            pair("sort", "trackingId:asc"),
            pair("status", "in:ACTIVE,PENDING"),
            pair("tracking.trackingInfo", "eq:order:42"),
            pair("serialNumber", "AB"),
        ]
    );
}

#[test]
fn list_query_defaults_ask_for_all_fields() {
    let params = params(&OrderQuery::default());

    assert!(params.contains(&pair("fields", "*")));
    assert!(!params.iter().any(|(name, _)| name == "status"));
}

#[test]
fn filters_use_ecs_operators() {
    let cases = [
        (
            OrderFilter::TrackingIds(vec![TrackingId::new(7), TrackingId::new(9)]),
            pair("trackingId", "in:7,9"),
        ),
        (
            OrderFilter::SerialNumbers(vec![SerialNumber::parse("0x00ff")]),
            pair("serialNumber", "in:FF"),
        ),
        (
            OrderFilter::SerialNumberContains("a0b".to_owned()),
            pair("serialNumber", "con:A0B"),
        ),
        (
            OrderFilter::SubjectDn(TextMatch::Contains("O=Example".to_owned())),
            pair("dn", "con:O=Example"),
        ),
        (
            OrderFilter::SubjectAltName(TextMatch::Equals("www.example.com".to_owned())),
            pair("subjectAltName", "www.example.com"),
        ),
        (
            OrderFilter::ExpiresAt(
                Comparison::GreaterOrEqual,
                datetime!(2018-01-01 00:00 +01:00),
            ),
            pair("expiresAfter", "ge:2017-12-31T23:00:00.000Z"),
        ),
        (
            OrderFilter::IssuedAt(Comparison::Less, datetime!(2026-03-02 12:30:15.25 UTC)),
            pair("issueDateTime", "lt:2026-03-02T12:30:15.250Z"),
        ),
        (
            OrderFilter::KeySize(Comparison::Greater, 2048),
            pair("keySize", "gt:2048"),
        ),
        (
            OrderFilter::Product(TextMatch::AnyOf(vec![
                "STANDARD_SSL".to_owned(),
                "EV_SSL".to_owned(),
            ])),
            pair("certType", "in:STANDARD_SSL,EV_SSL"),
        ),
        (
            OrderFilter::RequesterEmail(TextMatch::Equals("ada@example.com".to_owned())),
            pair("tracking.requesterEmail", "ada@example.com"),
        ),
        (
            OrderFilter::CustomField {
                name: "text3".to_owned(),
                value: TextMatch::Contains("cost-centre".to_owned()),
            },
            pair("tracking.customFields.text3", "con:cost-centre"),
        ),
        (
            OrderFilter::ThirdParty(false),
            pair("isThirdParty", "false"),
        ),
    ];
    for (filter, expected) in cases {
        let params = params(&with_filter(filter.clone()));

        assert_eq!(params.last(), Some(&expected), "{filter:?}");
    }
}

#[test]
fn repeated_field_filters_become_repeated_parameters() {
    let mut query = with_filter(OrderFilter::ExpiresAt(
        Comparison::GreaterOrEqual,
        datetime!(2026-01-01 00:00 UTC),
    ));
    query.filters.push(OrderFilter::ExpiresAt(
        Comparison::Less,
        datetime!(2026-02-01 00:00 UTC),
    ));

    let params = params(&query);

    let expiry: Vec<&str> = params
        .iter()
        .filter(|(name, _)| name == "expiresAfter")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(
        expiry,
        vec!["ge:2026-01-01T00:00:00.000Z", "lt:2026-02-01T00:00:00.000Z"]
    );
}

#[test]
fn inexpressible_filters_are_rejected_locally() {
    let cases = [
        OrderFilter::Product(TextMatch::Contains("SSL".to_owned())),
        OrderFilter::KeyType(TextMatch::Contains("R".to_owned())),
        OrderFilter::TrackingIds(Vec::new()),
        OrderFilter::Organization(TextMatch::AnyOf(vec!["Example, Inc.".to_owned()])),
        OrderFilter::CustomField {
            name: "text1&limit=1".to_owned(),
            value: TextMatch::Equals("x".to_owned()),
        },
    ];
    for filter in cases {
        let result = list_query(&with_filter(filter.clone()), 0, 10);

        assert!(
            matches!(
                result,
                Err(Error::InvalidInput {
                    field: "filters",
                    ..
                })
            ),
            "{filter:?} gave {result:?}"
        );
    }
}
