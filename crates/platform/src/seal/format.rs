//! The binary layout of a sealed blob, version 1:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, `1` |
//! | 1 | length `n` of the master key id (1 to 32) |
//! | n | master key id, ASCII |
//! | 12 | nonce of the data-key wrapping |
//! | 48 | data key wrapped by the master key (32 bytes + 16-byte GCM tag) |
//! | 12 | nonce of the secret's encryption |
//! | rest | secret encrypted by the data key, followed by its 16-byte GCM tag |
//!
//! The header (version, id length and id) is the associated data of the wrapping, so a blob
//! whose key id was edited fails to open.

use aws_lc_rs::aead::NONCE_LEN;

use super::SealError;
use super::keys::{KeyId, MAX_KEY_ID_LEN};

/// Format version written by this build.
pub(crate) const VERSION: u8 = 1;

/// Length of an AES-256-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// Length of a wrapped data key: the 32-byte key and its tag.
pub(crate) const WRAPPED_KEY_LEN: usize = 32 + TAG_LEN;

/// A sealed blob split into its fields, borrowing from the blob.
pub(crate) struct SealedParts<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) key_id: &'a str,
    pub(crate) wrap_nonce: [u8; NONCE_LEN],
    pub(crate) wrapped_key: &'a [u8],
    pub(crate) data_nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: &'a [u8],
}

/// Encodes the header: version, id length and id.
pub(crate) fn header(key_id: &KeyId) -> Vec<u8> {
    let id = key_id.as_str().as_bytes();
    let mut header = Vec::with_capacity(2 + id.len());
    header.push(VERSION);
    // `KeyId` guarantees at most 32 ASCII bytes, so the length fits in one byte.
    header.push(id.len() as u8);
    header.extend_from_slice(id);
    header
}

/// Concatenates the fields of a blob.
pub(crate) fn encode(
    header: &[u8],
    wrap_nonce: &[u8; NONCE_LEN],
    wrapped_key: &[u8],
    data_nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Vec<u8> {
    let length = header.len() + 2 * NONCE_LEN + wrapped_key.len() + ciphertext.len();
    let mut blob = Vec::with_capacity(length);
    blob.extend_from_slice(header);
    blob.extend_from_slice(wrap_nonce);
    blob.extend_from_slice(wrapped_key);
    blob.extend_from_slice(data_nonce);
    blob.extend_from_slice(ciphertext);
    blob
}

/// Splits a blob into its fields, checking the version and every length.
pub(crate) fn decode(blob: &[u8]) -> Result<SealedParts<'_>, SealError> {
    let (&version, rest) = blob.split_first().ok_or(malformed("it is empty"))?;
    if version != VERSION {
        return Err(SealError::UnsupportedVersion { version });
    }

    let (&id_len, rest) = rest
        .split_first()
        .ok_or(malformed("it ends after the version"))?;
    let id_len = usize::from(id_len);
    if id_len == 0 || id_len > MAX_KEY_ID_LEN {
        return Err(malformed("its master key id length is outside 1 to 32"));
    }
    let (id, rest) = split(rest, id_len, "it ends inside the master key id")?;
    let key_id = std::str::from_utf8(id)
        .ok()
        .filter(|id| KeyId::parse(id).is_ok())
        .ok_or(malformed(
            "its master key id has characters outside [A-Za-z0-9_-]",
        ))?;
    let (wrap_nonce, rest) = split(rest, NONCE_LEN, "it ends inside the wrapping nonce")?;
    let (wrapped_key, rest) = split(rest, WRAPPED_KEY_LEN, "it ends inside the wrapped key")?;
    let (data_nonce, ciphertext) = split(rest, NONCE_LEN, "it ends inside the data nonce")?;
    if ciphertext.len() < TAG_LEN {
        return Err(malformed("its ciphertext is shorter than the 16-byte tag"));
    }

    Ok(SealedParts {
        header: &blob[..2 + id_len],
        key_id,
        wrap_nonce: to_nonce(wrap_nonce),
        wrapped_key,
        data_nonce: to_nonce(data_nonce),
        ciphertext,
    })
}

fn split<'a>(
    bytes: &'a [u8],
    at: usize,
    reason: &'static str,
) -> Result<(&'a [u8], &'a [u8]), SealError> {
    if bytes.len() < at {
        return Err(malformed(reason));
    }
    Ok(bytes.split_at(at))
}

fn to_nonce(bytes: &[u8]) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(bytes);
    nonce
}

fn malformed(reason: &'static str) -> SealError {
    SealError::Malformed { reason }
}
