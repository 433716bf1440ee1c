//! Waiting for jobs and orders: polls the resource, shows its progress on stderr, and prints
//! how it ended.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::Client;
use crate::error::Error;
use crate::json::Json;
use crate::output::Output;

/// Pause between two reads of a job or an order.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The kinds of job resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// An order import, `/v1/imports/{id}`.
    Import,
    /// A catalog sync, `/v1/syncs/{id}`.
    Sync,
}

impl JobKind {
    fn collection(self) -> &'static str {
        match self {
            JobKind::Import => "imports",
            JobKind::Sync => "syncs",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Sync => "sync",
        }
    }

    /// Returns the job's progress counts, such as `pages 1, orders 12, imported 10, …`.
    pub fn progress(self, job: &Json) -> String {
        match self {
            JobKind::Import => format!(
                "pages {}, orders {}, imported {}, updated {}, issued {}, skipped {}, failed {}",
                job.count("progress.pages"),
                job.count("progress.orders"),
                job.count("progress.imported"),
                job.count("progress.updated"),
                job.count("progress.issued"),
                job.count("progress.skipped"),
                job.count("progress.failed"),
            ),
            JobKind::Sync => format!(
                "organizations {}, domains {}, products {}, added {}, changed {}, removed {}",
                job.count("progress.organizations"),
                job.count("progress.domains"),
                job.count("progress.products"),
                job.count("progress.added"),
                job.count("progress.changed"),
                job.count("progress.removed"),
            ),
        }
    }

    /// Returns the summary line of a finished job, such as `import 0193… succeeded: pages 1,
    /// orders 12, …`.
    pub fn summary(self, job: &Json) -> String {
        format!(
            "{} {} {}: {}",
            self.noun(),
            job.str("id").unwrap_or_default(),
            job.str("state").unwrap_or("in an unknown state"),
            self.progress(job)
        )
    }
}

