//! The body of `POST /certificates` (NewCertificateRequest), read leniently.
//!
//! The reissue and renew bodies are subsets of this one, so their readers can reuse
//! [`read_common`] and [`read_tracking`].

use serde_json::{Map, Value};
use time::Date;

use crate::error::ApiError;
use crate::format::parse_expiry_date;
use crate::json_fields::Fields;
use crate::model::{Eku, UserTracking};

/// The request's choice for the `O` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgChoice {
    /// No `org`: the client's organization (PD_SSL: the CSR's `O` first).
    Unset,
    /// `org: ""`: no `O` attribute at all.
    Blank,
    /// An organization by name.
    Named(String),
}

/// Fields shared by new, reissue and renew requests.
#[derive(Debug, Clone)]
pub struct CommonFields {
    /// PEM or base-64 CSR.
    pub csr: Option<String>,
    /// DNS names that replace the CSR's.
    pub subject_alt_name: Option<Vec<String>>,
    /// `SHA-1` or `SHA-2`.
    pub signing_alg: Option<String>,
    /// Extended key usage.
    pub eku: Option<Eku>,
    /// Client id, 1 when absent.
    pub client_id: i64,
    /// Organization choice.
    pub org: OrgChoice,
    /// `ou`: `None` when absent; `Some(vec![])` when `[""]` suppresses the CSR's OU.
    pub ou: Option<Vec<String>>,
    /// Tracking data.
    pub tracking: UserTracking,
}

/// A parsed NewCertificateRequest.
#[derive(Debug, Clone)]
pub struct NewCertificateRequest {
    /// Product to order.
    pub cert_type: Option<String>,
    /// Check only; consume nothing.
    pub validate_only: bool,
    /// Queue for an administrator's approval.
    pub queue_for_approval: bool,
    /// Expiry date (already moved to US Eastern when a time was given).
    pub cert_expiry_date: Option<Date>,
    /// Lifetime in years (1 to 3).
    pub cert_lifetime_years: Option<u8>,
    /// The fields new, reissue and renew share.
    pub common: CommonFields,
}

/// Reads a NewCertificateRequest; every malformed field is reported in one 400.
pub fn read_new_request(body: &Map<String, Value>) -> Result<NewCertificateRequest, ApiError> {
    let mut fields = Fields::new(body);
    let cert_type = fields
        .string("certType")
        .map(|value| value.trim().to_owned());
    let validate_only = fields.boolean("validateOnly").unwrap_or(false);
    let queue_for_approval = fields.boolean("queueForApproval").unwrap_or(false);
    let (cert_expiry_date, cert_lifetime_years) = read_expiry(&mut fields);
    let common = read_common(&mut fields);
    fields.finish()?;
    Ok(NewCertificateRequest {
        cert_type,
        validate_only,
        queue_for_approval,
        cert_expiry_date,
        cert_lifetime_years,
        common,
    })
}

/// The kind of request on an existing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessorKind {
    /// `POST /certificates/{trackingId}/reissues`.
    Reissue,
    /// `POST /certificates/{trackingId}/renewals`.
    Renewal,
}

/// A parsed ReissueCertificateRequest or RenewCertificateRequest.
#[derive(Debug, Clone)]
pub struct SuccessorRequest {
    /// Expiry date (renewals only).
    pub cert_expiry_date: Option<Date>,
    /// Lifetime in years (renewals only).
    pub cert_lifetime_years: Option<u8>,
    /// The fields new, reissue and renew share.
    pub common: CommonFields,
}

