//! Status enumerations read tolerantly from the CA.
//!
//! Each enum parses its wire value case-insensitively and keeps any value it does not know in
//! an `Unrecognized` variant, so a new status on the CA side never makes a whole page unreadable.

use std::fmt;

/// Defines a status enum with known variants, a case-insensitive parser and an `Unrecognized`
/// fallback that keeps the original text.
macro_rules! tolerant_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept as the CA sent it.
            Unrecognized(String),
        }

        impl $name {
            /// Parses a wire value, ignoring ASCII case and surrounding whitespace.
            pub fn parse(value: &str) -> Self {
                let trimmed = value.trim();
                $(
                    if trimmed.eq_ignore_ascii_case($wire) {
                        return Self::$variant;
                    }
                )+
                Self::Unrecognized(trimmed.to_owned())
            }

            /// Returns the canonical upper-case wire value, or the original text of an
            /// unrecognized value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unrecognized(value) => value,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::parse(value)
            }
        }
    };
}

tolerant_enum! {
    /// The state of an order and of the certificate it produced.
    pub enum OrderStatus {
        /// Waiting for an administrator to approve or decline it.
        Pending => "PENDING",
        /// Waiting for further approvers.
        PendingQuorum => "PENDING_QUORUM",
        /// Approved, certificate not generated yet.
        Approved => "APPROVED",
        /// Refused by an administrator; no certificate exists.
        Declined => "DECLINED",
        /// Generated and waiting for pickup.
        Ready => "READY",
        /// Issued and valid.
        Active => "ACTIVE",
        /// A reissue is in progress.
        Reissuing => "REISSUING",
        /// A renewal is in progress.
        Renewing => "RENEWING",
        /// Superseded by a reissued certificate.
        Reissued => "REISSUED",
        /// Superseded by a renewed certificate.
        Renewed => "RENEWED",
        /// Suspended; can be resumed.
        Suspended => "SUSPENDED",
        /// Revoked.
        Revoked => "REVOKED",
        /// Past its expiry.
        Expired => "EXPIRED",
        /// Deactivated by the account.
        Deactivated => "DEACTIVATED",
        /// Not applicable, for example on third-party records.
        NotApplicable => "NA",
        /// The CA does not know the state, as for certificates it did not issue.
        Unknown => "UNKNOWN",
    }
}

impl OrderStatus {
    /// Tells whether the order still waits for a decision or for generation, so its
    /// certificate may appear later.
    ///
    /// `REISSUING` and `RENEWING` count neither here nor in [`OrderStatus::has_certificate`],
    /// because the ECS documentation does not say which record carries them.
    pub fn is_awaiting_issuance(&self) -> bool {
        matches!(self, Self::Pending | Self::PendingQuorum | Self::Approved)
    }

    /// Tells whether a certificate was generated for this order at some point.
    pub fn has_certificate(&self) -> bool {
        matches!(
            self,
            Self::Ready
                | Self::Active
                | Self::Reissued
                | Self::Renewed
                | Self::Suspended
                | Self::Revoked
                | Self::Expired
                | Self::Deactivated
        )
    }
}

tolerant_enum! {
    /// The verification state of a domain.
    pub enum DomainVerificationStatus {
        /// Verified and usable.
        Approved => "APPROVED",
        /// Verification refused.
        Declined => "DECLINED",
        /// Verification cancelled.
        Cancelled => "CANCELLED",
        /// Submitted for the first time and not decided yet; not usable.
        InitialVerification => "INITIAL_VERIFICATION",
        /// Resubmitted and not decided yet; still usable meanwhile.
        ReVerification => "RE_VERIFICATION",
        /// Verification expired.
        Expired => "EXPIRED",
        /// Within 90 days of its verification expiry.
        Expiring => "EXPIRING",
    }
}

impl DomainVerificationStatus {
    /// Tells whether certificates may name this domain now.
    ///
    /// `RE_VERIFICATION` is usable according to the ECS API definition. `EXPIRING` is treated
    /// as usable because the domain is still verified until its expiry.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Approved | Self::ReVerification | Self::Expiring)
    }
}

tolerant_enum! {
    /// The verification state of an organization (or client) at the CA.
    pub enum OrganizationVerificationStatus {
        /// Verified; orders may name it.
        Approved => "APPROVED",
        /// Verification refused.
        Declined => "DECLINED",
        /// Waiting for verification.
        Pending => "PENDING",
        /// Waiting for the final approval step.
        PendingFinalApproval => "PENDING_FINAL_APPROVAL",
        /// Deactivated.
        Deactivated => "DEACTIVATED",
        /// Verification expired.
        Expired => "EXPIRED",
    }
}

impl OrganizationVerificationStatus {
    /// Tells whether orders may name this organization.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Approved)
    }
}

tolerant_enum! {
    /// Method by which the CA verifies control of a domain.
    pub enum VerificationMethod {
        /// A TXT record in the domain's DNS.
        Dns => "DNS",
        /// An email to an address of the domain.
        Email => "EMAIL",
        /// A manual check by the CA.
        Manual => "MANUAL",
        /// A file on the domain's web server.
        WebServer => "WEB_SERVER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_parses_any_case() {
        assert_eq!(OrderStatus::parse("ACTIVE"), OrderStatus::Active);
        assert_eq!(OrderStatus::parse("Pending"), OrderStatus::Pending);
        assert_eq!(
            OrderStatus::parse("pending_quorum"),
            OrderStatus::PendingQuorum
        );
        assert_eq!(OrderStatus::parse(" na "), OrderStatus::NotApplicable);
    }

    #[test]
    fn order_status_keeps_unknown_value() {
        let status = OrderStatus::parse("ON_HOLD");

        assert_eq!(status, OrderStatus::Unrecognized("ON_HOLD".to_owned()));
        assert_eq!(status.as_str(), "ON_HOLD");
        assert!(!status.has_certificate());
        assert!(!status.is_awaiting_issuance());
    }

    #[test]
    fn order_status_displays_canonical_value() {
        assert_eq!(OrderStatus::parse("reIssued").to_string(), "REISSUED");
    }

    #[test]
    fn domain_status_usability_follows_definition() {
        assert!(DomainVerificationStatus::parse("approved").is_usable());
        assert!(DomainVerificationStatus::parse("RE_VERIFICATION").is_usable());
        assert!(!DomainVerificationStatus::parse("Initial_Verification").is_usable());
        assert!(!DomainVerificationStatus::parse("DECLINED").is_usable());
        assert!(!DomainVerificationStatus::parse("SOMETHING_NEW").is_usable());
    }

    #[test]
    fn organization_status_parses_mixed_case() {
        assert_eq!(
            OrganizationVerificationStatus::parse("Pending_Final_Approval"),
            OrganizationVerificationStatus::PendingFinalApproval
        );
        assert_eq!(
            OrganizationVerificationStatus::parse("Approved"),
            OrganizationVerificationStatus::Approved
        );
    }
}
