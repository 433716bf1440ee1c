//! Graceful shutdown: one cancellation token per process, passed explicitly to every server,
//! relay and consumer, and triggered by SIGINT or SIGTERM (or by a test).
//!
//! There is no global state: two services started in one test process each get their own
//! [`Shutdown`], so stopping one leaves the other running.

use std::fmt;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Handle that stops a service. Clones share one token: triggering any clone stops them all.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// Creates a handle that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the underlying token, for code that selects on `CancellationToken` directly.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Creates a handle that is triggered with this one but can also be triggered alone, to
    /// stop one part of a service (a single consumer) without stopping the rest.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
        }
    }

    /// Starts the shutdown: every `cancelled()` future of this handle and its clones resolves.
    /// Triggering twice has no further effect.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Returns whether the shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Returns a future that resolves once the shutdown has started. The future owns a clone of
    /// the token, so it is `'static` and can be handed to a server's graceful-shutdown hook.
    pub fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// Spawns a task that triggers this handle on the first SIGINT or SIGTERM and exits the
    /// process with status 130 on the second, for an operator who does not want to wait for
    /// the drain.
    ///
    /// Must be called inside a Tokio runtime. Returns an error when the signal handlers cannot
    /// be installed.
    pub fn trigger_on_signal(&self) -> Result<(), ShutdownError> {
        let mut signals = SignalListener::install()?;
        let shutdown = self.clone();
        tokio::spawn(async move {
            let first = signals.recv().await;
            tracing::info!(signal = %first, "received shutdown signal, draining in-flight work");
            shutdown.trigger();

            let second = signals.recv().await;
            tracing::warn!(signal = %second, "received second shutdown signal, exiting at once");
            std::process::exit(130);
        });
        Ok(())
    }
}

/// A signal that requests the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, sent by Ctrl-C.
    Interrupt,
    /// SIGTERM, sent by Kubernetes and most process supervisors.
    Terminate,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signal::Interrupt => f.write_str("SIGINT"),
            Signal::Terminate => f.write_str("SIGTERM"),
        }
    }
}

/// Waits for the first SIGINT or SIGTERM and returns which one arrived.
///
/// Must be called inside a Tokio runtime. Returns an error when the signal handlers cannot be
/// installed.
pub async fn wait_for_signal() -> Result<Signal, ShutdownError> {
    let mut signals = SignalListener::install()?;
    Ok(signals.recv().await)
}

/// Installed SIGINT and SIGTERM handlers. Once installed, these signals no longer end the
/// process by default, so the handlers are installed before anything waits on them.
struct SignalListener {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl SignalListener {
    fn install() -> Result<Self, ShutdownError> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(ShutdownError::Install)?,
            terminate: signal(SignalKind::terminate()).map_err(ShutdownError::Install)?,
        })
    }

    async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

/// Errors of the shutdown layer.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// The operating system refused to install a signal handler.
    #[error("failed to install the SIGINT/SIGTERM handler")]
    Install(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_resolves_cancelled_of_every_clone() {
        let shutdown = Shutdown::new();
        let clone = shutdown.clone();
        let waiting = tokio::spawn(clone.cancelled());

        shutdown.trigger();

        waiting.await.expect("the cancelled future completes");
        assert!(clone.is_triggered());
        assert!(shutdown.token().is_cancelled());
    }

    #[tokio::test]
    async fn child_trigger_leaves_parent_running() {
        let parent = Shutdown::new();
        let child = parent.child();

        child.trigger();

        assert!(child.is_triggered());
        assert!(!parent.is_triggered());
    }

    #[tokio::test]
    async fn parent_trigger_reaches_child() {
        let parent = Shutdown::new();
        let child = parent.child();

        parent.trigger();

        child.cancelled().await;
        assert!(child.is_triggered());
    }

    #[tokio::test]
    async fn signal_listener_returns_terminate_on_sigterm() {
        // Installing first keeps SIGTERM's default action (ending the test process) away.
        let mut signals = SignalListener::install().expect("handlers install");
        let pid = std::process::id();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());

        assert_eq!(signals.recv().await, Signal::Terminate);
    }
}
