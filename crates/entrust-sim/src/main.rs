//! `entrust-sim`: run the ECS API simulator on a TCP port until Ctrl-C or SIGTERM, or write a
//! generated scenario file.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use certitude_clock::ManualClock;
use clap::{Parser, Subcommand};
use entrust_sim::{GenerateOptions, RunningSimulator, Scenario, SimConfig, SimOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing_subscriber::EnvFilter;

/// Simulator of the Entrust Certificate Services Enterprise REST API v2, with a test CA.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Args {
    /// Scenario JSON file to serve; the embedded demo scenario when absent.
    #[arg(long, env = "ENTRUST_SIM_SCENARIO")]
    scenario: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, env = "ENTRUST_SIM_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve HTTPS with a server certificate from the simulator's CA (`GET /_sim/ca` returns
    /// the root to trust) instead of plain HTTP.
    #[arg(long, env = "ENTRUST_SIM_TLS")]
    tls: bool,
    /// Run on a manual clock that `/_sim/clock` can move, starting at this RFC 3339 instant,
    /// or at the current time when given without a value.
    #[arg(long, env = "ENTRUST_SIM_MANUAL_CLOCK", num_args = 0..=1, default_missing_value = "now")]
    manual_clock: Option<String>,
    /// Requests per API user per 30-second window before 429; overrides the scenario's
    /// `rateLimitQuota`.
    #[arg(long, env = "ENTRUST_SIM_RATE_LIMIT")]
    rate_limit: Option<u32>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a generated scenario (many domains and orders) as JSON, for load tests.
    GenerateScenario {
        /// Number of domains.
        #[arg(long, default_value_t = 10_000)]
        domains: usize,
        /// Number of orders.
        #[arg(long, default_value_t = 100_000)]
        orders: usize,
        /// Seed of the random choices; one seed always gives the same scenario.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// File to write; standard output when absent.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::GenerateScenario {
        domains,
        orders,
        seed,
        output,
    }) = args.command
    {
        return generate(
            GenerateOptions {
                domains,
                orders,
                seed,
            },
            output,
        );
    }

    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::from_path(path)?,
        None => Scenario::demo(),
    };
    if let Some(quota) = args.rate_limit {
        scenario.account.rate_limit_quota = Some(quota);
    }
    let user_names: Vec<String> = scenario
        .api_users
        .iter()
        .map(|user| user.user_name.clone())
        .collect();
    let manual_clock = args
        .manual_clock
        .as_deref()
        .map(manual_clock_at)
        .transpose()?;
    let simulator = RunningSimulator::start_with(
        SimConfig {
            scenario,
            clock: certitude_clock::system(),
            listen: args.listen,
        },
        SimOptions {
            tls: args.tls,
            manual_clock,
        },
    )
    .await?;
    tracing::info!(
        base_url = %simulator.base_url(),
        control_url = %simulator.control_url(),
        api_users = %user_names.join(", "),
        "Entrust simulator listening; API keys are in the scenario file"
    );

    wait_for_signal().await?;
    tracing::info!("Entrust simulator stopping");
    simulator.shutdown().await;
    tracing::info!("Entrust simulator stopped");
    Ok(())
}

/// Writes a generated scenario to `output` or standard output.
fn generate(options: GenerateOptions, output: Option<PathBuf>) -> anyhow::Result<()> {
    let json = Scenario::generate(&options).to_json()?;
    match output {
        Some(path) => std::fs::write(&path, json)
            .with_context(|| format!("failed to write the scenario to {}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(json.as_bytes())
                .and_then(|()| stdout.write_all(b"\n"))
                .context("failed to write the scenario to standard output")
        }
    }
}

/// Builds a manual clock at `start` (RFC 3339) or at the current time for `now`.
fn manual_clock_at(start: &str) -> anyhow::Result<ManualClock> {
    let instant = if start == "now" {
        OffsetDateTime::now_utc()
    } else {
        OffsetDateTime::parse(start, &Rfc3339).with_context(|| {
            format!(
                "--manual-clock {start:?} is not an RFC 3339 instant such as 2026-03-10T15:00:00Z"
            )
        })?
    };
    Ok(ManualClock::new(instant))
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("failed to install the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("failed to wait for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    Ok(())
}
