//! Routes for the certificate license: how many certificates the inventory may hold.

use axum::Json;
use axum::extract::State;
use certitude_proto::inventory::v1 as proto;
use serde::{Deserialize, Deserializer, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::problem::{GrpcResultExt, Problem};
use crate::tokens::Role;

/// Body of `PUT /v1/license`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLicense {
    /// `None` when the field is missing, `Some(None)` for `null` (no limit).
    #[serde(default, deserialize_with = "present")]
    licensed: Option<Option<u64>>,
}

/// Reads a field that is present, possibly `null`, so that a missing field stays `None`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize)]
pub struct License {
    /// `null` when there is no limit.
    licensed: Option<u64>,
    held: u64,
    waiting: u64,
    /// Certificates that may still be added; `null` when there is no limit.
    available: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    updated_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    updated_by: String,
}

impl From<proto::License> for License {
    fn from(license: proto::License) -> Self {
        Self {
            licensed: license.licensed,
            held: license.held,
            waiting: license.waiting,
            available: license
                .licensed
                .map(|licensed| licensed.saturating_sub(license.held)),
            updated_at: license.updated_at,
            updated_by: license.updated_by,
        }
    }
}

/// `GET /v1/license`.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<License>, Problem> {
    principal.require(Role::Viewer)?;
    let license = state
        .clients
        .inventory
        .clone()
        .get_license(proto::GetLicenseRequest {})
        .await
        .or_problem()?;
    Ok(Json(license.into()))
}

/// `PUT /v1/license`: sets the licensed count, or lifts the limit with `null`.
pub async fn set(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<SetLicense>,
) -> Result<Json<License>, Problem> {
    principal.require(Role::Admin)?;
    let Some(licensed) = body.licensed else {
        return Err(Problem::invalid_field(
            "licensed",
            "is required: send the number of certificates the license allows, or null for no \
             limit",
        ));
    };
    let license = state
        .clients
        .inventory
        .clone()
        .set_license(proto::SetLicenseRequest {
            licensed,
            actor: principal.token_name.clone(),
        })
        .await
        .or_problem()?;
    Ok(Json(license.into()))
}
