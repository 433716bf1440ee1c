//! Certificate orders: what the simulator stores about one tracking id (or one third-party
//! certificate) and the status it reports.

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert_facts::{GeneralNameValue, KeyFacts};
use crate::model::{CertificateStatus, UserTracking};
use crate::scenario::SeedKeyType;

/// The CSR an order was placed with.
#[derive(Debug, Clone)]
pub struct OrderCsr {
    /// PEM text, as `csr` returns it.
    pub pem: String,
    /// The subject public key, as a DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
}

/// The source of an order's subject key.
#[derive(Debug, Clone)]
pub enum KeyMaterial {
    /// A scenario order whose key and CSR are generated the first time a request needs them.
    Deferred(SeedKeyType),
    /// The order's CSR.
    Csr(OrderCsr),
    /// No CSR on record, only the public key (a DER SubjectPublicKeyInfo): certificates
    /// issued elsewhere.
    PublicKey(Vec<u8>),
}

/// The encoded form of an issued certificate.
#[derive(Debug, Clone)]
pub struct EncodedCertificate {
    /// The end-entity certificate in PEM.
    pub pem: String,
    /// `chainCerts`: the end-entity certificate first, then its issuers.
    pub chain: Vec<String>,
    /// SHA-1 of the DER encoding, upper-case hex: the thumbprint ECS looks certificates up by.
    pub thumbprint: String,
}

/// The certificate an order holds. Scenario certificates from the test CA are signed the first
/// time a request needs their PEM; their serial and dates are fixed when the simulator starts.
#[derive(Debug, Clone)]
pub struct OrderCertificate {
    /// Serial number as upper-case hex without leading zeros.
    pub serial: String,
    /// `issueDateTime`: the start of validity.
    pub not_before: OffsetDateTime,
    /// `expiresAfter`: the end of validity.
    pub not_after: OffsetDateTime,
    /// The PEM forms, or the serial to sign with when they are not made yet.
    pub encoding: CertificateEncoding,
}

/// Whether a certificate has been signed yet.
#[derive(Debug, Clone)]
pub enum CertificateEncoding {
    /// Not signed yet; it will carry this serial number (DER content bytes).
    Deferred {
        /// Serial number bytes.
        serial: Vec<u8>,
    },
    /// Signed.
    Encoded(EncodedCertificate),
}

impl OrderCertificate {
    /// Returns the encoded certificate, or `None` before it is signed.
    pub fn encoded(&self) -> Option<&EncodedCertificate> {
        match &self.encoding {
            CertificateEncoding::Encoded(encoded) => Some(encoded),
            CertificateEncoding::Deferred { .. } => None,
        }
    }
}

/// The time, reason and comment of a revocation. ECS shows none of this, but the control API
/// reports it so that tests can see that a reissue revoked the old certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    /// When the certificate was revoked.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// The CRL reason name, for example `keyCompromise` or `superseded`.
    pub reason: String,
    /// The `revocationComment`, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A certificate order (one tracking id), or a third-party certificate (trackingId 0).
#[derive(Debug, Clone)]
pub struct Order {
    /// Tracking id (int32 on the wire); 0 for third-party certificates.
    pub tracking_id: i64,
    /// Stored status; see [`Order::status_at`] for the reported one.
    pub status: CertificateStatus,
    /// A certificate the account has on record without having ordered it.
    pub third_party: bool,
    /// Certificate type; empty for third-party certificates.
    pub cert_type: String,
    /// The ordering client.
    pub client_id: i64,
    /// Subject DN in RFC 4514 order.
    pub dn: String,
    /// Subject common name.
    pub common_name: String,
    /// Subject `O`.
    pub org: Option<String>,
    /// Subject `OU` values.
    pub ou: Vec<String>,
    /// subjectAltName entries.
    pub subject_alt_names: Vec<GeneralNameValue>,
    /// Subject key algorithm and size.
    pub key: KeyFacts,
    /// The subject key, or how to make it.
    pub key_material: KeyMaterial,
    /// `SHA-1` or `SHA-2`.
    pub signing_alg: String,
    /// Extended key usage as ECS writes it; empty for third-party certificates.
    pub eku: String,
    /// The certificate, once issued.
    pub certificate: Option<OrderCertificate>,
    /// The expiry the order asked for; the certificate's `notAfter` once issued.
    pub requested_expiry: OffsetDateTime,
    /// Tracking data set by the requester.
    pub tracking: UserTracking,
    /// Deactivation time, if the order was deactivated.
    pub deactivated_on: Option<OffsetDateTime>,
    /// Creator name: the API user who placed the order; empty for third-party certificates.
    pub creator_name: String,
    /// Decline reason.
    pub decline_reason: Option<String>,
    /// The client domain that covers the common name.
    pub domain_used: Option<String>,
    /// The inventory product the order consumed, if any.
    pub consumed_product: Option<String>,
    /// Set when the certificate was revoked, by a revocation or by a reissue.
    pub revocation: Option<Revocation>,
}

impl Order {
    /// Returns the status ECS reports at `now`: an ACTIVE or READY order past its expiry reads
    /// EXPIRED; every other status is reported as stored.
    pub fn status_at(&self, now: OffsetDateTime) -> CertificateStatus {
        let expired = self
            .certificate
            .as_ref()
            .is_some_and(|certificate| certificate.not_after < now);
        match self.status {
            CertificateStatus::Active | CertificateStatus::Ready if expired => {
                CertificateStatus::Expired
            }
            status => status,
        }
    }

    /// Returns the CSR, when the order has one on record.
    pub fn csr(&self) -> Option<&OrderCsr> {
        match &self.key_material {
            KeyMaterial::Csr(csr) => Some(csr),
            KeyMaterial::Deferred(_) | KeyMaterial::PublicKey(_) => None,
        }
    }

    /// Returns the subject public key (DER SubjectPublicKeyInfo), or `None` while it is
    /// deferred.
    pub fn public_key(&self) -> Option<&[u8]> {
        match &self.key_material {
            KeyMaterial::Csr(csr) => Some(&csr.spki_der),
            KeyMaterial::PublicKey(spki) => Some(spki),
            KeyMaterial::Deferred(_) => None,
        }
    }

    /// Reports whether the key or certificate still has to be made.
    pub fn is_deferred(&self) -> bool {
        let deferred_certificate = self.certificate.as_ref().is_some_and(|certificate| {
            matches!(certificate.encoding, CertificateEncoding::Deferred { .. })
        });
        deferred_certificate || matches!(self.key_material, KeyMaterial::Deferred(_))
    }

    /// Returns the `uri` of the record: `/enterprise/v2/certificates/{trackingId}`, or
    /// `/enterprise/v2/certificates/thumbprints/{SHA-1}` for a third-party certificate.
    pub fn uri(&self) -> String {
        let thumbprint = self
            .certificate
            .as_ref()
            .and_then(OrderCertificate::encoded)
            .map(|encoded| encoded.thumbprint.as_str());
        match thumbprint {
            Some(thumbprint) if self.third_party => {
                format!("/enterprise/v2/certificates/thumbprints/{thumbprint}")
            }
            _ => format!("/enterprise/v2/certificates/{}", self.tracking_id),
        }
    }
}
