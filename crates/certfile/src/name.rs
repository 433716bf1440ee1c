//! Distinguished names with every ASN.1 string type decoded to text.

use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::oid_registry::Oid;
use x509_parser::x509::X509Name;

/// A subject or issuer distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The name as an RFC 4514 string: the last RDN first, attributes joined by `,`, special
    /// characters escaped with `\`. Two deviations keep it readable: attribute types outside
    /// RFC 4514's table use their common short name (for example `emailAddress`), and every
    /// string value is shown as decoded text, even where RFC 4514 requires `#` and hex.
    pub rfc4514: String,
    /// The attributes in encoding order (the first RDN first).
    pub attributes: Vec<NameAttribute>,
    /// The DER encoding of the name, which chain building compares byte for byte.
    pub der: Vec<u8>,
}

/// One attribute of a distinguished name, such as `CN=example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAttribute {
    /// Dotted attribute type OID, for example `2.5.4.3`.
    pub oid: String,
    /// Short name of the type (`CN`, `O`, `emailAddress`), or the dotted OID when unknown.
    pub short_name: String,
    /// The value as text. Invalid byte sequences are replaced with U+FFFD.
    pub value: String,
    /// ASN.1 type of the value, for example `PrintableString` or `BMPString`.
    pub value_type: String,
    /// Whether the value had bytes that are invalid for its string type and were replaced.
    pub lossy: bool,
}

impl Name {
    /// Returns the first common name (CN) attribute's value.
    pub fn common_name(&self) -> Option<&str> {
        self.values("CN").next()
    }

    /// Returns the values of all attributes with this short name (for example `OU`), in
    /// encoding order.
    pub fn values<'a>(&'a self, short_name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |attribute| attribute.short_name == short_name)
            .map(|attribute| attribute.value.as_str())
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.rfc4514)
    }
}

/// Converts a parsed X.509 name. Undecodable values become lossy text, so this cannot fail.
pub(crate) fn convert_name(name: &X509Name<'_>) -> Name {
    let mut attributes = Vec::new();
    let mut rdn_strings = Vec::new();
    for rdn in name.iter_rdn() {
        let mut parts = Vec::new();
        for attribute in rdn.iter() {
            let converted = convert_attribute(attribute.attr_type(), attribute.attr_value());
            parts.push(format!(
                "{}={}",
                converted.short_name,
                escape_rfc4514(&converted.value)
            ));
            attributes.push(converted);
        }
        rdn_strings.push(parts.join("+"));
    }
    rdn_strings.reverse();
    Name {
        rfc4514: rdn_strings.join(","),
        attributes,
        der: name.as_raw().to_vec(),
    }
}

fn convert_attribute(oid: &Oid<'_>, value: &Any<'_>) -> NameAttribute {
    let (text, value_type, lossy) = decode_string(value);
    NameAttribute {
        oid: oid.to_id_string(),
        short_name: short_name(oid),
        value: text,
        value_type: value_type.to_owned(),
        lossy,
    }
}

