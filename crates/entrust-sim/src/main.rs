//! `entrust-sim`: run the ECS API simulator on a TCP port until Ctrl-C or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use entrust_sim::{RunningSimulator, Scenario, SimConfig};
use tracing_subscriber::EnvFilter;

/// Simulator of the Entrust Certificate Services Enterprise REST API v2, with a test CA.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Scenario JSON file to serve; the embedded demo scenario when absent.
    #[arg(long, env = "ENTRUST_SIM_SCENARIO")]
    scenario: Option<PathBuf>,
    /// Address and port to listen on (plain HTTP).
    #[arg(long, env = "ENTRUST_SIM_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let scenario = match &args.scenario {
        Some(path) => Scenario::from_path(path)?,
        None => Scenario::demo(),
    };
    let user_names: Vec<String> = scenario
        .api_users
        .iter()
        .map(|user| user.user_name.clone())
        .collect();
    let simulator = RunningSimulator::start(SimConfig {
        scenario,
        clock: certitude_clock::system(),
        listen: args.listen,
    })
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
