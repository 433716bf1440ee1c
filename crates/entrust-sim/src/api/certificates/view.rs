//! The wire forms of an order: CertificateBase (list items, plus `uri`) and CertificateEx
//! (`GET /certificates/{trackingId}`).
//!
//! Absent values are left out rather than sent as `null` or `""`: an order without a
//! certificate has no `serialNumber`, `issueDateTime` or `expiresAfter`. `tracking` is always
//! present with `deactivated`, because clients read it without a null check. A third-party
//! certificate has trackingId 0, status UNKNOWN, `isThirdParty: true`, a `uri` under
//! `/certificates/thumbprints/`, and no `certType`, `eku`, `csr` or `creatorName`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::format::timestamp;
use crate::state::Order;

/// Fields a list item may carry (CertificateBase plus `uri`), in `fields=*` order.
pub const LIST_FIELDS: &[&str] = &[
    "trackingId",
    "status",
    "dn",
    "serialNumber",
    "subjectAltName",
    "issueDateTime",
    "expiresAfter",
    "signingAlg",
    "eku",
    "keySize",
    "keyType",
    "org",
    "ou",
    "certType",
    "tracking",
    "domainUsed",
    "isThirdParty",
    "uri",
];

/// Fields a list item carries when the request names none.
pub const DEFAULT_FIELDS: &[&str] = &[
    "trackingId",
    "dn",
    "serialNumber",
    "expiresAfter",
    "signingAlg",
    "eku",
    "status",
];

/// Returns every CertificateBase field of an order, its status taken at `now`.
pub fn base_fields(order: &Order, now: OffsetDateTime) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("trackingId".into(), json!(order.tracking_id));
    object.insert("status".into(), json!(order.status_at(now)));
    object.insert("dn".into(), json!(order.dn));

    if let Some(certificate) = &order.certificate {
        object.insert("serialNumber".into(), json!(certificate.serial));
        object.insert(
            "issueDateTime".into(),
            json!(timestamp(certificate.not_before)),
        );
        object.insert(
            "expiresAfter".into(),
            json!(timestamp(certificate.not_after)),
        );
    }

    let names: Vec<Value> = order
        .subject_alt_names
        .iter()
        .map(|name| json!({ "type": name.kind, "value": name.value }))
        .collect();
    object.insert("subjectAltName".into(), Value::Array(names));

    if !order.signing_alg.is_empty() {
        object.insert("signingAlg".into(), json!(order.signing_alg));
    }
    if !order.eku.is_empty() {
        object.insert("eku".into(), json!(order.eku));
    }
    object.insert("keySize".into(), json!(order.key.key_size));
    object.insert("keyType".into(), json!(order.key.key_type));

    if let Some(org) = &order.org {
        object.insert("org".into(), json!(org));
    }
    if !order.ou.is_empty() {
        object.insert("ou".into(), json!(order.ou));
    }

    if !order.cert_type.is_empty() {
        object.insert("certType".into(), json!(order.cert_type));
    }
    object.insert("tracking".into(), tracking(order));
    if let Some(domain) = &order.domain_used {
        object.insert("domainUsed".into(), json!(domain));
    }
    object.insert("isThirdParty".into(), json!(order.third_party));
    object
}

/// Returns the TrackingData of an order.
pub fn tracking(order: &Order) -> Value {
    let data = &order.tracking;
    let mut object = Map::new();
    let mut put = |name: &str, value: &Option<String>| {
        if let Some(value) = value {
            object.insert(name.to_owned(), json!(value));
        }
    };
    put("trackingInfo", &data.tracking_info);
    put("requesterName", &data.requester_name);
    put("requesterEmail", &data.requester_email);
    put("requesterPhone", &data.requester_phone);
    if !data.additional_emails.is_empty() {
        object.insert("additionalEmails".into(), json!(data.additional_emails));
    }
    if !data.custom_fields.is_empty() {
        object.insert(
            "customFields".into(),
            Value::Object(data.custom_fields.clone()),
        );
    }
    object.insert("deactivated".into(), json!(order.deactivated_on.is_some()));
    if let Some(deactivated_on) = order.deactivated_on {
        object.insert("deactivatedOn".into(), json!(timestamp(deactivated_on)));
    }
    Value::Object(object)
}

/// Returns the CertificateEx of an order whose key and certificate are made (see
/// [`crate::ordering::materialize`]).
pub fn detail(order: &Order, now: OffsetDateTime) -> Value {
    let mut object = base_fields(order, now);
    if let Some(encoded) = order.certificate.as_ref().and_then(|c| c.encoded()) {
        object.insert("endEntityCert".into(), json!(encoded.pem));
        object.insert("chainCerts".into(), json!(encoded.chain));
    }
    if let Some(csr) = order.csr() {
        object.insert("csr".into(), json!(csr.pem));
    }
    if !order.creator_name.is_empty() {
        object.insert("creatorName".into(), json!(order.creator_name));
    }
    if let Some(reason) = &order.decline_reason {
        object.insert("declineReason".into(), json!(reason));
    }
    Value::Object(object)
}
