use time::macros::{date, datetime};

use super::*;
use crate::wire::account::{DomainList, InventoryResponse, OrganizationList};
use crate::wire::certificates::CertificateList;

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|error| panic!("sample does not parse: {error}"))
}

#[test]
fn certificate_list_reads_tolerant_statuses() {
    let list: CertificateList = from_json(
        r#"{"summary": {"offset": 0, "limit": 25, "total": 4, "sort": "trackingId:asc",
                        "timestamp": "2025-01-01T12:00:00.123Z", "elapsed": 41},
            "certificates": [
              {"trackingId": 1, "status": "ACTIVE"},
              {"trackingId": 2, "status": "Pending"},
              {"trackingId": 3, "status": "pending_quorum"},
              {"trackingId": 4, "status": "AWAITING_PAPERWORK"}
            ]}"#,
    );
    let statuses: Vec<OrderStatus> = list
        .certificates
        .into_iter()
        .filter_map(order_summary)
        .map(|order| order.status)
        .collect();

    assert_eq!(
        statuses,
        vec![
            OrderStatus::Active,
            OrderStatus::Pending,
            OrderStatus::PendingQuorum,
            OrderStatus::Unrecognized("AWAITING_PAPERWORK".to_owned()),
        ]
    );
}

#[test]
fn certificate_list_reads_all_fields() {
    let list: CertificateList = from_json(
        r#"{"certificates": [{
              "trackingId": 1234567, "status": "ACTIVE",
              "dn": "CN=www.example.com,O=Example Inc,C=US",
              "serialNumber": "005a1f00c3e2d4b6",
              "subjectAltName": [{"type": "dNSName", "value": "WWW.example.com"},
                                 {"type": "iPAddress", "value": "192.0.2.1"},
                                 {"type": "dNSName", "value": "example.com"}],
              "issueDateTime": "2025-01-31T10:00:00Z",
              "expiresAfter": "2026-01-31T23:59:59Z",
              "signingAlg": "SHA-2", "eku": "SERVER_AND_CLIENT_AUTH",
              "keySize": 2048, "keyType": "RSA", "org": "Example Inc", "ou": [],
              "certType": "STANDARD_SSL",
              "tracking": {"trackingInfo": "marker-1", "requesterName": "Ada",
                           "requesterEmail": "ada@example.com", "deactivated": false},
              "isThirdParty": false,
              "uri": "/enterprise/v2/certificates/1234567"
            }]}"#,
    );
    let order = list
        .certificates
        .into_iter()
        .find_map(order_summary)
        .unwrap_or_else(|| panic!("record must convert"));

    assert_eq!(order.tracking_id, TrackingId::new(1_234_567));
    assert_eq!(
        order.serial_number,
        Some(SerialNumber::parse("5A1F00C3E2D4B6"))
    );
    assert_eq!(
        order.serial_number.as_ref().map(SerialNumber::as_str),
        Some("5A1F00C3E2D4B6")
    );
    assert_eq!(order.dns_names, vec!["www.example.com", "example.com"]);
    assert_eq!(order.issued_at, Some(datetime!(2025-01-31 10:00 UTC)));
    assert_eq!(order.expires_at, Some(datetime!(2026-01-31 23:59:59 UTC)));
    assert_eq!(order.product.as_deref(), Some("STANDARD_SSL"));
    assert_eq!(order.organization.as_deref(), Some("Example Inc"));
    assert_eq!(order.tracking_marker.as_deref(), Some("marker-1"));
    assert_eq!(order.key_size, Some(2048));
    assert_eq!(order.key_type.as_deref(), Some("RSA"));
    assert_eq!(
        order.requester.map(|r| (r.name, r.email, r.phone)),
        Some((
            "Ada".to_owned(),
            "ada@example.com".to_owned(),
            String::new()
        ))
    );
    assert!(!order.third_party);
}

