//! Local checks and pieces shared by the request bodies this adapter writes.

use serde::Serialize;

use crate::error::Error;
use crate::model::{Requester, TRACKING_MARKER_MAX_LEN};
use crate::wire::certificates::TrackingRequest;

/// ECS applies `signingAlg` only when the account lets the requester choose, and has issued
/// SHA-2 for every public product since 2016.
pub(crate) const SIGNING_ALGORITHM: &str = "SHA-2";

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field,
        reason: reason.into(),
    }
}

/// Returns the trimmed text, or `None` when it is blank.
pub(crate) fn non_empty(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Rejects a PEM field that is present but blank.
pub(crate) fn optional_pem<'a>(
    field: &'static str,
    value: Option<&'a str>,
) -> Result<Option<&'a str>, Error> {
    match value {
        None => Ok(None),
        Some(text) => non_empty(text).map(Some).ok_or_else(|| {
            invalid(
                field,
                "is empty: provide a PKCS#10 request in PEM, or none to reuse the key",
            )
        }),
    }
}

/// Builds `tracking` from a marker and a requester; `None` when every field is empty.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the marker is longer than the CA stores.
pub(crate) fn tracking<'a>(
    marker: Option<&'a str>,
    requester: &'a Requester,
    additional_emails: &'a [String],
) -> Result<Option<TrackingRequest<'a>>, Error> {
    if let Some(marker) = marker
        && marker.chars().count() > TRACKING_MARKER_MAX_LEN
    {
        return Err(invalid(
            "tracking_marker",
            format!(
                "is {} characters long; Entrust stores at most {TRACKING_MARKER_MAX_LEN}",
                marker.chars().count()
            ),
        ));
    }
    let tracking = TrackingRequest {
        tracking_info: marker.and_then(non_empty),
        requester_name: non_empty(&requester.name),
        requester_email: non_empty(&requester.email),
        requester_phone: non_empty(&requester.phone),
        additional_emails,
    };
    Ok((!tracking.is_empty()).then_some(tracking))
}

/// Serializes a request body.
pub(crate) fn to_json<T: Serialize>(what: &'static str, body: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(body)
        .map_err(|source| invalid(what, format!("could not be serialized to JSON: {source}")))
}
