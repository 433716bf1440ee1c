//! Storing the certificates that CertificateIssued events announce.
//!
//! The durable consumer [`DURABLE_NAME`] runs [`CertificateIssuedHandler`] inside the platform's
//! inbox transaction, so a redelivered event has no second effect. The certificate is stored
//! under the event's `certificate_id`. A certificate already stored under that id, or under
//! another id with the same SHA-256 fingerprint, is left as it is and no second row is written.
//!
//! Policy for what the event carries:
//! - A leaf or chain element that does not parse fails the event, so the platform retries it
//!   and then moves it to the dead-letter stream with the error.
//! - A chain whose links do not verify is accepted: the certificate is stored with
//!   `chain_status = broken` and a warning is logged, because the certificate itself is what
//!   the CA issued and rejecting it would hide it from the inventory.
//! - The event's `key_id` is attached only when that key exists and its public key is the
//!   certificate's. Otherwise the certificate is stored without a key and a warning names the
//!   certificate and the key.
//! - The status follows the order's state: `revoked` for REVOKED, `suspended` for SUSPENDED,
//!   otherwise `active` or `expired` by `not_after`. The state is the one the OrderStatusChanged
//!   consumer recorded for the order, when it recorded one that sets a status, else the event's
//!   `order_status` (empty from producers older than that field).
//! - `replaces_certificate_id` with `replacement` ("renewal" or "reissue") supersedes the
//!   previous certificate (see [`crate::lifecycle`]). An empty or unknown `replacement` with a
//!   `replaces_certificate_id` is read as a renewal, which revokes nothing, and logged.
//! - Whether the certificate is held or waits for a license slot is decided by
//!   [`Lifecycle::store`], which also writes the certificate's events.

use certitude_platform::clock::SharedClock;
use certitude_platform::consumer::{BoxError, EventHandler, ReceivedEvent};
use certitude_platform::db::DbError;
use certitude_platform::events::EnvelopeError;
use certitude_proto::events::v1::CertificateIssued;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::certificate::{self, CertificateError, CertificateFacts, VerifiedChains};
use crate::certificate_store::{ChainStatus, NewCertificate, Replacement, Source, StatusRule};
use crate::key_store;
use crate::lifecycle::{Lifecycle, LifecycleError, StoreOutcome};
use crate::order_status;

/// Durable consumer name of the inventory's CertificateIssued consumer.
pub const DURABLE_NAME: &str = "inventory-certificate-issued";

mod batch;

/// A CertificateIssued event that could not be stored. The text goes to the dead-letter
/// headers; it names ids and fields, never certificate contents or keys.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the event is not a decodable CertificateIssued")]
    Payload(#[from] EnvelopeError),

    #[error("certificate_id {value:?} is not a UUID: the producer must name the certificate")]
    CertificateId {
        value: String,
        #[source]
        source: uuid::Error,
    },

    #[error("certificate_pem of certificate {certificate_id} is not a valid X.509 certificate")]
    Leaf {
        certificate_id: Uuid,
        #[source]
        source: CertificateError,
    },

    #[error("chain_pem[{index}] of certificate {certificate_id} is not a valid X.509 certificate")]
    Chain {
        certificate_id: Uuid,
        index: usize,
        #[source]
        source: CertificateError,
    },

    #[error("storing certificate {certificate_id} failed")]
    Db {
        certificate_id: Uuid,
        #[source]
        source: Box<DbError>,
    },

    #[error("storing certificate {certificate_id} in the inventory failed")]
    Store {
        certificate_id: Uuid,
        #[source]
        source: Box<LifecycleError>,
    },

    #[error("reading the order states of a batch of {count} certificates failed")]
    BatchDb {
        count: usize,
        #[source]
        source: Box<DbError>,
    },

    #[error("storing a batch of {count} certificates in the inventory failed")]
    BatchStore {
        count: usize,
        #[source]
        source: Box<LifecycleError>,
    },
}

