//! The simulator's responses validate against the ECS API definition, strictly: every field it
//! sends is defined, with the defined type and values. Where the live API departs from the
//! 2.1.0 text, the test names the departure it allows. Because the definition requires few
//! fields, the fields production clients read without checking are asserted separately.

use entrust_sim::{Fault, FaultKind};
use serde_json::{Value, json};

use crate::contract_spec::{Departure, Spec};
use crate::helpers::generate_csr;
use crate::sim::{RawResponse, Sim};

/// Departures every full-account check needs: domain and inventory responses use the live
/// keys, the thumbprint lookup exists, and an UNLIMITED product reports no counts.
const LIVE: [Departure; 4] = [
    Departure::DomainVerificationStatusKey,
    Departure::InventoriesWrapper,
    Departure::ThumbprintLookup,
    Departure::UnlimitedInventoryWithoutCounts,
];

fn check(spec: &Spec, method: &str, template: &str, response: &RawResponse) -> anyhow::Result<()> {
    spec.validate_response(method, template, response.status, &response.body)
}

fn new_order_body(csr_pem: &str, name: &str, extra: Value) -> Value {
    let mut body = json!({
        "certType": "STANDARD_SSL",
        "csr": csr_pem,
        "subjectAltName": [name],
        "tracking": {
            "trackingInfo": "contract",
            "requesterName": "Contract Test",
            "requesterEmail": "contract@example.com",
            "requesterPhone": "+1 613 555 0101"
        }
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}

#[tokio::test]
async fn account_responses_match_the_definition() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let spec = Spec::load(&LIVE)?;

    let calls = [
        ("GET", "/application/version", "/application/version"),
        ("GET", "/clients", "/clients"),
        ("GET", "/clients/1", "/clients/{clientId}"),
        ("GET", "/clients/2", "/clients/{clientId}"),
        (
            "GET",
            "/clients/1/organizations",
            "/clients/{clientId}/organizations",
        ),
        ("GET", "/organizations", "/organizations"),
        ("GET", "/domains?limit=1000", "/domains"),
        ("GET", "/clients/1/domains", "/clients/{clientId}/domains"),
        (
            "GET",
            "/clients/1/domains/example.com",
            "/clients/{clientId}/domains/{domain}",
        ),
        (
            "GET",
            "/clients/1/domains/example.net",
            "/clients/{clientId}/domains/{domain}",
        ),
        (
            "GET",
            "/clients/1/domains/example.org",
            "/clients/{clientId}/domains/{domain}",
        ),
        ("GET", "/inventories", "/inventories"),
    ];
    for (method, path, template) in calls {
        let response = sim.raw(method, path, None).await?;

        assert_eq!(response.status, 200, "{path}: {:?}", response.body);
        check(&spec, method, template, &response)?;
    }
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn domain_and_inventory_keys_need_their_named_departures() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let strict = Spec::load(&[])?;

    let domains = sim.raw("GET", "/domains", None).await?;
    let inventory = sim.raw("GET", "/inventories", None).await?;

    // DomainVerificationStatusKey: the live key is `verificationStatus`, not `status`.
    assert!(
        domains.body["domains"][0]
            .get("verificationStatus")
            .is_some()
    );
    assert!(domains.body["domains"][0].get("status").is_none());
    assert!(check(&strict, "GET", "/domains", &domains).is_err());
    // InventoriesWrapper: the live wrapper is `inventories`, not `inventory`.
    assert!(inventory.body.get("inventories").is_some());
    assert!(check(&strict, "GET", "/inventories", &inventory).is_err());
    let only_wrapper = Spec::load(&[Departure::InventoriesWrapper])?;
    // UnlimitedInventoryWithoutCounts: the UNLIMITED item has no usedCount.
    let unlimited = inventory.body["inventories"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|item| item["consumptionType"] == "UNLIMITED")
        })
        .cloned()
        .unwrap_or_default();
    assert!(unlimited.get("usedCount").is_none(), "{unlimited}");
    assert!(check(&only_wrapper, "GET", "/inventories", &inventory).is_err());
    sim.stop().await;
    Ok(())
}

