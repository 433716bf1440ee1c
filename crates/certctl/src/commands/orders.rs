//! `certctl orders`: placing orders and the operations on them.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Context, idempotency_key, read_text};
use crate::cli::{
    AdminCredentialArgs, CreateOrderArgs, OrderWaitArgs, OrdersCommand, ReissueArgs, RenewArgs,
};
use crate::client::Body;
use crate::error::Error;
use crate::json::Json;
use crate::output::{Column, column};
use crate::wait::{check_issued, wait_for_order};

const ORDER_COLUMNS: [Column; 7] = [
    column("ID", "id"),
    column("TRACKING ID", "tracking_id"),
    column("PRODUCT", "product"),
    column("COMMON NAME", "common_name"),
    column("STATUS", "status"),
    column("CERTIFICATE", "certificate_id"),
    column("CREATED", "created_at"),
];

const HISTORY_COLUMNS: [Column; 7] = [
    column("AT", "at"),
    column("ACTOR", "actor"),
    column("ACTION", "action"),
    column("FROM", "from_status"),
    column("TO", "to_status"),
    column("OUTCOME", "outcome"),
    column("DETAIL", "detail"),
];

pub fn orders(context: &mut Context<'_, '_>, command: OrdersCommand) -> Result<(), Error> {
    match command {
        OrdersCommand::Create(args) => create(context, args),
        OrdersCommand::List { credential, page } => {
            let mut query = Vec::new();
            super::push_some(&mut query, "credential_id", credential);
            context.list(&["orders"], query, &page, &ORDER_COLUMNS)
        }
        OrdersCommand::Get { id } => context.show(&["orders", &id]),
        OrdersCommand::Wait { id, timeout } => {
            let order = context.client.get(&["orders", &id], &[])?;
            let order = wait_for_order(&context.client, &context.output, order, timeout)?;
            context.output.object(&order)?;
            check_issued(&mut context.output, &order)
        }
        OrdersCommand::Approve { id, admin } => action(context, &id, "approve", body(&admin)),
        OrdersCommand::Decline { id, reason, admin } => {
            let mut body = body(&admin);
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            action(context, &id, "decline", body)
        }
        OrdersCommand::Suspend { id, admin } => action(context, &id, "suspend", body(&admin)),
        OrdersCommand::Resume { id, admin } => action(context, &id, "resume", body(&admin)),
        OrdersCommand::Renew(args) => renew(context, args),
        OrdersCommand::Reissue(args) => reissue(context, args),
        OrdersCommand::Revoke {
            id,
            reason,
            comment,
            admin,
        } => {
            let mut body = body(&admin);
            body["reason"] = json!(reason.as_str());
            if let Some(comment) = comment {
                body["comment"] = json!(comment);
            }
            action(context, &id, "revoke", body)
        }
        OrdersCommand::Delete { id } => {
            let order = context.client.delete(&["orders", &id], &[])?;
            context.output.object(&order)
        }
        OrdersCommand::History { id } => {
            let history = context.client.get(&["orders", &id, "history"], &[])?;
            context.output.list(&history, &HISTORY_COLUMNS)
        }
    }
}

/// Returns the body of an order operation: `{}` or the administrator credential.
fn body(admin: &AdminCredentialArgs) -> Value {
    match &admin.admin_credential {
        Some(id) => json!({ "admin_credential_id": id }),
        None => json!({}),
    }
}

/// POSTs an operation to `/v1/orders/{id}/<operation>` and prints the order afterwards.
fn action(
    context: &mut Context<'_, '_>,
    id: &str,
    operation: &str,
    body: Value,
) -> Result<(), Error> {
    let order = context.client.post(&["orders", id, operation], body)?;
    context.output.object(&order)
}

fn create(context: &mut Context<'_, '_>, args: CreateOrderArgs) -> Result<(), Error> {
    if args.common_name.is_none() && args.csr.is_none() {
        return Err(Error::Usage(
            "--common-name is required unless --csr gives a CSR with a common name".to_owned(),
        ));
    }

    let mut body = json!({
        "credential_id": args.credential,
        "product": args.product,
    });
    if let Some(common_name) = args.common_name {
        body["common_name"] = json!(common_name);
    }
    if !args.dns_names.is_empty() {
        body["dns_names"] = json!(args.dns_names);
    }
    if let Some(organization) = args.organization {
        body["organization"] = json!(organization);
    }
    if let Some(client_id) = args.client_id {
        body["client_id"] = json!(client_id);
    }
    if let Some(algorithm) = args.key_algorithm {
        body["key_algorithm"] = json!(algorithm);
    }
    if let Some(days) = args.validity_days {
        body["validity_days"] = json!(days);
    }
    if args.queue_for_approval {
        body["queue_for_approval"] = json!(true);
    }
    if let Some(csr) = &args.csr {
        body["csr_pem"] = json!(read_text(context.env, csr, "the CSR file")?);
    }

    // A validate-only request stores nothing, so it needs no key unless the user gave one.
    let key = if args.validate_only {
        body["validate_only"] = json!(true);
        args.idempotency_key
    } else {
        Some(idempotency_key(&mut context.output, args.idempotency_key)?)
    };

    let order = context.client.json(
        Method::POST,
        &["orders"],
        &[],
        Body::Json(body),
        key.as_deref(),
    )?;
    print_order(context, order, &args.wait)
}

fn renew(context: &mut Context<'_, '_>, args: RenewArgs) -> Result<(), Error> {
    let mut body = body(&args.admin);
    if args.reuse_key {
        body["reuse_key"] = json!(true);
    }
    if let Some(algorithm) = args.key_algorithm {
        body["key_algorithm"] = json!(algorithm);
    }
    if let Some(days) = args.validity_days {
        body["validity_days"] = json!(days);
    }
    let key = idempotency_key(&mut context.output, args.idempotency_key)?;
    let order = context.client.json(
        Method::POST,
        &["orders", &args.id, "renew"],
        &[],
        Body::Json(body),
        Some(&key),
    )?;
    print_order(context, order, &args.wait)
}

fn reissue(context: &mut Context<'_, '_>, args: ReissueArgs) -> Result<(), Error> {
    let mut body = body(&args.admin);
    if let Some(algorithm) = args.key_algorithm {
        body["key_algorithm"] = json!(algorithm);
    }
    let key = idempotency_key(&mut context.output, args.idempotency_key)?;
    let order = context.client.json(
        Method::POST,
        &["orders", &args.id, "reissue"],
        &[],
        Body::Json(body),
        Some(&key),
    )?;
    print_order(context, order, &args.wait)
}

/// Prints a new order, or with `--wait` waits until it is issued and prints it then.
fn print_order(
    context: &mut Context<'_, '_>,
    order: Json,
    wait: &OrderWaitArgs,
) -> Result<(), Error> {
    if !wait.wait {
        return context.output.object(&order);
    }
    let order = wait_for_order(&context.client, &context.output, order, wait.timeout)?;
    context.output.object(&order)?;
    check_issued(&mut context.output, &order)
}
