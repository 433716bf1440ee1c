//! The command line: a subcommand for each operation of the gateway's REST API, grouped by
//! resource.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::output::Format;

/// Key algorithms that the gateway accepts for a new key.
pub const KEY_ALGORITHMS: [&str; 5] = [
    "ECDSA_P256",
    "ECDSA_P384",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
];

/// certctl: manage Entrust certificates through Certitude's REST API.
///
/// The gateway URL and API token come from --url and --token, else the environment variables
/// CERTITUDE_URL and CERTITUDE_TOKEN, else the config file (--config, CERTCTL_CONFIG or
/// ~/.config/certctl/config.toml with `url` and `token` or `token_file`).
#[derive(Debug, Parser)]
#[command(
    name = "certctl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Gateway URL [env: CERTITUDE_URL] [default: http://127.0.0.1:8000]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// API token [env: CERTITUDE_TOKEN]; other users can read a flag in the process list, so
    /// prefer the variable or the config file
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Config file [env: CERTCTL_CONFIG] [default: $XDG_CONFIG_HOME/certctl/config.toml or
    /// ~/.config/certctl/config.toml]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(long, short, global = true, help_heading = "Global options", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Print only this field of the result, or of each item of a list, one value per line. A
    /// dotted path such as progress.orders reads a nested field
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME"
    )]
    pub field: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Entrust credentials and their synced catalog
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Catalog syncs of every credential
    #[command(subcommand)]
    Syncs(SyncsCommand),
    /// Imports of a credential's existing Entrust orders
    #[command(subcommand)]
    Imports(ImportsCommand),
    /// Orders: place, list, approve, renew, reissue, revoke
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The certificate inventory: search, import and export files, remove
    #[command(subcommand, visible_alias = "certs")]
    Certificates(CertificatesCommand),
    /// Deployment locations of certificates
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// The licensed number of certificates
    #[command(subcommand)]
    License(LicenseCommand),
    /// Automatic renewal: policies, forecast and audit
    #[command(subcommand)]
    Renewals(RenewalsCommand),
    /// API tokens
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// The audit trail of changes made through the API
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI 3.1 document of the API (always as JSON)
    Openapi,
    /// Print a shell completion script, for example: certctl completion bash >
    /// /etc/bash_completion.d/certctl
    Completion {
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Paging of a list command.
#[derive(Debug, Args, Clone, Default)]
pub struct PageArgs {
    /// Items per page, 1 to 500 (the gateway's default is 50)
    #[arg(allow_negative_numbers = true, long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Cursor of the page to show: the next_cursor of the previous page
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow next_cursor and show every page
    #[arg(long)]
    pub all: bool,
}

/// Waiting for a job to finish.
#[derive(Debug, Args, Clone, Default)]
pub struct JobWaitArgs {
    /// Wait until the job finishes, showing its progress; exit with 1 when it fails
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (default: wait until the job finishes)
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        requires = "wait"
    )]
    pub timeout: Option<u64>,
}

/// Waiting for an order to be issued.
#[derive(Debug, Args, Clone, Default)]
pub struct OrderWaitArgs {
    /// Wait until the order is issued and its certificate is in the inventory; exit with 1
    /// when it ends in another state
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "SECONDS",
        default_value_t = 300,
        requires = "wait"
    )]
    pub timeout: u64,
}

/// The Entrust administrator credential that carries out an order operation.
#[derive(Debug, Args, Clone, Default)]
pub struct AdminCredentialArgs {
    /// Credential to act with instead of the order's own (an administrator credential of the
    /// same Entrust account)
    #[arg(long, value_name = "CREDENTIAL_ID")]
    pub admin_credential: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogKind {
    Organizations,
    Domains,
    Products,
}

impl CatalogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogKind::Organizations => "organizations",
            CatalogKind::Domains => "domains",
            CatalogKind::Products => "products",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Add an Entrust credential; it is verified against Entrust and its catalog synced
    Add(AddCredentialArgs),
    /// List credentials (never a secret)
    List(PageArgs),
    /// Show one credential
    Get {
        /// Credential id
        id: String,
    },
    /// Rename a credential, rotate its API key or client certificate, or set whether it is an
    /// administrator
    Update(UpdateCredentialArgs),
    /// Delete a credential with its catalog
    Delete {
        /// Credential id
        id: String,
        /// Delete it even while orders use it
        #[arg(long)]
        force: bool,
    },
    /// Sync the credential's catalog from Entrust, or join the sync running
    Sync {
        /// Credential id
        id: String,
        /// Catalog kinds to sync (default: all)
        #[arg(long, value_enum, value_delimiter = ',')]
        kinds: Vec<CatalogKind>,
        #[command(flatten)]
        wait: JobWaitArgs,
    },
    /// List the synced organizations
    Organizations(CatalogArgs),
    /// List the synced domains with their verification status and expiry
    Domains(CatalogArgs),
    /// List the synced products with their remaining and used counts
    Products(CatalogArgs),
}

