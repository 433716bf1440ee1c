//! ListCertificates and GetCertificate at the gRPC edge: argument checks, paging, and the
//! conversion of stored rows to protobuf messages.

use certitude_platform::db::DbError;
use certitude_proto::inventory::v1 as proto;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Status;
use uuid::Uuid;

use super::page_token;
use super::status::{internal, invalid, unavailable};
use crate::certificate_store::{self, CertificateRecord, CertificateStatus, Position};

/// Page size when the request sends 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page; larger requests are lowered to it.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Returns one page of certificates, newest first.
pub async fn list(
    pool: &PgPool,
    now: OffsetDateTime,
    request: proto::ListCertificatesRequest,
) -> Result<proto::ListCertificatesResponse, Status> {
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    };
    let after = match request.page_token.as_str() {
        "" => None,
        token => Some(page_token::decode(token).ok_or_else(|| {
            invalid(
                "page_token",
                "is not a token from a previous page: pass next_page_token unchanged",
            )
        })?),
    };

    // Fetching one row more than the page size shows whether another page follows.
    let mut records = certificate_store::list_page(pool, after, page_size + 1)
        .await
        .map_err(db_status)?;
    let next_page_token = if records.len() > page_size as usize {
        records.truncate(page_size as usize);
        records
            .last()
            .map(|last| {
                page_token::encode(Position {
                    created_at: last.created_at,
                    id: last.id,
                })
            })
            .unwrap_or_default()
    } else {
        String::new()
    };

    Ok(proto::ListCertificatesResponse {
        certificates: records
            .into_iter()
            .map(|record| to_proto(record, now))
            .collect(),
        next_page_token,
    })
}

/// Returns one certificate; NOT_FOUND when the id is unknown.
pub async fn get(
    pool: &PgPool,
    now: OffsetDateTime,
    request: proto::GetCertificateRequest,
) -> Result<proto::Certificate, Status> {
    let id = Uuid::parse_str(request.id.trim()).map_err(|_| {
        invalid(
            "id",
            format!("{:?} is not a certificate id: pass a UUID", request.id),
        )
    })?;
    let record = certificate_store::get(pool, id)
        .await
        .map_err(db_status)?
        .ok_or_else(|| Status::not_found(format!("certificate {id} not found")))?;
    Ok(to_proto(record, now))
}

fn db_status(error: DbError) -> Status {
    if error.is_unavailable() {
        unavailable(&error)
    } else {
        internal(&error)
    }
}

/// Converts a stored certificate; one stored as active whose `not_after` has passed by `now` is
/// reported as expired.
pub fn to_proto(record: CertificateRecord, now: OffsetDateTime) -> proto::Certificate {
    let status = if record.status == CertificateStatus::Active.as_str() {
        CertificateStatus::at(record.not_after, now)
            .as_str()
            .to_owned()
    } else {
        record.status
    };
    proto::Certificate {
        id: record.id.to_string(),
        subject: record.subject,
        dns_names: record.dns_names,
        issuer: record.issuer,
        serial_number: record.serial_number,
        not_before: rfc3339(record.not_before),
        not_after: rfc3339(record.not_after),
        key_type: record.key_type,
        sha256_fingerprint: record.sha256_fingerprint,
        key_id: record.key_id.map(|id| id.to_string()).unwrap_or_default(),
        order_id: record.order_id.unwrap_or_default(),
        certificate_pem: record.certificate_pem,
        chain_pem: record.chain_pem,
        status,
        common_name: record.common_name.unwrap_or_default(),
        credential_id: record.credential_id.unwrap_or_default(),
        tracking_id: record.tracking_id.unwrap_or_default(),
        source: record.source,
        key_bits: u32::try_from(record.key_bits).unwrap_or(0),
        signature_algorithm: record.signature_algorithm,
        created_at: rfc3339(record.created_at),
        chain_status: record.chain_status,
        replaces_certificate_id: record
            .replaces_certificate_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

fn rfc3339(instant: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0..=9999. X.509 times have four-digit years, and
    // the clock would have to be set outside them.
    instant.format(&Rfc3339).unwrap_or_default()
}
