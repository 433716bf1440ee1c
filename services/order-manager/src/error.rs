//! The errors of the service's operations, mapped to gRPC statuses only in [`crate::grpc`].

use certitude_platform::db::DbError;
use certitude_platform::outbox::OutboxError;
use uuid::Uuid;

use crate::orders::certificate::CertificateError;
use crate::sources::SourceError;

/// An operation of the order service that failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// A request field is invalid. The message reads `<field>: <what is wrong and the fix>`.
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },

    /// No order or import job has the id.
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },

    /// Entrust rejected the order; it is stored as FAILED with the error.
    #[error("order {order_id} failed: {source}")]
    Rejected {
        order_id: Uuid,
        #[source]
        source: entrust::Error,
    },

    /// A call to Entrust failed.
    #[error("the call to Entrust failed")]
    Entrust(#[source] entrust::Error),

    /// A call to credential-sync or inventory failed.
    #[error(transparent)]
    Source(#[from] SourceError),

    /// The key source returned a CSR that does not parse.
    #[error("the CSR of key {key_id} from the key source does not parse")]
    UnparsableCsr {
        key_id: String,
        #[source]
        source: CertificateError,
    },

    /// The key source returned a CSR whose public key is not the one it reported.
    #[error("the CSR of key {key_id} carries another public key than the key source reported")]
    CsrKeyMismatch { key_id: String },

    #[error(transparent)]
    Db(#[from] DbError),

    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<sqlx::Error> for OrderError {
    fn from(error: sqlx::Error) -> Self {
        OrderError::Db(DbError::from(error))
    }
}

impl OrderError {
    /// Creates an [`OrderError::InvalidArgument`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        OrderError::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}
