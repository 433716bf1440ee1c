//! Payloads of the events the inventory writes to its outbox, built from stored rows.

use certitude_platform::events::timestamp;
use certitude_proto::events::v1 as proto;
use time::OffsetDateTime;

use crate::certificate_store::CertificateRecord;
use crate::deployment_store::DeploymentRecord;

/// Builds CertificateAddedToInventory for a certificate that entered the held inventory, with
/// the status readers see at `now`.
pub fn added_to_inventory(
    certificate: &CertificateRecord,
    now: OffsetDateTime,
) -> proto::CertificateAddedToInventory {
    proto::CertificateAddedToInventory {
        certificate_id: certificate.id.to_string(),
        order_id: certificate.order_id.clone().unwrap_or_default(),
        serial_number: certificate.serial_number.clone(),
        not_after: Some(timestamp(certificate.not_after)),
        key_id: certificate
            .key_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        sha256_fingerprint: certificate.sha256_fingerprint.clone(),
        source: certificate.source.clone(),
        status: certificate.status_at(now).to_owned(),
        dns_names: certificate.dns_names.clone(),
    }
}

/// Builds CertificateRejected for a certificate stored as waiting.
pub fn rejected(
    certificate: &CertificateRecord,
    licensed: i64,
    held: i64,
) -> proto::CertificateRejected {
    proto::CertificateRejected {
        certificate_id: certificate.id.to_string(),
        order_id: certificate.order_id.clone().unwrap_or_default(),
        serial_number: certificate.serial_number.clone(),
        reason: certificate.waiting_reason.clone().unwrap_or_default(),
        message: certificate.waiting_message.clone().unwrap_or_default(),
        licensed: licensed.unsigned_abs(),
        held: held.unsigned_abs(),
    }
}

/// Converts `deployments` to the locations events carry.
pub fn locations(deployments: &[DeploymentRecord]) -> Vec<proto::DeploymentLocation> {
    deployments
        .iter()
        .map(|deployment| proto::DeploymentLocation {
            id: deployment.id.to_string(),
            host: deployment.host.clone(),
            port: u32::try_from(deployment.port).unwrap_or(0),
            path: deployment.path.clone(),
            system: deployment.system.clone(),
            note: deployment.note.clone(),
        })
        .collect()
}

/// Builds CertificateRenewed for `certificate`, which replaced `previous_id` and inherited
/// `locations`.
pub fn renewed(
    certificate: &CertificateRecord,
    previous_id: uuid::Uuid,
    locations: &[DeploymentRecord],
) -> proto::CertificateRenewed {
    proto::CertificateRenewed {
        certificate_id: certificate.id.to_string(),
        previous_certificate_id: previous_id.to_string(),
        order_id: certificate.order_id.clone().unwrap_or_default(),
        serial_number: certificate.serial_number.clone(),
        not_after: Some(timestamp(certificate.not_after)),
        locations: self::locations(locations),
    }
}

/// Builds CertificateReissued for `certificate`, which replaced `previous_id` and inherited
/// `locations`.
pub fn reissued(
    certificate: &CertificateRecord,
    previous_id: uuid::Uuid,
    locations: &[DeploymentRecord],
) -> proto::CertificateReissued {
    proto::CertificateReissued {
        certificate_id: certificate.id.to_string(),
        previous_certificate_id: previous_id.to_string(),
        order_id: certificate.order_id.clone().unwrap_or_default(),
        serial_number: certificate.serial_number.clone(),
        not_after: Some(timestamp(certificate.not_after)),
        locations: self::locations(locations),
    }
}
