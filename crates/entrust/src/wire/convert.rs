//! Conversion of ECS wire records into the CA-neutral domain types.
//!
//! Records too incomplete to identify (no name, no tracking id) are skipped with a debug event
//! instead of failing a whole page.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::account::{DomainRecord, InventoryItem, OrganizationRecord};
use super::certificates::{CertificateRecord, CertificateResponse, TrackingData};
use crate::chain::{normalize_pem, order_leaf_first};
use crate::model::{
    Domain, DomainVerificationStatus, IssuedCertificate, OrderDetail, OrderStatus, OrderSummary,
    Organization, OrganizationVerificationStatus, Product, Requester, SerialNumber, TrackingId,
    VerificationMethod,
};

/// Parses an RFC 3339 timestamp, also accepting a bare date (midnight UTC) and a date-time
/// without offset (read as UTC). Anything else reads as absent.
pub(crate) fn parse_timestamp(value: Option<&str>) -> Option<OffsetDateTime> {
    let text = value?.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(instant) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(instant);
    }
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Some(date.midnight().assume_utc());
    }
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(instant) = PrimitiveDateTime::parse(text, local) {
        return Some(instant.assume_utc());
    }
    tracing::debug!(
        value = text,
        "ignoring an Entrust timestamp that is not RFC 3339"
    );
    None
}

/// Formats an expiry date the way `certExpiryDate` expects it: `YYYY-MM-DD`, never a time.
pub(crate) fn format_expiry_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

pub(crate) fn organization(record: OrganizationRecord) -> Option<Organization> {
    let Some(name) = non_empty(record.name) else {
        tracing::debug!("skipping an Entrust organization without a name");
        return None;
    };
    Some(Organization {
        name,
        client_id: record.client_id,
        verification_status: OrganizationVerificationStatus::parse(
            record.verification_status.as_deref().unwrap_or_default(),
        ),
    })
}

pub(crate) fn domain(record: DomainRecord) -> Option<Domain> {
    let Some(name) = non_empty(record.domain_name) else {
        tracing::debug!("skipping an Entrust domain without a name");
        return None;
    };
    let status = non_empty(record.verification_status).or(non_empty(record.status));
    Some(Domain {
        name: name.trim().to_ascii_lowercase(),
        client_id: record.client_id,
        verification_method: non_empty(record.verification_method)
            .map(|method| VerificationMethod::parse(&method)),
        verification_status: DomainVerificationStatus::parse(status.as_deref().unwrap_or_default()),
        ov_eligible: record.ov_eligible,
        ov_expiry: parse_timestamp(record.ov_expiry.as_deref()),
        ev_eligible: record.ev_eligible,
        ev_expiry: parse_timestamp(record.ev_expiry.as_deref()),
    })
}

pub(crate) fn product(item: InventoryItem) -> Option<Product> {
    let Some(product_type) = non_empty(item.product_type) else {
        tracing::debug!("skipping an Entrust inventory item without a product type");
        return None;
    };
    Some(Product {
        product_type: product_type.trim().to_ascii_uppercase(),
        remaining: item.remaining_count,
        used: item.used_count,
        total: item.total_count,
        unlimited: item
            .consumption_type
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("UNLIMITED")),
    })
}

fn serial(value: Option<String>) -> Option<SerialNumber> {
    non_empty(value).map(|text| SerialNumber::parse(&text))
}

fn requester(tracking: Option<&TrackingData>) -> Option<Requester> {
    let tracking = tracking?;
    if tracking.requester_name.is_none()
        && tracking.requester_email.is_none()
        && tracking.requester_phone.is_none()
    {
        return None;
    }
    Some(Requester {
        name: tracking.requester_name.clone().unwrap_or_default(),
        email: tracking.requester_email.clone().unwrap_or_default(),
        phone: tracking.requester_phone.clone().unwrap_or_default(),
    })
}

