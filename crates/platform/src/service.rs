//! Start-up steps every service shares: connecting to Postgres (with its migrations) and to NATS
//! JetStream (with the event streams), binding the listeners, the readiness checks, and the set
//! of tasks a running service is made of.
//!
//! A service's `start` calls [`Backends::connect`], binds its listeners with [`bind`], spawns
//! its servers, relays and consumers on a [`ServiceTasks`], and hands the set back in its own
//! `RunningService`, whose `wait` ends with [`ServiceTasks::wait`].

mod startup;
mod tasks;

pub use startup::{
    Backends, READINESS_TIMEOUT, StartupError, bind, connect_database, connect_nats, readiness,
};
pub use tasks::{BoxError, ServiceTasks, TaskError};
