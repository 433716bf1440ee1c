//! Admission to the inventory under the license, and the lifecycle steps that change what the
//! license counts: storing, superseding, removing and admitting certificates, and changing the
//! licensed count.
//!
//! Rules:
//! - The license counts every held certificate that is not superseded, whatever its source
//!   (orders, imports) or status. Expired and revoked certificates count until they are
//!   superseded or removed.
//! - A new certificate is held while the count is below the licensed count. Beyond it, the
//!   certificate is stored as waiting (reason `license_limit`) and CertificateRejected fires
//!   with the licensed and held counts.
//! - A replacement (renewal or reissue) of a counted certificate takes over its slot: the
//!   previous one leaves the count as the new one enters, so a renewal never waits behind
//!   other certificates. A renewed certificate becomes `superseded`, a reissued one `revoked`;
//!   both get `superseded_by`. The previous certificate's deployment locations are copied to
//!   the new one as needing deployment, and CertificateRenewed or CertificateReissued fires
//!   with them.
//! - Whenever slots are free (license raised or lifted, a certificate removed), waiting
//!   certificates are admitted oldest first, each with CertificateAddedToInventory.
//!
//! Every step runs in the caller's transaction and first locks the license row (see
//! [`license`]), so replicas take turns and the held count stays exact.

use std::collections::HashMap;

use certitude_platform::db::DbError;
use certitude_platform::outbox::{NewEvent, Outbox, OutboxError};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate_store::{
    self, CertificateRecord, InsertOutcome, InventoryState, NewCertificate, Placement, Replacement,
    WAITING_LICENSE_LIMIT,
};
use crate::deployment_store;
use crate::events;
use crate::license::{self, License};

/// A lifecycle step that failed; the transaction must roll back.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Db(#[from] DbError),

    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl LifecycleError {
    /// Returns whether a retry may succeed because Postgres was unreachable.
    pub fn is_unavailable(&self) -> bool {
        match self {
            LifecycleError::Db(error) => error.is_unavailable(),
            LifecycleError::Outbox(OutboxError::Db { source, .. }) => source.is_unavailable(),
            LifecycleError::Outbox(_) => false,
        }
    }
}

/// Result of [`Lifecycle::store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored and held.
    Held(Box<CertificateRecord>),
    /// Stored as waiting for a license slot.
    Waiting(Box<CertificateRecord>),
    /// Stored as history, because its replacement was stored before it.
    Superseded(Box<CertificateRecord>),
    /// A certificate with the same id exists; nothing was written.
    SameId,
    /// The same certificate exists under another id; nothing was written.
    SameFingerprint { existing_id: Uuid },
}

/// The steps, with the outbox their events go to.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    outbox: Outbox,
}

