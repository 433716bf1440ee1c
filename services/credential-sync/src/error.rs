//! The service layer's error: what a request handler returns, classified so that the gRPC edge
//! maps each variant to one status code (see `grpc::status`).
//!
//! Messages of the client-facing variants are written for the caller and never contain a
//! secret: Entrust's own errors carry none by the adapter's contract, and input errors name the
//! field, never its value when the field is secret.

use certitude_platform::db::DbError;
use certitude_platform::outbox::OutboxError;
use certitude_platform::seal::SealError;

use crate::order_manager::OrderCountError;

/// An error of a credential-sync operation.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request field is missing or invalid; the message reads `<field>: <reason and fix>`.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The request field at fault, as named in the gRPC contract.
        field: &'static str,
        reason: String,
        /// Entrust's error, when Entrust rejected the value.
        #[source]
        source: Option<entrust::Error>,
    },

    /// The named resource does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Kind of resource: `credential` or `sync run`.
        kind: &'static str,
        id: String,
    },

    /// Another credential already has the name.
    #[error("name: a credential named {name:?} already exists; choose another name")]
    NameTaken { name: String },

    /// Entrust responded, but the request cannot succeed in the account's current state, such
    /// as an API user without the permission a call needs.
    #[error("{message}")]
    FailedPrecondition {
        message: String,
        #[source]
        source: Option<entrust::Error>,
    },

    /// Entrust or the service is unreachable or busy now; a later retry may succeed.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<entrust::Error>,
    },

    /// A database operation failed.
    #[error("database operation failed")]
    Db(#[from] DbError),

    /// Sealing or opening a stored secret failed (a missing master key, an altered blob).
    #[error("sealing or opening a stored secret failed")]
    Seal(#[from] SealError),

    /// Writing an event to the outbox failed.
    #[error("writing an event to the outbox failed")]
    Outbox(#[from] OutboxError),

    /// Entrust failed in a way the caller cannot act on, such as an undecodable response.
    #[error("the call to Entrust failed")]
    Entrust(#[source] entrust::Error),

    /// order-manager returned an error for the order count.
    #[error("counting the credential's orders failed")]
    OrderManager(#[source] OrderCountError),
}

impl ServiceError {
    /// Creates an [`ServiceError::InvalidArgument`] for a value the service itself rejected.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
            source: None,
        }
    }

    /// Creates a [`ServiceError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }
}

/// Returns an error's message followed by those of its sources, separated by `: `.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
