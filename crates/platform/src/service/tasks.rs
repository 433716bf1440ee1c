//! The long-running tasks of a started service: servers, relays, consumers and schedules. The
//! first task to fail stops the others, and [`ServiceTasks::wait`] returns that failure.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{self, JoinError, JoinSet};

use crate::events::error_text;
use crate::shutdown::Shutdown;

/// The error a task ends with: any error type, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Maximum length of the error text a task failure logs, in bytes.
const MAX_LOGGED_ERROR_LEN: usize = 4096;

/// Failure of a task that stopped its service.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A task returned an error.
    #[error("task {task} failed")]
    Failed {
        task: &'static str,
        #[source]
        source: BoxError,
    },

    /// A task panicked, or the runtime cancelled it while shutting down.
    #[error("task {task} panicked or was cancelled")]
    Panicked {
        task: &'static str,
        #[source]
        source: JoinError,
    },
}

/// The tasks of a running service and the [`Shutdown`] a failing task triggers.
///
/// Each task is spawned on the Tokio runtime at once. When one returns an error, the error is
/// logged and `stop` is triggered, so the other tasks, which watch `stop` (or a parent of it),
/// wind down. A task that panics triggers `stop` too, once [`ServiceTasks::wait`] joins it.
/// Dropping the set aborts the tasks still running.
#[derive(Debug)]
pub struct ServiceTasks {
    stop: Shutdown,
    tasks: JoinSet<Result<(), TaskError>>,
    names: HashMap<task::Id, &'static str>,
}

impl ServiceTasks {
    /// Creates an empty set whose failing tasks trigger `stop`. Pass a child of the caller's
    /// shutdown (see [`Shutdown::child`]) to stop this service alone, or the caller's shutdown
    /// itself to stop everything that shares it.
    pub fn new(stop: Shutdown) -> Self {
        Self {
            stop,
            tasks: JoinSet::new(),
            names: HashMap::new(),
        }
    }

    /// Spawns `task` under `name`, such as `grpc-server`. An error it returns is logged once
    /// with the name, triggers the stop, and becomes [`TaskError::Failed`].
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let stop = self.stop.clone();
        let handle = self.tasks.spawn(async move {
            let source = match task.await {
                Ok(()) => return Ok(()),
                Err(source) => source,
            };
            tracing::error!(
                task = name,
                error = error_text(source.as_ref(), MAX_LOGGED_ERROR_LEN),
                "service task failed; stopping the service"
            );
            stop.trigger();
            Err(TaskError::Failed { task: name, source })
        });
        self.names.insert(handle.id(), name);
    }

    /// Waits until every task has stopped, after the shutdown fires or after a task failed and
    /// stopped the others, and returns the error of the task that failed first.
    pub async fn wait(mut self) -> Result<(), TaskError> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = match joined {
                Ok(result) => result,
                Err(source) => Err(self.panicked(source)),
            };
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Logs a task that ended without returning, and stops the service.
    fn panicked(&self, source: JoinError) -> TaskError {
        let task = self.names.get(&source.id()).copied().unwrap_or("unnamed");
        tracing::error!(
            task,
            error = %source,
            "service task panicked or was cancelled; stopping the service"
        );
        self.stop.trigger();
        TaskError::Panicked { task, source }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Returns a task that runs until `stop` fires and then ends cleanly.
    fn until_stopped(stop: &Shutdown) -> impl Future<Output = Result<(), BoxError>> + use<> {
        let stopped = stop.cancelled();
        async move {
            stopped.await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn tasks_that_end_cleanly_wait_ok() {
        let stop = Shutdown::new();
        let mut tasks = ServiceTasks::new(stop.clone());
        tasks.spawn("first", until_stopped(&stop));
        tasks.spawn("second", until_stopped(&stop));

        stop.trigger();

        assert!(tasks.wait().await.is_ok());
    }

    #[tokio::test]
    async fn failing_task_stops_the_others() {
        let stop = Shutdown::new();
        let mut tasks = ServiceTasks::new(stop.clone());
        tasks.spawn("server", until_stopped(&stop));
        tasks.spawn("relay", async { Err("relay lost its connection".into()) });

        let error = tasks.wait().await.expect_err("the relay failed");

        assert!(stop.is_triggered());
        assert!(
            matches!(error, TaskError::Failed { task: "relay", .. }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "task relay failed");
        let source = error.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("relay lost its connection"));
    }

    #[tokio::test]
    async fn earliest_failure_is_returned() {
        let stop = Shutdown::new();
        let mut tasks = ServiceTasks::new(stop.clone());
        let stopped = stop.cancelled();
        tasks.spawn("spawned-first", async move {
            stopped.await;
            Err("failed while stopping".into())
        });
        tasks.spawn("spawned-second", async { Err("failed at once".into()) });

        let error = tasks.wait().await.expect_err("both tasks failed");

        assert!(
            matches!(
                error,
                TaskError::Failed {
                    task: "spawned-second",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn panicking_task_named_and_stops_others() {
        let stop = Shutdown::new();
        let mut tasks = ServiceTasks::new(stop.clone());
        tasks.spawn("server", until_stopped(&stop));
        tasks.spawn("consumer", async { panic!("consumer bug") });

        let error = tasks.wait().await.expect_err("the consumer panicked");

        assert!(stop.is_triggered());
        assert!(
            matches!(
                error,
                TaskError::Panicked {
                    task: "consumer",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "task consumer panicked or was cancelled");
    }

    #[tokio::test]
    async fn failure_stops_child_not_parent() {
        let parent = Shutdown::new();
        let stop = parent.child();
        let mut tasks = ServiceTasks::new(stop.clone());
        tasks.spawn("server", until_stopped(&stop));
        tasks.spawn("poller", async { Err("poller failed".into()) });

        let result = tasks.wait().await;

        assert!(result.is_err());
        assert!(stop.is_triggered());
        assert!(!parent.is_triggered());
    }

    #[tokio::test]
    async fn empty_set_waits_ok() {
        let tasks = ServiceTasks::new(Shutdown::new());

        assert!(tasks.wait().await.is_ok());
    }
}