impl Lifecycle {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }

    /// Stores `certificate` as held, waiting or superseded (see the module documentation) and
    /// writes its events.
    ///
    /// A certificate whose replacement was stored before it (events of one lineage may arrive
    /// out of order) is stored as held history, superseded by that replacement and not counted.
    pub async fn store(
        &self,
        conn: &mut PgConnection,
        certificate: &NewCertificate,
        now: OffsetDateTime,
    ) -> Result<StoreOutcome, LifecycleError> {
        let mut license = license::lock(conn).await?;
        let predecessor = match certificate.replaces_certificate_id {
            Some(id) => {
                let found = certificate_store::lock(conn, id).await?;
                if found.is_none() {
                    tracing::warn!(
                        certificate.id = %certificate.id,
                        certificate.replaces_id = %id,
                        "the certificate replaces one the inventory does not have; \
                         storing it without superseding another"
                    );
                }
                found
            }
            None => None,
        };
        let predecessor_counted = predecessor
            .as_ref()
            .is_some_and(CertificateRecord::is_counted);
        let successor = certificate_store::find_replacement_of(conn, certificate.id).await?;

        let mut certificate = certificate.clone();
        let placement = match &successor {
            Some(successor) => {
                let replacement = successor
                    .replacement
                    .as_deref()
                    .and_then(Replacement::parse)
                    .unwrap_or(Replacement::Renewal);
                certificate.status = replacement.status_of_replaced(certificate.status.as_str());
                Placement {
                    superseded_by: Some(successor.id),
                    ..Placement::held()
                }
            }
            // A replacement of a counted certificate takes over its slot.
            None if predecessor_counted || license.has_free_slot() => Placement::held(),
            None => waiting_placement(&license),
        };

        let record = match certificate_store::insert(conn, &certificate, &placement).await? {
            InsertOutcome::Inserted(record) => *record,
            InsertOutcome::SameId => return Ok(StoreOutcome::SameId),
            InsertOutcome::SameFingerprint { existing_id } => {
                return Ok(StoreOutcome::SameFingerprint { existing_id });
            }
        };

        if let Some(previous) = &predecessor {
            let replacement = certificate.replacement.unwrap_or(Replacement::Renewal);
            self.supersede(conn, previous, &record, replacement, now)
                .await?;
        }
        let change = i64::from(record.is_counted()) - i64::from(predecessor_counted);
        if change != 0 {
            license.held += change;
            license::set_held(conn, license.held).await?;
        }

        let outcome = if record.inventory_state == InventoryState::Held.as_str() {
            self.enqueue(conn, record.id, &events::added_to_inventory(&record, now))
                .await?;
            if let Some(successor) = &successor {
                tracing::info!(
                    certificate.id = %record.id,
                    certificate.superseded_by = %successor.id,
                    "stored a certificate after its replacement; it is kept as history"
                );
                StoreOutcome::Superseded(Box::new(record))
            } else {
                StoreOutcome::Held(Box::new(record))
            }
        } else {
            let licensed = license.licensed.unwrap_or_default();
            let payload = events::rejected(&record, licensed, license.held);
            self.enqueue(conn, record.id, &payload).await?;
            tracing::warn!(
                certificate.id = %record.id,
                license.licensed = licensed,
                license.held = license.held,
                "the license count is reached; the certificate waits for a free slot"
            );
            StoreOutcome::Waiting(Box::new(record))
        };
        self.admit_waiting(conn, &mut license, now).await?;
        Ok(outcome)
    }

    /// Stores `certificates` as held with a few statements for all of them, with the same
    /// outcome as [`Lifecycle::store`] for each in turn, when that outcome is plain: none
    /// replaces another, none was replaced before it arrived, and the license has a slot for
    /// every one. Otherwise it writes nothing and returns `None`, and the caller stores each
    /// with [`Lifecycle::store`]. Outcomes are returned in the order given.
    pub async fn store_many(
        &self,
        conn: &mut PgConnection,
        certificates: &[NewCertificate],
        now: OffsetDateTime,
    ) -> Result<Option<Vec<StoreOutcome>>, LifecycleError> {
        if certificates
            .iter()
            .any(|certificate| certificate.replaces_certificate_id.is_some())
        {
            return Ok(None);
        }
        let mut license = license::lock(conn).await?;
        let count = i64::try_from(certificates.len()).unwrap_or(i64::MAX);
        if license.free_slots().is_some_and(|free| free < count) {
            return Ok(None);
        }
        let ids: Vec<Uuid> = certificates.iter().map(|c| c.id).collect();
        if certificate_store::any_replaces(conn, &ids).await? {
            return Ok(None);
        }

        let inserted = certificate_store::insert_held_many(conn, certificates).await?;
        let mut records: HashMap<Uuid, CertificateRecord> = inserted
            .into_iter()
            .map(|record| (record.id, record))
            .collect();
        let existing = self.existing_ids(conn, certificates, &records).await?;
        if !records.is_empty() {
            license.held += i64::try_from(records.len()).unwrap_or(i64::MAX);
            license::set_held(conn, license.held).await?;
        }

        let mut events = Vec::with_capacity(records.len());
        let mut outcomes = Vec::with_capacity(certificates.len());
        for certificate in certificates {
            match records.remove(&certificate.id) {
                Some(record) => {
                    let added = events::added_to_inventory(&record, now);
                    events.push(NewEvent::new(record.id.to_string(), &added));
                    outcomes.push(StoreOutcome::Held(Box::new(record)));
                }
                None => outcomes.push(match existing.get(&certificate.facts.sha256_fingerprint) {
                    Some(&existing_id) if existing_id != certificate.id => {
                        StoreOutcome::SameFingerprint { existing_id }
                    }
                    _ => StoreOutcome::SameId,
                }),
            }
        }
        self.outbox.enqueue_many(conn, events).await?;
        self.admit_waiting(conn, &mut license, now).await?;
        Ok(Some(outcomes))
    }

    /// Returns the stored ids, by fingerprint, of the certificates that `inserted` lacks.
    async fn existing_ids(
        &self,
        conn: &mut PgConnection,
        certificates: &[NewCertificate],
        inserted: &HashMap<Uuid, CertificateRecord>,
    ) -> Result<HashMap<String, Uuid>, LifecycleError> {
        let fingerprints: Vec<&str> = certificates
            .iter()
            .filter(|certificate| !inserted.contains_key(&certificate.id))
            .map(|certificate| certificate.facts.sha256_fingerprint.as_str())
            .collect();
        if fingerprints.is_empty() {
            return Ok(HashMap::new());
        }
        let found = certificate_store::ids_by_fingerprint(conn, &fingerprints).await?;
        Ok(found.into_iter().collect())
    }

    /// Marks `previous` replaced by `successor`, copies its locations to `successor` as needing
    /// deployment, and writes CertificateRenewed or CertificateReissued.
    async fn supersede(
        &self,
        conn: &mut PgConnection,
        previous: &CertificateRecord,
        successor: &CertificateRecord,
        replacement: Replacement,
        now: OffsetDateTime,
    ) -> Result<(), LifecycleError> {
        match previous.superseded_by {
            None => {
                let status = replacement.status_of_replaced(&previous.status);
                certificate_store::mark_superseded(conn, previous.id, successor.id, status, now)
                    .await?;
            }
            Some(earlier) => tracing::warn!(
                certificate.id = %successor.id,
                certificate.replaces_id = %previous.id,
                certificate.superseded_by = %earlier,
                "the replaced certificate was superseded by another certificate before; \
                 keeping that link"
            ),
        }
        let locations =
            deployment_store::copy_as_needed(conn, previous.id, successor.id, now).await?;
        match replacement {
            Replacement::Renewal => {
                let payload = events::renewed(successor, previous.id, &locations);
                self.enqueue(conn, successor.id, &payload).await?;
            }
            Replacement::Reissue => {
                let payload = events::reissued(successor, previous.id, &locations);
                self.enqueue(conn, successor.id, &payload).await?;
            }
        }
        tracing::info!(
            certificate.id = %successor.id,
            certificate.replaces_id = %previous.id,
            replacement = replacement.as_str(),
            deployments.inherited = locations.len(),
            "the certificate supersedes its predecessor"
        );
        Ok(())
    }

    /// Admits waiting certificates, oldest first, into the free slots of `license` (which the
    /// caller locked) and returns how many it admitted.
    pub async fn admit_waiting(
        &self,
        conn: &mut PgConnection,
        license: &mut License,
        now: OffsetDateTime,
    ) -> Result<usize, LifecycleError> {
        let slots = license.free_slots();
        if slots == Some(0) {
            return Ok(0);
        }
        let admitted = certificate_store::admit_oldest_waiting(conn, slots, now).await?;
        if admitted.is_empty() {
            return Ok(0);
        }
        license.held += i64::try_from(admitted.len()).unwrap_or(i64::MAX);
        license::set_held(conn, license.held).await?;
        for record in &admitted {
            self.enqueue(conn, record.id, &events::added_to_inventory(record, now))
                .await?;
            tracing::info!(
                certificate.id = %record.id,
                license.held = license.held,
                "a license slot freed; admitted a waiting certificate"
            );
        }
        Ok(admitted.len())
    }

    /// Removes certificate `id` from the inventory and admits waiting certificates into the
    /// slot it frees. Returns `None` for an unknown id, and a removed certificate unchanged.
    pub async fn remove(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
        actor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<CertificateRecord>, LifecycleError> {
        let mut license = license::lock(conn).await?;
        let Some(record) = certificate_store::lock(conn, id).await? else {
            return Ok(None);
        };
        if record.inventory_state == InventoryState::Removed.as_str() {
            return Ok(Some(record));
        }
        let removed = certificate_store::mark_removed(conn, id, actor, now).await?;
        if record.is_counted() {
            license.held -= 1;
            license::set_held(conn, license.held).await?;
        }
        tracing::info!(
            certificate.id = %id,
            certificate.previous_state = %record.inventory_state,
            "removed the certificate from the inventory"
        );
        self.admit_waiting(conn, &mut license, now).await?;
        Ok(Some(removed))
    }

    /// Sets the licensed count (`None` lifts the limit) and admits waiting certificates into
    /// the slots that frees. Returns the license as stored.
    pub async fn set_license(
        &self,
        conn: &mut PgConnection,
        licensed: Option<i64>,
        actor: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<License, LifecycleError> {
        let mut license = license::lock(conn).await?;
        license::set_licensed(conn, licensed, actor, now).await?;
        license.licensed = licensed;
        let admitted = self.admit_waiting(conn, &mut license, now).await?;
        tracing::info!(
            license.licensed = ?licensed,
            license.held = license.held,
            certificates.admitted = admitted,
            "the licensed count changed"
        );
        Ok(license::read(&mut *conn).await?)
    }

    async fn enqueue<M: certitude_platform::events::Event>(
        &self,
        conn: &mut PgConnection,
        certificate_id: Uuid,
        payload: &M,
    ) -> Result<(), LifecycleError> {
        self.outbox
            .enqueue(conn, NewEvent::new(certificate_id.to_string(), payload))
            .await?;
        Ok(())
    }
}

fn waiting_placement(license: &License) -> Placement {
    let licensed = license.licensed.unwrap_or_default();
    let message = format!(
        "issued, not in the inventory: the license allows {licensed} certificates and \
         {held} are held; it is added when a slot frees (raise the license or remove a \
         certificate)",
        held = license.held
    );
    Placement {
        state: InventoryState::Waiting,
        waiting: Some((WAITING_LICENSE_LIMIT.to_owned(), message)),
        superseded_by: None,
    }
}
