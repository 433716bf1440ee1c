//! ListCertificates, GetCertificate and RemoveCertificate at the gRPC edge: argument checks
//! with field-named messages, and the conversion of stored rows to protobuf messages.

use certitude_proto::inventory::v1 as proto;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Status;
use uuid::Uuid;

use super::status::{db_status, invalid, lifecycle_status};
use crate::certificate_store::{self, CertificateRecord, InventoryState, Source};
use crate::lifecycle::Lifecycle;
use crate::search::{
    self, CertificateFilter, Cursor, Direction, KeyType, Sort, SortField, StateFilter,
    StatusFilter, TokenError,
};

/// Page size when the request sends 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page; larger requests are lowered to it.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Maximum length of the `query` and `issuer` filters, in characters.
pub const MAX_FILTER_TEXT_LEN: usize = 255;
/// Largest `expiring_within_days`: ten years.
pub const MAX_EXPIRING_WITHIN_DAYS: u32 = 3650;

/// A validated ListCertificates request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: CertificateFilter,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub page_size: u32,
}

/// Returns one page of certificates.
pub async fn list(
    pool: &PgPool,
    now: OffsetDateTime,
    request: proto::ListCertificatesRequest,
) -> Result<proto::ListCertificatesResponse, Status> {
    let query = validate_list(request)?;
    let page = search::list_page(
        pool,
        &query.filter,
        query.sort,
        query.after.as_ref(),
        now,
        query.page_size,
    )
    .await
    .map_err(db_status)?;
    Ok(proto::ListCertificatesResponse {
        certificates: page
            .certificates
            .into_iter()
            .map(|record| to_proto(record, now))
            .collect(),
        next_page_token: page
            .next
            .map(|cursor| cursor.to_token())
            .unwrap_or_default(),
    })
}

/// Checks every field of a ListCertificates request and returns the query it requests.
pub fn validate_list(request: proto::ListCertificatesRequest) -> Result<ListQuery, Status> {
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    };
    let filter = CertificateFilter {
        text: filter_text("query", &request.query)?,
        issuer: filter_text("issuer", &request.issuer)?,
        statuses: statuses(&request.status)?,
        expiring_within_days: expiring_within_days(request.expiring_within_days)?,
        key_type: key_type(&request.key_type)?,
        source: source(&request.source)?,
        credential_id: credential_id(&request.credential_id)?,
        inventory_state: inventory_state(&request.inventory_state)?,
    };
    let sort = sort(request.sort, request.order)?;
    let after = match request.page_token.as_str() {
        "" => None,
        token => Some(
            Cursor::from_token(token, sort, &filter).map_err(|error| match error {
                TokenError::Malformed => invalid(
                    "page_token",
                    "is not a token from a previous page: pass next_page_token unchanged",
                ),
                TokenError::OtherQuery => invalid(
                    "page_token",
                    "belongs to a list with other filters or another sort: repeat the first \
                     page's filters and sort, or start again without a page token",
                ),
            })?,
        ),
    };
    Ok(ListQuery {
        filter,
        sort,
        after,
        page_size,
    })
}

fn filter_text(field: &str, value: &str) -> Result<Option<String>, Status> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let length = text.chars().count();
    if length > MAX_FILTER_TEXT_LEN {
        return Err(invalid(
            field,
            format!("is {length} characters long: use at most {MAX_FILTER_TEXT_LEN}"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "contains a control character: search for printable text",
        ));
    }
    Ok(Some(text.to_owned()))
}

fn statuses(values: &[String]) -> Result<Vec<StatusFilter>, Status> {
    let mut statuses = Vec::with_capacity(values.len());
    for value in values {
        let status = StatusFilter::parse(value.trim()).ok_or_else(|| {
            invalid(
                "status",
                format!(
                    "{value:?} is not a certificate status: use active, expired, revoked, \
                     suspended or superseded"
                ),
            )
        })?;
        statuses.push(status);
    }
    statuses.sort_unstable();
    statuses.dedup();
    Ok(statuses)
}

fn expiring_within_days(value: Option<u32>) -> Result<Option<u32>, Status> {
    match value {
        None => Ok(None),
        Some(days) if (1..=MAX_EXPIRING_WITHIN_DAYS).contains(&days) => Ok(Some(days)),
        Some(days) => Err(invalid(
            "expiring_within_days",
            format!("{days} is out of range: use 1 to {MAX_EXPIRING_WITHIN_DAYS} days"),
        )),
    }
}