#[test]
fn certificate_record_with_only_tracking_id_converts() {
    let list: CertificateList = from_json(r#"{"certificates": [{"trackingId": "0007"}]}"#);
    let order = list
        .certificates
        .into_iter()
        .find_map(order_summary)
        .unwrap_or_else(|| panic!("record must convert"));

    assert_eq!(order.tracking_id, TrackingId::new(7));
    assert_eq!(order.status, OrderStatus::Unrecognized(String::new()));
    assert_eq!(order.serial_number, None);
    assert!(order.dns_names.is_empty());
    assert_eq!(order.expires_at, None);
    assert_eq!(order.requester, None);
    assert_eq!(order.tracking_marker, None);
}

#[test]
fn certificate_record_without_tracking_id_is_skipped() {
    let list: CertificateList =
        from_json(r#"{"certificates": [{"status": "ACTIVE"}, {"trackingId": 2}]}"#);

    let ids: Vec<TrackingId> = list
        .certificates
        .into_iter()
        .filter_map(order_summary)
        .map(|order| order.tracking_id)
        .collect();

    assert_eq!(ids, vec![TrackingId::new(2)]);
}

#[test]
fn empty_list_body_reads_as_no_certificates() {
    let list: CertificateList = from_json(r#"{"summary": null, "certificates": null}"#);

    assert!(list.certificates.is_empty());
    assert!(list.summary.is_none());
}

#[test]
fn detail_of_pending_order_has_no_certificate() {
    let record: CertificateRecord = from_json(
        r#"{"trackingId": 99, "status": "PENDING", "csr": "-----BEGIN CERTIFICATE REQUEST-----",
            "tracking": {"deactivated": false}, "chainCerts": null, "declineReason": ""}"#,
    );

    let detail = order_detail(record, TrackingId::new(99));

    assert_eq!(detail.status, OrderStatus::Pending);
    assert_eq!(detail.certificate_pem, None);
    assert!(detail.chain_pem.is_empty());
    assert_eq!(detail.decline_reason, None);
    assert!(!detail.deactivated);
    assert!(detail.csr_pem.is_some());
}

#[test]
fn detail_takes_requested_id_when_body_omits_it() {
    let record: CertificateRecord = from_json(r#"{"status": "declined", "declineReason": "no"}"#);

    let detail = order_detail(record, TrackingId::new(5));

    assert_eq!(detail.tracking_id, TrackingId::new(5));
    assert_eq!(detail.status, OrderStatus::Declined);
    assert_eq!(detail.decline_reason.as_deref(), Some("no"));
}

#[test]
fn inventory_reads_either_wrapper_key() {
    let plural: InventoryResponse = from_json(
        r#"{"inventories": [{"productType": "STANDARD_SSL", "totalCount": 10,
                             "remainingCount": 9, "usedCount": 1}]}"#,
    );
    let singular: InventoryResponse = from_json(
        r#"{"inventory": [{"productType": "STANDARD_SSL", "totalCount": 10,
                           "remainingCount": 9, "usedCount": 1}]}"#,
    );

    for response in [plural, singular] {
        let products: Vec<Product> = response
            .into_items()
            .into_iter()
            .filter_map(product)
            .collect();
        assert_eq!(
            products,
            vec![Product {
                product_type: "STANDARD_SSL".to_owned(),
                remaining: Some(9),
                used: Some(1),
                total: Some(10),
                unlimited: false,
            }]
        );
    }
}

#[test]
fn inventory_reads_unlimited_product_without_counts() {
    let response: InventoryResponse = from_json(
        r#"{"inventories": [{"productType": "flex", "consumptionType": "Unlimited",
                             "usedCount": 3}]}"#,
    );

    let products: Vec<Product> = response
        .into_items()
        .into_iter()
        .filter_map(product)
        .collect();

    assert_eq!(products.len(), 1);
    assert_eq!(products[0].product_type, "FLEX");
    assert!(products[0].unlimited);
    assert_eq!(products[0].remaining, None);
    assert!(products[0].is_available());
}

