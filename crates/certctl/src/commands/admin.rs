//! `certctl license`, `tokens`, `audit` and `openapi`: the administration routes.

use reqwest::Method;
use serde_json::json;

use super::{Context, push_some};
use crate::cli::{AuditCommand, LicenseCommand, TokensCommand};
use crate::client::Body;
use crate::error::Error;
use crate::output::{Column, column};

const TOKEN_COLUMNS: [Column; 6] = [
    column("ID", "id"),
    column("NAME", "name"),
    column("ROLE", "role"),
    column("CREATED", "created_at"),
    column("EXPIRES", "expires_at"),
    column("REVOKED", "revoked_at"),
];

const AUDIT_COLUMNS: [Column; 8] = [
    column("SEQUENCE", "sequence"),
    column("OCCURRED", "occurred_at"),
    column("ACTOR", "actor_name"),
    column("METHOD", "method"),
    column("ROUTE", "route"),
    column("TARGET", "target"),
    column("STATUS", "status"),
    column("OUTCOME", "outcome"),
];

pub fn license(context: &mut Context<'_, '_>, command: LicenseCommand) -> Result<(), Error> {
    match command {
        LicenseCommand::Get => context.show(&["license"]),
        LicenseCommand::Set {
            licensed,
            unlimited,
        } => {
            let licensed = if unlimited { None } else { licensed };
            let license = context.client.json(
                Method::PUT,
                &["license"],
                &[],
                Body::Json(json!({ "licensed": licensed })),
                None,
            )?;
            context.output.object(&license)
        }
    }
}

pub fn tokens(context: &mut Context<'_, '_>, command: TokensCommand) -> Result<(), Error> {
    match command {
        TokensCommand::Create {
            name,
            role,
            expires_at,
        } => {
            let mut body = json!({ "name": name, "role": role });
            if let Some(expires_at) = expires_at {
                body["expires_at"] = json!(expires_at);
            }
            let token = context.client.post(&["tokens"], body)?;
            context.output.object(&token)?;
            context.output.note(
                "note: store token_secret now; Certitude keeps only its digest and cannot show \
                 it again",
            )
        }
        TokensCommand::List(page) => context.list(&["tokens"], Vec::new(), &page, &TOKEN_COLUMNS),
        TokensCommand::Revoke { id } => {
            let token = context.client.delete(&["tokens", &id], &[])?;
            context.output.object(&token)
        }
    }
}

pub fn audit(context: &mut Context<'_, '_>, command: AuditCommand) -> Result<(), Error> {
    match command {
        AuditCommand::List {
            actor_token,
            method,
            outcome,
            from,
            to,
            page,
        } => {
            let mut query = Vec::new();
            push_some(&mut query, "actor_token_id", actor_token);
            push_some(&mut query, "method", method);
            push_some(&mut query, "outcome", outcome);
            push_some(&mut query, "from", from);
            push_some(&mut query, "to", to);
            context.list(&["audit"], query, &page, &AUDIT_COLUMNS)
        }
        AuditCommand::Head => context.show(&["audit", "head"]),
    }
}

/// Prints the OpenAPI document: as JSON even in table format, because it is no table.
pub fn openapi(context: &mut Context<'_, '_>) -> Result<(), Error> {
    let document = context.client.get(&["openapi.json"], &[])?;
    if context.output.field.is_some() {
        context.output.object(&document)
    } else {
        context.output.json(&document)
    }
}
