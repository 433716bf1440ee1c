//! `certitude verify-audit`: walks the gateway's hash-chained audit trail and reports whether it
//! is intact, or the first row that was edited or deleted, or a truncated end when compared with
//! a head anchored outside the database.

use std::fmt;

use certitude_gateway::audit::{self, AnchoredHead, Verification};
use certitude_platform::config::{ConnectionUrl, SchemaName, ValueError};
use certitude_platform::db::{self, DbError, DbSettings};
use secrecy::SecretString;

/// The `--help` text of the command.
pub const ABOUT: &str = "\
Checks the gateway's audit trail: every row's hash must match its fields and the previous \
row's hash, sequences must have no gap, and the last row must be the head recorded in \
audit_chain_head. With --expected-head, the chain must also reach the anchored sequence with \
the anchored hash, which finds rows deleted at the end. Take the anchor from the gateway's \
\"audit chain head\" log lines (audit.anchor) or from GET /v1/audit/head, and keep it outside \
the database. Prints the row count and the head when the chain is intact; exits with status 1 \
and names the first broken row otherwise.";

/// Settings of `certitude verify-audit`. `Debug` hides the URL's password.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyAuditArgs {
    /// Postgres URL of the gateway's role.
    #[arg(long, env = "CERTITUDE_GATEWAY_DATABASE_URL", hide_env_values = true,
        value_parser = parse_database_url)]
    pub gateway_database_url: ConnectionUrl,

    /// Postgres schema of the gateway's tables.
    #[arg(long, env = "CERTITUDE_GATEWAY_DB_SCHEMA",
        default_value = certitude_gateway::DEFAULT_SCHEMA, value_parser = SchemaName::parse)]
    pub gateway_db_schema: SchemaName,

    /// Head anchored earlier, as SEQUENCE:HASH from the gateway's log or GET /v1/audit/head.
    #[arg(long, value_parser = parse_anchored_head)]
    pub expected_head: Option<AnchoredHead>,
}

fn parse_database_url(value: &str) -> Result<ConnectionUrl, ValueError> {
    ConnectionUrl::parse(value, &["postgres", "postgresql"])
}

fn parse_anchored_head(value: &str) -> Result<AnchoredHead, String> {
    value.parse()
}

/// A verification that could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum VerifyAuditError {
    #[error("failed to connect to the gateway's database: check its URL and schema")]
    Connect(#[source] DbError),

    #[error("failed to read the audit trail")]
    Read(#[source] sqlx::Error),
}

/// The outcome of `verify-audit`, printed as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport(pub Verification);

impl AuditReport {
    /// Returns whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        matches!(self.0, Verification::Intact(_))
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Verification::Intact(report) => write!(
                f,
                "OK: the audit chain is intact: {} rows, head {}",
                report.count, report.head
            ),
            Verification::Broken(fault) => write!(f, "FAILED: the audit chain is broken: {fault}"),
        }
    }
}

/// Connects as the gateway's role and walks its audit chain.
///
/// # Errors
/// [`VerifyAuditError`] when the database cannot be reached or read; a broken chain is an
/// `Ok` report that is not intact.
pub async fn verify_audit(args: &VerifyAuditArgs) -> Result<AuditReport, VerifyAuditError> {
    let mut settings = DbSettings::new(
        SecretString::from(args.gateway_database_url.expose_secret()),
        args.gateway_db_schema.as_str(),
    );
    settings.max_connections = 1;
    settings.application_name = Some("certitude-verify-audit".to_owned());
    let pool = db::connect(&settings)
        .await
        .map_err(VerifyAuditError::Connect)?;

    let verification = audit::verify_chain(&pool, args.expected_head.as_ref()).await;
    pool.close().await;
    verification
        .map(AuditReport)
        .map_err(VerifyAuditError::Read)
}