/// Lists the fields production clients dereference without checking that a certificate detail
/// lacks: Keyfactor reads `tracking.deactivated`; Lemur `csr`, `tracking.requesterEmail`,
/// `certType`, `eku`, `serialNumber`, `endEntityCert` and `trackingId`; Ansible `status`,
/// `serialNumber`, `expiresAfter`, `endEntityCert` and `chainCerts`. The certificate fields
/// apply once a certificate exists (not while PENDING or after a decline).
fn missing_client_fields(id: u64, body: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for field in ["trackingId", "status", "certType", "eku", "csr"] {
        if body.get(field).is_none_or(Value::is_null) {
            missing.push(format!("{id}: {field}"));
        }
    }
    if !body["tracking"]["deactivated"].is_boolean() {
        missing.push(format!("{id}: tracking.deactivated"));
    }
    // Every demo order sets a requester email.
    if !body["tracking"]["requesterEmail"].is_string() {
        missing.push(format!("{id}: tracking.requesterEmail"));
    }
    let status = body["status"].as_str().unwrap_or_default();
    if !matches!(status, "PENDING" | "DECLINED") {
        for field in ["serialNumber", "endEntityCert", "expiresAfter"] {
            if !body[field].is_string() {
                missing.push(format!("{id} ({status}): {field}"));
            }
        }
        if body["chainCerts"].as_array().is_none_or(Vec::is_empty) {
            missing.push(format!("{id} ({status}): chainCerts"));
        }
    }
    missing
}

