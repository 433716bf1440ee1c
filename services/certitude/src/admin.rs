//! Administration commands: provisioning the database and generating master keys.

use anyhow::Context;
use certitude_platform::db::{self, ServiceDb};
use certitude_platform::seal::{KeyId, MasterKey};
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;

/// Schema of each service; its login role is `certitude_<schema>`.
pub const SERVICE_SCHEMAS: [&str; 5] = [
    "gateway",
    "credential_sync",
    "order_manager",
    "renewal",
    "inventory",
];

#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// Administrator connection URL of the Postgres server (a superuser or a role with
    /// CREATEDB and CREATEROLE).
    #[arg(long, env = "CERTITUDE_ADMIN_DATABASE_URL", hide_env_values = true)]
    admin_url: String,

    /// Database to create (when missing) and provision.
    #[arg(long, env = "CERTITUDE_DATABASE", default_value = "certitude")]
    database: String,

    /// Drops the database first, deleting all its data: for a development setup whose Entrust
    /// simulator starts from its scenario again.
    #[arg(long)]
    reset: bool,
}

/// Creates the database when missing, then each service's role and schema in it.
pub async fn provision(args: ProvisionArgs) -> anyhow::Result<()> {
    db::validate_identifier("database", &args.database)?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.admin_url)
        .await
        .context("failed to connect with the administrator URL")?;
    if args.reset {
        // The name was validated as an identifier above, so it can be quoted safely.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            args.database
        )))
        .execute(&admin)
        .await
        .with_context(|| format!("failed to drop database {}", args.database))?;
        println!("dropped database {}", args.database);
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&args.database)
            .fetch_one(&admin)
            .await
            .context("failed to look up the database")?;
    if !exists {
        // The name was validated as an identifier above, so it can be quoted safely.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{}\"",
            args.database
        )))
        .execute(&admin)
        .await
        .with_context(|| format!("failed to create database {}", args.database))?;
        println!("created database {}", args.database);
    }
    admin.close().await;

    let database_url = with_database(&args.admin_url, &args.database)?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&database_url)
        .await
        .with_context(|| format!("failed to connect to database {}", args.database))?;
    for schema in SERVICE_SCHEMAS {
        let service = ServiceDb {
            schema: schema.to_owned(),
            role: format!("certitude_{schema}"),
            password: None,
        };
        db::provision(&admin, &service)
            .await
            .with_context(|| format!("failed to provision schema {schema}"))?;
        println!("provisioned schema {schema} owned by role {}", service.role);
    }
    Ok(())
}

fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("the administrator URL is not a valid URL")?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.to_string())
}

#[derive(Debug, clap::Args)]
pub struct GenerateMasterKeyArgs {
    /// Identifier of the new key, named in every record it seals.
    #[arg(long, default_value = "k1")]
    id: String,
}

/// Prints a fresh master key as `ID:BASE64` on standard output, and nothing else.
pub fn generate_master_key(args: &GenerateMasterKeyArgs) -> anyhow::Result<()> {
    let id = KeyId::parse(&args.id)?;
    let key = MasterKey::generate(id)?;
    println!("{}", key.to_config_entry().expose_secret());
    Ok(())
}
