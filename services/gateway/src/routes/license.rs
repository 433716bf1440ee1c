//! Routes for the certificate license: how many certificates the inventory may hold.

use axum::Json;
use axum::extract::State;
use certitude_proto::inventory::v1 as proto;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::JsonBody;
use crate::problem::{GrpcResultExt, Problem};
use crate::tokens::Role;

/// Body of `PUT /v1/license`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLicense {
    /// `None` when the field is missing, `Some(None)` for `null` (no limit).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, required = true)]
    licensed: Option<Option<u64>>,
}

/// Reads a field that is present, possibly `null`, so that a missing field stays `None`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(deserializer).map(Some)
}

/// The certificate license with the inventory's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct License {
    /// `null` when there is no limit.
    #[schema(required = true)]
    licensed: Option<u64>,
    /// Certificates counted against the license: held and not superseded.
    held: u64,
    /// Certificates stored beyond the licensed count, waiting for a slot.
    waiting: u64,
    /// Certificates that may still be added; `null` when there is no limit.
    #[schema(required = true)]
    available: Option<u64>,
    /// Time of the last change; absent before the first.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = DateTime)]
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
#[utoipa::path(
    get,
    path = "/v1/license",
    tag = "license",
    operation_id = "getLicense",
    summary = "Get the licensed count with the held, waiting and available counts",
    responses((status = 200, description = "The license.", body = License)),
)]
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
#[utoipa::path(
    put,
    path = "/v1/license",
    tag = "license",
    operation_id = "setLicense",
    summary = "Set the licensed count, or lift the limit with null",
    description = "Raising the count admits waiting certificates, oldest first. Needs the admin \
                   role.",
    request_body = SetLicense,
    responses((status = 200, description = "The license afterwards.", body = License)),
)]
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
