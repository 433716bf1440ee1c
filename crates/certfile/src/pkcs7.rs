//! Certificates from PKCS#7 / CMS `SignedData` (RFC 5652), in DER or BER.
//!
//! The walk uses asn1-rs's BER parser, which accepts indefinite lengths, and reads only the
//! fields that lead to the `certificates` set. Signatures and content are not checked.

use x509_parser::asn1_rs::{Any, Class, FromBer, Oid, Tag, oid};

const SIGNED_DATA: Oid<'static> = oid!(1.2.840.113549.1.7.2);

/// Certificates of a `SignedData` bundle.
pub(crate) struct Pkcs7Certificates<'a> {
    /// Each `Certificate` choice, as its encoded bytes.
    pub certificates: Vec<&'a [u8]>,
    /// Number of `CertificateChoices` that are not X.509 certificates (attribute certificates
    /// and other formats), which are skipped.
    pub skipped: usize,
}

/// Reads one BER element and returns the rest of the input, the element and its encoding.
fn read_element(input: &[u8]) -> Result<(&[u8], Any<'_>, &[u8]), String> {
    let (rest, element) =
        Any::from_ber(input).map_err(|error| format!("malformed BER element: {error}"))?;
    let encoded = &input[..input.len() - rest.len()];
    Ok((rest, element, encoded))
}

/// Returns whether the element is a universal-class element with the given tag.
fn is_universal(element: &Any<'_>, tag: Tag) -> bool {
    element.class() == Class::Universal && element.tag() == tag
}

/// Returns whether the first element of `input` is a `ContentInfo` of type `signedData`.
pub(crate) fn looks_like_signed_data(input: &[u8]) -> bool {
    let Ok((_, content_info, _)) = read_element(input) else {
        return false;
    };
    if !is_universal(&content_info, Tag::Sequence) {
        return false;
    }
    let Ok((_, content_type, _)) = read_element(content_info.data) else {
        return false;
    };
    content_type
        .as_oid()
        .is_ok_and(|content_type| content_type == SIGNED_DATA)
}

/// Extracts the certificates of a `ContentInfo` that contains `SignedData`.
pub(crate) fn signed_data_certificates(input: &[u8]) -> Result<Pkcs7Certificates<'_>, String> {
    let (_, content_info, _) = read_element(input)?;
    if !is_universal(&content_info, Tag::Sequence) {
        return Err("ContentInfo is not a SEQUENCE".to_owned());
    }
    let (rest, content_type, _) = read_element(content_info.data)?;
    let content_type = content_type
        .as_oid()
        .map_err(|_| "ContentInfo has no content type OID".to_owned())?;
    if content_type != SIGNED_DATA {
        return Err(format!(
            "content type is {content_type}, expected signedData (1.2.840.113549.1.7.2)"
        ));
    }
    let (_, explicit_content, _) = read_element(rest)?;
    if explicit_content.class() != Class::ContextSpecific || explicit_content.tag() != Tag(0) {
        return Err("ContentInfo has no [0] content".to_owned());
    }
    let (_, signed_data, _) = read_element(explicit_content.data)?;
    if !is_universal(&signed_data, Tag::Sequence) {
        return Err("SignedData is not a SEQUENCE".to_owned());
    }

    // SignedData: version, digestAlgorithms, encapContentInfo, then the optional
    // [0] IMPLICIT certificates set.
    let mut fields = signed_data.data;
    for field_name in ["version", "digestAlgorithms", "encapContentInfo"] {
        let (next, _, _) =
            read_element(fields).map_err(|error| format!("{field_name}: {error}"))?;
        fields = next;
    }
    let mut result = Pkcs7Certificates {
        certificates: Vec::new(),
        skipped: 0,
    };
    if fields.is_empty() {
        return Ok(result);
    }
    let (_, certificates, _) = read_element(fields)?;
    if certificates.class() != Class::ContextSpecific || certificates.tag() != Tag(0) {
        // No certificates field: the next field is crls [1] or signerInfos.
        return Ok(result);
    }
    let mut entries = certificates.data;
    while !entries.is_empty() {
        let (next, entry, encoded) =
            read_element(entries).map_err(|error| format!("certificates: {error}"))?;
        if is_universal(&entry, Tag::Sequence) {
            result.certificates.push(encoded);
        } else {
            result.skipped += 1;
        }
        entries = next;
    }
    Ok(result)
}
