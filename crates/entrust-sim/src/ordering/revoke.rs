//! `POST /certificates/{trackingId}/revocations`: revoking a certificate.
//!
//! Later ECS versions accept only the CRL reasons `unspecified` and `keyCompromise` (clients
//! send `unspecified` with the real reason in `revocationComment`). The 2.1.0 specification
//! lists `keyCompromise`, `affiliationChanged`, `superseded` and `cessationOfOperation`, and
//! Lemur sends RFC 5280 integer codes; an account with `legacyCrlReasons` accepts those too.
//! PENDING, DECLINED, REVOKED and EXPIRED certificates cannot be revoked.

use serde_json::{Map, Value};

use super::IssueContext;
use crate::error::ApiError;
use crate::model::CertificateStatus;
use crate::state::{Revocation, SimState};

/// A CRL reason ECS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlReason {
    /// RFC 5280 code 0.
    Unspecified,
    /// RFC 5280 code 1.
    KeyCompromise,
    /// RFC 5280 code 3.
    AffiliationChanged,
    /// RFC 5280 code 4.
    Superseded,
    /// RFC 5280 code 5.
    CessationOfOperation,
}

impl CrlReason {
    const ALL: &'static [(CrlReason, &'static str, u64)] = &[
        (CrlReason::Unspecified, "unspecified", 0),
        (CrlReason::KeyCompromise, "keyCompromise", 1),
        (CrlReason::AffiliationChanged, "affiliationChanged", 3),
        (CrlReason::Superseded, "superseded", 4),
        (CrlReason::CessationOfOperation, "cessationOfOperation", 5),
    ];

    /// Returns the name ECS uses, such as `keyCompromise`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(reason, _, _)| *reason == self)
            .map_or("unspecified", |(_, name, _)| name)
    }

    /// Reports whether current ECS accepts the reason without `legacyCrlReasons`.
    fn is_current(self) -> bool {
        matches!(self, CrlReason::Unspecified | CrlReason::KeyCompromise)
    }

    /// Reads `crlReason` as a name (any case) or, with `legacy`, an RFC 5280 integer code.
    pub fn read(value: &Value, legacy: bool) -> Result<CrlReason, ApiError> {
        let found = match value {
            Value::String(text) => Self::ALL
                .iter()
                .find(|(_, name, _)| name.eq_ignore_ascii_case(text.trim())),
            Value::Number(number) if legacy => number
                .as_u64()
                .and_then(|code| Self::ALL.iter().find(|(_, _, known)| *known == code)),
            _ => None,
        };
        match found {
            Some((reason, _, _)) if legacy || reason.is_current() => Ok(*reason),
            _ => Err(ApiError::invalid(
                "crlReason",
                if legacy {
                    format!(
                        "crlReason {value} is not allowed; use unspecified, keyCompromise, \
                         affiliationChanged, superseded or cessationOfOperation (or their RFC \
                         5280 codes 0, 1, 3, 4, 5)."
                    )
                } else {
                    format!(
                        "crlReason {value} is not allowed; use unspecified or keyCompromise and \
                         give any other reason in revocationComment."
                    )
                },
            )),
        }
    }
}

/// Reads a RevokeCertificateRequest body: `crlReason` (required) and `revocationComment`.
pub fn read_revocation(
    body: &Map<String, Value>,
    legacy: bool,
) -> Result<(CrlReason, Option<String>), ApiError> {
    let reason = match body.get("crlReason").filter(|value| !value.is_null()) {
        Some(value) => CrlReason::read(value, legacy)?,
        None => {
            return Err(ApiError::invalid(
                "crlReason",
                "crlReason is required: unspecified or keyCompromise.",
            ));
        }
    };
    let comment = match body.get("revocationComment") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "revocationComment",
                "revocationComment must be a string.",
            ));
        }
    };
    Ok((reason, comment))
}

/// Revokes `tracking_id` with `reason`; the status turns REVOKED.
pub fn revoke_order(
    state: &mut SimState,
    context: &IssueContext<'_>,
    tracking_id: i64,
    reason: CrlReason,
    comment: Option<String>,
) -> Result<(), ApiError> {
    let order = state.order_mut(tracking_id)?;
    let status = order.status_at(context.now);
    let revocable = !matches!(
        status,
        CertificateStatus::Pending
            | CertificateStatus::Declined
            | CertificateStatus::Revoked
            | CertificateStatus::Expired
    ) && order.certificate.is_some();
    if !revocable {
        return Err(ApiError::invalid_request(format!(
            "Certificate {tracking_id} cannot be revoked: its status is {status}. PENDING, \
             DECLINED, REVOKED and EXPIRED certificates cannot be revoked."
        )));
    }
    order.status = CertificateStatus::Revoked;
    order.revocation = Some(Revocation {
        revoked_at: crate::state::whole_seconds(context.now),
        reason: reason.name().to_owned(),
        comment,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn current_reasons_are_accepted_by_default() {
        assert_eq!(
            CrlReason::read(&json!("keyCompromise"), false).unwrap(),
            CrlReason::KeyCompromise
        );
        assert_eq!(
            CrlReason::read(&json!("UNSPECIFIED"), false).unwrap(),
            CrlReason::Unspecified
        );
    }

    #[test]
    fn legacy_reasons_need_the_toggle() {
        let error = CrlReason::read(&json!("superseded"), false).unwrap_err();
        assert_eq!(error.body().errors[0].field.as_deref(), Some("crlReason"));
        assert!(CrlReason::read(&json!(4), false).is_err());

        assert_eq!(
            CrlReason::read(&json!("superseded"), true).unwrap(),
            CrlReason::Superseded
        );
        assert_eq!(
            CrlReason::read(&json!(0), true).unwrap(),
            CrlReason::Unspecified
        );
        assert_eq!(
            CrlReason::read(&json!(5), true).unwrap(),
            CrlReason::CessationOfOperation
        );
    }

    #[test]
    fn unknown_codes_are_rejected_even_with_the_toggle() {
        assert!(CrlReason::read(&json!(2), true).is_err());
        assert!(CrlReason::read(&json!("privilegeWithdrawn"), true).is_err());
    }
}