/// Stores the certificate of each CertificateIssued event, held or waiting, with its events.
#[derive(Debug, Clone)]
pub struct CertificateIssuedHandler {
    lifecycle: Lifecycle,
    clock: SharedClock,
    verified_chains: VerifiedChains,
}

impl CertificateIssuedHandler {
    pub fn new(lifecycle: Lifecycle, clock: SharedClock) -> Self {
        Self {
            lifecycle,
            clock,
            verified_chains: VerifiedChains::default(),
        }
    }

    async fn store(
        &self,
        conn: &mut PgConnection,
        event: &ReceivedEvent,
    ) -> Result<(), IngestError> {
        let issued: CertificateIssued = event.payload()?;
        let certificate = self.new_certificate(conn, &issued).await?;
        let id = certificate.id;
        let outcome = self
            .lifecycle
            .store(conn, &certificate, self.clock.now())
            .await
            .map_err(|source| IngestError::Store {
                certificate_id: id,
                source: Box::new(source),
            })?;
        log_outcome(id, &outcome);
        Ok(())
    }

    async fn new_certificate(
        &self,
        conn: &mut PgConnection,
        issued: &CertificateIssued,
    ) -> Result<NewCertificate, IngestError> {
        let parsed = Parsed::of(issued, &self.verified_chains)?;
        let db_error = |source| IngestError::Db {
            certificate_id: parsed.id,
            source: Box::new(source),
        };
        let key_id = matching_key(conn, parsed.id, &issued.key_id, &parsed.facts)
            .await
            .map_err(db_error)?;
        let rule = status_rule(conn, issued).await.map_err(db_error)?;
        Ok(parsed.into_new_certificate(issued, key_id, rule, self.clock.now()))
    }
}

/// The certificate of a CertificateIssued event, read and checked without the database.
struct Parsed {
    id: Uuid,
    leaf_der: Vec<u8>,
    facts: CertificateFacts,
    issuers: Vec<Vec<u8>>,
    chain_status: ChainStatus,
}

impl Parsed {
    fn of(issued: &CertificateIssued, verified: &VerifiedChains) -> Result<Self, IngestError> {
        let id = Uuid::parse_str(&issued.certificate_id).map_err(|source| {
            IngestError::CertificateId {
                value: issued.certificate_id.clone(),
                source,
            }
        })?;
        let leaf_der = certificate::pem_to_der(&issued.certificate_pem).map_err(|source| {
            IngestError::Leaf {
                certificate_id: id,
                source,
            }
        })?;
        let facts = certificate::parse_der(&leaf_der).map_err(|source| IngestError::Leaf {
            certificate_id: id,
            source,
        })?;
        let issuers = issuer_chain(id, &leaf_der, &issued.chain_pem, verified)?;
        let chain_status = verify_chain(id, &leaf_der, &issuers, verified);
        Ok(Self {
            id,
            leaf_der,
            facts,
            issuers: issuers.ders,
            chain_status,
        })
    }

    fn into_new_certificate(
        self,
        issued: &CertificateIssued,
        key_id: Option<Uuid>,
        rule: StatusRule,
        now: time::OffsetDateTime,
    ) -> NewCertificate {
        let id = self.id;
        let replaces_certificate_id = replaced_id(id, &issued.replaces_certificate_id);
        let replacement = replaces_certificate_id.map(|_| replacement(id, &issued.replacement));
        NewCertificate {
            id,
            order_id: non_empty(&issued.order_id),
            tracking_id: (issued.tracking_id != 0).then_some(issued.tracking_id),
            credential_id: non_empty(&issued.credential_id),
            key_id,
            replaces_certificate_id,
            replacement,
            status: rule.status_at(self.facts.not_after, now),
            source: if issued.order_id.is_empty() {
                Source::Import
            } else {
                Source::Order
            },
            certificate_pem: certificate::der_to_pem(&self.leaf_der),
            chain_pem: self
                .issuers
                .iter()
                .map(|der| certificate::der_to_pem(der))
                .collect(),
            chain_status: self.chain_status,
            facts: self.facts,
            created_at: now,
        }
    }
}

