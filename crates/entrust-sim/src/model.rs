//! The ECS enumerations and value types that scenarios, the simulator's state and the wire share.
//!
//! Every enumeration serializes to the upper-case value the ECS API uses.

use serde::{Deserialize, Serialize};

/// Generates `as_str` and `parse` for a unit-variant enum from one list of (variant, wire name).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Returns the value as ECS writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Parses a wire value, ignoring ASCII case.
            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|candidate| candidate.as_str().eq_ignore_ascii_case(value.trim()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// Status of a certificate order (`CertificateStatus`).
    CertificateStatus {
        /// Awaiting an administrator's approval.
        Pending => "PENDING",
        /// Awaiting further approvers.
        PendingQuorum => "PENDING_QUORUM",
        /// Approved, not yet generated.
        Approved => "APPROVED",
        /// Approval refused; no certificate.
        Declined => "DECLINED",
        /// Generated, awaiting pickup.
        Ready => "READY",
        /// Issued and valid.
        Active => "ACTIVE",
        /// Reissue in progress.
        Reissuing => "REISSUING",
        /// Superseded by a reissue.
        Reissued => "REISSUED",
        /// Renewal in progress.
        Renewing => "RENEWING",
        /// Superseded by a renewal.
        Renewed => "RENEWED",
        /// Suspended through PATCH.
        Suspended => "SUSPENDED",
        /// Revoked.
        Revoked => "REVOKED",
        /// Past `expiresAfter`; derived from the clock, never stored.
        Expired => "EXPIRED",
        /// Deactivated through `/deactivations`.
        Deactivated => "DEACTIVATED",
        /// Not applicable, for example a third-party record.
        Na => "NA",
        /// Not in the 2.1.0 enumeration: the status later ECS versions report for a certificate
        /// the account has on record but did not order (a trackingId-0 record).
        Unknown => "UNKNOWN",
    }
}

wire_enum! {
    /// Verification status of a client or an organization (`VerificationStatus`).
    VerificationStatus {
        /// Verified and usable for orders.
        Approved => "APPROVED",
        /// Verification refused.
        Declined => "DECLINED",
        /// Submitted, not yet decided.
        Pending => "PENDING",
        /// Waiting for the final approval step.
        PendingFinalApproval => "PENDING_FINAL_APPROVAL",
        /// Switched off by the account.
        Deactivated => "DEACTIVATED",
        /// The verification lapsed.
        Expired => "EXPIRED",
    }
}

wire_enum! {
    /// Verification status of a domain (`DomainStatus`, sent as `verificationStatus`).
    DomainStatus {
        /// Approved for use by the client.
        Approved => "APPROVED",
        /// Verification refused.
        Declined => "DECLINED",
        /// Verification withdrawn.
        Cancelled => "CANCELLED",
        /// First submission, not decided yet; not usable.
        InitialVerification => "INITIAL_VERIFICATION",
        /// Resubmitted, not decided yet; still usable.
        ReVerification => "RE_VERIFICATION",
        /// The verification lapsed.
        Expired => "EXPIRED",
        /// Within 90 days of expiry; still usable.
        Expiring => "EXPIRING",
    }
}

impl DomainStatus {
    /// Reports whether certificates may name this domain: APPROVED, RE_VERIFICATION and EXPIRING
    /// domains are usable, every other status is not.
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            DomainStatus::Approved | DomainStatus::ReVerification | DomainStatus::Expiring
        )
    }
}

wire_enum! {
    /// Domain verification method (`VerificationMethod`).
    VerificationMethod {
        /// A TXT record.
        Dns => "DNS",
        /// A mail to a WHOIS or constructed address.
        Email => "EMAIL",
        /// By Entrust staff.
        Manual => "MANUAL",
        /// A file on the web server.
        WebServer => "WEB_SERVER",
    }
}

wire_enum! {
    /// Public key algorithm of a certificate (`KeyType`).
    KeyType {
        /// RSA.
        Rsa => "RSA",
        /// Elliptic curve.
        Ec => "EC",
        /// Anything else.
        Other => "OTHER",
    }
}

wire_enum! {
    /// Extended key usage choice of an SSL order (`eku`).
    Eku {
        /// TLS server authentication only.
        ServerAuth => "SERVER_AUTH",
        /// TLS client authentication only.
        ClientAuth => "CLIENT_AUTH",
        /// Both; the ECS default.
        ServerAndClientAuth => "SERVER_AND_CLIENT_AUTH",
    }
}

/// Role of an API user, which decides its default [`Permission`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May do everything the API offers.
    Administrator,
    /// May read, place orders, update tracking data and manage domains, but has no
    /// [`Permission`].
    Requester,
}

