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

    /// The order's status does not allow the operation; nothing was sent to Entrust.
    #[error("cannot {action} order {order_id}: its status is {current}; {action} needs {needed}")]
    WrongState {
        order_id: Uuid,
        action: &'static str,
        /// The status, with Entrust's when it adds something, such as `PENDING (Entrust
        /// status APPROVED)`.
        current: String,
        needed: &'static str,
    },

    /// Entrust renews a certificate only 30 days after its issue; nothing was sent to Entrust.
    #[error(
        "cannot renew order {order_id}: its certificate was issued at {issued_at}, less than 30 \
         days ago, and Entrust renews a certificate only from 30 days after its issue; renew it \
         from {renewable_from}, or reissue it to replace it sooner"
    )]
    RenewalTooEarly {
        order_id: Uuid,
        /// RFC 3339.
        issued_at: String,
        /// RFC 3339.
        renewable_from: String,
    },

    /// An enabled auto-renewal policy covers the order, so renewal-scheduler renews it and a
    /// manual renewal is rejected; nothing was sent to Entrust.
    #[error(
        "cannot renew order {order_id} by hand: auto-renewal policy {policy_id} is active for \
         it and renews it on schedule; disable the policy first to renew it by hand"
    )]
    AutoRenewalActive { order_id: Uuid, policy_id: Uuid },

    /// No administrator credential may carry out the operation, or Entrust responded with HTTP
    /// 403. The message names the credential and what to do.
    #[error("{message}")]
    PermissionDenied { message: String },

    /// Entrust rejected the operation (HTTP 400, 401 or 404); the message carries Entrust's
    /// messages.
    #[error("Entrust rejected the request to {action} order {order_id}: {source}{current}")]
    OperationRejected {
        order_id: Uuid,
        action: &'static str,
        /// The order's status read from Entrust after the rejection, as `; the order is now
        /// ...`, or empty when it could not be read.
        current: String,
        #[source]
        source: Box<entrust::Error>,
    },

    /// Another request or the poller has claimed the order.
    #[error(
        "order {order_id} is being changed by another request or checked by the poller; retry \
         in a few seconds"
    )]
    Busy { order_id: Uuid },

    /// Entrust's response to an operation was lost, and reading the order showed no change yet.
    #[error(
        "the outcome of {action} on order {order_id} is unknown: Entrust's response was lost and \
         the order still reads {current} at Entrust; read the order and send the request again \
         only if it did not change"
    )]
    OutcomeUnknown {
        order_id: Uuid,
        action: &'static str,
        current: String,
    },

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

    /// The order does not fit the account's synced catalog (a name on no orderable domain, an
    /// unapproved organization, a product out of stock). The message reads
    /// `<field>: <what is wrong and the fix>`; nothing was sent to Entrust.
    #[error("{field}: {reason}")]
    CatalogCheck { field: &'static str, reason: String },

    /// Entrust rejected a validate-only order; nothing was stored.
    #[error("Entrust rejected the order in validation: {source}; nothing was placed or stored")]
    ValidationRejected {
        #[source]
        source: entrust::Error,
    },

    /// Entrust did not respond to a validate-only order, or its response was lost. A
    /// validation places nothing, so sending it again is safe.
    #[error("Entrust did not respond to the validation of the order; send the request again")]
    ValidationNoResponse {
        #[source]
        source: entrust::Error,
    },

    /// Entrust placed an order although it was asked only to validate one.
    #[error(
        "Entrust placed order {tracking_id} although it was asked only to validate it; Certitude \
         does not track it, so cancel it at Entrust or import it"
    )]
    ValidationPlacedOrder { tracking_id: u32 },

    /// The throwaway key or CSR of a validate-only order could not be made.
    #[error("failed to build the throwaway CSR of a validate-only order")]
    ThrowawayCsr(#[source] Box<dyn std::error::Error + Send + Sync>),

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
    /// Creates an [`OrderError::CatalogCheck`].
    pub fn catalog(field: &'static str, reason: impl Into<String>) -> Self {
        OrderError::CatalogCheck {
            field,
            reason: reason.into(),
        }
    }

    /// Creates an [`OrderError::InvalidArgument`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        OrderError::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}
