//! Dropping cached Entrust clients when credential-sync reports that a credential changed.
//!
//! The durable consumers of CredentialUpdated (`order-manager-credential-updated`) and
//! CredentialRemoved (`order-manager-credential-removed`) call [`CredentialSource::forget`].
//! The next Entrust call then resolves the credential again, so it uses the new API key or
//! client certificate, or finds the credential gone.
//!
//! NOTE: each durable consumer is shared by every replica, so only the replica that receives an
//! event drops its cached client; the others keep theirs until CERTITUDE_CREDENTIAL_CACHE_TTL
//! runs out.

use std::marker::PhantomData;
use std::sync::Arc;

use async_nats::jetstream;
use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{
    BoxError, ConsumerSettings, EventHandler, ReceivedEvent, run_consumer,
};
use certitude_platform::events::{Event, EventsSettings};
use certitude_platform::service::ServiceTasks;
use certitude_platform::shutdown::Shutdown;
use certitude_proto::events::v1::{CredentialRemoved, CredentialUpdated};
use sqlx::{PgConnection, PgPool};

use crate::sources::CredentialSource;

/// Durable consumer of CredentialUpdated.
pub const UPDATED_DURABLE_NAME: &str = "order-manager-credential-updated";

/// Durable consumer of CredentialRemoved.
pub const REMOVED_DURABLE_NAME: &str = "order-manager-credential-removed";

/// The dependencies of the consumers: the event streams and the source whose cache they clear.
pub(crate) struct CacheConsumers {
    pub jetstream: jetstream::Context,
    pub pool: PgPool,
    pub clock: SharedClock,
    pub events: EventsSettings,
    pub credentials: Arc<dyn CredentialSource>,
}

impl CacheConsumers {
    /// Spawns both consumers into `tasks`; they stop when `stop` fires.
    pub(crate) fn spawn(self, tasks: &mut ServiceTasks, stop: &Shutdown) {
        self.spawn_one::<CredentialUpdated>(
            tasks,
            stop,
            UPDATED_DURABLE_NAME,
            "credential-updated-consumer",
        );
        self.spawn_one::<CredentialRemoved>(
            tasks,
            stop,
            REMOVED_DURABLE_NAME,
            "credential-removed-consumer",
        );
    }

    fn spawn_one<M: CredentialEvent>(
        &self,
        tasks: &mut ServiceTasks,
        stop: &Shutdown,
        durable_name: &str,
        task_name: &'static str,
    ) {
        let subject = M::TYPE.subject(&self.events.subject_prefix);
        let settings = ConsumerSettings::new(&self.events, durable_name, subject);
        let handler = ForgetCredential::<M> {
            credentials: Arc::clone(&self.credentials),
            event: PhantomData,
        };
        let consumer = run_consumer(
            self.jetstream.clone(),
            self.pool.clone(),
            self.clock.clone(),
            settings,
            handler,
            stop.token(),
        );
        tasks.spawn(task_name, async move {
            consumer.await?;
            Ok(())
        });
    }
}

/// An event that names a credential whose cached client must go.
trait CredentialEvent: Event + Send + 'static {
    fn credential_id(&self) -> &str;
}

impl CredentialEvent for CredentialUpdated {
    fn credential_id(&self) -> &str {
        &self.credential_id
    }
}

impl CredentialEvent for CredentialRemoved {
    fn credential_id(&self) -> &str {
        &self.credential_id
    }
}

/// Forgets the credential an event of type `M` names. Touches no table, so the inbox
/// transaction holds only the inbox record.
struct ForgetCredential<M> {
    credentials: Arc<dyn CredentialSource>,
    event: PhantomData<fn() -> M>,
}

impl<M: CredentialEvent> EventHandler for ForgetCredential<M> {
    async fn handle(
        &self,
        _conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), BoxError> {
        let payload: M = event.payload()?;
        let credential_id = payload.credential_id();
        self.credentials.forget(credential_id);
        tracing::info!(
            credential.id = credential_id,
            event.id = %event.event_id,
            "dropped the cached Entrust client of credential {credential_id} after {}",
            M::TYPE.name
        );
        Ok(())
    }
}
