//! AddDeployment, ListDeployments, ConfirmDeployment and RemoveDeployment at the gRPC edge:
//! location checks with field-named messages, and the mapping of errors to status codes.

use std::net::IpAddr;

use certitude_proto::inventory::v1 as proto;
use sqlx::PgPool;
use time::OffsetDateTime;
use tonic::Status;
use uuid::Uuid;

use super::certificates::{non_empty, parse_certificate_id, rfc3339};
use super::generate_key::is_host_name;
use super::page_token;
use super::status::{db_status, internal, invalid, unavailable};
use crate::deployment_store::{self, DeploymentFilter, DeploymentRecord, Location, Position};
use crate::deployments::{DeploymentError, Deployments};

/// Maximum length of a host name (RFC 1035), without a trailing dot.
const MAX_HOST_LEN: usize = 253;
const MAX_PATH_LEN: usize = 1024;
const MAX_SYSTEM_LEN: usize = 255;
const MAX_NOTE_LEN: usize = 1000;
/// Page size when the request sends 0, and the largest page.
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// Records a deployment location.
pub async fn add(
    pool: &PgPool,
    deployments: &Deployments,
    now: OffsetDateTime,
    request: proto::AddDeploymentRequest,
) -> Result<proto::Deployment, Status> {
    let certificate_id = parse_certificate_id("certificate_id", &request.certificate_id)?;
    let location = validate_location(&request)?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|error| db_status(error.into()))?;
    let record = deployments
        .add(
            &mut tx,
            certificate_id,
            location,
            request.needs_deployment,
            non_empty(&request.actor),
            now,
        )
        .await
        .map_err(to_status)?;
    tx.commit().await.map_err(|error| db_status(error.into()))?;
    Ok(to_proto(record))
}

