//! Storing the domains Entrust listed.

use entrust::model::Domain;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{KindCounts, client_id, mark_removed, to_micros};
use crate::catalog::CatalogKind;
use crate::catalog::diff::{Comparison, Stored};

type DomainKey = (String, Option<i64>);

/// The compared fields of a domain: verification method and status, OV and EV eligibility and
/// expiry.
type DomainFields = (
    Option<String>,
    String,
    Option<bool>,
    Option<OffsetDateTime>,
    Option<bool>,
    Option<OffsetDateTime>,
);

#[derive(sqlx::FromRow)]
struct DomainRow {
    id: i64,
    name: String,
    client_id: Option<i64>,
    verification_method: Option<String>,
    verification_status: String,
    ov_eligible: Option<bool>,
    ov_expiry: Option<OffsetDateTime>,
    ev_eligible: Option<bool>,
    ev_expiry: Option<OffsetDateTime>,
    removed: bool,
}

fn domain_fields(d: &Domain) -> DomainFields {
    (
        d.verification_method
            .as_ref()
            .map(|method| method.as_str().to_owned()),
        d.verification_status.as_str().to_owned(),
        d.ov_eligible,
        to_micros(d.ov_expiry),
        d.ev_eligible,
        to_micros(d.ev_expiry),
    )
}

/// The columns of some domains, as parallel arrays.
struct DomainColumns<'a> {
    methods: Vec<Option<&'a str>>,
    statuses: Vec<&'a str>,
    ov_eligible: Vec<Option<bool>>,
    ov_expiry: Vec<Option<OffsetDateTime>>,
    ev_eligible: Vec<Option<bool>>,
    ev_expiry: Vec<Option<OffsetDateTime>>,
}

impl<'a> DomainColumns<'a> {
    fn of(domains: impl Iterator<Item = &'a Domain>) -> Self {
        let mut columns = Self {
            methods: Vec::new(),
            statuses: Vec::new(),
            ov_eligible: Vec::new(),
            ov_expiry: Vec::new(),
            ev_eligible: Vec::new(),
            ev_expiry: Vec::new(),
        };
        for d in domains {
            columns
                .methods
                .push(d.verification_method.as_ref().map(|method| method.as_str()));
            columns.statuses.push(d.verification_status.as_str());
            columns.ov_eligible.push(d.ov_eligible);
            columns.ov_expiry.push(to_micros(d.ov_expiry));
            columns.ev_eligible.push(d.ev_eligible);
            columns.ev_expiry.push(to_micros(d.ev_expiry));
        }
        columns
    }
}

/// Stores the domains as the credential's current ones at `now`.
pub async fn apply_domains(
    conn: &mut PgConnection,
    credential_id: Uuid,
    domains: &[Domain],
    now: OffsetDateTime,
) -> Result<KindCounts, sqlx::Error> {
    let mut writer = DomainWriter::start(conn, credential_id, now).await?;
    writer.write(conn, domains).await?;
    writer.finish(conn).await
}

/// Stores the domains Entrust lists a chunk at a time, so that a sync writes one page while
/// it fetches the next. Each domain may appear in one chunk only, as the adapter's domain
/// stream guarantees. All chunks belong on one connection inside one transaction.
pub struct DomainWriter {
    credential_id: Uuid,
    now: OffsetDateTime,
    comparison: Comparison<DomainKey, DomainFields>,
    counts: KindCounts,
}

