//! `GET /clients`, `GET /clients/{clientId}` and `GET /clients/{clientId}/organizations`.
//!
//! Keyfactor pings `GET /clients` and expects a non-empty list. Expiry dates carry milliseconds,
//! as in the 2.1.0 specification's examples, and appear only once the matching verification is
//! APPROVED. `GET /clients/{clientId}` lists organizations for the primary client only, as the
//! specification describes.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::path_integer;
use crate::error::ApiError;
use crate::format::timestamp_millis;
use crate::model::VerificationStatus;
use crate::simulator::Simulator;
use crate::state::{Client, SimState};

/// Returns `{"clients": [Client]}` in scenario order.
pub async fn list(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let state = sim.state();
    let clients: Vec<Value> = state
        .clients
        .iter()
        .map(|client| {
            let mut object = base_fields(client);
            if let Some(status) = client.ev_verification_status {
                object.insert("evVerificationStatus".into(), json!(status));
                if status == VerificationStatus::Approved
                    && let Some(expiry) = client.ev_expiry
                {
                    object.insert("evExpiryDate".into(), json!(timestamp_millis(expiry)));
                }
            }
            object.insert(
                "uri".into(),
                json!(format!("/enterprise/v2/clients/{}", client.client_id)),
            );
            Value::Object(object)
        })
        .collect();
    Json(json!({ "clients": clients }))
}

/// Returns the ClientEx of one client; 404 for an unknown one.
pub async fn detail(
    State(sim): State<Arc<Simulator>>,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let client_id = path_integer(client_id, "clientId")?;
    let state = sim.state();
    let client = state.known_client(client_id)?;
    let mut object = base_fields(client);
    if let Some(address) = &client.address {
        object.insert("address".into(), json!(address));
    }
    if let Some(contact) = &client.auth_contact {
        object.insert("authContact".into(), json!(contact));
    }
    if client_id == 1 {
        object.insert(
            "organizations".into(),
            json!(organizations_of(&state, client_id)),
        );
    }
    if let Some(status) = client.ev_verification_status {
        let mut ev_info = Map::new();
        ev_info.insert("status".into(), json!(status));
        if let Some(expiry) = client.ev_expiry {
            ev_info.insert("expiryDate".into(), json!(timestamp_millis(expiry)));
        }
        object.insert("evInfo".into(), Value::Object(ev_info));
    }
    Ok(Json(Value::Object(object)))
}

/// Returns `{"organizations": [{name, verificationStatus}]}` of one client; 404 for an unknown
/// client.
pub async fn organizations(
    State(sim): State<Arc<Simulator>>,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let client_id = path_integer(client_id, "clientId")?;
    let state = sim.state();
    state.known_client(client_id)?;
    Ok(Json(
        json!({ "organizations": organizations_of(&state, client_id) }),
    ))
}

/// Builds the BaseClient fields: id, names, verification status and the OV expiry once
/// approved.
fn base_fields(client: &Client) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("clientId".into(), json!(client.client_id));
    object.insert("clientName".into(), json!(client.client_name));
    if let Some(name) = &client.friendly_client_name {
        object.insert("friendlyClientName".into(), json!(name));
    }
    object.insert(
        "verificationStatus".into(),
        json!(client.verification_status),
    );
    if client.verification_status == VerificationStatus::Approved
        && let Some(expiry) = client.ov_expiry
    {
        object.insert("ovExpiryDate".into(), json!(timestamp_millis(expiry)));
    }
    object
}

fn organizations_of(state: &SimState, client_id: i64) -> Vec<Value> {
    state
        .organizations
        .iter()
        .filter(|org| org.client_id == client_id)
        .map(|org| json!({ "name": org.name, "verificationStatus": org.verification_status }))
        .collect()
}