#[test]
fn inventory_reads_bare_array_and_empty_object() {
    let bare: InventoryResponse = from_json(r#"[{"productType": "EV_SSL", "usedCount": 0}]"#);
    let empty: InventoryResponse = from_json("{}");

    assert_eq!(bare.into_items().len(), 1);
    assert!(empty.into_items().is_empty());
}

#[test]
fn domain_status_prefers_verification_status_and_falls_back() {
    let list: DomainList = from_json(
        r#"{"summary": {"total": 3},
            "domains": [
              {"domainName": "Example.COM", "verificationStatus": "Approved", "status": "DECLINED",
               "verificationMethod": "dns", "ovEligible": true,
               "ovExpiry": "2026-05-01T00:00:00Z", "evEligible": "false", "clientId": 1},
              {"domainName": "old.example", "status": "re_verification"},
              {"domainName": "new.example", "verificationStatus": "DOMAIN_QUARANTINE"}
            ]}"#,
    );

    let domains: Vec<Domain> = list.domains.into_iter().filter_map(domain).collect();

    assert_eq!(domains[0].name, "example.com");
    assert_eq!(
        domains[0].verification_status,
        DomainVerificationStatus::Approved
    );
    assert_eq!(
        domains[0].verification_method,
        Some(VerificationMethod::Dns)
    );
    assert_eq!(domains[0].ov_eligible, Some(true));
    assert_eq!(domains[0].ov_expiry, Some(datetime!(2026-05-01 00:00 UTC)));
    assert_eq!(domains[0].ev_eligible, Some(false));
    assert_eq!(domains[0].ev_expiry, None);
    assert_eq!(domains[0].client_id, Some(1));
    assert_eq!(
        domains[1].verification_status,
        DomainVerificationStatus::ReVerification
    );
    assert_eq!(domains[1].client_id, None);
    assert_eq!(
        domains[2].verification_status,
        DomainVerificationStatus::Unrecognized("DOMAIN_QUARANTINE".to_owned())
    );
}

#[test]
fn organizations_read_mixed_case_statuses() {
    let list: OrganizationList = from_json(
        r#"{"organizations": [
              {"name": "First Organization", "verificationStatus": "APPROVED", "clientId": 1},
              {"name": "Second Organization", "verificationStatus": "Pending"},
              {"verificationStatus": "APPROVED", "clientId": 3}
            ]}"#,
    );

    let organizations: Vec<Organization> = list
        .organizations
        .into_iter()
        .filter_map(organization)
        .collect();

    assert_eq!(organizations.len(), 2);
    assert_eq!(
        organizations[0].verification_status,
        OrganizationVerificationStatus::Approved
    );
    assert_eq!(organizations[0].client_id, Some(1));
    assert_eq!(
        organizations[1].verification_status,
        OrganizationVerificationStatus::Pending
    );
    assert_eq!(organizations[1].client_id, None);
}

#[test]
fn timestamps_accept_common_spellings() {
    assert_eq!(
        parse_timestamp(Some("2026-01-31T23:59:59.627Z")),
        Some(datetime!(2026-01-31 23:59:59.627 UTC))
    );
    assert_eq!(
        parse_timestamp(Some("2026-01-31T18:59:59-05:00")),
        Some(datetime!(2026-01-31 23:59:59 UTC))
    );
    assert_eq!(
        parse_timestamp(Some("2026-01-31")),
        Some(datetime!(2026-01-31 00:00 UTC))
    );
    assert_eq!(
        parse_timestamp(Some("2026-01-31T10:00:00")),
        Some(datetime!(2026-01-31 10:00 UTC))
    );
    assert_eq!(parse_timestamp(Some("")), None);
    assert_eq!(parse_timestamp(Some("31/01/2026")), None);
    assert_eq!(parse_timestamp(None), None);
}

#[test]
fn expiry_date_is_written_without_time() {
    assert_eq!(format_expiry_date(date!(2026 - 02 - 28)), "2026-02-28");
    assert_eq!(format_expiry_date(date!(2028 - 02 - 29)), "2028-02-29");
}

#[test]
fn issued_certificate_requires_certificate_and_tracking_id() {
    let without_certificate: CertificateResponse = from_json(r#"{"trackingId": 12}"#);
    let without_id: CertificateResponse =
        from_json(r#"{"endEntityCert": "-----BEGIN CERTIFICATE-----"}"#);

    assert_eq!(issued_certificate(without_certificate), None);
    assert_eq!(issued_certificate(without_id), None);
}