impl Role {
    /// Returns the permissions a user of this role has unless its scenario entry lists its
    /// own: every permission for an administrator, none for a requester.
    pub fn default_permissions(self) -> &'static [Permission] {
        match self {
            Role::Administrator => Permission::ALL,
            Role::Requester => &[],
        }
    }
}

/// An administrator action. A user without the permission gets a 403 ErrorResponse; every
/// other operation is open to each authenticated user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Permission {
    /// PATCH `APPROVE`.
    Approve,
    /// PATCH `DECLINE`.
    Decline,
    /// PATCH `SUSPEND`.
    Suspend,
    /// PATCH `UNSUSPEND`.
    Unsuspend,
    /// `POST /certificates/{trackingId}/revocations`.
    Revoke,
    /// `POST /certificates/{trackingId}/reissues`.
    Reissue,
    /// `POST /certificates/{trackingId}/renewals`.
    Renew,
    /// `POST /certificates/{trackingId}/deactivations`.
    Deactivate,
}

impl Permission {
    /// Every permission.
    pub const ALL: &'static [Permission] = &[
        Permission::Approve,
        Permission::Decline,
        Permission::Suspend,
        Permission::Unsuspend,
        Permission::Revoke,
        Permission::Reissue,
        Permission::Renew,
        Permission::Deactivate,
    ];

    /// Returns the verb used in 403 messages ("approve", "revoke", ...).
    pub fn verb(self) -> &'static str {
        match self {
            Permission::Approve => "approve",
            Permission::Decline => "decline",
            Permission::Suspend => "suspend",
            Permission::Unsuspend => "unsuspend",
            Permission::Revoke => "revoke",
            Permission::Reissue => "reissue",
            Permission::Renew => "renew",
            Permission::Deactivate => "deactivate",
        }
    }
}

/// The tracking data an API user may set on an order (`UserSpecifiableTrackingData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserTracking {
    /// Free-form text, at most 128 characters; Certitude puts its order marker here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_info: Option<String>,
    /// Requester name, at most 255 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_name: Option<String>,
    /// Requester email, at most 254 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_email: Option<String>,
    /// Requester phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_phone: Option<String>,
    /// Addresses that also receive the delivery and expiry notices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_emails: Vec<String>,
    /// Custom field values (`text1`..`text15`, `number1`..`number5`, ...), kept as sent.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

/// Certificate types of the 2.1.0 API plus `QWACPSD2_SSL`, the spelling of newer revisions.
pub const CERT_TYPES: &[&str] = &[
    "STANDARD_SSL",
    "ADVANTAGE_SSL",
    "UC_SSL",
    "EV_SSL",
    "QWAC_SSL",
    "PSD2_SSL",
    "QWACPSD2_SSL",
    "WILDCARD_SSL",
    "PRIVATE_SSL",
    "PD_SSL",
    "CODE_SIGNING",
    "EV_CODE_SIGNING",
    "CDS_INDIVIDUAL",
    "CDS_GROUP",
    "CDS_ENT_LITE",
    "CDS_ENT_PRO",
    "SMIME_ENT",
];

/// The inventory product that any SSL type except `PD_SSL` may draw from.
pub const FLEX_PRODUCT: &str = "FLEX";

/// Reports whether `cert_type` is an SSL product, the kind this simulator can issue.
pub fn is_ssl_type(cert_type: &str) -> bool {
    cert_type.ends_with("_SSL")
}

/// Reports whether an order of `cert_type` may consume the FLEX pool.
pub fn flex_covers(cert_type: &str) -> bool {
    is_ssl_type(cert_type) && cert_type != "PD_SSL"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parse_ignores_case() {
        assert_eq!(
            CertificateStatus::parse("pending"),
            Some(CertificateStatus::Pending)
        );
        assert_eq!(
            CertificateStatus::parse("ACTIVE "),
            Some(CertificateStatus::Active)
        );
        assert_eq!(CertificateStatus::parse("LIVE"), None);
    }

    #[test]
    fn status_serializes_upper_case() {
        let json = serde_json::to_string(&DomainStatus::ReVerification).unwrap();

        assert_eq!(json, "\"RE_VERIFICATION\"");
    }

    #[test]
    fn flex_covers_ssl_types_except_pd_ssl() {
        assert!(flex_covers("EV_SSL"));
        assert!(flex_covers("PRIVATE_SSL"));
        assert!(!flex_covers("PD_SSL"));
        assert!(!flex_covers("SMIME_ENT"));
    }
}
