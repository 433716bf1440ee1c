//! The `certificates` table: inserting a certificate once, following its order's state, its
//! place in the inventory (held, waiting, removed), replacement by renewal or reissue, and
//! reading one. ListCertificates' filtered pages are built in [`crate::search`].

use std::collections::HashSet;

use certitude_platform::db::DbError;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate::{CertificateFacts, length_prefixed_sha256};

/// Outcome of verifying the links of a certificate's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStatus {
    /// Each certificate is signed by the next one.
    Verified,
    /// A certificate is not signed by the next one.
    Broken,
    /// No issuer certificate was given.
    Missing,
}

impl ChainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Verified => "verified",
            ChainStatus::Broken => "broken",
            ChainStatus::Missing => "missing",
        }
    }
}

/// Lifecycle status of a stored certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    Active,
    Expired,
    /// Its order is REVOKED, or a reissue replaced it.
    Revoked,
    /// Its order is SUSPENDED.
    Suspended,
    /// A renewal replaced it.
    Superseded,
}

impl CertificateStatus {
    /// Returns `Expired` once `now` has reached `not_after`, else `Active`.
    pub fn at(not_after: OffsetDateTime, now: OffsetDateTime) -> Self {
        if not_after <= now {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "active",
            CertificateStatus::Expired => "expired",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Suspended => "suspended",
            CertificateStatus::Superseded => "superseded",
        }
    }
}

/// The status that the state of a certificate's order gives the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRule {
    /// The order is REVOKED.
    Revoked,
    /// The order is SUSPENDED.
    Suspended,
    /// The order is ISSUED or EXPIRED: active until `not_after`, expired from then on.
    ByValidity,
}

impl StatusRule {
    /// Returns the rule for a Certitude order state such as `REVOKED`. Returns `None` for an
    /// empty state and for states that do not describe an issued certificate, such as PENDING,
    /// SUPERSEDED, DEACTIVATED or UNKNOWN.
    pub fn for_order_state(state: &str) -> Option<Self> {
        match state {
            "REVOKED" => Some(StatusRule::Revoked),
            "SUSPENDED" => Some(StatusRule::Suspended),
            "ISSUED" | "EXPIRED" => Some(StatusRule::ByValidity),
            _ => None,
        }
    }

    /// Returns the status of a certificate valid until `not_after`, at `now`.
    pub fn status_at(self, not_after: OffsetDateTime, now: OffsetDateTime) -> CertificateStatus {
        match self {
            StatusRule::Revoked => CertificateStatus::Revoked,
            StatusRule::Suspended => CertificateStatus::Suspended,
            StatusRule::ByValidity => CertificateStatus::at(not_after, now),
        }
    }

    /// Returns the status the rule sets regardless of validity, or `None` for `ByValidity`.
    fn fixed_status(self) -> Option<CertificateStatus> {
        match self {
            StatusRule::Revoked => Some(CertificateStatus::Revoked),
            StatusRule::Suspended => Some(CertificateStatus::Suspended),
            StatusRule::ByValidity => None,
        }
    }
}

/// Origin of a certificate in the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// It came with an order id.
    Order,
    /// It came without one.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Order => "order",
            Source::Import => "import",
        }
    }
}

/// Reason a certificate replaces another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// A new order for the same names; the previous certificate stays valid until it expires.
    Renewal,
    /// A new certificate on the same order; Entrust revokes the previous one.
    Reissue,
}

impl Replacement {
    pub fn as_str(self) -> &'static str {
        match self {
            Replacement::Renewal => "renewal",
            Replacement::Reissue => "reissue",
        }
    }

    /// Parses `renewal` or `reissue` as stored and as CertificateIssued carries them.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "renewal" => Some(Replacement::Renewal),
            "reissue" => Some(Replacement::Reissue),
            _ => None,
        }
    }

    /// Returns the status a certificate replaced this way gets: a reissue revokes it, a renewal
    /// supersedes it unless it is revoked already.
    pub fn status_of_replaced(self, current: &str) -> CertificateStatus {
        match self {
            Replacement::Reissue => CertificateStatus::Revoked,
            Replacement::Renewal if current == CertificateStatus::Revoked.as_str() => {
                CertificateStatus::Revoked
            }
            Replacement::Renewal => CertificateStatus::Superseded,
        }
    }
}