/// Returns a spinner with a message, drawn on stderr when `visible` and hidden otherwise.
fn spinner(visible: bool, prefix: String) -> ProgressBar {
    let target = if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    let style = ProgressStyle::with_template("{spinner} {prefix}: {wide_msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(prefix);
    if visible {
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    bar
}

/// Polls a job until its `state` is no longer `running`, showing its progress counts, and
/// returns the finished job.
///
/// # Errors
/// A request error, or [`Error::Failed`] when the job still runs after `timeout` seconds.
pub fn wait_for_job(
    client: &Client,
    output: &mut Output<'_, '_>,
    kind: JobKind,
    started: Json,
    timeout: Option<u64>,
) -> Result<Json, Error> {
    let id = started.str("id").unwrap_or_default().to_owned();
    // Named before the wait, so that the job can be found when certctl is stopped: the job
    // goes on at the gateway.
    output.note(&format!(
        "started {} {id}; it runs on if certctl stops (certctl {} get {id})",
        kind.noun(),
        kind.collection()
    ))?;
    let bar = spinner(output.decorated(), format!("{} {id}", kind.noun()));
    let deadline = timeout.map(|seconds| Instant::now() + Duration::from_secs(seconds));
    let mut job = started;
    loop {
        bar.set_message(kind.progress(&job));
        if job.str("state") != Some("running") {
            break;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            bar.finish_and_clear();
            return Err(Error::Failed(format!(
                "the {} {id} is still running after {} s; follow it with certctl {} get {id}",
                kind.noun(),
                timeout.unwrap_or_default(),
                kind.collection()
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
        job = match client.get(&[kind.collection(), &id], &[]) {
            Ok(job) => job,
            Err(error) => {
                bar.finish_and_clear();
                return Err(error);
            }
        };
    }
    bar.finish_and_clear();
    Ok(job)
}

/// Prints a finished job (its summary line, its JSON or one field) and returns an error unless
/// it succeeded.
///
/// # Errors
/// [`Error::Failed`] naming the job's state and error when the state is not `succeeded`, such
/// as `failed`, or `partial` for a sync whose some kinds failed.
pub fn report_job(output: &mut Output<'_, '_>, kind: JobKind, job: &Json) -> Result<(), Error> {
    if output.is_table() {
        output.line(&kind.summary(job))?;
    } else {
        output.object(job)?;
    }
    let state = job.str("state").unwrap_or_default();
    if state == "succeeded" {
        return Ok(());
    }
    let id = job.str("id").unwrap_or_default();
    let error = job.str("error").unwrap_or("no error reported");
    Err(Error::Failed(format!(
        "the {} {id} ended {state}: {error}",
        kind.noun()
    )))
}

/// Reports whether an order reached a state that ends the wait: issued with the inventory's
/// report on its certificate, or any state other than `SUBMITTING` and `PENDING`.
fn order_settled(order: &Json) -> bool {
    match order.str("status").unwrap_or_default() {
        "SUBMITTING" | "PENDING" => false,
        "ISSUED" => order
            .str("inventory_state")
            .is_some_and(|state| !state.is_empty()),
        _ => true,
    }
}

/// Polls an order until it is issued and its certificate is in the inventory (or waits for a
/// license slot), or until it ends in another state, and returns it.
///
/// # Errors
/// A request error, or [`Error::Failed`] when the order is still unsettled after `timeout`
/// seconds.
pub fn wait_for_order(
    client: &Client,
    output: &Output<'_, '_>,
    placed: Json,
    timeout: u64,
) -> Result<Json, Error> {
    let id = placed.str("id").unwrap_or_default().to_owned();
    let bar = spinner(output.decorated(), format!("order {id}"));
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut order = placed;
    loop {
        let status = order.str("status").unwrap_or_default();
        bar.set_message(status.to_owned());
        if order_settled(&order) {
            break;
        }
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Err(Error::Failed(format!(
                "order {id} is still {status} after {timeout} s; check it later with certctl \
                 orders get {id}"
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
        order = match client.get(&["orders", &id], &[]) {
            Ok(order) => order,
            Err(error) => {
                bar.finish_and_clear();
                return Err(error);
            }
        };
    }
    bar.finish_and_clear();
    Ok(order)
}

/// Returns an error unless a waited-for order is issued; notes a certificate that waits for a
/// license slot.
///
/// # Errors
/// [`Error::Failed`] naming the order's final state.
pub fn check_issued(output: &mut Output<'_, '_>, order: &Json) -> Result<(), Error> {
    let id = order.str("id").unwrap_or_default();
    let status = order.str("status").unwrap_or_default();
    if status != "ISSUED" {
        let entrust = order
            .str("entrust_status")
            .map(|entrust| format!(" (Entrust status {entrust})"))
            .unwrap_or_default();
        return Err(Error::Failed(format!(
            "order {id} ended {status}{entrust}; see certctl orders history {id}"
        )));
    }
    if order.str("inventory_state") == Some("waiting") {
        let message = order
            .str("inventory_message")
            .unwrap_or("the certificate waits for a license slot");
        output.note(&format!("note: order {id}: {message}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        Json::parse(text.as_bytes()).expect("valid JSON")
    }

    #[test]
    fn import_summary_lists_every_count() {
        let job = parse(
            r#"{"id":"j-1","state":"succeeded","progress":{"pages":1,"orders":12,
                "imported":10,"updated":0,"issued":7,"skipped":2,"failed":0}}"#,
        );

        assert_eq!(
            JobKind::Import.summary(&job),
            "import j-1 succeeded: pages 1, orders 12, imported 10, updated 0, issued 7, \
             skipped 2, failed 0"
        );
    }

    #[test]
    fn sync_summary_lists_every_count() {
        let job = parse(
            r#"{"id":"s-1","state":"partial","progress":{"organizations":3,"domains":5,
                "products":4,"added":12,"changed":0,"removed":0}}"#,
        );

        assert_eq!(
            JobKind::Sync.summary(&job),
            "sync s-1 partial: organizations 3, domains 5, products 4, added 12, changed 0, \
             removed 0"
        );
    }

    #[test]
    fn order_settles_once_the_inventory_reported() {
        let cases = [
            (r#"{"status":"SUBMITTING"}"#, false),
            (r#"{"status":"PENDING"}"#, false),
            (r#"{"status":"ISSUED"}"#, false),
            (
                r#"{"status":"ISSUED","inventory_state":"in_inventory"}"#,
                true,
            ),
            (r#"{"status":"ISSUED","inventory_state":"waiting"}"#, true),
            (r#"{"status":"DECLINED"}"#, true),
            (r#"{"status":"FAILED"}"#, true),
        ];
        for (order, settled) in cases {
            assert_eq!(order_settled(&parse(order)), settled, "{order}");
        }
    }
}