fn dns_names(record: &CertificateRecord) -> Vec<String> {
    record
        .subject_alt_name
        .iter()
        .filter_map(|name| name.dns_name())
        .map(|name| name.trim().to_ascii_lowercase())
        .collect()
}

fn status(value: Option<&str>) -> OrderStatus {
    OrderStatus::parse(value.unwrap_or_default())
}

fn chain(certificate: Option<&str>, chain_certs: &[String]) -> Vec<String> {
    match certificate {
        Some(leaf) => order_leaf_first(leaf, chain_certs),
        None => chain_certs.iter().map(|pem| normalize_pem(pem)).collect(),
    }
}

pub(crate) fn order_summary(record: CertificateRecord) -> Option<OrderSummary> {
    let Some(tracking_id) = record.tracking_id else {
        tracing::debug!("skipping an Entrust certificate record without a tracking id");
        return None;
    };
    Some(OrderSummary {
        tracking_id: TrackingId::new(tracking_id),
        status: status(record.status.as_deref()),
        dns_names: dns_names(&record),
        requester: requester(record.tracking.as_ref()),
        serial_number: serial(record.serial_number),
        subject_dn: non_empty(record.dn),
        expires_at: parse_timestamp(record.expires_after.as_deref()),
        issued_at: parse_timestamp(record.issue_date_time.as_deref()),
        product: non_empty(record.cert_type),
        organization: non_empty(record.org),
        tracking_marker: record.tracking.and_then(|t| non_empty(t.tracking_info)),
        key_type: non_empty(record.key_type),
        key_size: record.key_size,
        eku: non_empty(record.eku),
        third_party: record.is_third_party.unwrap_or(false),
    })
}

/// Converts a fetched record; `requested` fills the tracking id when the body omits it.
pub(crate) fn order_detail(record: CertificateRecord, requested: TrackingId) -> OrderDetail {
    let certificate_pem = non_empty(record.end_entity_cert.clone()).map(|pem| normalize_pem(&pem));
    let tracking = record.tracking.as_ref();
    OrderDetail {
        tracking_id: record.tracking_id.map_or(requested, TrackingId::new),
        status: status(record.status.as_deref()),
        dns_names: dns_names(&record),
        chain_pem: chain(certificate_pem.as_deref(), &record.chain_certs),
        requester: requester(tracking),
        tracking_marker: tracking.and_then(|t| non_empty(t.tracking_info.clone())),
        deactivated: tracking.and_then(|t| t.deactivated).unwrap_or(false),
        deactivated_at: parse_timestamp(tracking.and_then(|t| t.deactivated_on.as_deref())),
        certificate_pem,
        serial_number: serial(record.serial_number),
        subject_dn: non_empty(record.dn),
        expires_at: parse_timestamp(record.expires_after.as_deref()),
        issued_at: parse_timestamp(record.issue_date_time.as_deref()),
        csr_pem: non_empty(record.csr),
        product: non_empty(record.cert_type),
        organization: non_empty(record.org),
        creator: non_empty(record.creator_name),
        decline_reason: non_empty(record.decline_reason),
        key_type: non_empty(record.key_type),
        key_size: record.key_size,
        eku: non_empty(record.eku),
        third_party: record.is_third_party.unwrap_or(false),
    }
}

/// Converts a 201 body; `None` when it carries no certificate (an order generated for later
/// pickup) or no tracking id.
pub(crate) fn issued_certificate(response: CertificateResponse) -> Option<IssuedCertificate> {
    let tracking_id = TrackingId::new(response.tracking_id?);
    let certificate_pem = normalize_pem(&non_empty(response.end_entity_cert)?);
    Some(IssuedCertificate {
        tracking_id,
        chain_pem: order_leaf_first(&certificate_pem, &response.chain_certs),
        certificate_pem,
        serial_number: serial(response.serial_number),
        expires_at: parse_timestamp(response.expires_after.as_deref()),
    })
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