/// A certificate's place in the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventoryState {
    /// In the inventory; counted against the license unless superseded.
    Held,
    /// Stored beyond the licensed count, waiting for a slot.
    Waiting,
    /// Taken out of the inventory and kept for reference.
    Removed,
}

impl InventoryState {
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryState::Held => "held",
            InventoryState::Waiting => "waiting",
            InventoryState::Removed => "removed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "held" => Some(InventoryState::Held),
            "waiting" => Some(InventoryState::Waiting),
            "removed" => Some(InventoryState::Removed),
            _ => None,
        }
    }
}

/// Machine-readable reason of a waiting certificate whose license count was reached.
pub const WAITING_LICENSE_LIMIT: &str = "license_limit";

/// A certificate to insert.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub id: Uuid,
    pub order_id: Option<String>,
    pub tracking_id: Option<i64>,
    pub credential_id: Option<String>,
    pub key_id: Option<Uuid>,
    pub replaces_certificate_id: Option<Uuid>,
    /// Reason it replaces `replaces_certificate_id`; `None` when it replaces none.
    pub replacement: Option<Replacement>,
    pub facts: CertificateFacts,
    pub certificate_pem: String,
    /// Issuer certificates in PEM, nearest issuer first.
    pub chain_pem: Vec<String>,
    pub chain_status: ChainStatus,
    pub status: CertificateStatus,
    pub source: Source,
    pub created_at: OffsetDateTime,
}

/// Place of a new certificate in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub state: InventoryState,
    /// Reason and message of a waiting certificate.
    pub waiting: Option<(String, String)>,
    /// The certificate that replaced this one before it arrived.
    pub superseded_by: Option<Uuid>,
}

impl Placement {
    /// Held from the moment it is stored.
    pub fn held() -> Self {
        Self {
            state: InventoryState::Held,
            waiting: None,
            superseded_by: None,
        }
    }
}

/// Result of [`insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted(Box<CertificateRecord>),
    /// A certificate with the same id exists; nothing was written.
    SameId,
    /// The same certificate (SHA-256 fingerprint) exists under another id; nothing was written.
    SameFingerprint {
        existing_id: Uuid,
    },
}

/// The columns of [`CertificateRecord`], in its order, for `SELECT` and `RETURNING` lists.
macro_rules! certificate_columns {
    () => {
        "id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id, subject, \
         common_name, dns_names, issuer, serial_number, not_before, not_after, key_type, \
         key_bits, signature_algorithm, sha256_fingerprint, certificate_pem, \
         coalesce((SELECT shared.chain_pem FROM certificate_chains shared \
                   WHERE shared.digest = chain_digest), chain_pem) AS chain_pem, \
         chain_status, status, source, created_at, replacement, superseded_by, superseded_at, \
         inventory_state, waiting_reason, waiting_message, admitted_at, removed_at, removed_by"
    };
}
pub(crate) use certificate_columns;

/// A stored certificate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CertificateRecord {
    pub id: Uuid,
    pub order_id: Option<String>,
    pub tracking_id: Option<i64>,
    pub credential_id: Option<String>,
    pub key_id: Option<Uuid>,
    pub replaces_certificate_id: Option<Uuid>,
    pub subject: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_type: String,
    pub key_bits: i32,
    pub signature_algorithm: String,
    pub sha256_fingerprint: String,
    pub certificate_pem: String,
    pub chain_pem: Vec<String>,
    pub chain_status: String,
    pub status: String,
    pub source: String,
    pub created_at: OffsetDateTime,
    pub replacement: Option<String>,
    pub superseded_by: Option<Uuid>,
    pub superseded_at: Option<OffsetDateTime>,
    pub inventory_state: String,
    pub waiting_reason: Option<String>,
    pub waiting_message: Option<String>,
    pub admitted_at: Option<OffsetDateTime>,
    pub removed_at: Option<OffsetDateTime>,
    pub removed_by: Option<String>,
}

impl CertificateRecord {
    /// Returns whether the certificate counts against the license: held and not superseded.
    pub fn is_counted(&self) -> bool {
        self.inventory_state == InventoryState::Held.as_str() && self.superseded_by.is_none()
    }

    /// Returns the status readers see at `now`: a certificate stored as active whose
    /// `not_after` has passed is expired.
    pub fn status_at(&self, now: OffsetDateTime) -> &str {
        if self.status == CertificateStatus::Active.as_str() {
            CertificateStatus::at(self.not_after, now).as_str()
        } else {
            &self.status
        }
    }
}