#[tokio::test]
async fn certificate_records_match_definition() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let spec = Spec::load(&LIVE)?;

    let all = sim
        .raw("GET", "/certificates?fields=*&limit=1000", None)
        .await?;
    let default_fields = sim.raw("GET", "/certificates?limit=5", None).await?;
    check(&spec, "GET", "/certificates", &all)?;
    check(&spec, "GET", "/certificates", &default_fields)?;
    for field in ["offset", "limit", "total", "sort", "timestamp", "elapsed"] {
        assert!(all.body["summary"].get(field).is_some(), "summary.{field}");
    }

    let records = all.body["certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), sim.listed_count());
    let mut missing = Vec::new();
    for record in &records {
        let id = record["trackingId"].as_u64().unwrap_or_default();
        // ThumbprintLookup: only records known by thumbprint read UNKNOWN.
        assert_eq!(record["status"] == "UNKNOWN", id == 0, "{record}");
        if id == 0 {
            continue;
        }
        let detail = sim.raw("GET", &format!("/certificates/{id}"), None).await?;
        assert_eq!(detail.status, 200);
        check(&spec, "GET", "/certificates/{trackingId}", &detail)?;
        missing.extend(missing_client_fields(id, &detail.body));
    }
    // NOTE: the simulator has no CSR for demo orders whose certificate was issued elsewhere
    // (`certificatePem` in the scenario), so their detail lacks `csr`. ECS always has one, so
    // this is a gap of the simulator, allowed here by name until it stores a CSR for them.
    let imported_without_csr: Vec<String> = sim
        .scenario
        .orders
        .iter()
        .zip(crate::sim::FIRST_TRACKING_ID..)
        .filter(|(order, _)| order.certificate_pem.is_some())
        .map(|(_, id)| format!("{id}: csr"))
        .collect();
    missing.retain(|entry| !imported_without_csr.contains(entry));
    assert!(
        missing.is_empty(),
        "fields clients read are missing:\n{}",
        missing.join("\n")
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn thumbprint_record_needs_its_named_departure() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let spec = Spec::load(&[Departure::ThumbprintLookup])?;
    let listing = sim
        .raw("GET", "/certificates?isThirdParty=true&fields=uri", None)
        .await?;
    let uri = listing.body["certificates"][0]["uri"]
        .as_str()
        .unwrap_or_default();
    let path = uri.strip_prefix("/enterprise/v2").unwrap_or(uri).to_owned();

    let detail = sim.raw("GET", &path, None).await?;

    assert_eq!(detail.status, 200);
    // ThumbprintLookup: the endpoint is newer than 2.1.0 and reports status UNKNOWN.
    assert_eq!(detail.body["status"], "UNKNOWN");
    assert_eq!(detail.body["trackingId"], 0);
    check(
        &spec,
        "GET",
        "/certificates/thumbprints/{thumbprint}",
        &detail,
    )?;
    assert!(
        Spec::load(&[])?
            .validate(&Spec::load(&[])?.definition("CertificateEx")?, &detail.body)
            .is_err(),
        "UNKNOWN is outside the 2.1.0 status enum"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn order_responses_match_the_definition() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let spec = Spec::load(&LIVE)?;
    let csr = generate_csr(&["contract.example.com"])?;
    let post = |extra: Value| new_order_body(&csr.csr_pem, "contract.example.com", extra);

    let issued = sim
        .raw("POST", "/certificates", Some(&post(json!({}))))
        .await?;
    let queued = sim
        .raw(
            "POST",
            "/certificates",
            Some(&post(json!({"queueForApproval": true}))),
        )
        .await?;
    let validated = sim
        .raw(
            "POST",
            "/certificates",
            Some(&post(json!({"validateOnly": true}))),
        )
        .await?;
    let invalid = sim
        .raw(
            "POST",
            "/certificates",
            Some(&post(json!({"certType": "NOPE_SSL"}))),
        )
        .await?;

    assert_eq!(issued.status, 201);
    check(&spec, "POST", "/certificates", &issued)?;
    assert_eq!(queued.status, 202);
    check(&spec, "POST", "/certificates", &queued)?;
    assert_eq!(validated.status, 200);
    assert!(
        validated.body.is_null() || validated.body == json!({}),
        "validateOnly has no body schema: {}",
        validated.body
    );
    assert_eq!(invalid.status, 400);
    check(&spec, "POST", "/certificates", &invalid)?;

    let queued_id = queued.body["trackingId"].as_u64().unwrap_or_default();
    let approved = sim
        .raw(
            "PATCH",
            &format!("/certificates/{queued_id}"),
            Some(&json!({"operation": "APPROVE"})),
        )
        .await?;
    assert_eq!(approved.status, 201);
    check(&spec, "PATCH", "/certificates/{trackingId}", &approved)?;

    let issued_id = issued.body["trackingId"].as_u64().unwrap_or_default();
    let reissued = sim
        .raw(
            "POST",
            &format!("/certificates/{issued_id}/reissues"),
            Some(&json!({"tracking": {"trackingInfo": "contract-reissue"}})),
        )
        .await?;
    assert_eq!(reissued.status, 201, "{:?}", reissued.body);
    check(
        &spec,
        "POST",
        "/certificates/{trackingId}/reissues",
        &reissued,
    )?;
    let renewed = sim
        .raw("POST", "/certificates/2100004/renewals", Some(&json!({})))
        .await?;
    assert_eq!(renewed.status, 201, "{:?}", renewed.body);
    check(
        &spec,
        "POST",
        "/certificates/{trackingId}/renewals",
        &renewed,
    )?;

    let new_domain = sim
        .raw(
            "POST",
            "/clients/1/domains",
            Some(&json!({"domainName": "contract.example", "verificationMethod": "DNS"})),
        )
        .await?;
    assert_eq!(new_domain.status, 202);
    assert!(new_domain.headers.get("location").is_some());
    let retry_after = new_domain
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(
        retry_after.ends_with(" GMT"),
        "Retry-After is an HTTP date: {retry_after}"
    );
    sim.stop().await;
    Ok(())
}

#[tokio::test]
async fn error_responses_match_the_definition() -> anyhow::Result<()> {
    let sim = Sim::start().await?;
    let spec = Spec::load(&LIVE)?;
    let error_response = spec.definition("ErrorResponse")?;

    let not_found = sim.raw("GET", "/certificates/99999999", None).await?;
    let bad_limit = sim.raw("GET", "/certificates?limit=0", None).await?;
    let unauthorized = sim
        .raw_as(
            crate::sim::ADMIN_USER,
            "wrong-key",
            "GET",
            "/organizations",
            None,
        )
        .await?;
    let forbidden = sim
        .raw_as(
            crate::sim::REQUESTER_USER,
            crate::sim::REQUESTER_KEY,
            "POST",
            "/certificates/2100000/deactivations",
            None,
        )
        .await?;
    sim.server.inject_fault(Fault {
        kind: FaultKind::RateLimit {
            retry_after_seconds: 2,
        },
        count: Some(1),
        method: None,
        path_prefix: Some("/organizations".to_owned()),
    })?;
    let limited = sim.raw("GET", "/organizations", None).await?;
    sim.server.inject_fault(Fault {
        kind: FaultKind::ServerError { status: 503 },
        count: Some(1),
        method: None,
        path_prefix: Some("/certificates".to_owned()),
    })?;
    let unavailable = sim.raw("GET", "/certificates/2100000", None).await?;

    assert_eq!(not_found.status, 404);
    check(&spec, "GET", "/certificates/{trackingId}", &not_found)?;
    assert_eq!(bad_limit.status, 400);
    check(&spec, "GET", "/certificates", &bad_limit)?;
    assert_eq!(limited.status, 429);
    check(&spec, "GET", "/organizations", &limited)?;
    assert_eq!(
        limited
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert!(limited.headers.get("x-rate-limit-limit").is_some());
    assert_eq!(unavailable.status, 503);
    check(&spec, "GET", "/certificates/{trackingId}", &unavailable)?;
    // The definition documents no 401 or 403; their bodies are still ErrorResponses.
    assert_eq!(unauthorized.status, 401);
    spec.validate(&error_response, &unauthorized.body)?;
    assert_eq!(forbidden.status, 403);
    spec.validate(&error_response, &forbidden.body)?;
    for response in [
        &not_found,
        &bad_limit,
        &unauthorized,
        &forbidden,
        &limited,
        &unavailable,
    ] {
        assert_eq!(response.body["status"], response.status);
    }
    sim.stop().await;
    Ok(())
}
