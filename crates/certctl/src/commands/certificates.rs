//! `certctl certificates` and `deployments`: the inventory, certificate files and deployment
//! locations.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::blocking::multipart::{Form, Part};
use serde_json::json;

use super::{Context, push_some, read_secret};
use crate::cli::{
    AddDeploymentArgs, CertificateListArgs, CertificatesCommand, DeploymentsCommand, ExportArgs,
};
use crate::client::Body;
use crate::error::Error;
use crate::json::Json;
use crate::output::{Column, column};

/// Environment variable with the password of PKCS#12 files, for import and export.
pub const PKCS12_PASSWORD_VAR: &str = "CERTCTL_PKCS12_PASSWORD";

const CERTIFICATE_COLUMNS: [Column; 7] = [
    column("ID", "id"),
    column("COMMON NAME", "common_name"),
    column("STATUS", "status"),
    column("NOT AFTER", "not_after"),
    column("KEY", "key_type"),
    column("SOURCE", "source"),
    column("INVENTORY", "inventory_state"),
];

const IMPORTED_FILE_COLUMNS: [Column; 7] = [
    column("FILE", "name"),
    column("FORMAT", "format"),
    column("ADDED", "certificates_added"),
    column("DUPLICATES", "duplicates"),
    column("WAITING", "waiting"),
    column("KEYS", "keys_stored"),
    column("ERROR", "error"),
];

const DEPLOYMENT_COLUMNS: [Column; 9] = [
    column("ID", "id"),
    column("CERTIFICATE", "certificate_id"),
    column("COMMON NAME", "certificate_common_name"),
    column("HOST", "host"),
    column("PORT", "port"),
    column("PATH", "path"),
    column("SYSTEM", "system"),
    column("NEEDS DEPLOYMENT", "needs_deployment"),
    column("CONFIRMED", "confirmed_at"),
];

pub fn certificates(
    context: &mut Context<'_, '_>,
    command: CertificatesCommand,
) -> Result<(), Error> {
    match command {
        CertificatesCommand::List(args) => list(context, args),
        CertificatesCommand::Get { id } => context.show(&["certificates", &id]),
        CertificatesCommand::Import {
            files,
            password_file,
        } => import(context, &files, password_file.as_deref()),
        CertificatesCommand::Export(args) => export(context, args),
        CertificatesCommand::Delete { id } => {
            let certificate = context.client.delete(&["certificates", &id], &[])?;
            context.output.object(&certificate)
        }
    }
}

fn list(context: &mut Context<'_, '_>, args: CertificateListArgs) -> Result<(), Error> {
    let mut query = Vec::new();
    push_some(&mut query, "query", args.query);
    push_some(&mut query, "issuer", args.issuer);
    if !args.status.is_empty() {
        let statuses: Vec<&str> = args.status.iter().map(|status| status.as_str()).collect();
        query.push(("status", statuses.join(",")));
    }
    push_some(
        &mut query,
        "expiring_within_days",
        args.expiring_within_days.map(|days| days.to_string()),
    );
    push_some(&mut query, "key_type", args.key_type);
    push_some(&mut query, "source", args.source);
    push_some(&mut query, "credential_id", args.credential);
    push_some(&mut query, "inventory_state", args.inventory_state);
    push_some(&mut query, "sort", args.sort);
    push_some(&mut query, "order", args.order);
    context.list(&["certificates"], query, &args.page, &CERTIFICATE_COLUMNS)
}

/// Returns the PKCS#12 password of `--password-file` or `CERTCTL_PKCS12_PASSWORD`.
fn pkcs12_password(
    context: &Context<'_, '_>,
    password_file: Option<&Path>,
) -> Result<Option<String>, Error> {
    if let Some(path) = password_file {
        return read_secret(context.env, path, "the password file").map(Some);
    }
    Ok(context.env.var(PKCS12_PASSWORD_VAR).map(str::to_owned))
}

fn import(
    context: &mut Context<'_, '_>,
    files: &[PathBuf],
    password_file: Option<&Path>,
) -> Result<(), Error> {
    let mut form = Form::new();
    for path in files {
        let content = std::fs::read(context.env.resolve(path))
            .map_err(|error| Error::Failed(format!("cannot read {}: {error}", path.display())))?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        form = form.part("file", Part::bytes(content).file_name(name));
    }
    if let Some(password) = pkcs12_password(context, password_file)? {
        form = form.text("password", password);
    }
    let result = context.client.json(
        Method::POST,
        &["certificates", "import"],
        &[],
        Body::Multipart(form),
        None,
    )?;
    let output = &mut context.output;
    if output.is_table() {
        let files = Json::Object(vec![(
            "items".to_owned(),
            result
                .get("files")
                .cloned()
                .unwrap_or(Json::Array(Vec::new())),
        )]);
        output.list(&files, &IMPORTED_FILE_COLUMNS)?;
        for file in files_of(&result) {
            for warning in file
                .get("warnings")
                .and_then(Json::as_array)
                .unwrap_or_default()
            {
                output.note(&format!(
                    "warning: {}: {}",
                    file.str("name").unwrap_or_default(),
                    warning.as_str().unwrap_or_default()
                ))?;
            }
        }
        output.line(&format!(
            "certificates added {}, duplicates {}, waiting for a license slot {}, keys stored \
             {}, files failed {}",
            result.count("certificates_added"),
            result.count("duplicates"),
            result.count("waiting"),
            result.count("keys_stored"),
            result.count("files_failed"),
        ))?;
    } else {
        output.object(&result)?;
    }
    let failed = result.count("files_failed");
    if failed > 0 {
        return Err(Error::Failed(format!(
            "importing {failed} of {} files failed; each file's error names the cause",
            files.len()
        )));
    }
    Ok(())
}

