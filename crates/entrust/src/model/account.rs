//! Sub-accounts (ECS clients) and domain verification.

use time::OffsetDateTime;

use super::catalog::{Domain, Organization};
use super::status::{OrganizationVerificationStatus, VerificationMethod};

/// A sub-account of the CA account (an ECS client). Client 1 is the primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClient {
    /// The client's id; 1 is the primary client.
    pub client_id: u32,
    /// Registered company name.
    pub name: String,
    /// Display label chosen by the account; not part of any certificate.
    pub friendly_name: Option<String>,
    /// Organization-validation state of the client.
    pub verification_status: OrganizationVerificationStatus,
    /// When the organization validation expires, once approved.
    pub ov_expiry: Option<OffsetDateTime>,
    /// Extended-validation state, when EV data was submitted.
    pub ev_verification_status: Option<OrganizationVerificationStatus>,
    /// When the extended validation expires, once approved.
    pub ev_expiry: Option<OffsetDateTime>,
}

/// A postal address as the CA stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostalAddress {
    /// ISO 3166 two-letter country code.
    pub country: Option<String>,
    /// State or province.
    pub state_or_province: Option<String>,
    /// City.
    pub city: Option<String>,
    /// First street line.
    pub street1: Option<String>,
    /// Second street line.
    pub street2: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
}

/// One sub-account with its address and organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClientDetail {
    /// The fields every client listing has.
    pub client: AccountClient,
    /// Registered address, when reported.
    pub address: Option<PostalAddress>,
    /// Organizations of the client. ECS lists them for the primary client only.
    pub organizations: Vec<Organization>,
}

/// The DNS record that proves control of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsVerification {
    /// Name of the record to create, for example `_pki-validation.example.com`.
    pub record_domain: Option<String>,
    /// Record type; ECS supports `TXT` only.
    pub record_type: Option<String>,
    /// Random value the record must hold. It may change on every re-verification.
    pub record_value: Option<String>,
}

/// The web file that proves control of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebServerVerification {
    /// URL where the file must be served.
    pub file_location: Option<String>,
    /// Random value the file must contain.
    pub file_contents: Option<String>,
}

/// One domain with the details of its pending or last verification.
///
/// The random DNS and file values appear some seconds after a domain is added or re-verified;
/// until then they are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDetail {
    /// The fields every domain listing has.
    pub domain: Domain,
    /// DNS method details, when the method is DNS.
    pub dns: Option<DnsVerification>,
    /// Addresses the verification email was sent to, when the method is EMAIL.
    pub emails: Vec<String>,
    /// Web-server method details, when the method is WEB_SERVER.
    pub web_server: Option<WebServerVerification>,
}

/// The recipient of a domain-verification email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailSource {
    /// An address from the domain's WHOIS record.
    Whois,
    /// This address, which must be a WHOIS address or one of `admin@`, `administrator@`,
    /// `webmaster@`, `hostmaster@` and `postmaster@` the base domain.
    Specified(String),
}

/// The method by which the CA should verify control of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainVerificationRequest {
    /// Verification method.
    pub method: VerificationMethod,
    /// Email target, for [`VerificationMethod::Email`] only.
    pub email: Option<EmailSource>,
}

/// A domain to register with a sub-account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    /// Domain name.
    pub name: String,
    /// The verification to start.
    pub verification: DomainVerificationRequest,
}

/// The CA's acknowledgement of a domain request: verification runs asynchronously.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainRequestAccepted {
    /// Path of the domain relative to the API base URL, from the `Location` header.
    pub location: Option<String>,
    /// When the verification details should be ready, from the `Retry-After` header (an HTTP
    /// date on these responses).
    pub ready_at: Option<OffsetDateTime>,
}
