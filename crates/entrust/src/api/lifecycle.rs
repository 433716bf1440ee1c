//! Changes to an existing order: `PATCH /certificates/{trackingId}` (approve, decline,
//! suspend, resume), revocations, deactivations and tracking updates.
//!
//! Retrying: approve, decline, suspend, resume, revoke and deactivate are state transitions
//! that ECS accepts only from certain states. Repeating one that already took effect fails (a
//! second SUSPEND of a suspended order returns HTTP 400), and repeating an approval might act
//! twice. They are therefore sent once, like new orders. A timeout, a broken connection or a
//! 5xx after the request was sent is [`Error::OutcomeUnknown`], and the caller reads the order
//! to learn whether the change was applied. A 429 or a refused connection means nothing
//! was applied and is returned as [`Error::RateLimited`] or [`Error::Unavailable`]. The
//! tracking update replaces all tracking data, so repeating it has no further effect and it is
//! retried like a read.

use reqwest::Method;

use super::bodies::{invalid, non_empty, to_json, tracking};
use crate::client::{EntrustClient, decode};
use crate::error::Error;
use crate::model::{
    ApprovalOutcome, DECLINE_REASON_MAX_LEN, Revocation, TrackingId, TrackingUpdate,
};
use crate::transport::{Call, Repeatable, Success};
use crate::wire::certificates::CertificateResponse;
use crate::wire::convert;
use crate::wire::lifecycle::{CertificatePatchRequest, RevokeCertificateRequest};

const PATCH: &str = "PATCH /certificates/{trackingId}";
const REVOKE: &str = "POST /certificates/{trackingId}/revocations";
const DEACTIVATE: &str = "POST /certificates/{trackingId}/deactivations";
const TRACKING: &str = "PUT /certificates/{trackingId}/tracking";

/// Builds the body of a PATCH.
pub(crate) fn patch_body(
    operation: &'static str,
    decline_reason: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let decline_reason = decline_reason.and_then(non_empty);
    if let Some(reason) = decline_reason
        && reason.chars().count() > DECLINE_REASON_MAX_LEN
    {
        return Err(invalid(
            "decline_reason",
            format!(
                "is {} characters long; Entrust stores at most {DECLINE_REASON_MAX_LEN}",
                reason.chars().count()
            ),
        ));
    }
    to_json(
        "operation",
        &CertificatePatchRequest {
            operation,
            decline_reason,
        },
    )
}

/// Builds the body of a revocation.
pub(crate) fn revocation_body(revocation: &Revocation) -> Result<Vec<u8>, Error> {
    to_json(
        "revocation",
        &RevokeCertificateRequest {
            crl_reason: revocation.reason.as_str(),
            revocation_comment: non_empty(&revocation.comment),
        },
    )
}

/// Builds the body of a tracking update; every field left empty is erased at the CA.
pub(crate) fn tracking_body(update: &TrackingUpdate) -> Result<Vec<u8>, Error> {
    let tracking = tracking(
        update.tracking_marker.as_deref(),
        &update.requester,
        &update.additional_emails,
    )?;
    match tracking {
        Some(tracking) => to_json("tracking", &tracking),
        None => Ok(b"{}".to_vec()),
    }
}

/// Reads the response to an approval: 201 with the certificate, or 200 when it is generated
/// later. The approval took effect either way, so a 201 whose body cannot be read is reported
/// as approved and the certificate is read from the order later.
fn approval_outcome(tracking_id: TrackingId, success: &Success) -> ApprovalOutcome {
    let approved = ApprovalOutcome::Approved { tracking_id };
    if success.status != 201 {
        return approved;
    }
    match decode::<CertificateResponse>(PATCH, success) {
        Ok(response) => {
            convert::issued_certificate(response).map_or(approved, ApprovalOutcome::Issued)
        }
        Err(error) => {
            tracing::warn!(
                tracking.id = tracking_id.get(),
                error = %error,
                "Entrust approved an order but its certificate could not be decoded; read the \
                 order to get it"
            );
            approved
        }
    }
}

fn once(endpoint: &'static str, method: Method, path: String, body: Option<Vec<u8>>) -> Call {
    Call {
        endpoint,
        method,
        path,
        query: Vec::new(),
        body,
        repeatable: Repeatable::No,
    }
}

impl EntrustClient {
    async fn patch(
        &self,
        tracking_id: TrackingId,
        operation: &'static str,
        decline_reason: Option<&str>,
    ) -> Result<Success, Error> {
        let body = patch_body(operation, decline_reason)?;
        self.transport
            .send(once(
                PATCH,
                Method::PATCH,
                format!("/certificates/{tracking_id}"),
                Some(body),
            ))
            .await
    }

    /// Approves a pending order (PATCH `APPROVE`). Needs an administrator credential.
    ///
    /// Sent once; see the module documentation for [`Error::OutcomeUnknown`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the order is not pending; [`Error::PermissionDenied`]
    /// for an API user without the right; [`Error::NotFound`] for an unknown order.
    pub async fn approve(&self, tracking_id: TrackingId) -> Result<ApprovalOutcome, Error> {
        let success = self.patch(tracking_id, "APPROVE", None).await?;
        Ok(approval_outcome(tracking_id, &success))
    }

    /// Declines a pending order (PATCH `DECLINE`) with an optional reason of at most 254
    /// characters, which the order then shows. Needs an administrator credential.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before sending for a too long reason; otherwise as
    /// [`EntrustClient::approve`].
    pub async fn decline(&self, tracking_id: TrackingId, reason: &str) -> Result<(), Error> {
        self.patch(tracking_id, "DECLINE", Some(reason)).await?;
        Ok(())
    }