/// Logs what storing certificate `id` did.
fn log_outcome(id: Uuid, outcome: &StoreOutcome) {
    match outcome {
        StoreOutcome::Held(record)
        | StoreOutcome::Waiting(record)
        | StoreOutcome::Superseded(record) => {
            tracing::info!(
                certificate.id = %id,
                certificate.serial = %record.serial_number,
                certificate.inventory_state = %record.inventory_state,
                key.id = ?record.key_id,
                "stored certificate in the inventory"
            );
        }
        StoreOutcome::SameId => {
            tracing::debug!(certificate.id = %id, "certificate already stored; nothing to do");
        }
        StoreOutcome::SameFingerprint { existing_id } => {
            tracing::warn!(
                certificate.id = %id,
                certificate.existing_id = %existing_id,
                "the same certificate is already stored under another id; ignoring the event"
            );
        }
    }
}

impl EventHandler for CertificateIssuedHandler {
    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> Result<(), BoxError> {
        self.store(conn, event).await.map_err(BoxError::from)
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        events: &[&ReceivedEvent],
    ) -> Result<(), BoxError> {
        self.store_batch(conn, events).await.map_err(BoxError::from)
    }
}

/// The issuer certificates of an event in DER, nearest issuer first, and whether the same
/// chain parsed and verified before.
struct IssuerChain {
    ders: Vec<Vec<u8>>,
    digest: [u8; 32],
    verified_before: bool,
}

/// Decodes the chain into DER issuer certificates, nearest issuer first, leaving out the leaf
/// (producers may send the chain leaf first, as Entrust does) and repeated certificates. Each
/// one must parse, unless the same chain parsed and verified before.
fn issuer_chain(
    certificate_id: Uuid,
    leaf_der: &[u8],
    chain_pem: &[String],
    verified: &VerifiedChains,
) -> Result<IssuerChain, IngestError> {
    let chain_error = |index, source| IngestError::Chain {
        certificate_id,
        index,
        source,
    };
    let mut ders: Vec<Vec<u8>> = Vec::with_capacity(chain_pem.len());
    let mut indexes = Vec::with_capacity(chain_pem.len());
    for (index, pem_text) in chain_pem.iter().enumerate() {
        let der = certificate::pem_to_der(pem_text).map_err(|source| chain_error(index, source))?;
        if der != leaf_der && !ders.contains(&der) {
            ders.push(der);
            indexes.push(index);
        }
    }
    let digest = VerifiedChains::digest(&ders);
    let verified_before = verified.contains(&digest);
    if !verified_before {
        for (der, index) in ders.iter().zip(indexes) {
            certificate::parse_der(der).map_err(|source| chain_error(index, source))?;
        }
    }
    Ok(IssuerChain {
        ders,
        digest,
        verified_before,
    })
}

/// Verifies that the leaf is signed by the first issuer and each issuer by the next one. A
/// broken link is logged and recorded, not rejected (see the module documentation). Links
/// between issuers are verified once per chain (see [`VerifiedChains`]).
fn verify_chain(
    certificate_id: Uuid,
    leaf_der: &[u8],
    issuers: &IssuerChain,
    verified: &VerifiedChains,
) -> ChainStatus {
    let Some(nearest) = issuers.ders.first() else {
        return ChainStatus::Missing;
    };
    let result = if issuers.verified_before {
        certificate::verify_signed_by(leaf_der, nearest)
    } else {
        let mut links = Vec::with_capacity(issuers.ders.len() + 1);
        links.push(leaf_der.to_vec());
        links.extend(issuers.ders.iter().cloned());
        let result = certificate::verify_chain_links(&links);
        if result.is_ok() {
            verified.insert(issuers.digest);
        }
        result
    };
    match result {
        Ok(()) => ChainStatus::Verified,
        Err(error) => {
            tracing::warn!(
                certificate.id = %certificate_id,
                error = %error,
                "a link of the certificate's chain does not verify; \
                 storing it with chain_status broken"
            );
            ChainStatus::Broken
        }
    }
}