/// RFC 4514 section 3 names these types; others get the registry's short name.
fn short_name(oid: &Oid<'_>) -> String {
    let rfc4514_name = match oid.to_id_string().as_str() {
        "2.5.4.3" => Some("CN"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.6" => Some("C"),
        "2.5.4.9" => Some("STREET"),
        "0.9.2342.19200300.100.1.25" => Some("DC"),
        "0.9.2342.19200300.100.1.1" => Some("UID"),
        _ => None,
    };
    match rfc4514_name {
        Some(name) => name.to_owned(),
        None => match oid2sn(oid, oid_registry()) {
            Ok(name) => name.to_owned(),
            Err(_) => oid.to_id_string(),
        },
    }
}

/// Decodes an ASN.1 string value of any type and returns the text, the type's name and
/// whether replacement characters were needed.
pub(crate) fn decode_string(value: &Any<'_>) -> (String, &'static str, bool) {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String => {
            let (text, lossy) = utf8_lossy(data);
            (text, "UTF8String", lossy)
        }
        Tag::PrintableString => ascii_string(data, "PrintableString"),
        Tag::Ia5String => ascii_string(data, "IA5String"),
        Tag::VisibleString => ascii_string(data, "VisibleString"),
        Tag::NumericString => ascii_string(data, "NumericString"),
        // T.61 is read as ISO 8859-1, as OpenSSL and most other tools do: CAs that used
        // T61String put Latin-1 bytes into it.
        Tag::TeletexString => (
            data.iter().map(|&byte| char::from(byte)).collect(),
            "T61String",
            false,
        ),
        Tag::BmpString => {
            let (text, lossy) = utf16_be_lossy(data);
            (text, "BMPString", lossy)
        }
        Tag::UniversalString => {
            let (text, lossy) = utf32_be_lossy(data);
            (text, "UniversalString", lossy)
        }
        _ => {
            // Not a string type: RFC 4514 form `#` followed by the hex of the DER encoding.
            let der = value.to_der_vec().unwrap_or_else(|_| data.to_vec());
            (format!("#{}", hex::encode(der)), "non-string", false)
        }
    }
}

fn utf8_lossy(data: &[u8]) -> (String, bool) {
    match std::str::from_utf8(data) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (String::from_utf8_lossy(data).into_owned(), true),
    }
}

fn ascii_string(data: &[u8], value_type: &'static str) -> (String, &'static str, bool) {
    let (text, invalid_utf8) = utf8_lossy(data);
    (text, value_type, invalid_utf8 || !data.is_ascii())
}

fn utf16_be_lossy(data: &[u8]) -> (String, bool) {
    let units = data
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let mut lossy = !data.len().is_multiple_of(2);
    let mut text: String = char::decode_utf16(units)
        .map(|unit| {
            unit.unwrap_or_else(|_| {
                lossy = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if !data.len().is_multiple_of(2) {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    (text, lossy)
}

fn utf32_be_lossy(data: &[u8]) -> (String, bool) {
    let mut lossy = !data.len().is_multiple_of(4);
    let mut text: String =
        data.chunks_exact(4)
            .map(|quad| {
                char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
                    .unwrap_or_else(|| {
                        lossy = true;
                        char::REPLACEMENT_CHARACTER
                    })
            })
            .collect();
    if !data.len().is_multiple_of(4) {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    (text, lossy)
}

/// Escapes a value as RFC 4514 section 2.4 requires.
fn escape_rfc4514(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (position, character) in value.chars().enumerate() {
        let needs_escape = matches!(character, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (position == 0 && matches!(character, '#' | ' '))
            || (position == last && character == ' ');
        if character == '\0' {
            escaped.push_str("\\00");
        } else {
            if needs_escape {
                escaped.push('\\');
            }
            escaped.push(character);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_rfc4514_special_characters() {
        assert_eq!(escape_rfc4514("a,b"), "a\\,b");
        assert_eq!(escape_rfc4514("#lead"), "\\#lead");
        assert_eq!(escape_rfc4514(" both "), "\\ both\\ ");
        assert_eq!(escape_rfc4514("x+y=\"z\""), "x\\+y=\\\"z\\\"");
        assert_eq!(escape_rfc4514("plain"), "plain");
    }

    #[test]
    fn utf16_decoding_replaces_lone_surrogate() {
        assert_eq!(
            utf16_be_lossy(&[0x00, 0x41, 0x00, 0xE9]),
            ("Aé".to_owned(), false)
        );
        assert_eq!(
            utf16_be_lossy(&[0xD8, 0x00, 0x00, 0x41]),
            ("\u{FFFD}A".to_owned(), true)
        );
        assert_eq!(
            utf16_be_lossy(&[0x00, 0x41, 0x00]),
            ("A\u{FFFD}".to_owned(), true)
        );
    }

    #[test]
    fn utf32_decoding_replaces_invalid_scalar() {
        assert_eq!(
            utf32_be_lossy(&[0, 0, 0, 0x41, 0, 0x11, 0, 0]),
            ("A\u{FFFD}".to_owned(), true)
        );
    }
}