impl DomainWriter {
    /// Reads the credential's stored domains to compare the listed ones with.
    pub async fn start(
        conn: &mut PgConnection,
        credential_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Self, sqlx::Error> {
        let rows: Vec<DomainRow> = sqlx::query_as(
            "SELECT id, name, client_id, verification_method, verification_status, ov_eligible,
                    ov_expiry, ev_eligible, ev_expiry, removed_at IS NOT NULL AS removed
             FROM domains WHERE credential_id = $1",
        )
        .bind(credential_id)
        .fetch_all(&mut *conn)
        .await?;
        let stored = rows.into_iter().map(|row| Stored {
            id: row.id,
            key: (row.name, row.client_id),
            fields: (
                row.verification_method,
                row.verification_status,
                row.ov_eligible,
                row.ov_expiry,
                row.ev_eligible,
                row.ev_expiry,
            ),
            removed: row.removed,
        });
        Ok(Self {
            credential_id,
            now,
            comparison: Comparison::new(stored.collect()),
            counts: KindCounts::default(),
        })
    }

    /// Writes the difference between one chunk of listed domains and the stored ones.
    pub async fn write(
        &mut self,
        conn: &mut PgConnection,
        domains: &[Domain],
    ) -> Result<(), sqlx::Error> {
        let credential_id = self.credential_id;
        let now = self.now;
        let changes = self.comparison.next_chunk(
            domains,
            |d| -> DomainKey { (d.name.clone(), client_id(d.client_id)) },
            domain_fields,
        );
        if !changes.inserted.is_empty() {
            let entries = &changes.inserted;
            let names: Vec<&str> = entries.iter().map(|d| d.name.as_str()).collect();
            let client_ids: Vec<Option<i64>> =
                entries.iter().map(|d| client_id(d.client_id)).collect();
            let columns = DomainColumns::of(entries.iter().copied());
            sqlx::query(
                "INSERT INTO domains (credential_id, name, client_id, verification_method,
                                      verification_status, ov_eligible, ov_expiry, ev_eligible,
                                      ev_expiry, first_seen_at, updated_at)
                 SELECT $1, entry.*, $10, $10
                 FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::boolean[],
                             $7::timestamptz[], $8::boolean[], $9::timestamptz[])
                     AS entry (name, client_id, verification_method, verification_status,
                               ov_eligible, ov_expiry, ev_eligible, ev_expiry)",
            )
            .bind(credential_id)
            .bind(&names)
            .bind(&client_ids)
            .bind(&columns.methods)
            .bind(&columns.statuses)
            .bind(&columns.ov_eligible)
            .bind(&columns.ov_expiry)
            .bind(&columns.ev_eligible)
            .bind(&columns.ev_expiry)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        if !changes.updated.is_empty() {
            let ids: Vec<i64> = changes.updated.iter().map(|(id, _)| *id).collect();
            let columns = DomainColumns::of(changes.updated.iter().map(|(_, d)| *d));
            sqlx::query(
                "UPDATE domains AS d
                 SET verification_method = entry.verification_method,
                     verification_status = entry.verification_status,
                     ov_eligible = entry.ov_eligible,
                     ov_expiry = entry.ov_expiry,
                     ev_eligible = entry.ev_eligible,
                     ev_expiry = entry.ev_expiry,
                     updated_at = $8,
                     removed_at = NULL
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::boolean[],
                             $5::timestamptz[], $6::boolean[], $7::timestamptz[])
                     AS entry (id, verification_method, verification_status, ov_eligible,
                               ov_expiry, ev_eligible, ev_expiry)
                 WHERE d.id = entry.id",
            )
            .bind(&ids)
            .bind(&columns.methods)
            .bind(&columns.statuses)
            .bind(&columns.ov_eligible)
            .bind(&columns.ov_expiry)
            .bind(&columns.ev_eligible)
            .bind(&columns.ev_expiry)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        self.counts.add(KindCounts::new(domains.len(), &changes));
        Ok(())
    }

    /// Marks the stored domains that no chunk listed as removed and returns the counts.
    pub async fn finish(self, conn: &mut PgConnection) -> Result<KindCounts, sqlx::Error> {
        let removed = self.comparison.finish();
        mark_removed(conn, CatalogKind::Domains, &removed, self.now).await?;
        let mut counts = self.counts;
        counts.removed = u32::try_from(removed.len()).unwrap_or(u32::MAX);
        Ok(counts)
    }
}
