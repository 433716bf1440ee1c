//! `GET /application/version`: the build string of the service, a cheap authenticated probe.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::simulator::Simulator;

/// Returns `{"version": ...}` from the scenario.
pub async fn version(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let version = sim.state().account.version.clone();
    Json(json!({ "version": version }))
}
