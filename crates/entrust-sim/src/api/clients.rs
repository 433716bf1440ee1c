//! `GET /clients`: the clients of the account (Keyfactor pings this and expects a non-empty
//! list).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::simulator::Simulator;

/// Returns `{"clients": [{clientId, clientName, verificationStatus, uri}]}` in scenario order.
pub async fn list(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let state = sim.state();
    let clients: Vec<Value> = state
        .clients
        .iter()
        .map(|client| {
            json!({
                "clientId": client.client_id,
                "clientName": client.client_name,
                "verificationStatus": client.verification_status,
                "uri": format!("/enterprise/v2/clients/{}", client.client_id),
            })
        })
        .collect();
    Json(json!({ "clients": clients }))
}