fn key_type(value: &str) -> Result<Option<KeyType>, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    KeyType::parse(value).map(Some).ok_or_else(|| {
        invalid(
            "key_type",
            format!("{value:?} is not a key type: use RSA, EC or OTHER"),
        )
    })
}

fn source(value: &str) -> Result<Option<Source>, Status> {
    match value.trim() {
        "" => Ok(None),
        "order" => Ok(Some(Source::Order)),
        "import" => Ok(Some(Source::Import)),
        other => Err(invalid(
            "source",
            format!("{other:?} is not a source: use order or import"),
        )),
    }
}

fn credential_id(value: &str) -> Result<Option<Uuid>, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value).map(Some).map_err(|_| {
        invalid(
            "credential_id",
            format!("{value:?} is not a credential id: pass a UUID"),
        )
    })
}

fn inventory_state(value: &str) -> Result<StateFilter, Status> {
    match value.trim() {
        "" => Ok(StateFilter::Held),
        "any" => Ok(StateFilter::Any),
        other => InventoryState::parse(other)
            .map(StateFilter::Only)
            .ok_or_else(|| {
                invalid(
                    "inventory_state",
                    format!(
                        "{other:?} is not an inventory state: use held, waiting, removed or any"
                    ),
                )
            }),
    }
}

fn sort(sort: i32, order: i32) -> Result<Sort, Status> {
    let field = match proto::CertificateSort::try_from(sort) {
        Ok(proto::CertificateSort::Unspecified | proto::CertificateSort::CreatedAt) => {
            SortField::CreatedAt
        }
        Ok(proto::CertificateSort::NotAfter) => SortField::NotAfter,
        Ok(proto::CertificateSort::CommonName) => SortField::CommonName,
        Err(_) => {
            return Err(invalid(
                "sort",
                format!("{sort} is not a sort: use CREATED_AT, NOT_AFTER or COMMON_NAME"),
            ));
        }
    };
    let direction = match proto::SortOrder::try_from(order) {
        Ok(proto::SortOrder::Unspecified) => field.default_direction(),
        Ok(proto::SortOrder::Ascending) => Direction::Ascending,
        Ok(proto::SortOrder::Descending) => Direction::Descending,
        Err(_) => {
            return Err(invalid(
                "order",
                format!("{order} is not an order: use ASCENDING or DESCENDING"),
            ));
        }
    };
    Ok(Sort { field, direction })
}

/// Returns one certificate by id or the current certificate of an order; NOT_FOUND when
/// there is none.
pub async fn get(
    pool: &PgPool,
    now: OffsetDateTime,
    request: proto::GetCertificateRequest,
) -> Result<proto::Certificate, Status> {
    let id = request.id.trim();
    let order_id = request.order_id.trim();
    let record = match (id.is_empty(), order_id.is_empty()) {
        (false, true) => {
            let id = parse_certificate_id("id", id)?;
            certificate_store::get(pool, id)
                .await
                .map_err(db_status)?
                .ok_or_else(|| Status::not_found(format!("certificate {id} not found")))?
        }
        (true, false) => certificate_store::get_by_order(pool, order_id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "order {order_id:?} has no certificate in the inventory"
                ))
            })?,
        (true, true) => {
            return Err(invalid(
                "id",
                "is empty: pass a certificate id, or an order id in order_id",
            ));
        }
        (false, false) => {
            return Err(invalid(
                "order_id",
                "is set together with id: pass only one of them",
            ));
        }
    };
    Ok(to_proto(record, now))
}

/// Removes a certificate from the inventory; NOT_FOUND when the id is unknown.
pub async fn remove(
    pool: &PgPool,
    lifecycle: &Lifecycle,
    now: OffsetDateTime,
    request: proto::RemoveCertificateRequest,
) -> Result<proto::Certificate, Status> {
    let id = parse_certificate_id("id", request.id.trim())?;
    let actor = non_empty(&request.actor);
    let mut tx = pool
        .begin()
        .await
        .map_err(|error| db_status(error.into()))?;
    let record = lifecycle
        .remove(&mut tx, id, actor, now)
        .await
        .map_err(lifecycle_status)?
        .ok_or_else(|| Status::not_found(format!("certificate {id} not found")))?;
    tx.commit().await.map_err(|error| db_status(error.into()))?;
    Ok(to_proto(record, now))
}

