//! Reissues and renewals: `POST /certificates/{trackingId}/reissues` and `/renewals`.
//!
//! Both create a new order with its own tracking id, so, like a new order, they are sent once
//! and never retried: an ambiguous failure is [`Error::OutcomeUnknown`], and the new order is
//! found by its tracking marker.

use reqwest::Method;

use super::bodies::{SIGNING_ALGORITHM, non_empty, optional_pem, to_json, tracking};
use super::certificates::order_outcome;
use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{OrderOutcome, Reissue, Renewal, TrackingId};
use crate::transport::{Call, Repeatable};
use crate::wire::convert;
use crate::wire::lifecycle::{ReissueCertificateRequest, RenewCertificateRequest};

const REISSUE: &str = "POST /certificates/{trackingId}/reissues";
const RENEW: &str = "POST /certificates/{trackingId}/renewals";

/// Checks a reissue locally and builds its JSON body. The body never carries an expiry.
pub(crate) fn reissue_body(reissue: &Reissue) -> Result<Vec<u8>, Error> {
    let body = ReissueCertificateRequest {
        csr: optional_pem("csr_pem", reissue.csr_pem.as_deref())?,
        subject_alt_name: &reissue.dns_names,
        client_id: reissue.client_id,
        org: reissue.organization.as_deref().and_then(non_empty),
        signing_alg: SIGNING_ALGORITHM,
        eku: reissue.eku.map(|eku| eku.as_str()),
        tracking: tracking(reissue.tracking_marker.as_deref(), &reissue.requester, &[])?,
    };
    to_json("reissue", &body)
}

/// Checks a renewal locally and builds its JSON body. The body never carries `validateOnly`.
pub(crate) fn renewal_body(renewal: &Renewal) -> Result<Vec<u8>, Error> {
    let body = RenewCertificateRequest {
        reissue: ReissueCertificateRequest {
            csr: optional_pem("csr_pem", renewal.csr_pem.as_deref())?,
            subject_alt_name: &renewal.dns_names,
            client_id: renewal.client_id,
            org: renewal.organization.as_deref().and_then(non_empty),
            signing_alg: SIGNING_ALGORITHM,
            eku: renewal.eku.map(|eku| eku.as_str()),
            tracking: tracking(renewal.tracking_marker.as_deref(), &renewal.requester, &[])?,
        },
        cert_expiry_date: renewal.expires_on.map(convert::format_expiry_date),
        cert_lifetime: renewal.lifetime.map(|lifetime| lifetime.as_iso8601()),
    };
    to_json("renewal", &body)
}

impl EntrustClient {
    /// Reissues a certificate (`POST /certificates/{trackingId}/reissues`): a new certificate
    /// with the same product and expiry, under a new tracking id. The CA revokes the
    /// certificate being reissued.
    ///
    /// Sent once and never retried. When the outcome cannot be known the error is
    /// [`Error::OutcomeUnknown`]; look the new order up by its tracking marker first.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`] before sending, for a blank CSR or a too long marker.
    /// - [`Error::NotFound`] for an unknown tracking id; [`Error::InvalidRequest`] when the
    ///   order cannot be reissued in its current state.
    pub async fn reissue(
        &self,
        tracking_id: TrackingId,
        reissue: &Reissue,
    ) -> Result<OrderOutcome, Error> {
        let body = reissue_body(reissue)?;
        let success = self
            .transport
            .send(Call {
                endpoint: REISSUE,
                method: Method::POST,
                path: format!("/certificates/{tracking_id}/reissues"),
                query: Vec::new(),
                body: Some(body),
                repeatable: Repeatable::No,
            })
            .await?;
        order_outcome(REISSUE, false, &success)
    }

    /// Renews a certificate (`POST /certificates/{trackingId}/renewals`): a new certificate
    /// with a new expiry, under a new tracking id. ECS refuses certificates issued less than
    /// 30 days ago.
    ///
    /// Sent once and never retried. When the outcome cannot be known the error is
    /// [`Error::OutcomeUnknown`]; look the new order up by its tracking marker first.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`] before sending, for a blank CSR or a too long marker.
    /// - [`Error::NotFound`] for an unknown tracking id; [`Error::InvalidRequest`] when the
    ///   order cannot be renewed yet or in its current state.
    pub async fn renew(
        &self,
        tracking_id: TrackingId,
        renewal: &Renewal,
    ) -> Result<OrderOutcome, Error> {
        let body = renewal_body(renewal)?;
        let success = self
            .transport
            .send(Call {
                endpoint: RENEW,
                method: Method::POST,
                path: format!("/certificates/{tracking_id}/renewals"),
                query: Vec::new(),
                body: Some(body),
                repeatable: Repeatable::No,
            })
            .await?;
        order_outcome(RENEW, false, &success)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use time::macros::date;

    use super::*;
    use crate::model::{CertLifetime, ExtendedKeyUsage, Requester};

    fn json_of(bytes: Result<Vec<u8>, Error>) -> Value {
        let bytes = bytes.unwrap_or_else(|error| panic!("body failed: {error}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("body is not JSON: {error}"))
    }

    #[test]
    fn reissue_body_has_no_expiry_fields() {
        let reissue = Reissue {
            csr_pem: Some(
                "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
                    .to_owned(),
            ),
            dns_names: vec!["www.example.com".to_owned()],
            eku: Some(ExtendedKeyUsage::ServerAuth),
            tracking_marker: Some("reissue-1".to_owned()),
            requester: Requester {
                name: "Ada".to_owned(),
                ..Requester::default()
            },
            ..Reissue::default()
        };

        let body = json_of(reissue_body(&reissue));

        assert_eq!(
            body,
            json!({
                "csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----",
                "subjectAltName": ["www.example.com"],
                "signingAlg": "SHA-2",
                "eku": "SERVER_AUTH",
                "tracking": {"trackingInfo": "reissue-1", "requesterName": "Ada"}
            })
        );
    }

    #[test]
    fn reissue_without_csr_reuses_key() {
        let body = json_of(reissue_body(&Reissue::default()));

        assert_eq!(body, json!({"signingAlg": "SHA-2"}));
    }

    #[test]
    fn blank_reissue_csr_is_rejected_locally() {
        let reissue = Reissue {
            csr_pem: Some("  ".to_owned()),
            ..Reissue::default()
        };

        assert!(matches!(
            reissue_body(&reissue),
            Err(Error::InvalidInput {
                field: "csr_pem",
                ..
            })
        ));
    }

    #[test]
    fn renewal_body_writes_date_without_validate_only() {
        let renewal = Renewal {
            expires_on: Some(date!(2027 - 04 - 09)),
            lifetime: Some(CertLifetime::OneYear),
            client_id: Some(1),
            organization: Some("Example Inc".to_owned()),
            ..Renewal::default()
        };

        let body = json_of(renewal_body(&renewal));

        assert_eq!(
            body,
            json!({
                "clientId": 1,
                "org": "Example Inc",
                "signingAlg": "SHA-2",
                "certExpiryDate": "2027-04-09",
                "certLifetime": "P1Y"
            })
        );
        assert!(body.get("validateOnly").is_none());
    }
}
