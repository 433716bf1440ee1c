//! Recording where certificates are deployed: adding, confirming and removing locations, with
//! CertificateDeploymentRequired for a location added by hand that needs the certificate.
//! Locations inherited on renewal or reissue are copied in [`crate::lifecycle`].

use certitude_platform::db::DbError;
use certitude_platform::outbox::{NewEvent, Outbox, OutboxError};
use certitude_proto::events::v1::CertificateDeploymentRequired;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate_store::{self, InventoryState};
use crate::deployment_store::{self, DeploymentRecord, Location, NewDeployment};
use crate::events;

/// A deployment change that was not made.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("certificate {0} not found")]
    CertificateNotFound(Uuid),

    #[error("certificate {0} is removed from the inventory: record locations of a held one")]
    CertificateRemoved(Uuid),

    #[error("deployment {deployment_id} of certificate {certificate_id} not found")]
    NotFound {
        certificate_id: Uuid,
        deployment_id: Uuid,
    },

    #[error(
        "certificate {certificate_id} already has this location as deployment {existing_id}: \
         confirm or remove that one"
    )]
    LocationExists {
        certificate_id: Uuid,
        existing_id: Uuid,
    },

    #[error(transparent)]
    Db(#[from] DbError),

    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Adds, confirms and removes deployments, writing events to `outbox`.
#[derive(Debug, Clone)]
pub struct Deployments {
    outbox: Outbox,
}

impl Deployments {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }

    /// Records `location` for certificate `certificate_id`. When `needs_deployment` is set,
    /// CertificateDeploymentRequired fires in the same transaction.
    pub async fn add(
        &self,
        conn: &mut PgConnection,
        certificate_id: Uuid,
        location: Location,
        needs_deployment: bool,
        actor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<DeploymentRecord, DeploymentError> {
        let certificate = certificate_store::get(&mut *conn, certificate_id)
            .await?
            .ok_or(DeploymentError::CertificateNotFound(certificate_id))?;
        if certificate.inventory_state == InventoryState::Removed.as_str() {
            return Err(DeploymentError::CertificateRemoved(certificate_id));
        }
        let deployment = NewDeployment {
            id: Uuid::now_v7(),
            certificate_id,
            location,
            needs_deployment,
            inherited_from: None,
            created_at: now,
            created_by: actor.map(str::to_owned),
        };
        let Some(record) = deployment_store::insert(conn, &deployment).await? else {
            let existing =
                deployment_store::find_location(&mut *conn, certificate_id, &deployment.location)
                    .await?;
            return Err(DeploymentError::LocationExists {
                certificate_id,
                existing_id: existing.map_or(Uuid::nil(), |existing| existing.id),
            });
        };
        if needs_deployment {
            let payload = CertificateDeploymentRequired {
                certificate_id: certificate_id.to_string(),
                locations: events::locations(std::slice::from_ref(&record)),
            };
            self.outbox
                .enqueue(conn, NewEvent::new(certificate_id.to_string(), &payload))
                .await?;
        }
        tracing::info!(
            certificate.id = %certificate_id,
            deployment.id = %record.id,
            deployment.needs_deployment = needs_deployment,
            "recorded a deployment location"
        );
        Ok(record)
    }

    /// Confirms deployment `deployment_id` of `certificate_id`.
    pub async fn confirm(
        &self,
        conn: &mut PgConnection,
        certificate_id: Uuid,
        deployment_id: Uuid,
        actor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<DeploymentRecord, DeploymentError> {
        let record = deployment_store::confirm(conn, certificate_id, deployment_id, actor, now)
            .await?
            .ok_or(DeploymentError::NotFound {
                certificate_id,
                deployment_id,
            })?;
        tracing::info!(
            certificate.id = %certificate_id,
            deployment.id = %deployment_id,
            "confirmed a deployment"
        );
        Ok(record)
    }

    /// Deletes deployment `deployment_id` of `certificate_id` and returns it as it was.
    pub async fn remove(
        &self,
        conn: &mut PgConnection,
        certificate_id: Uuid,
        deployment_id: Uuid,
        actor: Option<&str>,
    ) -> Result<DeploymentRecord, DeploymentError> {
        let record = deployment_store::delete(conn, certificate_id, deployment_id)
            .await?
            .ok_or(DeploymentError::NotFound {
                certificate_id,
                deployment_id,
            })?;
        tracing::info!(
            certificate.id = %certificate_id,
            deployment.id = %deployment_id,
            actor = ?actor,
            "removed a deployment location"
        );
        Ok(record)
    }
}
