//! Wake-ups of the relay: a connection of its own listens on the outbox's notification
//! channel and signals the relay when a transaction that wrote events commits.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::maintenance::notify_channel;
use crate::events::error_text;

/// Wakes the relay whenever a transaction that wrote events commits, reconnecting after
/// failures until `shutdown` is cancelled.
pub(super) async fn listen_for_commits(
    pool: PgPool,
    wake: Arc<Notify>,
    retry_delay: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let Err(error) = tokio::select! {
            () = shutdown.cancelled() => return,
            result = listen_once(&pool, &wake) => result,
        };
        tracing::debug!(
            error = %error_text(&error, 1024),
            "listening for outbox commits failed; polling until it reconnects"
        );
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(retry_delay) => {}
        }
    }
}

/// Listens on a connection of its own, so the listener never takes one from the service pool.
async fn listen_once(pool: &PgPool, wake: &Notify) -> Result<Infallible, sqlx::Error> {
    let options = (*pool.connect_options()).clone();
    let own_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&own_pool)
        .await?;
    let channel = notify_channel(schema.as_deref().unwrap_or_default());

    let mut listener = PgListener::connect_with(&own_pool).await?;
    listener.listen(&channel).await?;
    // Rows committed before the listener started have no notification left to wait for.
    wake.notify_one();
    loop {
        listener.recv().await?;
        wake.notify_one();
    }
}