fn files_of(result: &Json) -> &[Json] {
    result
        .get("files")
        .and_then(Json::as_array)
        .unwrap_or_default()
}

fn export(context: &mut Context<'_, '_>, args: ExportArgs) -> Result<(), Error> {
    let (content, part, key_material) = if args.pkcs12 {
        if args.out.is_none() {
            return Err(Error::Usage(
                "--out FILE is required with --pkcs12, because a PKCS#12 file is binary".to_owned(),
            ));
        }
        let password =
            pkcs12_password(context, args.password_file.as_deref())?.ok_or_else(|| {
                Error::Usage(format!(
                    "the PKCS#12 password is missing: pass --password-file FILE or set \
                     {PKCS12_PASSWORD_VAR}"
                ))
            })?;
        let mut body = json!({ "password": password });
        if args.legacy {
            body["legacy"] = json!(true);
        }
        let content = context.client.send(
            Method::POST,
            &["certificates", &args.id, "export"],
            &[],
            Body::Json(body),
            None,
        )?;
        (content, "pkcs12".to_owned(), true)
    } else {
        let query = [("format", "pem".to_owned()), ("part", args.part.clone())];
        let content = context.client.send(
            Method::GET,
            &["certificates", &args.id, "export"],
            &query,
            Body::None,
            None,
        )?;
        let key_material = args.part == "key";
        (content, args.part, key_material)
    };

    let Some(out) = args.out else {
        return context
            .output
            .io
            .stdout
            .write_all(&content)
            .map_err(Error::Write);
    };
    write_file(
        &context.env.resolve(&out),
        &content,
        key_material,
        args.force,
    )?;
    let written = Json::Object(vec![
        ("certificate_id".to_owned(), Json::String(args.id.clone())),
        ("part".to_owned(), Json::String(part.clone())),
        ("path".to_owned(), Json::String(out.display().to_string())),
        ("bytes".to_owned(), Json::Number(content.len().into())),
    ]);
    if context.output.is_table() {
        context.output.line(&format!(
            "wrote {part} of certificate {} to {} ({} bytes)",
            args.id,
            out.display(),
            content.len()
        ))
    } else {
        context.output.object(&written)
    }
}

/// Writes an exported file; a file with a private key is readable by its owner only (on Unix).
fn write_file(path: &Path, content: &[u8], key_material: bool, force: bool) -> Result<(), Error> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if key_material {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = key_material;
    let mut file = options.open(path).map_err(|error| {
        let hint = if error.kind() == std::io::ErrorKind::AlreadyExists {
            " (pass --force to overwrite it)"
        } else {
            ""
        };
        Error::Failed(format!("cannot create {}: {error}{hint}", path.display()))
    })?;
    file.write_all(content)
        .map_err(|error| Error::Failed(format!("cannot write {}: {error}", path.display())))
}

pub fn deployments(
    context: &mut Context<'_, '_>,
    command: DeploymentsCommand,
) -> Result<(), Error> {
    match command {
        DeploymentsCommand::List {
            certificate,
            needs_deployment,
            page,
        } => {
            let mut query = Vec::new();
            push_some(
                &mut query,
                "needs_deployment",
                needs_deployment.map(|needs| needs.to_string()),
            );
            match certificate {
                Some(id) => context.list(
                    &["certificates", &id, "deployments"],
                    query,
                    &page,
                    &DEPLOYMENT_COLUMNS,
                ),
                None => context.list(&["deployments"], query, &page, &DEPLOYMENT_COLUMNS),
            }
        }
        DeploymentsCommand::Add(args) => add_deployment(context, args),
        DeploymentsCommand::Remove {
            certificate_id,
            deployment_id,
        } => {
            let deployment = context.client.delete(
                &[
                    "certificates",
                    &certificate_id,
                    "deployments",
                    &deployment_id,
                ],
                &[],
            )?;
            context.output.object(&deployment)
        }
        DeploymentsCommand::Confirm {
            certificate_id,
            deployment_id,
        } => {
            let deployment = context.client.json(
                Method::POST,
                &[
                    "certificates",
                    &certificate_id,
                    "deployments",
                    &deployment_id,
                    "confirm",
                ],
                &[],
                Body::None,
                None,
            )?;
            context.output.object(&deployment)
        }
    }
}

fn add_deployment(context: &mut Context<'_, '_>, args: AddDeploymentArgs) -> Result<(), Error> {
    if args.host.is_none() && args.path.is_none() && args.system.is_none() {
        return Err(Error::Usage(
            "give at least one of --host, --path and --system".to_owned(),
        ));
    }
    let mut body = json!({ "needs_deployment": args.needs_deployment });
    for (name, value) in [
        ("host", args.host),
        ("path", args.path),
        ("system", args.system),
        ("note", args.note),
    ] {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    if let Some(port) = args.port {
        body["port"] = json!(port);
    }
    let deployment = context
        .client
        .post(&["certificates", &args.certificate_id, "deployments"], body)?;
    context.output.object(&deployment)
}