#[derive(Debug, Args)]
pub struct AddCredentialArgs {
    /// Unique name
    #[arg(long)]
    pub name: String,
    /// Entrust API base URL (the gateway's default: https://api.entrust.net/enterprise/v2)
    #[arg(long, value_name = "URL")]
    pub api_base_url: Option<String>,
    /// Entrust API user
    #[arg(long)]
    pub username: String,
    #[command(flatten)]
    pub api_key: ApiKeyArgs,
    /// Client certificate (PEM file) bound to the API user
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_certificate: Option<PathBuf>,
    /// Private key (PEM file) of the client certificate
    #[arg(long, value_name = "FILE", requires = "client_certificate")]
    pub client_key: Option<PathBuf>,
    /// The Entrust user has administrator rights
    #[arg(long)]
    pub administrator: bool,
}

/// The Entrust API key, read from a flag, a file or `ENTRUST_API_KEY`.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub struct ApiKeyArgs {
    /// Entrust API key; other users can read a flag in the process list, so prefer
    /// --api-key-file or the variable ENTRUST_API_KEY
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// File holding the Entrust API key
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateCredentialArgs {
    /// Credential id
    pub id: String,
    /// New name
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub api_key: ApiKeyArgs,
    /// New client certificate (PEM file)
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_certificate: Option<PathBuf>,
    /// Private key (PEM file) of the new client certificate
    #[arg(long, value_name = "FILE", requires = "client_certificate")]
    pub client_key: Option<PathBuf>,
    /// Remove the client certificate
    #[arg(long, conflicts_with = "client_certificate")]
    pub remove_client_certificate: bool,
    /// Mark the Entrust user as an administrator (also clears lacks_administrator_right)
    #[arg(long, conflicts_with = "no_administrator")]
    pub administrator: bool,
    /// Mark the Entrust user as not an administrator
    #[arg(long)]
    pub no_administrator: bool,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Credential id
    /// Credential id
    pub id: String,
    /// Include entries that Entrust no longer lists
    #[arg(long)]
    pub include_removed: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Subcommand)]
