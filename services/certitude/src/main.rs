//! The `certitude` binary: `certitude <service>` runs one of the five services, and the
//! administration commands prepare a database and master keys. One binary for all services
//! keeps link time and image size down; each subcommand is deployed on its own.

mod admin;

use certitude::{rotate, verify_audit};
use certitude_platform::clock;
use certitude_platform::config::{self, CommonConfig};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::telemetry;

/// mimalloc in place of glibc's malloc; see the workspace manifest for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, clap::Parser)]
#[command(
    name = "certitude",
    version,
    about = "Certificate lifecycle manager for Entrust ECS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Runs the REST gateway.
    Gateway(certitude_gateway::Config),
    /// Runs credential-sync: Entrust credentials and the catalog.
    CredentialSync(certitude_credential_sync::Config),
    /// Runs order-manager: Entrust orders.
    OrderManager(certitude_order_manager::Config),
    /// Runs renewal-scheduler: expiry tracking and renewals.
    RenewalScheduler(certitude_renewal_scheduler::Config),
    /// Runs inventory: keys and certificates.
    Inventory(certitude_inventory::Config),
    /// Creates the database, and each service's login role and schema (administrator URL).
    Provision(admin::ProvisionArgs),
    /// Prints a new random master key as ID:BASE64, for CERTITUDE_MASTER_KEYS.
    GenerateMasterKey(admin::GenerateMasterKeyArgs),
    /// Re-wraps every sealed secret under the current (first) master key, the database step of
    /// a master key rotation.
    #[command(long_about = rotate::PROCEDURE)]
    RotateMasterKey(rotate::RotateMasterKeyArgs),
    /// Checks the gateway's hash-chained audit trail for edited, deleted or truncated rows.
    #[command(long_about = verify_audit::ABOUT)]
    VerifyAudit(verify_audit::VerifyAuditArgs),
}

fn main() -> anyhow::Result<()> {
    let cli: Cli = config::load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Gateway(config) => {
            let (shutdown, _telemetry) = prepare("gateway", &config.common)?;
            let running = certitude_gateway::start(config, clock::system(), shutdown).await?;
            running.wait().await
        }
        Command::CredentialSync(config) => {
            let (shutdown, _telemetry) = prepare("credential-sync", &config.common)?;
            let running =
                certitude_credential_sync::start(config, clock::system(), shutdown).await?;
            running.wait().await
        }
        Command::OrderManager(config) => {
            let (shutdown, _telemetry) = prepare("order-manager", &config.common)?;
            let running = certitude_order_manager::start(config, clock::system(), shutdown).await?;
            running.wait().await
        }
        Command::RenewalScheduler(config) => {
            let (shutdown, _telemetry) = prepare("renewal-scheduler", &config.common)?;
            let running =
                certitude_renewal_scheduler::start(config, clock::system(), shutdown).await?;
            running.wait().await
        }
        Command::Inventory(config) => {
            let (shutdown, _telemetry) = prepare("inventory", &config.common)?;
            let running = certitude_inventory::start(config, clock::system(), shutdown).await?;
            running.wait().await
        }
        Command::Provision(args) => admin::provision(args).await,
        Command::GenerateMasterKey(args) => admin::generate_master_key(&args),
        Command::RotateMasterKey(args) => rotate_master_key(&args).await,
        Command::VerifyAudit(args) => verify_audit(&args).await,
    }
}

/// Runs the rotation, prints its counts, and fails when blobs are left under older keys.
async fn rotate_master_key(args: &rotate::RotateMasterKeyArgs) -> anyhow::Result<()> {
    let report = rotate::rotate_master_key(args).await?;
    println!("{report}");
    let remaining = report.remaining();
    if remaining > 0 {
        anyhow::bail!(
            "{remaining} sealed blobs are still under older master keys: make sure every \
             replica runs with master key {} first in its keyring, then run rotate-master-key \
             again",
            report.current_key_id
        );
    }
    Ok(())
}

/// Verifies the audit chain, prints the result, and fails when the chain is broken.
async fn verify_audit(args: &verify_audit::VerifyAuditArgs) -> anyhow::Result<()> {
    let report = verify_audit::verify_audit(args).await?;
    if !report.is_intact() {
        anyhow::bail!("{report}");
    }
    println!("{report}");
    Ok(())
}

/// Starts telemetry and the signal handler that stops the service on SIGINT or SIGTERM.
fn prepare(
    service: &str,
    common: &CommonConfig,
) -> anyhow::Result<(Shutdown, telemetry::TelemetryGuard)> {
    let guard = telemetry::init(service, &common.telemetry_settings())?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signal()?;
    tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    Ok((shutdown, guard))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
