//! Starting and stopping a simulator on a TCP port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use certitude_clock::SharedClock;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::request_log::LoggedRequest;
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

/// A simulator serving HTTP until [`RunningSimulator::shutdown`] or drop.
#[derive(Debug)]
pub struct RunningSimulator {
    sim: Arc<Simulator>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    /// Checks the scenario, generates the CA and the scenario certificates, binds
    /// `config.listen` and starts serving. The listener is bound before this returns, so
    /// requests may follow at once.
    pub async fn start(config: SimConfig) -> anyhow::Result<RunningSimulator> {
        let SimConfig {
            scenario,
            clock,
            listen,
        } = config;
        let sim = tokio::task::spawn_blocking(move || Simulator::new(&scenario, clock))
            .await
            .context("simulator set-up panicked")??;
        let sim = Arc::new(sim);

        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to bind the simulator to {listen}"))?;
        let address = listener
            .local_addr()
            .context("failed to read the simulator's bound address")?;
        let app = router(sim.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                // Either a send or a dropped sender stops the server.
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %error, "Entrust simulator server stopped with an error");
            }
        });
        Ok(RunningSimulator {
            sim,
            address,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// Returns the bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Returns the API base URL, `http://127.0.0.1:PORT/enterprise/v2`, without a trailing
    /// slash. An unspecified bind address (0.0.0.0, ::) is reported as 127.0.0.1.
    pub fn base_url(&self) -> String {
        format!("{}/enterprise/v2", self.origin())
    }

    /// Returns the control API base URL, `http://127.0.0.1:PORT/_sim`.
    pub fn control_url(&self) -> String {
        format!("{}/_sim", self.origin())
    }

    fn origin(&self) -> String {
        let ip = if self.address.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.address.ip()
        };
        format!("http://{}", SocketAddr::new(ip, self.address.port()))
    }

    /// Returns the test root certificate in PEM; trust it to verify issued chains.
    pub fn root_ca_pem(&self) -> String {
        self.sim.ca.root_pem().to_owned()
    }

    /// Returns the intermediate (issuing) certificate in PEM.
    pub fn intermediate_ca_pem(&self) -> String {
        self.sim.ca.intermediate_pem().to_owned()
    }

    /// Returns the request log, oldest first; the same data as `GET /_sim/requests`.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.sim.log.snapshot()
    }

    /// Clears the request log; the same as `DELETE /_sim/requests`.
    pub fn clear_request_log(&self) {
        self.sim.log.clear();
    }

    /// Approves a PENDING order and issues its certificate; the same as
    /// `POST /_sim/certificates/{trackingId}/approve`.
    pub fn approve(&self, tracking_id: i64) -> anyhow::Result<()> {
        self.sim
            .approve(tracking_id)
            .map(|_| ())
            .with_context(|| format!("failed to approve order {tracking_id}"))
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
