//! `GET /organizations`: every organization of every client, with its client id.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::simulator::Simulator;

/// Returns `{"organizations": [{name, verificationStatus, clientId}]}` in scenario order.
pub async fn list(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let state = sim.state();
    let organizations: Vec<Value> = state
        .organizations
        .iter()
        .map(|org| {
            json!({
                "name": org.name,
                "verificationStatus": org.verification_status,
                "clientId": org.client_id,
            })
        })
        .collect();
    Json(json!({ "organizations": organizations }))
}