/// Reads a reissue or renewal body. A reissue keeps the original expiry, so `certExpiryDate`
/// and `certLifetime` are a 400 there. `validateOnly` is a 400 on both, because ECS validates
/// only new orders. `certType` and `queueForApproval` are ignored: the original's type is kept.
pub fn read_successor_request(
    body: &Map<String, Value>,
    kind: SuccessorKind,
) -> Result<SuccessorRequest, ApiError> {
    let present = |name: &str| {
        body.get(name)
            .is_some_and(|value| !value.is_null() && value.as_str() != Some(""))
    };
    if present("validateOnly") {
        return Err(ApiError::invalid(
            "validateOnly",
            match kind {
                SuccessorKind::Reissue => {
                    "validateOnly is not supported on reissues; send the reissue without it."
                }
                SuccessorKind::Renewal => {
                    "validateOnly is not supported on renewals; send the renewal without it."
                }
            },
        ));
    }
    if kind == SuccessorKind::Reissue {
        for name in ["certExpiryDate", "certLifetime"] {
            if present(name) {
                return Err(ApiError::invalid(
                    name,
                    format!(
                        "{name} is not allowed on a reissue, which keeps the original expiry; \
                         renew the certificate to change it."
                    ),
                ));
            }
        }
    }

    let mut fields = Fields::new(body);
    let (cert_expiry_date, cert_lifetime_years) = read_expiry(&mut fields);
    let common = read_common(&mut fields);
    fields.finish()?;
    Ok(SuccessorRequest {
        cert_expiry_date,
        cert_lifetime_years,
        common,
    })
}

/// Reads `certExpiryDate` and `certLifetime`, recording errors in `fields`.
fn read_expiry(fields: &mut Fields<'_>) -> (Option<Date>, Option<u8>) {
    let cert_expiry_date = fields.string("certExpiryDate").and_then(|value| {
        let parsed = parse_expiry_date(value.trim());
        if parsed.is_none() {
            fields.error(
                "certExpiryDate",
                format!(
                    "certExpiryDate {value:?} is not a date (YYYY-MM-DD) or an RFC 3339 \
                     date-time."
                ),
            );
        }
        parsed
    });
    let cert_lifetime_years = fields
        .string("certLifetime")
        .and_then(|value| match value.trim() {
            "P1Y" => Some(1),
            "P2Y" => Some(2),
            "P3Y" => Some(3),
            other => {
                fields.error(
                    "certLifetime",
                    format!("certLifetime {other:?} is not allowed; use P1Y, P2Y or P3Y."),
                );
                None
            }
        });
    (cert_expiry_date, cert_lifetime_years)
}

/// Reads the fields new, reissue and renew requests share, recording errors in `fields`.
pub fn read_common(fields: &mut Fields<'_>) -> CommonFields {
    let csr = fields.string("csr");
    let subject_alt_name = fields.string_list("subjectAltName");

    let signing_alg = fields.string("signingAlg").and_then(|value| {
        if value == "SHA-1" || value == "SHA-2" {
            Some(value)
        } else {
            fields.error(
                "signingAlg",
                format!("signingAlg {value:?} is not allowed; use SHA-1 or SHA-2."),
            );
            None
        }
    });
    let eku = fields.string("eku").and_then(|value| {
        let parsed = Eku::parse(&value);
        if parsed.is_none() {
            fields.error(
                "eku",
                format!(
                    "eku {value:?} is not allowed; use SERVER_AUTH, CLIENT_AUTH or \
                     SERVER_AND_CLIENT_AUTH."
                ),
            );
        }
        parsed
    });

    // ctLog follows the account default and endUserKeyStorageAgreement applies to code signing
    // only. Both are read so that a value that is not a boolean is still a 400.
    fields.boolean("ctLog");
    fields.boolean("endUserKeyStorageAgreement");

    let client_id = fields.integer("clientId").unwrap_or(1);
    let org = match fields.raw_string("org") {
        None => OrgChoice::Unset,
        Some(name) if name.trim().is_empty() => OrgChoice::Blank,
        Some(name) => OrgChoice::Named(name.trim().to_owned()),
    };
    let ou = fields.raw_string_list("ou").and_then(|units| {
        if units.is_empty() {
            None
        } else {
            Some(units.into_iter().filter(|unit| !unit.is_empty()).collect())
        }
    });
    let tracking = read_tracking(fields);

    // cn, certEmail, upn and password apply to S/MIME and document signing, which the
    // simulator does not issue. They are read only so that a wrong type is still reported.
    for name in ["cn", "certEmail", "upn", "password"] {
        fields.raw_string(name);
    }

    CommonFields {
        csr,
        subject_alt_name,
        signing_alg,
        eku,
        client_id,
        org,
        ou,
        tracking,
    }
}

