//! `GET /inventories`: the account's products and their counts.
//!
//! The 2.1.0 spec's example wraps the list as `inventory`, but production clients read
//! `inventories`, so that is the key used. `consumptionType` appears only for UNLIMITED
//! products, which then carry no counts.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::simulator::Simulator;

/// Returns `{"inventories": [...]}` in scenario order.
pub async fn list(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let state = sim.state();
    let items: Vec<Value> = state
        .inventory
        .items()
        .iter()
        .map(|item| {
            if item.unlimited {
                json!({ "productType": item.product_type, "consumptionType": "UNLIMITED" })
            } else {
                json!({
                    "productType": item.product_type,
                    "totalCount": item.total_count,
                    "remainingCount": item.remaining_count,
                    "usedCount": item.used_count,
                })
            }
        })
        .collect();
    Json(json!({ "inventories": items }))
}
