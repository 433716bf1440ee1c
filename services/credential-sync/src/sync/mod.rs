//! Catalog sync runs: starting one per credential at most (across replicas), executing it in
//! the background, and the periodic schedule.
//!
//! A run is a row of `sync_runs` and covers the catalog kinds it was started for. Starting a
//! run inserts a `running` row. The partial unique index on running runs makes a concurrent
//! second insert fail, so that caller returns the running run instead, whatever kinds that run
//! covers. The replica that inserted the row executes it (see `runner`) and renews its lease.
//! When that replica stops, the lease expires, and the next start closes the run as failed.
//! Every run that ends writes a CatalogSynced event in the transaction that ends it.

mod launcher;
mod runner;
mod runs;
mod schedule;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalog::KindSet;

pub use launcher::SyncLauncher;
pub use schedule::run_schedule;

/// State of a sync run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Every requested kind was fetched and stored.
    Succeeded,
    /// Some kinds failed and the others were stored.
    Partial,
    /// No kind was stored.
    Failed,
}

impl RunState {
    /// Returns the state as stored and as the gRPC contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "partial" => Self::Partial,
            // The table's check constraint admits no other value.
            _ => Self::Failed,
        }
    }
}

/// The cause of a sync run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The first sync of a credential, right after it was added.
    CredentialAdded,
    /// A SyncCatalog call.
    OnDemand,
    /// The periodic schedule.
    Schedule,
}

impl Trigger {
    /// Returns the trigger as stored and as the gRPC contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialAdded => "credential_added",
            Self::OnDemand => "on_demand",
            Self::Schedule => "schedule",
        }
    }
}

/// A sync run and its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: Uuid,
    pub credential_id: Uuid,
    pub state: RunState,
    /// The run's cause, as [`Trigger::as_str`] spells it.
    pub trigger: String,
    /// The catalog kinds the run syncs.
    pub kinds: KindSet,
    /// Entries Entrust listed, per kind; 0 until the run ends, and for a kind that failed.
    pub organizations: u32,
    pub domains: u32,
    pub products: u32,
    /// Entries new to the stored catalog, or listed again after being marked removed.
    pub added: u32,
    /// Stored entries of which a field changed.
    pub changed: u32,
    /// Stored entries the run no longer found at Entrust, now marked removed.
    pub removed: u32,
    /// Why the run, or some of its kinds, failed: one `<kind>: <reason>` per failed kind. Never
    /// contains a secret.
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}