pub enum SyncsCommand {
    /// Start a catalog sync for every credential (one job each)
    Start {
        /// Catalog kinds to sync (default: all)
        #[arg(long, value_enum, value_delimiter = ',')]
        kinds: Vec<CatalogKind>,
        #[command(flatten)]
        wait: JobWaitArgs,
    },
    /// Show a catalog sync job
    Get {
        /// Sync job id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportsCommand {
    /// Import a credential's existing Entrust orders
    Start {
        /// Credential whose orders to import
        #[arg(long, value_name = "CREDENTIAL_ID")]
        credential: String,
        /// Bring back orders deleted from Certitude that Entrust still lists
        #[arg(long)]
        restore_deleted: bool,
        #[command(flatten)]
        wait: JobWaitArgs,
    },
    /// Show an import job with its progress
    Get {
        /// Import job id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Place an order; Certitude generates the key and CSR unless --csr gives one
    Create(CreateOrderArgs),
    /// List orders, newest first
    List {
        /// Only orders of this credential
        #[arg(long, value_name = "CREDENTIAL_ID")]
        credential: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one order with its state
    Get {
        /// Order id
        id: String,
    },
    /// Wait until an order is issued and its certificate is in the inventory
    Wait {
        /// Order id
        id: String,
        /// Give up after this many seconds
        #[arg(
            allow_negative_numbers = true,
            long,
            value_name = "SECONDS",
            default_value_t = 300
        )]
        timeout: u64,
    },
    /// Approve an order that waits for an Entrust administrator's approval
    Approve {
        /// Order id
        id: String,
        #[command(flatten)]
        admin: AdminCredentialArgs,
    },
    /// Decline an order that waits for approval
    Decline {
        /// Order id
        id: String,
        /// Shown with the declined order at Entrust; at most 254 characters
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        admin: AdminCredentialArgs,
    },
    /// Suspend an issued certificate
    Suspend {
        /// Order id
        id: String,
        #[command(flatten)]
        admin: AdminCredentialArgs,
    },
    /// Resume a suspended certificate
    Resume {
        /// Order id
        id: String,
        #[command(flatten)]
        admin: AdminCredentialArgs,
    },
    /// Renew a certificate as a new order
    Renew(RenewArgs),
    /// Reissue a certificate with a new key and the same expiry as a new order
    Reissue(ReissueArgs),
    /// Revoke a certificate
    Revoke {
        /// Order id
        id: String,
        /// Revocation reason; give any other reason in --comment with unspecified
        #[arg(long, value_enum)]
        reason: RevocationReason,
        /// Stored with the revocation at Entrust
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        admin: AdminCredentialArgs,
    },
    /// Remove an order from Certitude only (Entrust is not called; the certificate stays)
    Delete {
        /// Order id
        id: String,
    },
    /// Show every step of an order, oldest first
    History {
        /// Order id
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RevocationReason {
    Unspecified,
    #[value(name = "keyCompromise", alias = "key-compromise")]
    KeyCompromise,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateOrderArgs {
    /// Credential to order with
    #[arg(long, value_name = "CREDENTIAL_ID")]
    pub credential: String,
    /// Entrust product, such as STANDARD_SSL
    #[arg(long)]
    pub product: String,
    /// Subject common name (taken from the CSR when --csr is given)
    #[arg(long)]
    pub common_name: Option<String>,
    /// Subject alternative name; repeat it or separate names with commas
    #[arg(long = "dns-name", value_name = "NAME", value_delimiter = ',')]
    pub dns_names: Vec<String>,
    /// Entrust organization
    #[arg(long)]
    pub organization: Option<String>,
    /// Entrust client id (default: the primary client)
    #[arg(allow_negative_numbers = true, long)]
    pub client_id: Option<i32>,
    /// Key algorithm (the gateway's default: ECDSA_P256)
    #[arg(long, value_parser = KEY_ALGORITHMS)]
    pub key_algorithm: Option<String>,
    /// Validity in days (default: order-manager's)
    #[arg(allow_negative_numbers = true, long)]
    pub validity_days: Option<u32>,
    /// Queue the order for an Entrust administrator's approval
    #[arg(long)]
    pub queue_for_approval: bool,
    /// Your own PKCS #10 CSR (PEM file) instead of a key Certitude generates
    #[arg(long, value_name = "FILE")]
    pub csr: Option<PathBuf>,
    /// Only have Entrust validate the order; nothing is stored
    #[arg(long, conflicts_with = "wait")]
    pub validate_only: bool,
    /// Key that makes a retry return the first order (1 to 255 characters); generated and
    /// printed when not given
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub wait: OrderWaitArgs,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Order id
    pub id: String,
    /// Keep the previous key pair and CSR instead of a new key
    #[arg(long, conflicts_with = "key_algorithm")]
    pub reuse_key: bool,
    /// Algorithm of the new key (default: the previous order's)
    #[arg(long, value_parser = KEY_ALGORITHMS)]
    pub key_algorithm: Option<String>,
    /// Validity of the new certificate in days (default: the previous order's)
    #[arg(allow_negative_numbers = true, long)]
    pub validity_days: Option<u32>,
    /// Key that makes a retry return the first renewal; generated and printed when not given
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub admin: AdminCredentialArgs,
    #[command(flatten)]
    pub wait: OrderWaitArgs,
}

#[derive(Debug, Args)]
pub struct ReissueArgs {
    /// Order id
    pub id: String,
    /// Algorithm of the new key (default: the previous order's)
    #[arg(long, value_parser = KEY_ALGORITHMS)]
    pub key_algorithm: Option<String>,
    /// Key that makes a retry return the first reissue; generated and printed when not given
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub admin: AdminCredentialArgs,
    #[command(flatten)]
    pub wait: OrderWaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum CertificatesCommand {
    /// Search the inventory; held certificates, newest first, by default
    #[command(visible_alias = "search")]
    List(CertificateListArgs),
    /// Show one certificate with its chain and key reference
    Get {
        /// Certificate id
        id: String,
    },
    /// Import certificate files (PEM, DER, PKCS#7, PKCS#12) with their private keys
    Import {
        /// Files to import; the format is detected from the content
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// File holding the password of PKCS#12 files and encrypted keys (or set
        /// CERTCTL_PKCS12_PASSWORD)
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Export a certificate as PEM, or with its private key as PKCS#12 (admin)
    Export(ExportArgs),
    /// Remove a certificate from the inventory (it stays readable as removed)
    Delete {
        /// Certificate id
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CertificateListArgs {
    /// Substring of the common name or of a DNS name (case-insensitive)
    #[arg(long)]
    pub query: Option<String>,
    /// Substring of the issuer distinguished name (case-insensitive)
    #[arg(long)]
    pub issuer: Option<String>,
    /// Status; repeat it or separate values with commas
    #[arg(long, value_enum, value_delimiter = ',')]
    pub status: Vec<CertificateStatus>,
    /// Only certificates expiring within this many days, 1 to 3650
    #[arg(allow_negative_numbers = true, long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub expiring_within_days: Option<u32>,
    /// Key type
    #[arg(long, value_parser = ["RSA", "EC", "OTHER"])]
    pub key_type: Option<String>,
    /// Origin of the certificate: an order, or an imported file
    #[arg(long, value_parser = ["order", "import"])]
    pub source: Option<String>,
    /// Only certificates of this credential
    #[arg(long, value_name = "CREDENTIAL_ID")]
    pub credential: Option<String>,
    /// Inventory state (the gateway's default: held)
    #[arg(long, value_parser = ["held", "waiting", "removed", "any"])]
    pub inventory_state: Option<String>,
    /// Sort key (the gateway's default: created_at)
    #[arg(long, value_parser = ["created_at", "not_after", "common_name"])]
    pub sort: Option<String>,
    /// Sort order (default: desc for created_at, asc for the others)
    #[arg(long, value_parser = ["asc", "desc"])]
    pub order: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertificateStatus {
    Active,
    Expired,
    Revoked,
    Suspended,
    Superseded,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "active",
            CertificateStatus::Expired => "expired",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Suspended => "suspended",
            CertificateStatus::Superseded => "superseded",
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Certificate id
    pub id: String,
    /// PEM part: the certificate, its issuers, both, or its private key (admin)
    #[arg(long, value_parser = ["leaf", "chain", "fullchain", "key"], default_value = "fullchain",
          conflicts_with = "pkcs12")]
    pub part: String,
    /// Export a PKCS#12 file with the certificate, its issuers and its private key (admin)
    #[arg(long)]
    pub pkcs12: bool,
    /// With --pkcs12: 3DES and an SHA-1 MAC for old readers instead of AES-256
    #[arg(long, requires = "pkcs12")]
    pub legacy: bool,
    /// With --pkcs12: file holding the password that protects the file (or set
    /// CERTCTL_PKCS12_PASSWORD)
    #[arg(long, value_name = "FILE", requires = "pkcs12")]
    pub password_file: Option<PathBuf>,
    /// File to write (required with --pkcs12; PEM goes to stdout without it)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite the file of --out when it exists
    #[arg(long, requires = "out")]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// List deployment locations, oldest first: of one certificate, or of every certificate
    /// not removed
    List {
        /// Only locations of this certificate
        #[arg(long, value_name = "CERTIFICATE_ID")]
        certificate: Option<String>,
        /// Only locations that still need (true) or no longer need (false) a deployment
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        needs_deployment: Option<bool>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Record a deployment location of a certificate; give at least one of --host, --path and
    /// --system
    Add(AddDeploymentArgs),
    /// Delete a deployment location
    Remove {
        /// Certificate id
        certificate_id: String,
        /// Deployment location id
        deployment_id: String,
    },
    /// Confirm that the certificate is deployed at a location
    Confirm {
        /// Certificate id
        certificate_id: String,
        /// Deployment location id
        deployment_id: String,
    },
}

#[derive(Debug, Args)]
pub struct AddDeploymentArgs {
    /// Certificate id
    pub certificate_id: String,
    /// Host name or IP address
    #[arg(long)]
    pub host: Option<String>,
    /// Port, 1 to 65535 (only with --host)
    #[arg(allow_negative_numbers = true, long, requires = "host", value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub port: Option<u32>,
    /// File path on the host
    #[arg(long)]
    pub path: Option<String>,
    /// System, such as a load balancer's name
    #[arg(long)]
    pub system: Option<String>,
    /// Free-text note
    #[arg(long)]
    pub note: Option<String>,
    /// The certificate still has to be deployed there (fires CertificateDeploymentRequired)
    #[arg(long)]
    pub needs_deployment: bool,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Show the licensed count with the held, waiting and available counts
    Get,
    /// Set the licensed count, or lift the limit with --unlimited
    Set {
        /// Number of certificates the license allows
        #[arg(
            allow_negative_numbers = true,
            required_unless_present = "unlimited",
            conflicts_with = "unlimited"
        )]
        licensed: Option<u64>,
        /// Lift the limit
        #[arg(long)]
        unlimited: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RenewalsCommand {
    /// An order's auto-renewal policy
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// List the renewals due within the next days, soonest first
    Forecast {
        /// Days to look ahead, 1 to 3650 (the gateway's default: 30)
        #[arg(allow_negative_numbers = true, long,
            value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: Option<u32>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// The Auto-Renewal Audit, newest first, one entry per attempt
    Audit {
        /// Only attempts for this order
        #[arg(long, value_name = "ORDER_ID")]
        order: Option<String>,
        /// Only attempts for this certificate
        #[arg(long, value_name = "CERTIFICATE_ID")]
        certificate: Option<String>,
        /// Only attempts under this policy
        #[arg(long, value_name = "POLICY_ID")]
        policy: Option<String>,
        /// Only attempts with this outcome, such as renewed or gave_up
        #[arg(long)]
        outcome: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the order's policy
    Get {
        /// Order id
        order_id: String,
    },
    /// Create or replace the order's policy
    Set(PolicyArgs),
    /// Disable the order's policy
    Delete {
        /// Order id
        order_id: String,
    },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Order id
    pub order_id: String,
    /// Store the policy disabled
    #[arg(long)]
    pub disabled: bool,
    /// Renew this many days before expiry, 1 to 3650
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "DAYS",
        conflicts_with = "lifetime_percent"
    )]
    pub days_before_expiry: Option<u32>,
    /// Renew when this share of the lifetime has passed, 1 to 99 percent
    #[arg(allow_negative_numbers = true, long, value_name = "PERCENT")]
    pub lifetime_percent: Option<u32>,
    /// Renew with a new key pair instead of the previous key and CSR
    #[arg(long)]
    pub rotate_key: bool,
    /// Product of the renewal (default: the order's)
    #[arg(long)]
    pub product: Option<String>,
    /// Validity of the renewal in days (default: the order's)
    #[arg(allow_negative_numbers = true, long)]
    pub validity_days: Option<u32>,
    /// Maintenance window days, MON to SUN, comma-separated (default: every day)
    #[arg(long, value_delimiter = ',', requires = "window_start")]
    pub window_days: Vec<String>,
    /// Maintenance window start hour, 0 to 23, local to --time-zone
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "HOUR",
        requires = "window_end"
    )]
    pub window_start: Option<u32>,
    /// Maintenance window end hour, local to --time-zone
    #[arg(
        allow_negative_numbers = true,
        long,
        value_name = "HOUR",
        requires = "window_start"
    )]
    pub window_end: Option<u32>,
    /// IANA time zone of the maintenance window, such as Europe/Berlin (default: UTC)
    #[arg(long, requires = "window_start")]
    pub time_zone: Option<String>,
    /// Attempts before the scheduler gives up, 1 to 20 (the gateway's default: 5)
    #[arg(allow_negative_numbers = true, long)]
    pub max_attempts: Option<u32>,
    /// Administrator credential to renew with when the order's own lacks the right
    #[arg(long, value_name = "CREDENTIAL_ID")]
    pub admin_credential: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token; its secret is shown this once
    Create {
        /// Name of the token's user or system, 1 to 100 printable characters
        #[arg(long)]
        name: String,
        /// Role of the token
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
        /// RFC 3339 time after which the token stops working, such as 2027-06-30T00:00:00Z
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
    /// List every token, newest first, revoked and expired ones included
    List(PageArgs),
    /// Revoke a token at once
    Revoke {
        /// Token id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit rows, newest first
    List {
        /// Only changes made with this token
        #[arg(long, value_name = "TOKEN_ID")]
        actor_token: Option<String>,
        /// Only changes with this method
        #[arg(long, value_parser = ["POST", "PUT", "PATCH", "DELETE"])]
        method: Option<String>,
        /// Only successful or failed changes
        #[arg(long, value_parser = ["success", "failure"])]
        outcome: Option<String>,
        /// Only changes at or after this RFC 3339 time
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only changes before this RFC 3339 time
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show the sequence and hash of the last row, to anchor outside the database
    Head,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