/// Inserts `certificate` at `placement` unless one with its id or fingerprint exists, and
/// returns the stored row.
pub async fn insert(
    conn: &mut PgConnection,
    certificate: &NewCertificate,
    placement: &Placement,
) -> Result<InsertOutcome, DbError> {
    let facts = &certificate.facts;
    let (waiting_reason, waiting_message) = placement.waiting.clone().unzip();
    let held = placement.state == InventoryState::Held;
    let chain_digest = store_chains(&mut *conn, std::slice::from_ref(certificate))
        .await?
        .pop()
        .flatten();
    let inserted: Option<CertificateRecord> = sqlx::query_as(concat!(
        "INSERT INTO certificates (
             id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id, subject,
             common_name, dns_names, issuer, serial_number, not_before, not_after, key_type,
             key_bits, signature_algorithm, sha256_fingerprint, certificate_pem, chain_digest,
             chain_status, status, source, created_at, replacement, superseded_by,
             superseded_at, inventory_state, waiting_reason, waiting_message, admitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23, $24, $25, CASE WHEN $25 IS NULL THEN NULL ELSE $23 END,
                 $26, $27, $28, CASE WHEN $29 THEN $23 END)
         ON CONFLICT DO NOTHING
         RETURNING ",
        certificate_columns!()
    ))
    .bind(certificate.id)
    .bind(&certificate.order_id)
    .bind(certificate.tracking_id)
    .bind(&certificate.credential_id)
    .bind(certificate.key_id)
    .bind(certificate.replaces_certificate_id)
    .bind(&facts.subject)
    .bind(&facts.common_name)
    .bind(&facts.dns_names)
    .bind(&facts.issuer)
    .bind(&facts.serial_number)
    .bind(facts.not_before)
    .bind(facts.not_after)
    .bind(&facts.key_type)
    .bind(i32::try_from(facts.key_bits).unwrap_or(0))
    .bind(&facts.signature_algorithm)
    .bind(&facts.sha256_fingerprint)
    .bind(&certificate.certificate_pem)
    .bind(chain_digest)
    .bind(certificate.chain_status.as_str())
    .bind(certificate.status.as_str())
    .bind(certificate.source.as_str())
    .bind(certificate.created_at)
    .bind(certificate.replacement.map(Replacement::as_str))
    .bind(placement.superseded_by)
    .bind(placement.state.as_str())
    .bind(waiting_reason)
    .bind(waiting_message)
    .bind(held)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(record) = inserted {
        return Ok(InsertOutcome::Inserted(Box::new(record)));
    }

    let existing_id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM certificates WHERE sha256_fingerprint = $1")
            .bind(&facts.sha256_fingerprint)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match existing_id {
        Some(existing_id) if existing_id != certificate.id => {
            InsertOutcome::SameFingerprint { existing_id }
        }
        _ => InsertOutcome::SameId,
    })
}

/// Returns the key of the issuer chain `chain_pem` in `certificate_chains`: the SHA-256 over its
/// PEM texts, each preceded by its length. `None` for an empty chain, which is not stored.
pub fn chain_digest(chain_pem: &[String]) -> Option<Vec<u8>> {
    (!chain_pem.is_empty()).then(|| length_prefixed_sha256(chain_pem).to_vec())
}

/// Stores the issuer chains of `certificates` that `certificate_chains` lacks, each once, and
/// returns each certificate's chain key in order (see [`chain_digest`]).
async fn store_chains(
    conn: &mut PgConnection,
    certificates: &[NewCertificate],
) -> Result<Vec<Option<Vec<u8>>>, DbError> {
    let digests: Vec<Option<Vec<u8>>> = certificates
        .iter()
        .map(|certificate| chain_digest(&certificate.chain_pem))
        .collect();
    let mut distinct: Vec<&[u8]> = Vec::new();
    let mut chains = Vec::new();
    for (digest, certificate) in digests.iter().zip(certificates) {
        if let Some(digest) = digest
            && !distinct.contains(&digest.as_slice())
        {
            distinct.push(digest);
            chains.push(serde_json::Value::from(certificate.chain_pem.clone()).to_string());
        }
    }
    if !distinct.is_empty() {
        // Postgres arrays are rectangular, so each chain travels as one JSON array.
        sqlx::query(
            "INSERT INTO certificate_chains (digest, chain_pem)
             SELECT digest, ARRAY(SELECT jsonb_array_elements_text(chain::jsonb))
             FROM unnest($1::bytea[], $2::text[]) AS new (digest, chain)
             ON CONFLICT DO NOTHING",
        )
        .bind(&distinct)
        .bind(&chains)
        .execute(&mut *conn)
        .await?;
    }
    Ok(digests)
}

