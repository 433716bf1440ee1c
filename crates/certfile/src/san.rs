//! Subject alternative names of every GeneralName type.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::extensions::GeneralName;

use crate::name::{Name, convert_name};

/// One entry of the subject alternative name extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectAltName {
    /// `dNSName`.
    Dns(DnsName),
    /// `iPAddress` with 4 or 16 bytes.
    IpAddress(IpAddr),
    /// `rfc822Name`, an e-mail address. Non-ASCII bytes are decoded lossily.
    Email(String),
    /// `uniformResourceIdentifier`. Non-ASCII bytes are decoded lossily.
    Uri(String),
    /// `directoryName`.
    DirectoryName(Name),
    /// `registeredID`, as a dotted OID.
    RegisteredId(String),
    /// `otherName`, for example a Microsoft UPN, with its type OID and the DER of its value in
    /// upper-case hex.
    OtherName {
        /// Dotted type OID.
        type_id: String,
        /// Upper-case hex of the value's encoding.
        value_hex: String,
    },
    /// An entry that could not be decoded (an `iPAddress` with a length other than 4 or 16, an
    /// `x400Address`, an `ediPartyName` or an invalid encoding).
    Unparsed {
        /// Context tag number of the GeneralName choice (0 to 8).
        tag: u32,
        /// Upper-case hex of the entry's content bytes.
        value_hex: String,
    },
}

/// A `dNSName` entry in the form the certificate gives it and in both IDNA forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsName {
    /// The name exactly as encoded, decoded as UTF-8 (lossily where invalid).
    pub as_given: String,
    /// The ASCII form with A-labels (`xn--…`), lower-cased by IDNA; `None` when IDNA rejects
    /// the name.
    pub ascii: Option<String>,
    /// The Unicode form with U-labels; equal to `as_given` for plain ASCII names and `None`
    /// when IDNA rejects the name.
    pub unicode: Option<String>,
    /// Whether the encoded name contains non-ASCII bytes. A `dNSName` is an IA5String, so such
    /// a name violates RFC 5280, although some CAs issued them.
    pub non_ascii: bool,
}

impl DnsName {
    pub(crate) fn from_bytes(bytes: &[u8]) -> DnsName {
        let as_given = String::from_utf8_lossy(bytes).into_owned();
        // A leading wildcard label is not a valid IDNA label, so it is kept apart.
        let (prefix, domain) = match as_given.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", as_given.as_str()),
        };
        let ascii = idna::domain_to_ascii(domain)
            .ok()
            .map(|ascii| format!("{prefix}{ascii}"));
        let (unicode, result) = idna::domain_to_unicode(domain);
        let unicode = result.ok().map(|()| format!("{prefix}{unicode}"));
        DnsName {
            as_given,
            ascii,
            unicode,
            non_ascii: !bytes.is_ascii(),
        }
    }
}

pub(crate) fn convert_general_name(name: &GeneralName<'_>) -> SubjectAltName {
    match name {
        GeneralName::DNSName(text) => SubjectAltName::Dns(DnsName::from_bytes(text.as_bytes())),
        GeneralName::RFC822Name(text) => SubjectAltName::Email((*text).to_owned()),
        GeneralName::URI(text) => SubjectAltName::Uri((*text).to_owned()),
        GeneralName::IPAddress(bytes) => match ip_address(bytes) {
            Some(address) => SubjectAltName::IpAddress(address),
            None => SubjectAltName::Unparsed {
                tag: 7,
                value_hex: hex::encode_upper(bytes),
            },
        },
        GeneralName::DirectoryName(name) => SubjectAltName::DirectoryName(convert_name(name)),
        GeneralName::RegisteredID(oid) => SubjectAltName::RegisteredId(oid.to_id_string()),
        GeneralName::OtherName(oid, value) => SubjectAltName::OtherName {
            type_id: oid.to_id_string(),
            value_hex: hex::encode_upper(value),
        },
        GeneralName::X400Address(any) => SubjectAltName::Unparsed {
            tag: 3,
            value_hex: hex::encode_upper(any.data),
        },
        GeneralName::EDIPartyName(any) => SubjectAltName::Unparsed {
            tag: 5,
            value_hex: hex::encode_upper(any.data),
        },
        // x509-parser returns IA5String entries with non-ASCII bytes as invalid. These are
        // decoded lossily here so that raw UTF-8 names stay visible.
        GeneralName::Invalid(tag, bytes) => match tag.0 {
            1 => SubjectAltName::Email(String::from_utf8_lossy(bytes).into_owned()),
            2 => SubjectAltName::Dns(DnsName::from_bytes(bytes)),
            6 => SubjectAltName::Uri(String::from_utf8_lossy(bytes).into_owned()),
            other => SubjectAltName::Unparsed {
                tag: other,
                value_hex: hex::encode_upper(bytes),
            },
        },
    }
}

fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Ok(octets) = <[u8; 16]>::try_from(bytes) {
        return Some(IpAddr::V6(Ipv6Addr::from(octets)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_name_a_label_gets_unicode_form() {
        let name = DnsName::from_bytes(b"xn--biztosts-fza2j.hu");
        assert_eq!(name.as_given, "xn--biztosts-fza2j.hu");
        assert_eq!(name.ascii.as_deref(), Some("xn--biztosts-fza2j.hu"));
        assert_eq!(name.unicode.as_deref(), Some("biztosítás.hu"));
        assert!(!name.non_ascii);
    }

    #[test]
    fn dns_name_raw_utf8_wildcard_gets_a_label() {
        let name = DnsName::from_bytes("*.biztosítás.hu".as_bytes());
        assert_eq!(name.ascii.as_deref(), Some("*.xn--biztosts-fza2j.hu"));
        assert_eq!(name.unicode.as_deref(), Some("*.biztosítás.hu"));
        assert!(name.non_ascii);
    }

    #[test]
    fn ip_address_rejects_other_lengths() {
        assert_eq!(
            ip_address(&[192, 0, 2, 1]),
            Some(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(ip_address(&[1, 2, 3]), None);
    }
}