/// Lists deployment locations oldest first.
pub async fn list(
    pool: &PgPool,
    request: proto::ListDeploymentsRequest,
) -> Result<proto::ListDeploymentsResponse, Status> {
    let certificate_id = match request.certificate_id.trim() {
        "" => None,
        id => Some(parse_certificate_id("certificate_id", id)?),
    };
    if let Some(certificate_id) = certificate_id {
        // An unknown certificate is an error, not a certificate without deployments.
        let certificate = crate::certificate_store::get(pool, certificate_id)
            .await
            .map_err(db_status)?;
        if certificate.is_none() {
            return Err(to_status(DeploymentError::CertificateNotFound(
                certificate_id,
            )));
        }
    }
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
    let filter = DeploymentFilter {
        certificate_id,
        needs_deployment: request.needs_deployment,
    };
    let mut records = deployment_store::list_page(
        pool,
        &filter,
        after.map(|(created_at, id)| Position { created_at, id }),
        page_size + 1,
    )
    .await
    .map_err(db_status)?;
    let next_page_token = if records.len() > page_size as usize {
        records.truncate(page_size as usize);
        records
            .last()
            .map(|last| page_token::encode(last.created_at, last.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(proto::ListDeploymentsResponse {
        deployments: records.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

/// Confirms a deployment.
pub async fn confirm(
    pool: &PgPool,
    deployments: &Deployments,
    now: OffsetDateTime,
    request: proto::ConfirmDeploymentRequest,
) -> Result<proto::Deployment, Status> {
    let (certificate_id, deployment_id) =
        parse_ids(&request.certificate_id, &request.deployment_id)?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|error| db_status(error.into()))?;
    let record = deployments
        .confirm(
            &mut tx,
            certificate_id,
            deployment_id,
            non_empty(&request.actor),
            now,
        )
        .await
        .map_err(to_status)?;
    tx.commit().await.map_err(|error| db_status(error.into()))?;
    Ok(to_proto(record))
}

/// Deletes a deployment location.
pub async fn remove(
    pool: &PgPool,
    deployments: &Deployments,
    request: proto::RemoveDeploymentRequest,
) -> Result<proto::Deployment, Status> {
    let (certificate_id, deployment_id) =
        parse_ids(&request.certificate_id, &request.deployment_id)?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|error| db_status(error.into()))?;
    let record = deployments
        .remove(
            &mut tx,
            certificate_id,
            deployment_id,
            non_empty(&request.actor),
        )
        .await
        .map_err(to_status)?;
    tx.commit().await.map_err(|error| db_status(error.into()))?;
    Ok(to_proto(record))
}

fn parse_ids(certificate_id: &str, deployment_id: &str) -> Result<(Uuid, Uuid), Status> {
    let certificate_id = parse_certificate_id("certificate_id", certificate_id)?;
    let deployment_id = Uuid::parse_str(deployment_id.trim()).map_err(|_| {
        invalid(
            "deployment_id",
            format!("{deployment_id:?} is not a deployment id: pass a UUID"),
        )
    })?;
    Ok((certificate_id, deployment_id))
}

/// Checks the location fields of a request and returns the location, trimmed.
pub fn validate_location(request: &proto::AddDeploymentRequest) -> Result<Location, Status> {
    let host = request.host.trim();
    if !host.is_empty() && host.parse::<IpAddr>().is_err() {
        if host.len() > MAX_HOST_LEN {
            return Err(invalid(
                "host",
                format!("is {} bytes long: use at most {MAX_HOST_LEN}", host.len()),
            ));
        }
        if !is_host_name(host) {
            return Err(invalid(
                "host",
                format!(
                    "{host:?} is not a host name or IP address: use dot-separated labels of \
                     letters, digits and hyphens, or an IPv4 or IPv6 address"
                ),
            ));
        }
    }
    let port = u16::try_from(request.port).ok().ok_or_else(|| {
        invalid(
            "port",
            format!("{} is out of range: use 1 to 65535", request.port),
        )
    })?;
    if port != 0 && host.is_empty() {
        return Err(invalid(
            "port",
            "is set without host: add the host the port belongs to",
        ));
    }
    let path = checked_text("path", &request.path, MAX_PATH_LEN)?;
    let system = checked_text("system", &request.system, MAX_SYSTEM_LEN)?;
    let note = checked_text("note", &request.note, MAX_NOTE_LEN)?;
    if host.is_empty() && path.is_empty() && system.is_empty() {
        return Err(invalid(
            "host",
            "is empty, and so are path and system: set at least one of them",
        ));
    }
    Ok(Location {
        host: host.to_ascii_lowercase(),
        port,
        path,
        system,
        note,
    })
}

fn checked_text(field: &str, value: &str, max_len: usize) -> Result<String, Status> {
    let value = value.trim();
    let length = value.chars().count();
    if length > max_len {
        return Err(invalid(
            field,
            format!("is {length} characters long: use at most {max_len}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "contains a control character: use printable text on one line",
        ));
    }
    Ok(value.to_owned())
}

fn to_status(error: DeploymentError) -> Status {
    match error {
        DeploymentError::CertificateNotFound(_) | DeploymentError::NotFound { .. } => {
            Status::not_found(error.to_string())
        }
        DeploymentError::CertificateRemoved(_) => Status::failed_precondition(error.to_string()),
        DeploymentError::LocationExists { .. } => Status::already_exists(error.to_string()),
        DeploymentError::Db(source) if source.is_unavailable() => unavailable(&source),
        other => internal(&other),
    }
}

fn to_proto(record: DeploymentRecord) -> proto::Deployment {
    proto::Deployment {
        id: record.id.to_string(),
        certificate_id: record.certificate_id.to_string(),
        host: record.host,
        port: u32::try_from(record.port).unwrap_or(0),
        path: record.path,
        system: record.system,
        note: record.note,
        needs_deployment: record.needs_deployment,
        inherited_from: record
            .inherited_from
            .map(|id| id.to_string())
            .unwrap_or_default(),
        created_at: rfc3339(record.created_at),
        created_by: record.created_by.unwrap_or_default(),
        confirmed_at: record.confirmed_at.map(rfc3339).unwrap_or_default(),
        confirmed_by: record.confirmed_by.unwrap_or_default(),
        certificate_common_name: record.certificate_common_name.unwrap_or_default(),
        certificate_not_after: rfc3339(record.certificate_not_after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> proto::AddDeploymentRequest {
        proto::AddDeploymentRequest {
            certificate_id: Uuid::now_v7().to_string(),
            host: "LB1.Example.com".to_owned(),
            port: 443,
            ..proto::AddDeploymentRequest::default()
        }
    }

    fn rejected_field(request: &proto::AddDeploymentRequest) -> String {
        let status = validate_location(request).expect_err("the location is invalid");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status
            .message()
            .split_once(": ")
            .map(|(field, _)| field.to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn host_is_lowered_and_kept_with_port() {
        let location = validate_location(&request()).unwrap();

        assert_eq!(location.host, "lb1.example.com");
        assert_eq!(location.port, 443);
    }

    #[test]
    fn ip_addresses_are_hosts() {
        for host in ["10.0.0.5", "2001:db8::1"] {
            let location = validate_location(&proto::AddDeploymentRequest {
                host: host.to_owned(),
                ..request()
            });

            assert!(location.is_ok(), "{host}");
        }
    }

    #[test]
    fn each_invalid_location_field_is_named() {
        let cases = [
            (
                proto::AddDeploymentRequest {
                    host: "bad host".to_owned(),
                    ..request()
                },
                "host",
            ),
            (
                proto::AddDeploymentRequest {
                    port: 70_000,
                    ..request()
                },
                "port",
            ),
            (
                proto::AddDeploymentRequest {
                    host: String::new(),
                    path: "/etc/ssl/a.pem".to_owned(),
                    ..request()
                },
                "port",
            ),
            (
                proto::AddDeploymentRequest {
                    path: "p".repeat(1025),
                    ..request()
                },
                "path",
            ),
            (
                proto::AddDeploymentRequest {
                    system: "lb\nnext".to_owned(),
                    ..request()
                },
                "system",
            ),
            (
                proto::AddDeploymentRequest {
                    note: "n".repeat(1001),
                    ..request()
                },
                "note",
            ),
            (
                proto::AddDeploymentRequest {
                    host: String::new(),
                    port: 0,
                    ..request()
                },
                "host",
            ),
        ];
        for (request, field) in cases {
            assert_eq!(rejected_field(&request), field);
        }
    }
}
