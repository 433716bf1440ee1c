//! Conversion of ECS client and domain-detail records into the CA-neutral domain types, and of
//! the headers of a domain request's acknowledgement.

use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use super::clients::{AddressRecord, ClientDetailRecord, ClientRecord};
use super::convert::{domain, organization, parse_timestamp};
use super::domains::DomainDetailRecord;
use crate::model::{
    AccountClient, AccountClientDetail, DnsVerification, DomainDetail, DomainRequestAccepted,
    OrganizationVerificationStatus, PostalAddress, WebServerVerification,
};

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

/// Converts one client; `None` without a client id.
pub(crate) fn account_client(record: ClientRecord) -> Option<AccountClient> {
    let Some(client_id) = record.client_id else {
        tracing::debug!("skipping an Entrust client without a client id");
        return None;
    };
    Some(AccountClient {
        client_id,
        name: non_empty(record.client_name).unwrap_or_default(),
        friendly_name: non_empty(record.friendly_client_name),
        verification_status: OrganizationVerificationStatus::parse(
            record.verification_status.as_deref().unwrap_or_default(),
        ),
        ov_expiry: parse_timestamp(record.ov_expiry_date.as_deref()),
        ev_verification_status: non_empty(record.ev_verification_status)
            .map(|status| OrganizationVerificationStatus::parse(&status)),
        ev_expiry: parse_timestamp(record.ev_expiry_date.as_deref()),
    })
}

fn address(record: AddressRecord) -> PostalAddress {
    PostalAddress {
        country: non_empty(record.country),
        state_or_province: non_empty(record.state_or_province),
        city: non_empty(record.city),
        street1: non_empty(record.street1),
        street2: non_empty(record.street2),
        postal_code: non_empty(record.zip_or_postal_code),
    }
}

/// Converts one client with its details; `requested` fills the id when the body omits it.
pub(crate) fn account_client_detail(
    mut record: ClientDetailRecord,
    requested: u32,
) -> AccountClientDetail {
    record.client.client_id.get_or_insert(requested);
    let client = account_client(record.client).unwrap_or_else(|| AccountClient {
        client_id: requested,
        name: String::new(),
        friendly_name: None,
        verification_status: OrganizationVerificationStatus::parse(""),
        ov_expiry: None,
        ev_verification_status: None,
        ev_expiry: None,
    });
    let client_id = client.client_id;
    AccountClientDetail {
        address: record.address.map(address),
        organizations: record
            .organizations
            .into_iter()
            .filter_map(organization)
            .map(|mut organization| {
                organization.client_id.get_or_insert(client_id);
                organization
            })
            .collect(),
        client,
    }
}

/// Converts one domain with its verification details; `None` without a domain name.
pub(crate) fn domain_detail(record: DomainDetailRecord) -> Option<DomainDetail> {
    let domain = domain(record.domain)?;
    Some(DomainDetail {
        domain,
        dns: record.dns_method.map(|dns| DnsVerification {
            record_domain: non_empty(dns.record_domain),
            record_type: non_empty(dns.record_type),
            record_value: non_empty(dns.record_value),
        }),
        emails: record
            .email_method
            .into_iter()
            .filter(|email| !email.trim().is_empty())
            .collect(),
        web_server: record.web_server_method.map(|web| WebServerVerification {
            file_location: non_empty(web.file_location),
            file_contents: non_empty(web.file_contents),
        }),
    })
}

/// Reads `Retry-After` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, as ECS sends on
/// domain requests) or as seconds after `now`. Anything else reads as absent.
pub(crate) fn retry_at(value: Option<&str>, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let text = value?.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(now + Duration::seconds(seconds));
    }
    let http_date = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    match PrimitiveDateTime::parse(text, http_date) {
        Ok(instant) => Some(instant.assume_utc()),
        Err(_) => {
            tracing::debug!(
                value = text,
                "ignoring an unreadable Retry-After on a domain request"
            );
            None
        }
    }
}

/// Builds the acknowledgement of a domain request from its headers.
pub(crate) fn domain_request_accepted(
    location: Option<&str>,
    retry_after: Option<&str>,
) -> DomainRequestAccepted {
    DomainRequestAccepted {
        location: location.map(str::to_owned),
        ready_at: retry_at(retry_after, OffsetDateTime::now_utc()),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::wire::account::DomainRecord;

    #[test]
    fn http_date_retry_after_is_read() {
        let now = datetime!(2026-03-02 12:00 UTC);

        assert_eq!(
            retry_at(Some("Mon, 02 Mar 2026 12:00:05 GMT"), now),
            Some(datetime!(2026-03-02 12:00:05 UTC))
        );
        assert_eq!(
            retry_at(Some("5"), now),
            Some(datetime!(2026-03-02 12:00:05 UTC))
        );
        assert_eq!(retry_at(Some("soon"), now), None);
        assert_eq!(retry_at(None, now), None);
    }

    #[test]
    fn client_without_id_is_skipped() {
        assert_eq!(account_client(ClientRecord::default()), None);
    }

    #[test]
    fn client_detail_fills_requested_id_and_organization_clients() {
        let record: ClientDetailRecord = serde_json::from_str(
            r#"{"clientName": "Example Inc", "verificationStatus": "Approved",
                "address": {"country": "CA", "city": "Ottawa", "street2": ""},
                "organizations": [{"name": "Example Inc", "verificationStatus": "APPROVED"}]}"#,
        )
        .unwrap_or_else(|error| panic!("sample parses: {error}"));

        let detail = account_client_detail(record, 4);

        assert_eq!(detail.client.client_id, 4);
        assert_eq!(
            detail.client.verification_status,
            OrganizationVerificationStatus::Approved
        );
        assert_eq!(detail.organizations[0].client_id, Some(4));
        let address = detail.address.unwrap_or_default();
        assert_eq!(address.country.as_deref(), Some("CA"));
        assert_eq!(address.street2, None);
    }

    #[test]
    fn domain_detail_keeps_verification_values() {
        let record = DomainDetailRecord {
            domain: DomainRecord {
                domain_name: Some("Example.COM".to_owned()),
                verification_status: Some("INITIAL_VERIFICATION".to_owned()),
                ..DomainRecord::default()
            },
            email_method: vec!["admin@example.com".to_owned(), " ".to_owned()],
            ..DomainDetailRecord::default()
        };

        let detail = domain_detail(record);

        let Some(detail) = detail else {
            panic!("a named domain converts");
        };
        assert_eq!(detail.domain.name, "example.com");
        assert_eq!(detail.emails, vec!["admin@example.com"]);
        assert_eq!(detail.dns, None);
    }
}
