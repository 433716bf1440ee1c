//! Starting and stopping a simulator on a TCP port, over plain HTTP or HTTPS.

mod control_methods;
mod listener;
mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use certitude_clock::{ManualClock, SharedClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub(crate) use listener::{ConnectionInfo, DropConnection};

use crate::identity::issue_server;
use crate::scenario::Scenario;
use crate::simulator::Simulator;

/// Simulator settings: the scenario, the clock and the listen address.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The account to simulate.
    pub scenario: Scenario,
    /// The source of all time (expiry, issue dates, `summary.timestamp`).
    pub clock: SharedClock,
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
}

/// Optional settings beyond [`SimConfig`]; the default serves plain HTTP on `config.clock`.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Serves HTTPS with a server certificate for `localhost`, 127.0.0.1 and ::1 from the
    /// simulator's CA (trust [`RunningSimulator::root_ca_pem`]), and checks the client
    /// certificates of API users that have one bound.
    pub tls: bool,
    /// A manual clock that the control API (`/_sim/clock`) and
    /// [`RunningSimulator::advance_clock`] may move. When set, the simulator reads time from
    /// it and ignores `SimConfig::clock`; a test keeps a clone to read or move the same time.
    pub manual_clock: Option<ManualClock>,
}

/// A simulator serving HTTP or HTTPS until [`RunningSimulator::shutdown`] or drop.
#[derive(Debug)]
pub struct RunningSimulator {
    sim: Arc<Simulator>,
    address: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    /// Checks the scenario, generates the CA, binds `config.listen` and starts serving plain
    /// HTTP. The listener is bound before this returns, so requests may follow at once.
    pub async fn start(config: SimConfig) -> anyhow::Result<RunningSimulator> {
        RunningSimulator::start_with(config, SimOptions::default()).await
    }

    /// Starts like [`RunningSimulator::start`] with `options`.
    pub async fn start_with(
        config: SimConfig,
        options: SimOptions,
    ) -> anyhow::Result<RunningSimulator> {
        let SimConfig {
            scenario,
            clock,
            listen,
        } = config;
        let manual_clock = options.manual_clock.clone();
        let sim =
            tokio::task::spawn_blocking(move || Simulator::new(&scenario, clock, manual_clock))
                .await
                .context("simulator set-up panicked")??;
        let sim = Arc::new(sim);

        let tls = if options.tls {
            let identity = issue_server(&sim.ca, listen.ip(), sim.now())?;
            let config = tls::server_config(&identity)
                .context("failed to configure TLS for the simulator")?;
            Some(TlsAcceptor::from(config))
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to bind the simulator to {listen}"))?;
        let address = listener
            .local_addr()
            .context("failed to read the simulator's bound address")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(listener::serve(listener, router(sim.clone()), tls, stopped));
        Ok(RunningSimulator {
            sim,
            address,
            tls: options.tls,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// Returns the bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Returns the API base URL, `http://127.0.0.1:PORT/enterprise/v2` (`https://` with TLS),
    /// without a trailing slash. An unspecified bind address (0.0.0.0, ::) is reported as
    /// 127.0.0.1.
    pub fn base_url(&self) -> String {
        format!("{}/enterprise/v2", self.origin())
    }

    /// Returns the control API base URL, `http://127.0.0.1:PORT/_sim` (`https://` with TLS).
    pub fn control_url(&self) -> String {
        format!("{}/_sim", self.origin())
    }

    fn origin(&self) -> String {
        let ip = if self.address.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.address.ip()
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", SocketAddr::new(ip, self.address.port()))
    }

    /// Reports whether the simulator serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Returns the test root certificate in PEM; trust it to verify issued chains and, with
    /// TLS, the simulator's server certificate.
    pub fn root_ca_pem(&self) -> String {
        self.sim.ca.root_pem().to_owned()
    }

    /// Returns the intermediate (issuing) certificate in PEM.
    pub fn intermediate_ca_pem(&self) -> String {
        self.sim.ca.intermediate_pem().to_owned()
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take()
            && let Err(error) = server.await
        {
            tracing::error!(error = %error, "Entrust simulator server panicked");
        }
    }
}

/// Builds the whole HTTP surface: the ECS API and the control API.
fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .nest("/enterprise/v2", crate::api::router(sim.clone()))
        .nest("/_sim", crate::control::router(sim))
        .fallback(crate::api::not_found)
}
