//! `certctl credentials`, `syncs` and `imports`: Entrust credentials, their catalog, catalog
//! syncs and order imports.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Context, read_secret, read_text};
use crate::cli::{
    AddCredentialArgs, ApiKeyArgs, CatalogArgs, CatalogKind, CredentialsCommand, ImportsCommand,
    JobWaitArgs, SyncsCommand, UpdateCredentialArgs,
};
use crate::client::Body;
use crate::error::Error;
use crate::json::Json;
use crate::output::{Column, column};
use crate::wait::{JobKind, report_job, wait_for_job};

/// Environment variable that `credentials add` reads the Entrust API key from.
pub const API_KEY_VAR: &str = "ENTRUST_API_KEY";

const CREDENTIAL_COLUMNS: [Column; 6] = [
    column("ID", "id"),
    column("NAME", "name"),
    column("USERNAME", "username"),
    column("ADMINISTRATOR", "is_administrator"),
    column("API BASE URL", "api_base_url"),
    column("CREATED", "created_at"),
];

const ORGANIZATION_COLUMNS: [Column; 4] = [
    column("NAME", "name"),
    column("CLIENT", "client_id"),
    column("STATUS", "verification_status"),
    column("REMOVED", "removed_at"),
];

const DOMAIN_COLUMNS: [Column; 7] = [
    column("NAME", "name"),
    column("CLIENT", "client_id"),
    column("METHOD", "verification_method"),
    column("STATUS", "verification_status"),
    column("OV EXPIRY", "ov_expiry"),
    column("EV EXPIRY", "ev_expiry"),
    column("REMOVED", "removed_at"),
];

const PRODUCT_COLUMNS: [Column; 5] = [
    column("PRODUCT", "product_type"),
    column("UNLIMITED", "unlimited"),
    column("REMAINING", "remaining_count"),
    column("USED", "used_count"),
    column("TOTAL", "total_count"),
];

const SYNC_COLUMNS: [Column; 9] = [
    column("ID", "id"),
    column("CREDENTIAL", "credential_id"),
    column("STATE", "state"),
    column("ORGANIZATIONS", "progress.organizations"),
    column("DOMAINS", "progress.domains"),
    column("PRODUCTS", "progress.products"),
    column("ADDED", "progress.added"),
    column("CHANGED", "progress.changed"),
    column("REMOVED", "progress.removed"),
];

pub fn credentials(
    context: &mut Context<'_, '_>,
    command: CredentialsCommand,
) -> Result<(), Error> {
    match command {
        CredentialsCommand::Add(args) => add(context, args),
        CredentialsCommand::List(page) => {
            context.list(&["credentials"], Vec::new(), &page, &CREDENTIAL_COLUMNS)
        }
        CredentialsCommand::Get { id } => context.show(&["credentials", &id]),
        CredentialsCommand::Update(args) => update(context, args),
        CredentialsCommand::Delete { id, force } => {
            let query = if force {
                vec![("force", "true".to_owned())]
            } else {
                Vec::new()
            };
            let credential = context.client.delete(&["credentials", &id], &query)?;
            context.output.object(&credential)
        }
        CredentialsCommand::Sync { id, kinds, wait } => {
            let job = context.client.json(
                Method::POST,
                &["credentials", &id, "syncs"],
                &kinds_query(&kinds),
                Body::None,
                None,
            )?;
            finish_job(context, JobKind::Sync, job, &wait)
        }
        CredentialsCommand::Organizations(args) => catalog(context, "organizations", args),
        CredentialsCommand::Domains(args) => catalog(context, "domains", args),
        CredentialsCommand::Products(args) => catalog(context, "products", args),
    }
}

fn kinds_query(kinds: &[CatalogKind]) -> Vec<(&'static str, String)> {
    if kinds.is_empty() {
        return Vec::new();
    }
    let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    vec![("kinds", kinds.join(","))]
}

fn catalog(context: &mut Context<'_, '_>, kind: &str, args: CatalogArgs) -> Result<(), Error> {
    let columns: &[Column] = match kind {
        "organizations" => &ORGANIZATION_COLUMNS,
        "domains" => &DOMAIN_COLUMNS,
        _ => &PRODUCT_COLUMNS,
    };
    let query = if args.include_removed {
        vec![("include_removed", "true".to_owned())]
    } else {
        Vec::new()
    };
    context.list(&["credentials", &args.id, kind], query, &args.page, columns)
}

/// Returns the API key of `--api-key` or `--api-key-file`, or `None` when neither is given.
fn api_key(context: &Context<'_, '_>, args: &ApiKeyArgs) -> Result<Option<String>, Error> {
    if let Some(key) = &args.api_key {
        return Ok(Some(key.clone()));
    }
    args.api_key_file
        .as_deref()
        .map(|path| read_secret(context.env, path, "the API key file"))
        .transpose()
}

