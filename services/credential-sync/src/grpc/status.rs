//! Mapping the service's errors to gRPC statuses, at the edge only.
//!
//! Client-facing variants keep their message. Internal causes are logged once here, with
//! their chain, and returned as an opaque `internal error`.

use tonic::Status;
use uuid::Uuid;

use crate::error::{ServiceError, error_chain};

/// Converts a service error into the status the caller receives.
pub fn to_status(error: ServiceError) -> Status {
    // The message may echo the caller's input: keep it under the transport's header limit.
    certitude_platform::grpc::shortened(status_of(error))
}

fn status_of(error: ServiceError) -> Status {
    match &error {
        ServiceError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
        ServiceError::NotFound { .. } => Status::not_found(error.to_string()),
        ServiceError::NameTaken { .. } => Status::already_exists(error.to_string()),
        ServiceError::FailedPrecondition { message, .. } => {
            Status::failed_precondition(message.clone())
        }
        ServiceError::Unavailable { message, .. } => Status::unavailable(message.clone()),
        ServiceError::Db(db) if db.is_unavailable() => {
            tracing::warn!(error = %error_chain(&error), "the database is unavailable");
            Status::unavailable("the database is unavailable; retry later")
        }
        ServiceError::Db(db) if db.is_conflict() => {
            tracing::warn!(error = %error_chain(&error), "a write conflicted with another");
            Status::already_exists("the resource already exists")
        }
        ServiceError::Db(_)
        | ServiceError::Seal(_)
        | ServiceError::Outbox(_)
        | ServiceError::Entrust(_)
        | ServiceError::OrderManager(_) => {
            tracing::error!(error = %error_chain(&error), "request failed");
            Status::internal("internal error")
        }
    }
}

/// Parses a UUID request field; an invalid one is INVALID_ARGUMENT naming `field`.
pub fn parse_id(field: &'static str, value: &str) -> Result<Uuid, Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!(
            "{field}: is required: pass the id a previous call returned"
        )));
    }
    Uuid::parse_str(value.trim()).map_err(|_| {
        Status::invalid_argument(format!(
            "{field}: {value:?} is not a UUID: pass the id a previous call returned"
        ))
    })
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn invalid_argument_keeps_field_prefix() {
        let status = to_status(ServiceError::invalid("name", "is required"));

        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "name: is required");
    }

    #[test]
    fn taken_name_is_already_exists() {
        let status = to_status(ServiceError::NameTaken {
            name: "production".to_owned(),
        });

        assert_eq!(status.code(), Code::AlreadyExists);
        assert!(
            status.message().starts_with("name: "),
            "{}",
            status.message()
        );
    }

    #[test]
    fn malformed_id_names_the_field() {
        let status = parse_id("credential_id", "42").expect_err("not a UUID");

        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("credential_id: "));
    }
}
