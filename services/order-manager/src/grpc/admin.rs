//! Checks of the administrator operations' requests, before anything is read or sent. Each
//! failure names the request field and the fix.

use certitude_proto::order::v1::{
    ApproveOrderRequest, DeclineOrderRequest, ReissueOrderRequest, RenewOrderRequest,
    ResumeOrderRequest, RevokeOrderRequest, SuspendOrderRequest,
};
use entrust::model::{DECLINE_REASON_MAX_LEN, RevocationReason};

use super::convert::parse_id;
use crate::admin::actor_name;
use crate::admin::lifecycle::{Operation, OperationRequest};
use crate::admin::replace::{Kind, ReplaceRequest};
use crate::error::OrderError;
use crate::orders::validate;

/// Fields every administrator operation's request has.
struct Common<'a> {
    id: &'a str,
    admin_credential_id: &'a str,
    actor: &'a str,
}

fn operation(common: Common<'_>, operation: Operation) -> Result<OperationRequest, OrderError> {
    Ok(OperationRequest {
        order_id: parse_id("id", common.id)?,
        operation,
        admin_credential_id: admin_credential_id(common.admin_credential_id),
        actor: actor_name(common.actor),
    })
}

/// Returns the named credential, `None` when the field is empty.
fn admin_credential_id(value: &str) -> Option<String> {
    Some(value.trim())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

pub(crate) fn approve(request: &ApproveOrderRequest) -> Result<OperationRequest, OrderError> {
    let common = Common {
        id: &request.id,
        admin_credential_id: &request.admin_credential_id,
        actor: &request.actor,
    };
    operation(common, Operation::Approve)
}

pub(crate) fn decline(request: &DeclineOrderRequest) -> Result<OperationRequest, OrderError> {
    let reason = request.reason.trim();
    let length = reason.chars().count();
    if length > DECLINE_REASON_MAX_LEN {
        return Err(OrderError::invalid(
            "reason",
            format!(
                "is {length} characters long; Entrust stores at most {DECLINE_REASON_MAX_LEN}: \
                 shorten it"
            ),
        ));
    }
    let common = Common {
        id: &request.id,
        admin_credential_id: &request.admin_credential_id,
        actor: &request.actor,
    };
    operation(
        common,
        Operation::Decline {
            reason: reason.to_owned(),
        },
    )
}

pub(crate) fn suspend(request: &SuspendOrderRequest) -> Result<OperationRequest, OrderError> {
    let common = Common {
        id: &request.id,
        admin_credential_id: &request.admin_credential_id,
        actor: &request.actor,
    };
    operation(common, Operation::Suspend)
}

pub(crate) fn resume(request: &ResumeOrderRequest) -> Result<OperationRequest, OrderError> {
    let common = Common {
        id: &request.id,
        admin_credential_id: &request.admin_credential_id,
        actor: &request.actor,
    };
    operation(common, Operation::Resume)
}

pub(crate) fn revoke(request: &RevokeOrderRequest) -> Result<OperationRequest, OrderError> {
    let reason = revocation_reason(&request.reason)?;
    let common = Common {
        id: &request.id,
        admin_credential_id: &request.admin_credential_id,
        actor: &request.actor,
    };
    operation(
        common,
        Operation::Revoke {
            reason,
            comment: request.comment.trim().to_owned(),
        },
    )
}

/// Parses a CRL reason as Entrust names it, in any case.
pub(crate) fn revocation_reason(value: &str) -> Result<RevocationReason, OrderError> {
    let reason = value.trim();
    [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
    ]
    .into_iter()
    .find(|known| known.as_str().eq_ignore_ascii_case(reason))
    .ok_or_else(|| {
        OrderError::invalid(
            "reason",
            format!(
                "{reason:?} is not a revocation reason Entrust accepts; use unspecified or \
                     keyCompromise, and give any other reason in comment with unspecified"
            ),
        )
    })
}

pub(crate) fn renew(request: &RenewOrderRequest) -> Result<ReplaceRequest, OrderError> {
    if request.reuse_key && !request.key_algorithm.trim().is_empty() {
        return Err(OrderError::invalid(
            "key_algorithm",
            "cannot be set with reuse_key, which keeps the previous key and its algorithm; \
             leave one of them out",
        ));
    }
    let validity_days = validate::validity_days(request.validity_days, 0)?;
    Ok(ReplaceRequest {
        kind: Kind::Renewal,
        order_id: parse_id("id", &request.id)?,
        admin_credential_id: admin_credential_id(&request.admin_credential_id),
        actor: actor_name(&request.actor),
        idempotency_key: validate::idempotency_key(&request.idempotency_key)?,
        reuse_key: request.reuse_key,
        key_algorithm: optional_key_algorithm(&request.key_algorithm)?,
        validity_days: Some(validity_days).filter(|days| *days != 0),
    })
}

pub(crate) fn reissue(request: &ReissueOrderRequest) -> Result<ReplaceRequest, OrderError> {
    Ok(ReplaceRequest {
        kind: Kind::Reissue,
        order_id: parse_id("id", &request.id)?,
        admin_credential_id: admin_credential_id(&request.admin_credential_id),
        actor: actor_name(&request.actor),
        idempotency_key: validate::idempotency_key(&request.idempotency_key)?,
        reuse_key: false,
        key_algorithm: optional_key_algorithm(&request.key_algorithm)?,
        validity_days: None,
    })
}

fn optional_key_algorithm(
    value: &str,
) -> Result<Option<certitude_proto::inventory::v1::KeyAlgorithm>, OrderError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    validate::key_algorithm(value).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER_ID: &str = "0191d2a0-0000-7000-8000-000000000001";

    fn field_of(error: OrderError) -> &'static str {
        match error {
            OrderError::InvalidArgument { field, .. } => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn revocation_reasons_are_read_in_any_case() {
        assert_eq!(
            revocation_reason("KEYCOMPROMISE").expect("known"),
            RevocationReason::KeyCompromise
        );
        assert_eq!(
            revocation_reason("unspecified").expect("known"),
            RevocationReason::Unspecified
        );
    }

    #[test]
    fn unknown_revocation_reason_names_field_and_choices() {
        let error = revocation_reason("superseded").expect_err("not accepted by Entrust");

        let message = error.to_string();
        assert!(message.starts_with("reason: "), "{message}");
        assert!(
            message.contains("unspecified or keyCompromise"),
            "{message}"
        );
    }

    #[test]
    fn empty_revocation_reason_is_rejected() {
        let request = RevokeOrderRequest {
            id: ORDER_ID.into(),
            ..RevokeOrderRequest::default()
        };

        assert_eq!(field_of(revoke(&request).expect_err("required")), "reason");
    }

    #[test]
    fn long_decline_reason_is_rejected() {
        let request = DeclineOrderRequest {
            id: ORDER_ID.into(),
            reason: "r".repeat(DECLINE_REASON_MAX_LEN + 1),
            ..DeclineOrderRequest::default()
        };

        assert_eq!(field_of(decline(&request).expect_err("too long")), "reason");
    }

    #[test]
    fn renewal_needs_an_idempotency_key() {
        let request = RenewOrderRequest {
            id: ORDER_ID.into(),
            ..RenewOrderRequest::default()
        };

        assert_eq!(
            field_of(renew(&request).expect_err("key required")),
            "idempotency_key"
        );
    }

    #[test]
    fn reused_key_with_algorithm_is_rejected() {
        let request = RenewOrderRequest {
            id: ORDER_ID.into(),
            idempotency_key: "renew-1".into(),
            reuse_key: true,
            key_algorithm: "RSA_2048".into(),
            ..RenewOrderRequest::default()
        };

        assert_eq!(
            field_of(renew(&request).expect_err("contradiction")),
            "key_algorithm"
        );
    }

    #[test]
    fn malformed_order_id_names_the_field() {
        let request = SuspendOrderRequest {
            id: "order-1".into(),
            ..SuspendOrderRequest::default()
        };

        assert_eq!(field_of(suspend(&request).expect_err("not a UUID")), "id");
    }

    #[test]
    fn own_credential_acts_when_none_is_named() {
        let request = ApproveOrderRequest {
            id: ORDER_ID.into(),
            admin_credential_id: " ".into(),
            actor: String::new(),
        };

        let parsed = approve(&request).expect("valid");

        assert_eq!(parsed.admin_credential_id, None);
        assert_eq!(parsed.actor, "api");
    }
}
