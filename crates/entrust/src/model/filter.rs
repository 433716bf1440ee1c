//! Search filters for listing orders, beyond the common ones in
//! [`OrderQuery`](super::OrderQuery).

use time::OffsetDateTime;

use super::ids::{SerialNumber, TrackingId};

/// The match rule of a text filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    /// The value equals this text.
    Equals(String),
    /// The value contains this text.
    Contains(String),
    /// The value equals one of these texts. No text may contain a comma, because the CA
    /// separates the alternatives with commas.
    AnyOf(Vec<String>),
}

/// The comparison of a date or number filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Equal to the operand.
    Equal,
    /// Greater than (after) the operand.
    Greater,
    /// Greater than or equal to the operand.
    GreaterOrEqual,
    /// Less than (before) the operand.
    Less,
    /// Less than or equal to the operand.
    LessOrEqual,
}

/// One search filter on orders. Filters combine with AND.
///
/// Not every field supports every match: tracking ids, products, key types and EKUs support
/// only equality and lists. A filter the CA cannot express fails locally with
/// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFilter {
    /// Orders with one of these tracking ids.
    TrackingIds(Vec<TrackingId>),
    /// Certificates with one of these serial numbers.
    SerialNumbers(Vec<SerialNumber>),
    /// Certificates whose serial number contains this hexadecimal text.
    SerialNumberContains(String),
    /// The subject distinguished name.
    SubjectDn(TextMatch),
    /// Any subject alternative name of the certificate.
    SubjectAltName(TextMatch),
    /// When the certificate was issued.
    IssuedAt(Comparison, OffsetDateTime),
    /// When the certificate expires.
    ExpiresAt(Comparison, OffsetDateTime),
    /// Signature algorithm, for example `SHA-2`.
    SigningAlgorithm(TextMatch),
    /// Extended key usage wire value, for example `SERVER_AUTH`.
    Eku(TextMatch),
    /// Key size in bits.
    KeySize(Comparison, u32),
    /// Key algorithm (`RSA`, `EC`, `OTHER`).
    KeyType(TextMatch),
    /// Organization in the subject.
    Organization(TextMatch),
    /// Organizational unit in the subject.
    OrganizationalUnit(TextMatch),
    /// Product code, for example `STANDARD_SSL`.
    Product(TextMatch),
    /// Free-text tracking info stored with the order.
    TrackingInfo(TextMatch),
    /// Requester name.
    RequesterName(TextMatch),
    /// Requester email address.
    RequesterEmail(TextMatch),
    /// Requester phone number.
    RequesterPhone(TextMatch),
    /// Any of the additional notification addresses.
    AdditionalEmail(TextMatch),
    /// A custom field by its CA name, for example `text1` or `number2`.
    CustomField {
        /// The custom field's name.
        name: String,
        /// The match rule for its value.
        value: TextMatch,
    },
    /// The domain the order was validated against.
    DomainUsed(TextMatch),
    /// Whether the certificate was issued by another CA and only recorded by this account.
    ThirdParty(bool),
}