    /// Suspends an issued certificate (PATCH `SUSPEND`); ECS allows it from READY or ACTIVE.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] in any other state, including an already suspended order.
    pub async fn suspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        self.patch(tracking_id, "SUSPEND", None).await?;
        Ok(())
    }

    /// Resumes a suspended certificate (PATCH `UNSUSPEND`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the order is not suspended.
    pub async fn unsuspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        self.patch(tracking_id, "UNSUSPEND", None).await?;
        Ok(())
    }

    /// Revokes a certificate (`POST /certificates/{trackingId}/revocations`).
    ///
    /// Sent once; see the module documentation for [`Error::OutcomeUnknown`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the certificate cannot be revoked (pending, declined,
    /// already revoked or expired).
    pub async fn revoke(
        &self,
        tracking_id: TrackingId,
        revocation: &Revocation,
    ) -> Result<(), Error> {
        let body = revocation_body(revocation)?;
        self.transport
            .send(once(
                REVOKE,
                Method::POST,
                format!("/certificates/{tracking_id}/revocations"),
                Some(body),
            ))
            .await?;
        Ok(())
    }

    /// Deactivates a certificate (`POST /certificates/{trackingId}/deactivations`): the
    /// account stops tracking it; the certificate is not revoked.
    ///
    /// Sent once; see the module documentation for [`Error::OutcomeUnknown`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the certificate cannot be deactivated.
    pub async fn deactivate(&self, tracking_id: TrackingId) -> Result<(), Error> {
        self.transport
            .send(once(
                DEACTIVATE,
                Method::POST,
                format!("/certificates/{tracking_id}/deactivations"),
                None,
            ))
            .await?;
        Ok(())
    }

    /// Replaces the tracking data of an order (`PUT /certificates/{trackingId}/tracking`).
    /// Fields left empty are erased at the CA. Retried like a read, since repeating it has no
    /// further effect.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before sending for a too long marker; [`Error::NotFound`] for an
    /// unknown order.
    pub async fn update_tracking(
        &self,
        tracking_id: TrackingId,
        update: &TrackingUpdate,
    ) -> Result<(), Error> {
        let body = tracking_body(update)?;
        self.transport
            .send(Call {
                endpoint: TRACKING,
                method: Method::PUT,
                path: format!("/certificates/{tracking_id}/tracking"),
                query: Vec::new(),
                body: Some(body),
                repeatable: Repeatable::Yes,
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::{Requester, RevocationReason};

    fn json_of(bytes: Result<Vec<u8>, Error>) -> Value {
        let bytes = bytes.unwrap_or_else(|error| panic!("body failed: {error}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("body is not JSON: {error}"))
    }

    #[test]
    fn decline_body_carries_reason_only_when_given() {
        assert_eq!(
            json_of(patch_body("DECLINE", Some("Not ours"))),
            json!({"operation": "DECLINE", "declineReason": "Not ours"})
        );
        assert_eq!(
            json_of(patch_body("DECLINE", Some(" "))),
            json!({"operation": "DECLINE"})
        );
        assert_eq!(
            json_of(patch_body("SUSPEND", None)),
            json!({"operation": "SUSPEND"})
        );
    }

    #[test]
    fn long_decline_reason_is_rejected_locally() {
        let reason = "r".repeat(DECLINE_REASON_MAX_LEN + 1);

        assert!(matches!(
            patch_body("DECLINE", Some(&reason)),
            Err(Error::InvalidInput {
                field: "decline_reason",
                ..
            })
        ));
    }

    #[test]
    fn revocation_body_uses_ecs_reason_names() {
        let revocation = Revocation {
            reason: RevocationReason::KeyCompromise,
            comment: "key left on a laptop".to_owned(),
        };

        assert_eq!(
            json_of(revocation_body(&revocation)),
            json!({"crlReason": "keyCompromise", "revocationComment": "key left on a laptop"})
        );
        assert_eq!(
            json_of(revocation_body(&Revocation::default())),
            json!({"crlReason": "unspecified"})
        );
    }

    #[test]
    fn tracking_body_never_writes_read_only_fields() {
        let update = TrackingUpdate {
            tracking_marker: Some("marker-9".to_owned()),
            additional_emails: vec!["ops@example.com".to_owned()],
            requester: Requester {
                email: "ada@example.com".to_owned(),
                ..Requester::default()
            },
        };

        assert_eq!(
            json_of(tracking_body(&update)),
            json!({
                "trackingInfo": "marker-9",
                "requesterEmail": "ada@example.com",
                "additionalEmails": ["ops@example.com"]
            })
        );
        assert_eq!(
            json_of(tracking_body(&TrackingUpdate::default())),
            json!({})
        );
    }

    fn success(status: u16, body: &str) -> Success {
        Success {
            status,
            body: body.as_bytes().to_vec(),
            ..Success::default()
        }
    }

    #[test]
    fn approval_without_certificate_is_approved() {
        let id = TrackingId::new(12);

        assert_eq!(
            approval_outcome(id, &success(200, "")),
            ApprovalOutcome::Approved { tracking_id: id }
        );
        assert_eq!(
            approval_outcome(id, &success(201, "<html>")),
            ApprovalOutcome::Approved { tracking_id: id }
        );
        assert_eq!(
            approval_outcome(id, &success(201, r#"{"trackingId": 12}"#)),
            ApprovalOutcome::Approved { tracking_id: id }
        );
    }
}
