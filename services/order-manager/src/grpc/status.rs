//! Mapping of the service's errors to gRPC statuses, at the edge only. Internal causes are
//! logged once here and returned as an opaque `internal error`.

use tonic::Status;

use crate::error::OrderError;
use crate::poller::error_chain;
use crate::sources::SourceError;

/// Converts `error` to the status the caller receives.
pub(crate) fn to_status(error: OrderError) -> Status {
    // The message may echo the caller's input: keep it under the transport's header limit.
    certitude_platform::grpc::shortened(status_of(error))
}

fn status_of(error: OrderError) -> Status {
    match error {
        OrderError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        OrderError::NotFound { .. } => Status::not_found(error.to_string()),
        OrderError::CatalogCheck { .. } => Status::failed_precondition(error.to_string()),
        OrderError::Rejected { ref source, .. } => rejected(source, error.to_string()),
        OrderError::ValidationRejected { ref source } => rejected(source, error.to_string()),
        OrderError::ValidationNoResponse { .. } => {
            tracing::warn!(error = %error_chain(&error), "Entrust did not respond to a validation");
            Status::unavailable(error.to_string())
        }
        OrderError::ValidationPlacedOrder { tracking_id } => {
            // NOTE: the gateway turns INTERNAL into an opaque 500, so REST clients learn the
            // tracking id only from this log line.
            tracing::error!(
                order.tracking_id = tracking_id,
                "Entrust placed an order although it was asked only to validate it"
            );
            Status::internal(error.to_string())
        }
        OrderError::WrongState { .. }
        | OrderError::RenewalTooEarly { .. }
        | OrderError::AutoRenewalActive { .. }
        | OrderError::OperationRejected { .. } => Status::failed_precondition(error.to_string()),
        OrderError::PermissionDenied { .. } => Status::permission_denied(error.to_string()),
        OrderError::Busy { .. } => Status::aborted(error.to_string()),
        OrderError::OutcomeUnknown { .. } => Status::unavailable(error.to_string()),
        OrderError::Source(source) => source_status(source),
        OrderError::Entrust(ref source) if source.is_transient() => {
            Status::unavailable(error_chain(&error))
        }
        OrderError::Db(ref source) if source.is_unavailable() => {
            tracing::warn!(error = %error_chain(&error), "request failed: database unavailable");
            Status::unavailable("the database is unavailable; retry later")
        }
        other => internal(&other),
    }
}

/// Entrust's refusal of an order, with Entrust's messages in the text.
fn rejected(source: &entrust::Error, message: String) -> Status {
    match source {
        entrust::Error::PermissionDenied { .. } => Status::permission_denied(message),
        entrust::Error::InvalidInput { .. } => Status::invalid_argument(message),
        _ => Status::failed_precondition(message),
    }
}

fn source_status(error: SourceError) -> Status {
    match &error {
        SourceError::CredentialNotFound(_) => Status::not_found(error.to_string()),
        SourceError::UnusableCredential { .. } | SourceError::Rejected { .. } => {
            Status::failed_precondition(error.to_string())
        }
        SourceError::Unavailable { .. } => Status::unavailable(error.to_string()),
        SourceError::Failed { .. } => internal(&error),
    }
}

fn internal(error: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(error = %error_chain(error), "request failed");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use entrust::{ApiMessage, ApiMessages};
    use tonic::Code;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn invalid_argument_keeps_field_and_reason() {
        let status = to_status(OrderError::invalid(
            "common_name",
            "is empty; it is required",
        ));

        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "common_name: is empty; it is required");
    }

    #[test]
    fn entrust_refusal_is_failed_precondition() {
        let status = to_status(OrderError::Rejected {
            order_id: Uuid::nil(),
            source: entrust::Error::InvalidRequest {
                endpoint: "POST /certificates",
                messages: ApiMessages(vec![ApiMessage {
                    message: "Domain not verified.".into(),
                    field: Some("subjectAltName".into()),
                }]),
            },
        });

        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(
            status
                .message()
                .contains("subjectAltName: Domain not verified."),
            "{status:?}"
        );
    }

    #[test]
    fn entrust_permission_refusal_is_permission_denied() {
        let status = to_status(OrderError::Rejected {
            order_id: Uuid::nil(),
            source: entrust::Error::PermissionDenied {
                endpoint: "POST /certificates",
                messages: ApiMessages::default(),
            },
        });

        assert_eq!(status.code(), Code::PermissionDenied);
    }

    #[test]
    fn unknown_credential_is_not_found() {
        let status = to_status(OrderError::Source(SourceError::CredentialNotFound(
            "c-1".into(),
        )));

        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains("c-1"));
    }

    #[test]
    fn database_failure_is_opaque() {
        let status = to_status(OrderError::from(sqlx::Error::RowNotFound));

        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn administrator_errors_map_to_their_codes() {
        let order_id = Uuid::nil();
        let cases = [
            (
                OrderError::WrongState {
                    order_id,
                    action: "resume",
                    current: "ISSUED".into(),
                    needed: "a SUSPENDED order",
                },
                Code::FailedPrecondition,
            ),
            (
                OrderError::PermissionDenied {
                    message: "the Entrust user lacks administrator rights".into(),
                },
                Code::PermissionDenied,
            ),
            (OrderError::Busy { order_id }, Code::Aborted),
            (
                OrderError::OutcomeUnknown {
                    order_id,
                    action: "suspend",
                    current: "ISSUED".into(),
                },
                Code::Unavailable,
            ),
        ];
        for (error, code) in cases {
            let message = error.to_string();

            let status = to_status(error);

            assert_eq!(status.code(), code, "{message}");
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn exhausted_pool_is_unavailable() {
        let status = to_status(OrderError::from(sqlx::Error::PoolTimedOut));

        assert_eq!(status.code(), Code::Unavailable);
    }
}