/// Inserts `certificates` as held with one statement, leaving out each one whose id or
/// fingerprint is stored already, and returns the rows inserted.
pub async fn insert_held_many(
    conn: &mut PgConnection,
    certificates: &[NewCertificate],
) -> Result<Vec<CertificateRecord>, DbError> {
    // Postgres arrays are rectangular, so each row's lists travel as one JSON array.
    let json_list = |values: &[String]| serde_json::Value::from(values.to_vec()).to_string();
    let text = |value: fn(&NewCertificate) -> Option<&str>| -> Vec<Option<&str>> {
        certificates.iter().map(value).collect()
    };
    let facts = |value: fn(&CertificateFacts) -> &str| -> Vec<&str> {
        certificates.iter().map(|c| value(&c.facts)).collect()
    };
    let chain_digests = store_chains(&mut *conn, certificates).await?;
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO certificates (
             id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id, subject,
             common_name, dns_names, issuer, serial_number, not_before, not_after, key_type,
             key_bits, signature_algorithm, sha256_fingerprint, certificate_pem, chain_digest,
             chain_status, status, source, created_at, replacement, inventory_state, admitted_at)
         SELECT id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id,
                subject, common_name, ARRAY(SELECT jsonb_array_elements_text(dns_names::jsonb)),
                issuer, serial_number, not_before, not_after, key_type, key_bits,
                signature_algorithm, sha256_fingerprint, certificate_pem, chain_digest,
                chain_status, status, source, created_at, replacement, 'held', created_at
         FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::uuid[], $6::uuid[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::timestamptz[], $13::timestamptz[], $14::text[], $15::int[],
                     $16::text[], $17::text[], $18::text[], $19::bytea[], $20::text[],
                     $21::text[], $22::text[], $23::timestamptz[], $24::text[])
              AS new (id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id,
                      subject, common_name, dns_names, issuer, serial_number, not_before,
                      not_after, key_type, key_bits, signature_algorithm, sha256_fingerprint,
                      certificate_pem, chain_digest, chain_status, status, source, created_at,
                      replacement)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(certificates.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(text(|c| c.order_id.as_deref()))
    .bind(
        certificates
            .iter()
            .map(|c| c.tracking_id)
            .collect::<Vec<_>>(),
    )
    .bind(text(|c| c.credential_id.as_deref()))
    .bind(certificates.iter().map(|c| c.key_id).collect::<Vec<_>>())
    .bind(
        certificates
            .iter()
            .map(|c| c.replaces_certificate_id)
            .collect::<Vec<_>>(),
    )
    .bind(facts(|f| &f.subject))
    .bind(text(|c| c.facts.common_name.as_deref()))
    .bind(
        certificates
            .iter()
            .map(|c| json_list(&c.facts.dns_names))
            .collect::<Vec<_>>(),
    )
    .bind(facts(|f| &f.issuer))
    .bind(facts(|f| &f.serial_number))
    .bind(
        certificates
            .iter()
            .map(|c| c.facts.not_before)
            .collect::<Vec<_>>(),
    )
    .bind(
        certificates
            .iter()
            .map(|c| c.facts.not_after)
            .collect::<Vec<_>>(),
    )
    .bind(facts(|f| &f.key_type))
    .bind(
        certificates
            .iter()
            .map(|c| i32::try_from(c.facts.key_bits).unwrap_or(0))
            .collect::<Vec<_>>(),
    )
    .bind(facts(|f| &f.signature_algorithm))
    .bind(facts(|f| &f.sha256_fingerprint))
    .bind(text(|c| Some(&c.certificate_pem)))
    .bind(&chain_digests)
    .bind(text(|c| Some(c.chain_status.as_str())))
    .bind(text(|c| Some(c.status.as_str())))
    .bind(text(|c| Some(c.source.as_str())))
    .bind(
        certificates
            .iter()
            .map(|c| c.created_at)
            .collect::<Vec<_>>(),
    )
    .bind(text(|c| c.replacement.map(Replacement::as_str)))
    .fetch_all(&mut *conn)
    .await?;
    // The rows hold exactly what was inserted, so they are not read back. Of two certificates
    // with one id, the first was inserted.
    let mut inserted: HashSet<Uuid> = inserted.into_iter().collect();
    Ok(certificates
        .iter()
        .filter(|certificate| inserted.remove(&certificate.id))
        .map(held_record)
        .collect())
}

/// Returns the row [`insert_held_many`] writes for `certificate`.
fn held_record(certificate: &NewCertificate) -> CertificateRecord {
    let facts = &certificate.facts;
    // Postgres keeps whole microseconds.
    let created_at = certificate
        .created_at
        .replace_nanosecond(certificate.created_at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(certificate.created_at);
    CertificateRecord {
        id: certificate.id,
        order_id: certificate.order_id.clone(),
        tracking_id: certificate.tracking_id,
        credential_id: certificate.credential_id.clone(),
        key_id: certificate.key_id,
        replaces_certificate_id: certificate.replaces_certificate_id,
        subject: facts.subject.clone(),
        common_name: facts.common_name.clone(),
        dns_names: facts.dns_names.clone(),
        issuer: facts.issuer.clone(),
        serial_number: facts.serial_number.clone(),
        not_before: facts.not_before,
        not_after: facts.not_after,
        key_type: facts.key_type.clone(),
        key_bits: i32::try_from(facts.key_bits).unwrap_or(0),
        signature_algorithm: facts.signature_algorithm.clone(),
        sha256_fingerprint: facts.sha256_fingerprint.clone(),
        certificate_pem: certificate.certificate_pem.clone(),
        chain_pem: certificate.chain_pem.clone(),
        chain_status: certificate.chain_status.as_str().to_owned(),
        status: certificate.status.as_str().to_owned(),
        source: certificate.source.as_str().to_owned(),
        created_at,
        replacement: certificate.replacement.map(|r| r.as_str().to_owned()),
        superseded_by: None,
        superseded_at: None,
        inventory_state: InventoryState::Held.as_str().to_owned(),
        waiting_reason: None,
        waiting_message: None,
        admitted_at: Some(created_at),
        removed_at: None,
        removed_by: None,
    }
}

/// Returns whether a stored certificate replaces one of `ids`.
pub async fn any_replaces(conn: &mut PgConnection, ids: &[Uuid]) -> Result<bool, DbError> {
    // Counting in a materialized CTE keeps Postgres on the partial index, as in
    // `find_replacement_of`.
    let count: i64 = sqlx::query_scalar(
        "WITH candidates AS MATERIALIZED (
             SELECT id FROM certificates WHERE replaces_certificate_id = ANY($1))
         SELECT count(*) FROM candidates",
    )
    .bind(ids)
    .fetch_one(&mut *conn)
    .await?;
    Ok(count > 0)
}

/// Returns the ids of the stored certificates with one of `fingerprints`, by fingerprint.
pub async fn ids_by_fingerprint(
    conn: &mut PgConnection,
    fingerprints: &[&str],
) -> Result<Vec<(String, Uuid)>, DbError> {
    let ids = sqlx::query_as(
        "SELECT sha256_fingerprint, id FROM certificates WHERE sha256_fingerprint = ANY($1)",
    )
    .bind(fingerprints)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids)
}