fn add(context: &mut Context<'_, '_>, args: AddCredentialArgs) -> Result<(), Error> {
    let api_key = match api_key(context, &args.api_key)? {
        Some(key) => key,
        None => context
            .env
            .var(API_KEY_VAR)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the Entrust API key is missing: pass --api-key-file FILE, set {API_KEY_VAR}, \
                 or pass --api-key KEY"
                ))
            })?,
    };
    let mut body = Map::new();
    body.insert("name".to_owned(), json!(args.name));
    if let Some(url) = args.api_base_url {
        body.insert("api_base_url".to_owned(), json!(url));
    }
    body.insert("username".to_owned(), json!(args.username));
    body.insert("api_key".to_owned(), json!(api_key));
    if let (Some(certificate), Some(key)) = (&args.client_certificate, &args.client_key) {
        body.insert(
            "client_certificate_pem".to_owned(),
            json!(read_text(
                context.env,
                certificate,
                "the client certificate"
            )?),
        );
        body.insert(
            "client_key_pem".to_owned(),
            json!(read_secret(context.env, key, "the client key")?),
        );
    }
    body.insert("is_administrator".to_owned(), json!(args.administrator));
    let credential = context.client.post(&["credentials"], Value::Object(body))?;
    context.output.object(&credential)
}

fn update(context: &mut Context<'_, '_>, args: UpdateCredentialArgs) -> Result<(), Error> {
    let mut body = Map::new();
    if let Some(name) = &args.name {
        body.insert("name".to_owned(), json!(name));
    }
    if let Some(key) = api_key(context, &args.api_key)? {
        body.insert("api_key".to_owned(), json!(key));
    }
    if let (Some(certificate), Some(key)) = (&args.client_certificate, &args.client_key) {
        body.insert(
            "client_certificate_pem".to_owned(),
            json!(read_text(
                context.env,
                certificate,
                "the client certificate"
            )?),
        );
        body.insert(
            "client_key_pem".to_owned(),
            json!(read_secret(context.env, key, "the client key")?),
        );
    }
    if args.remove_client_certificate {
        body.insert("remove_client_certificate".to_owned(), json!(true));
    }
    if args.administrator {
        body.insert("is_administrator".to_owned(), json!(true));
    } else if args.no_administrator {
        body.insert("is_administrator".to_owned(), json!(false));
    }
    if body.is_empty() {
        return Err(Error::Usage(
            "nothing to update: pass at least one of --name, --api-key-file, --api-key, \
             --client-certificate, --remove-client-certificate, --administrator and \
             --no-administrator"
                .to_owned(),
        ));
    }
    let credential = context.client.json(
        Method::PATCH,
        &["credentials", &args.id],
        &[],
        Body::Json(Value::Object(body)),
        None,
    )?;
    context.output.object(&credential)
}

pub fn syncs(context: &mut Context<'_, '_>, command: SyncsCommand) -> Result<(), Error> {
    match command {
        SyncsCommand::Start { kinds, wait } => {
            let jobs = context.client.json(
                Method::POST,
                &["syncs"],
                &kinds_query(&kinds),
                Body::None,
                None,
            )?;
            if !wait.wait {
                return context.output.list(&jobs, &SYNC_COLUMNS);
            }
            let started = jobs
                .get("items")
                .and_then(Json::as_array)
                .unwrap_or_default()
                .to_vec();
            let mut finished = Vec::new();
            for job in started {
                finished.push(wait_for_job(
                    &context.client,
                    &mut context.output,
                    JobKind::Sync,
                    job,
                    wait.timeout,
                )?);
            }
            report_jobs(context, &finished)
        }
        SyncsCommand::Get { id } => context.show(&["syncs", &id]),
    }
}

/// Prints every finished sync of `syncs start --wait` and fails when one did not succeed.
fn report_jobs(context: &mut Context<'_, '_>, jobs: &[Json]) -> Result<(), Error> {
    let output = &mut context.output;
    if output.is_table() {
        for job in jobs {
            output.line(&JobKind::Sync.summary(job))?;
        }
    } else {
        let page = Json::Object(vec![("items".to_owned(), Json::Array(jobs.to_vec()))]);
        output.list(&page, &SYNC_COLUMNS)?;
    }
    let unsuccessful: Vec<String> = jobs
        .iter()
        .filter(|job| job.str("state") != Some("succeeded"))
        .map(|job| {
            format!(
                "{} ended {}: {}",
                job.str("id").unwrap_or_default(),
                job.str("state").unwrap_or_default(),
                job.str("error").unwrap_or("no error reported")
            )
        })
        .collect();
    if unsuccessful.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "{} of {} syncs did not succeed: {}",
            unsuccessful.len(),
            jobs.len(),
            unsuccessful.join("; ")
        )))
    }
}

pub fn imports(context: &mut Context<'_, '_>, command: ImportsCommand) -> Result<(), Error> {
    match command {
        ImportsCommand::Start {
            credential,
            restore_deleted,
            wait,
        } => {
            let mut body = json!({ "credential_id": credential });
            if restore_deleted {
                body["restore_deleted"] = json!(true);
            }
            let job = context.client.post(&["imports"], body)?;
            finish_job(context, JobKind::Import, job, &wait)
        }
        ImportsCommand::Get { id } => context.show(&["imports", &id]),
    }
}

/// Prints a started job, or with `--wait` waits for it and prints how it ended.
fn finish_job(
    context: &mut Context<'_, '_>,
    kind: JobKind,
    job: Json,
    wait: &JobWaitArgs,
) -> Result<(), Error> {
    if !wait.wait {
        return context.output.object(&job);
    }
    let job = wait_for_job(
        &context.client,
        &mut context.output,
        kind,
        job,
        wait.timeout,
    )?;
    report_job(&mut context.output, kind, &job)
}