/// Parses a certificate id, naming `field` when it is not a UUID.
pub fn parse_certificate_id(field: &str, value: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        invalid(
            field,
            format!("{value:?} is not a certificate id: pass a UUID"),
        )
    })
}

/// Returns `value` unless it is empty.
pub fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

/// Converts a stored certificate; one stored as active whose `not_after` has passed by `now` is
/// reported as expired.
pub fn to_proto(record: CertificateRecord, now: OffsetDateTime) -> proto::Certificate {
    let status = record.status_at(now).to_owned();
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
        replacement: record.replacement.unwrap_or_default(),
        superseded_by: record
            .superseded_by
            .map(|id| id.to_string())
            .unwrap_or_default(),
        inventory_state: record.inventory_state,
        waiting_reason: record.waiting_reason.unwrap_or_default(),
        waiting_message: record.waiting_message.unwrap_or_default(),
        admitted_at: record.admitted_at.map(rfc3339).unwrap_or_default(),
        removed_at: record.removed_at.map(rfc3339).unwrap_or_default(),
    }
}

/// Formats a time as RFC 3339.
pub fn rfc3339(instant: OffsetDateTime) -> String {
    // Formatting fails only for years outside 0..=9999. X.509 times have four-digit years, and
    // the clock would have to be set outside them.
    instant.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected_field(request: proto::ListCertificatesRequest) -> String {
        let status = validate_list(request).expect_err("the request is invalid");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status
            .message()
            .split_once(": ")
            .map(|(field, _)| field.to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn empty_request_lists_held_newest_first() {
        let query = validate_list(proto::ListCertificatesRequest::default()).unwrap();

        assert_eq!(query.filter, CertificateFilter::default());
        assert_eq!(query.sort, Sort::default());
        assert_eq!(query.page_size, DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn filters_are_normalized() {
        let query = validate_list(proto::ListCertificatesRequest {
            query: "  Shop.Example ".to_owned(),
            status: vec![
                "revoked".to_owned(),
                "active".to_owned(),
                "revoked".to_owned(),
            ],
            key_type: "ec".to_owned(),
            inventory_state: "waiting".to_owned(),
            sort: proto::CertificateSort::NotAfter.into(),
            ..proto::ListCertificatesRequest::default()
        })
        .unwrap();

        assert_eq!(query.filter.text.as_deref(), Some("Shop.Example"));
        assert_eq!(
            query.filter.statuses,
            [StatusFilter::Active, StatusFilter::Revoked]
        );
        assert_eq!(query.filter.key_type, Some(KeyType::Ec));
        assert_eq!(
            query.filter.inventory_state,
            StateFilter::Only(InventoryState::Waiting)
        );
        assert_eq!(query.sort.direction, Direction::Ascending);
    }

    #[test]
    fn each_invalid_parameter_is_named() {
        let base = proto::ListCertificatesRequest::default;
        let cases = [
            (
                proto::ListCertificatesRequest {
                    query: "x".repeat(256),
                    ..base()
                },
                "query",
            ),
            (
                proto::ListCertificatesRequest {
                    issuer: "a\u{0}b".to_owned(),
                    ..base()
                },
                "issuer",
            ),
            (
                proto::ListCertificatesRequest {
                    status: vec!["valid".to_owned()],
                    ..base()
                },
                "status",
            ),
            (
                proto::ListCertificatesRequest {
                    expiring_within_days: Some(0),
                    ..base()
                },
                "expiring_within_days",
            ),
            (
                proto::ListCertificatesRequest {
                    key_type: "DSA".to_owned(),
                    ..base()
                },
                "key_type",
            ),
            (
                proto::ListCertificatesRequest {
                    source: "portal".to_owned(),
                    ..base()
                },
                "source",
            ),
            (
                proto::ListCertificatesRequest {
                    credential_id: "cred-1".to_owned(),
                    ..base()
                },
                "credential_id",
            ),
            (
                proto::ListCertificatesRequest {
                    inventory_state: "gone".to_owned(),
                    ..base()
                },
                "inventory_state",
            ),
            (proto::ListCertificatesRequest { sort: 9, ..base() }, "sort"),
            (
                proto::ListCertificatesRequest { order: 9, ..base() },
                "order",
            ),
            (
                proto::ListCertificatesRequest {
                    page_token: "nope".to_owned(),
                    ..base()
                },
                "page_token",
            ),
        ];
        for (request, field) in cases {
            assert_eq!(rejected_field(request), field);
        }
    }
}