/// Applies `rule` at `now` to every certificate of order `order_id` and returns how many
/// changed status.
///
/// A superseded certificate (one with `superseded_by`) keeps its status unless the rule
/// revokes it: the order's later states describe its replacement, which for a reissue shares
/// the order.
pub async fn apply_order_rule(
    conn: &mut PgConnection,
    order_id: &str,
    rule: StatusRule,
    now: OffsetDateTime,
) -> Result<u64, DbError> {
    let fixed = rule.fixed_status().map(CertificateStatus::as_str);
    let changed = sqlx::query(
        "UPDATE certificates
         SET status = CASE
                 WHEN superseded_by IS NOT NULL AND $2 IS DISTINCT FROM 'revoked' THEN status
                 ELSE COALESCE($2, CASE WHEN not_after <= $3 THEN 'expired' ELSE 'active' END)
             END
         WHERE order_id = $1
           AND status <> CASE
                 WHEN superseded_by IS NOT NULL AND $2 IS DISTINCT FROM 'revoked' THEN status
                 ELSE COALESCE($2, CASE WHEN not_after <= $3 THEN 'expired' ELSE 'active' END)
             END",
    )
    .bind(order_id)
    .bind(fixed)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed)
}

/// Returns certificate `id`, if it exists.
pub async fn get(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<CertificateRecord>, DbError> {
    let record = sqlx::query_as(concat!(
        "SELECT ",
        certificate_columns!(),
        " FROM certificates WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Returns certificate `id` locked until the transaction ends, if it exists.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<CertificateRecord>, DbError> {
    let record = sqlx::query_as(concat!(
        "SELECT ",
        certificate_columns!(),
        " FROM certificates WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record)
}

/// Returns the current certificate of order `order_id`: one that is neither removed nor
/// superseded when there is one, else the newest.
pub async fn get_by_order(
    executor: impl PgExecutor<'_>,
    order_id: &str,
) -> Result<Option<CertificateRecord>, DbError> {
    let record = sqlx::query_as(concat!(
        "SELECT ",
        certificate_columns!(),
        " FROM certificates WHERE order_id = $1
          ORDER BY inventory_state = 'removed', superseded_by IS NOT NULL,
                   created_at DESC, id DESC
          LIMIT 1"
    ))
    .bind(order_id)
    .fetch_optional(executor)
    .await?;
    Ok(record)
}

/// Returns the certificate stored earlier that replaces `id`, if any: its replacement
/// arrived first.
pub async fn find_replacement_of(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<CertificateRecord>, DbError> {
    // The CTE filters by the partial index on replaces_certificate_id before sorting. Written
    // as a plain ORDER BY ... LIMIT 1, Postgres without fresh statistics (during a bulk import,
    // or with autovacuum off) walks the (created_at, id) index and filters every row instead,
    // so each stored certificate costs a scan of the whole table.
    let record = sqlx::query_as(concat!(
        "WITH candidates AS MATERIALIZED (SELECT ",
        certificate_columns!(),
        " FROM certificates WHERE replaces_certificate_id = $1)
          SELECT * FROM candidates
          ORDER BY created_at, id
          LIMIT 1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record)
}

/// Marks certificate `id` replaced by `successor_id` with `status`. A waiting certificate
/// leaves the queue and is kept as held history, which the license does not count.
pub async fn mark_superseded(
    conn: &mut PgConnection,
    id: Uuid,
    successor_id: Uuid,
    status: CertificateStatus,
    now: OffsetDateTime,
) -> Result<CertificateRecord, DbError> {
    let record = sqlx::query_as(concat!(
        "UPDATE certificates
         SET superseded_by = $2, superseded_at = $4, status = $3,
             inventory_state = CASE WHEN inventory_state = 'waiting' THEN 'held'
                                    ELSE inventory_state END,
             waiting_reason = NULL, waiting_message = NULL
         WHERE id = $1
         RETURNING ",
        certificate_columns!()
    ))
    .bind(id)
    .bind(successor_id)
    .bind(status.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(record)
}

/// Marks certificate `id` removed by `actor` at `now` and returns it.
pub async fn mark_removed(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Option<&str>,
    now: OffsetDateTime,
) -> Result<CertificateRecord, DbError> {
    let record = sqlx::query_as(concat!(
        "UPDATE certificates
         SET inventory_state = 'removed', removed_at = $2, removed_by = $3,
             waiting_reason = NULL, waiting_message = NULL
         WHERE id = $1
         RETURNING ",
        certificate_columns!()
    ))
    .bind(id)
    .bind(now)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    Ok(record)
}

/// Moves up to `limit` waiting certificates, oldest first, into the held inventory at `now`
/// and returns them. Call it under the license lock.
pub async fn admit_oldest_waiting(
    conn: &mut PgConnection,
    limit: Option<i64>,
    now: OffsetDateTime,
) -> Result<Vec<CertificateRecord>, DbError> {
    let mut records: Vec<CertificateRecord> = sqlx::query_as(concat!(
        "UPDATE certificates
         SET inventory_state = 'held', admitted_at = $2, waiting_reason = NULL,
             waiting_message = NULL
         WHERE id IN (
             SELECT id FROM certificates
             WHERE inventory_state = 'waiting'
             ORDER BY created_at, id
             LIMIT $1
             FOR UPDATE
         )
         RETURNING ",
        certificate_columns!()
    ))
    .bind(limit)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    // RETURNING lists rows in no defined order.
    records.sort_by_key(|record| (record.created_at, record.id));
    Ok(records)
}
