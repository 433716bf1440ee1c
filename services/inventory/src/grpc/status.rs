//! Building `tonic::Status` values at the edge: field-named INVALID_ARGUMENT messages, and
//! internal failures logged once with their causes and returned opaque.

use std::error::Error;

use certitude_platform::db::DbError;
use tonic::Status;

use crate::lifecycle::LifecycleError;

/// INVALID_ARGUMENT with the message `<field>: <problem>`, which the gateway turns into an
/// `invalid_params` entry.
pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    // The problem may echo the caller's input: keep it under the transport's header limit.
    certitude_platform::grpc::shortened(Status::invalid_argument(format!("{field}: {problem}")))
}

/// Logs `error` with its causes and returns an opaque INTERNAL status.
pub fn internal(error: &(dyn Error + 'static)) -> Status {
    tracing::error!(error = %error_chain(error), "request failed");
    Status::internal("internal error")
}

/// Logs `error` with its causes and returns UNAVAILABLE, for failures a retry may fix.
pub fn unavailable(error: &(dyn Error + 'static)) -> Status {
    tracing::warn!(error = %error_chain(error), "request failed: a dependency is unavailable");
    Status::unavailable("the inventory's database is unavailable: retry later")
}

/// UNAVAILABLE for a database that could not be reached, otherwise an opaque INTERNAL.
pub fn db_status(error: DbError) -> Status {
    if error.is_unavailable() {
        unavailable(&error)
    } else {
        internal(&error)
    }
}

/// UNAVAILABLE for a database that could not be reached, otherwise an opaque INTERNAL.
pub fn lifecycle_status(error: LifecycleError) -> Status {
    if error.is_unavailable() {
        unavailable(&error)
    } else {
        internal(&error)
    }
}

/// Formats an error and its sources as `outer: cause: root cause`.
fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
