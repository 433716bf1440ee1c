//! The tasks of a running service: each one stops the whole service when it fails, and
//! [`RunningService::wait`] joins them all.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::anyhow;
use certitude_platform::shutdown::Shutdown;
use tokio::task::JoinHandle;

/// A started service: the addresses it listens on and its tasks.
#[derive(Debug)]
pub struct RunningService {
    /// Bound address of the gRPC server.
    pub grpc_addr: SocketAddr,
    /// Bound address of the HTTP server for `/healthz` and `/readyz`.
    pub http_addr: SocketAddr,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl RunningService {
    pub(crate) fn new(grpc_addr: SocketAddr, http_addr: SocketAddr, tasks: Tasks) -> Self {
        Self {
            grpc_addr,
            http_addr,
            tasks: tasks.handles,
        }
    }

    /// Waits until every task has stopped (after the shutdown fires, or after one task failed
    /// and stopped the others) and returns the first failure.
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut first_error = None;
        for (name, handle) in self.tasks {
            let result = match handle.await {
                Ok(result) => result,
                Err(join_error) => {
                    Err(anyhow!(join_error).context(format!("task {name} panicked")))
                }
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The tasks spawned so far, and the shutdown a failing task triggers.
pub(crate) struct Tasks {
    stop: Shutdown,
    handles: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Tasks {
    pub(crate) fn new(stop: Shutdown) -> Self {
        Self {
            stop,
            handles: Vec::new(),
        }
    }

    /// Spawns `task`; when it fails, the failure is logged and the service stops.
    pub(crate) fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = self.stop.clone();
        let handle = tokio::spawn(async move {
            let result = task.await;
            if let Err(error) = &result {
                tracing::error!(
                    task = name,
                    error = format!("{error:#}"),
                    "service task failed; stopping the service"
                );
                stop.trigger();
            }
            result.map_err(|error| error.context(format!("task {name} failed")))
        });
        self.handles.push((name, handle));
    }
}
