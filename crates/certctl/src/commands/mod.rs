//! The commands: each turns its arguments into one or more gateway requests and prints the
//! result.

mod admin;
mod certificates;
mod credentials;
mod orders;
mod renewals;

use std::path::Path;

use crate::cli::{Command, PageArgs};
use crate::client::Client;
use crate::config::Environment;
use crate::error::Error;
use crate::json::Json;
use crate::output::{Column, Output};

/// The state every command uses: the gateway client, the output and the environment.
pub struct Context<'a, 'io> {
    pub client: Client,
    pub output: Output<'a, 'io>,
    pub env: &'a Environment,
}

/// Runs a command other than `completion`.
pub fn dispatch(context: &mut Context<'_, '_>, command: Command) -> Result<(), Error> {
    match command {
        Command::Credentials(command) => credentials::credentials(context, command),
        Command::Syncs(command) => credentials::syncs(context, command),
        Command::Imports(command) => credentials::imports(context, command),
        Command::Orders(command) => orders::orders(context, command),
        Command::Certificates(command) => certificates::certificates(context, command),
        Command::Deployments(command) => certificates::deployments(context, command),
        Command::License(command) => admin::license(context, command),
        Command::Renewals(command) => renewals::renewals(context, command),
        Command::Tokens(command) => admin::tokens(context, command),
        Command::Audit(command) => admin::audit(context, command),
        Command::Openapi => admin::openapi(context),
        Command::Completion { .. } => Err(Error::Usage(
            "completion needs no gateway and is handled before dispatch".to_owned(),
        )),
    }
}

impl Context<'_, '_> {
    /// Fetches a list (one page, or every page with `--all`) and prints it.
    fn list(
        &mut self,
        segments: &[&str],
        query: Vec<(&'static str, String)>,
        page: &PageArgs,
        columns: &[Column],
    ) -> Result<(), Error> {
        let result = fetch_list(&self.client, segments, query, page)?;
        self.output.list(&result, columns)
    }

    /// GETs a resource and prints it.
    fn show(&mut self, segments: &[&str]) -> Result<(), Error> {
        let object = self.client.get(segments, &[])?;
        self.output.object(&object)
    }
}

/// Fetches one page of a list, or with `--all` follows `next_cursor` and returns every item as
/// `{"items": [...]}`.
///
/// # Errors
/// A request error, or [`Error::Failed`] when the gateway returns the same cursor twice.
pub fn fetch_list(
    client: &Client,
    segments: &[&str],
    mut query: Vec<(&'static str, String)>,
    page: &PageArgs,
) -> Result<Json, Error> {
    if let Some(limit) = page.limit {
        query.push(("limit", limit.to_string()));
    }
    if !page.all {
        if let Some(cursor) = &page.cursor {
            query.push(("cursor", cursor.clone()));
        }
        return client.get(segments, &query);
    }
    let mut cursor = page.cursor.clone();
    let mut items = Vec::new();
    loop {
        let mut page_query = query.clone();
        if let Some(cursor) = &cursor {
            page_query.push(("cursor", cursor.clone()));
        }
        let result = client.get(segments, &page_query)?;
        if let Some(page_items) = result.get("items").and_then(Json::as_array) {
            items.extend_from_slice(page_items);
        }
        match result.str("next_cursor") {
            None => break,
            Some(next) if cursor.as_deref() == Some(next) => {
                return Err(Error::Failed(format!(
                    "the gateway returned the cursor {next} twice for /v1/{}; stopped to \
                     avoid an endless loop",
                    segments.join("/")
                )));
            }
            Some(next) => cursor = Some(next.to_owned()),
        }
    }
    Ok(Json::Object(vec![("items".to_owned(), Json::Array(items))]))
}

/// Pushes `(name, value)` onto a query when the value is set.
fn push_some(query: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<String>) {
    if let Some(value) = value {
        query.push((name, value));
    }
}

/// Reads a text file named on the command line, relative to the working directory.
fn read_text(env: &Environment, path: &Path, description: &str) -> Result<String, Error> {
    std::fs::read_to_string(env.resolve(path)).map_err(|error| {
        Error::Failed(format!(
            "cannot read {description} {}: {error}",
            path.display()
        ))
    })
}

/// Reads a secret (API key, password) from a file: its content without the final line break.
fn read_secret(env: &Environment, path: &Path, description: &str) -> Result<String, Error> {
    let text = read_text(env, path, description)?;
    let secret = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(Error::Failed(format!(
            "{description} {} is empty: write the secret into it",
            path.display()
        )));
    }
    Ok(secret.to_owned())
}

/// Returns the idempotency key of `--idempotency-key`, or generates one and prints it to
/// stderr, so that the user can repeat the request safely.
fn idempotency_key(
    output: &mut Output<'_, '_>,
    requested: Option<String>,
) -> Result<String, Error> {
    if let Some(key) = requested {
        return Ok(key);
    }
    let key = uuid::Uuid::new_v4().to_string();
    output.note(&format!(
        "idempotency key: {key} (to retry this request without placing a second order, pass \
         --idempotency-key {key})"
    ))?;
    Ok(key)
}
