//! `certctl renewals`: auto-renewal policies, the renewal forecast and the Auto-Renewal Audit.

use reqwest::Method;
use serde_json::json;

use super::{Context, push_some};
use crate::cli::{PolicyArgs, PolicyCommand, RenewalsCommand};
use crate::client::Body;
use crate::error::Error;
use crate::output::{Column, column};

const FORECAST_COLUMNS: [Column; 6] = [
    column("RENEW AT", "renew_at"),
    column("NOT AFTER", "not_after"),
    column("ORDER", "order_id"),
    column("CERTIFICATE", "certificate_id"),
    column("PRODUCT", "product"),
    column("METHOD", "method"),
];

const AUDIT_COLUMNS: [Column; 7] = [
    column("ATTEMPTED", "attempted_at"),
    column("ORDER", "order_id"),
    column("OUTCOME", "outcome"),
    column("ATTEMPT", "attempt"),
    column("NEW ORDER", "new_order_id"),
    column("DURATION MS", "duration_ms"),
    column("ERROR", "error"),
];

pub fn renewals(context: &mut Context<'_, '_>, command: RenewalsCommand) -> Result<(), Error> {
    match command {
        RenewalsCommand::Policy(PolicyCommand::Get { order_id }) => {
            context.show(&["orders", &order_id, "renewal-policy"])
        }
        RenewalsCommand::Policy(PolicyCommand::Set(args)) => set_policy(context, args),
        RenewalsCommand::Policy(PolicyCommand::Delete { order_id }) => {
            let policy = context
                .client
                .delete(&["orders", &order_id, "renewal-policy"], &[])?;
            context.output.object(&policy)
        }
        RenewalsCommand::Forecast { days, page } => {
            let mut query = Vec::new();
            push_some(&mut query, "days", days.map(|days| days.to_string()));
            context.list(&["renewals", "forecast"], query, &page, &FORECAST_COLUMNS)
        }
        RenewalsCommand::Audit {
            order,
            certificate,
            policy,
            outcome,
            page,
        } => {
            let mut query = Vec::new();
            push_some(&mut query, "order_id", order);
            push_some(&mut query, "certificate_id", certificate);
            push_some(&mut query, "policy_id", policy);
            push_some(&mut query, "outcome", outcome);
            context.list(&["renewals", "audit"], query, &page, &AUDIT_COLUMNS)
        }
    }
}

fn set_policy(context: &mut Context<'_, '_>, args: PolicyArgs) -> Result<(), Error> {
    let mut body = json!({
        "enabled": !args.disabled,
        "rotate_key": args.rotate_key,
    });
    for (name, value) in [
        ("renew_days_before_expiry", args.days_before_expiry),
        ("renew_at_lifetime_percent", args.lifetime_percent),
        ("validity_days", args.validity_days),
        ("max_attempts", args.max_attempts),
    ] {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    if let Some(product) = args.product {
        body["product"] = json!(product);
    }
    if let Some(id) = args.admin_credential {
        body["admin_credential_id"] = json!(id);
    }
    if let (Some(start), Some(end)) = (args.window_start, args.window_end) {
        let mut window = json!({ "start_hour": start, "end_hour": end });
        if !args.window_days.is_empty() {
            window["days"] = json!(args.window_days);
        }
        if let Some(zone) = args.time_zone {
            window["time_zone"] = json!(zone);
        }
        body["maintenance_window"] = window;
    }
    let policy = context.client.json(
        Method::PUT,
        &["orders", &args.order_id, "renewal-policy"],
        &[],
        Body::Json(body),
        None,
    )?;
    context.output.object(&policy)
}