/// Reads `tracking` (UserSpecifiableTrackingData) with its length limits. Read-only fields such
/// as `deactivated` are ignored.
pub fn read_tracking(fields: &mut Fields<'_>) -> UserTracking {
    let Some(mut tracking) = fields.object("tracking") else {
        return UserTracking::default();
    };
    let data = read_tracking_fields(&mut tracking);
    fields.absorb(tracking);
    data
}

/// Reads the body of `PUT /certificates/{trackingId}/tracking`: a whole
/// UserSpecifiableTrackingData, which replaces the order's tracking data (`{}` erases it).
pub fn read_tracking_body(body: &Map<String, Value>) -> Result<UserTracking, ApiError> {
    let mut fields = Fields::new(body);
    let data = read_tracking_fields(&mut fields);
    fields.finish()?;
    Ok(data)
}

fn read_tracking_fields(tracking: &mut Fields<'_>) -> UserTracking {
    let mut limited = |name: &str, max: usize| {
        let value = tracking.string(name)?;
        if value.chars().count() > max {
            tracking.error(
                name,
                format!("tracking.{name} is longer than {max} characters."),
            );
        }
        Some(value)
    };
    let tracking_info = limited("trackingInfo", 128);
    let requester_name = limited("requesterName", 255);
    let requester_email = limited("requesterEmail", 254);
    let requester_phone = limited("requesterPhone", 64);

    let additional_emails = tracking.string_list("additionalEmails").unwrap_or_default();
    for email in &additional_emails {
        if email.chars().count() > 254 || !email.contains('@') {
            tracking.error(
                "additionalEmails",
                format!("tracking.additionalEmails entry {email:?} is not an email address."),
            );
        }
    }
    if let Some(email) = &requester_email
        && !email.contains('@')
    {
        tracking.error(
            "requesterEmail",
            format!("tracking.requesterEmail {email:?} is not an email address."),
        );
    }
    let custom_fields = tracking.raw_object("customFields").unwrap_or_default();

    UserTracking {
        tracking_info,
        requester_name,
        requester_email,
        requester_phone,
        additional_emails,
        custom_fields,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    fn read(value: Value) -> Result<NewCertificateRequest, ApiError> {
        let Value::Object(object) = value else {
            unreachable!("test bodies are objects")
        };
        read_new_request(&object)
    }

    #[test]
    fn keyfactor_style_body_is_read() {
        let request = read(json!({
            "certType": "STANDARD_SSL", "clientId": 1, "org": "", "password": "",
            "ou": [], "eku": "", "validateOnly": "true",
            "certExpiryDate": "2026-07-15T10:00:00.1234567-04:00", "certLifetime": "P1Y",
            "tracking": {"trackingInfo": "", "requesterName": "TestUser",
                         "requesterEmail": "email@email.invalid", "deactivated": false}
        }))
        .unwrap();

        assert!(request.validate_only);
        assert_eq!(request.common.org, OrgChoice::Blank);
        assert_eq!(request.common.ou, None);
        assert_eq!(request.common.eku, None);
        assert_eq!(request.cert_expiry_date, Some(date!(2026 - 07 - 15)));
        assert_eq!(request.cert_lifetime_years, Some(1));
        assert_eq!(request.common.tracking.tracking_info, None);
        assert_eq!(
            request.common.tracking.requester_name.as_deref(),
            Some("TestUser")
        );
    }

    #[test]
    fn bad_fields_reported_together() {
        let error = read(json!({
            "certType": "STANDARD_SSL", "certLifetime": "P5Y",
            "tracking": {"trackingInfo": "x".repeat(129)}
        }))
        .unwrap_err();

        let ApiError::BadRequest(errors) = error else {
            panic!("expected a 400");
        };
        let fields: Vec<_> = errors.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(fields, vec!["certLifetime", "tracking.trackingInfo"]);
    }
}