/// Returns the event's key id when the inventory has that key and its public key is the
/// certificate's; otherwise logs a warning naming both and returns `None`.
async fn matching_key(
    conn: &mut PgConnection,
    certificate_id: Uuid,
    key_id: &str,
    facts: &CertificateFacts,
) -> Result<Option<Uuid>, DbError> {
    if key_id.is_empty() {
        return Ok(None);
    }
    let Ok(parsed_id) = Uuid::parse_str(key_id) else {
        tracing::warn!(
            certificate.id = %certificate_id,
            key.id = ?key_id,
            "the event's key_id is not a UUID; storing the certificate without a key"
        );
        return Ok(None);
    };
    let Some(spki) = key_store::public_key(&mut *conn, parsed_id).await? else {
        tracing::warn!(
            certificate.id = %certificate_id,
            key.id = %parsed_id,
            "the event names a key the inventory does not have; \
             storing the certificate without a key"
        );
        return Ok(None);
    };
    match certificate::same_public_key(&spki, &facts.public_key_spki) {
        Ok(true) => Ok(Some(parsed_id)),
        Ok(false) => {
            tracing::warn!(
                certificate.id = %certificate_id,
                key.id = %parsed_id,
                "the certificate's public key is not the key's; \
                 storing the certificate without a key"
            );
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(
                certificate.id = %certificate_id,
                key.id = %parsed_id,
                error = %error,
                "comparing the certificate's public key with the key's failed; storing the \
                 certificate without a key"
            );
            Ok(None)
        }
    }
}

/// Returns the status rule of the certificate's order (see the module documentation). Takes
/// the order's lock, so the OrderStatusChanged consumer cannot change the order's state until
/// the certificate is stored.
async fn status_rule(
    conn: &mut PgConnection,
    issued: &CertificateIssued,
) -> Result<StatusRule, DbError> {
    if issued.order_id.is_empty() {
        return Ok(rule_of(issued, None));
    }
    order_status::lock_order(conn, &issued.order_id).await?;
    let recorded = order_status::recorded_state(conn, &issued.order_id).await?;
    Ok(rule_of(issued, recorded.as_deref()))
}

/// Returns the status rule of the order's `recorded` state when it sets one, else the one of
/// the event's `order_status`.
fn rule_of(issued: &CertificateIssued, recorded: Option<&str>) -> StatusRule {
    let from_event =
        StatusRule::for_order_state(&issued.order_status).unwrap_or(StatusRule::ByValidity);
    recorded
        .and_then(StatusRule::for_order_state)
        .unwrap_or(from_event)
}

fn replaced_id(certificate_id: Uuid, value: &str) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    match Uuid::parse_str(value) {
        Ok(parsed) if parsed == certificate_id => {
            tracing::warn!(
                certificate.id = %certificate_id,
                "the event's replaces_certificate_id names the certificate itself; \
                 storing the certificate without it"
            );
            None
        }
        Ok(parsed) => Some(parsed),
        Err(_) => {
            tracing::warn!(
                certificate.id = %certificate_id,
                replaces_certificate_id = ?value,
                "the event's replaces_certificate_id is not a UUID; \
                 storing the certificate without it"
            );
            None
        }
    }
}

/// Reads the event's `replacement`; an empty or unknown value is logged and read as a renewal.
fn replacement(certificate_id: Uuid, value: &str) -> Replacement {
    Replacement::parse(value).unwrap_or_else(|| {
        tracing::warn!(
            certificate.id = %certificate_id,
            replacement = ?value,
            "the event replaces a certificate without saying \"renewal\" or \"reissue\"; \
             treating it as a renewal"
        );
        Replacement::Renewal
    })
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}
