//! Sealing of secrets at rest with envelope encryption: every record gets a fresh random
//! 256-bit data key that encrypts the secret with AES-256-GCM, and a master key from the
//! [`Keyring`] wraps that data key (AES-256-GCM again).
//!
//! The cryptography comes from aws-lc-rs, the well-kept Rust binding of AWS-LC (Amazon's
//! fork of BoringSSL, whose FIPS module has been through FIPS 140-3 validation), which the
//! workspace already links for rcgen and rustls. This crate uses its default, non-FIPS build.
//!
//! Each blob is a versioned binary record that names the master key that wrapped it. A
//! keyring with the current key and the previous ones therefore opens records sealed before
//! a rotation, and [`Keyring::rewrap`] moves a record to the current key without touching the
//! encrypted secret. [`rewrap_column`] does the same for every blob of a table column. The
//! associated data given to [`Keyring::seal`] binds a blob to its record (build it with
//! [`record_aad`]): a blob copied to another row fails to open there.

mod format;
mod keys;
mod rewrap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use secrecy::SecretSlice;
use secrecy::zeroize::Zeroizing;

pub use keys::{KeyId, Keyring, KeyringError, MASTER_KEY_LEN, MAX_KEY_ID_LEN, MasterKey};
pub use rewrap::{
    ColumnRewrap, DEFAULT_REWRAP_BATCH_SIZE, RewrapError, RewrapStats, RowId, SealedColumn,
    rewrap_column,
};

use format::{SealedParts, TAG_LEN, WRAPPED_KEY_LEN};

/// Length of a data key in bytes (AES-256).
const DATA_KEY_LEN: usize = 32;

impl Keyring {
    /// Seals `plaintext` under a fresh data key wrapped by the current master key. `aad` is the
    /// associated data that [`Keyring::open`] must be given again, such as [`record_aad`] of the
    /// row and column the blob is stored in. Sealing the same input twice gives different blobs.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let master = self.current();
        let header = format::header(master.id());

        let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        SystemRandom::new()
            .fill(data_key.as_mut())
            .map_err(|source| SealError::Crypto {
                operation: "data key generation",
                source,
            })?;

        let (data_nonce, ciphertext) = encrypt(&data_key[..], &data_aad(aad), plaintext)?;
        let (wrap_nonce, wrapped_key) = encrypt(master.material(), &header, &data_key[..])?;
        Ok(format::encode(
            &header,
            &wrap_nonce,
            &wrapped_key,
            &data_nonce,
            &ciphertext,
        ))
    }

    /// Opens a blob made by [`Keyring::seal`] with the master key it names and the same `aad`.
    ///
    /// Fails with [`SealError::UnknownKey`] when that key is not in this keyring. Fails with
    /// [`SealError::Open`] when the blob was altered, when `aad` differs from the one it was
    /// sealed with, or when the keyring's key of that id is not the one that sealed it.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretSlice<u8>, SealError> {
        let parts = format::decode(sealed)?;
        let data_key = self.unwrap_data_key(&parts)?;

        let mut buffer = Zeroizing::new(parts.ciphertext.to_vec());
        let plaintext = decrypt(&data_key, &data_aad(aad), &parts.data_nonce, &mut buffer)
            .map_err(|_| SealError::Open {
                key_id: parts.key_id.to_owned(),
            })?;
        // A boxed slice of exactly the plaintext's length, so no unzeroized copy is left behind
        // by a reallocation; `buffer` is zeroized when it drops.
        Ok(SecretSlice::from(Box::<[u8]>::from(&*plaintext)))
    }

    /// Re-wraps the data key of a blob under the current master key, leaving the encrypted
    /// secret as it is. A blob already under the current key is returned unchanged.
    ///
    /// Needs no associated data, so a rotation job can re-wrap every record without knowing
    /// what it holds. Fails like [`Keyring::open`] when the blob's key is missing or the
    /// wrapped key was altered.
    pub fn rewrap(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let parts = format::decode(sealed)?;
        let current = self.current();
        if parts.key_id == current.id().as_str() {
            return Ok(sealed.to_vec());
        }
        let data_key = self.unwrap_data_key(&parts)?;

        let header = format::header(current.id());
        let (wrap_nonce, wrapped_key) = encrypt(current.material(), &header, &data_key)?;
        Ok(format::encode(
            &header,
            &wrap_nonce,
            &wrapped_key,
            &parts.data_nonce,
            parts.ciphertext,
        ))
    }

    /// Returns whether a blob is wrapped by the current master key, so a rotation job can skip
    /// it. Fails only when the blob is malformed.
    pub fn is_current(&self, sealed: &[u8]) -> Result<bool, SealError> {
        Ok(sealed_key_id(sealed)? == self.current_key_id().as_str())
    }

    fn unwrap_data_key(&self, parts: &SealedParts<'_>) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let master = self
            .find(parts.key_id)
            .ok_or_else(|| SealError::UnknownKey {
                key_id: parts.key_id.to_owned(),
            })?;
        let mut buffer = Zeroizing::new(parts.wrapped_key.to_vec());
        let data_key = decrypt(
            master.material(),
            parts.header,
            &parts.wrap_nonce,
            &mut buffer,
        )
        .map_err(|_| SealError::Open {
            key_id: parts.key_id.to_owned(),
        })?;
        Ok(Zeroizing::new(data_key.to_vec()))
    }
}

/// Returns the id of the master key that wrapped a blob, without opening it.
pub fn sealed_key_id(sealed: &[u8]) -> Result<&str, SealError> {
    Ok(format::decode(sealed)?.key_id)
}

/// Builds associated data that binds a blob to one column of one row, so that the blob opens
/// only when read back from the same place. Each part is length-prefixed, so distinct
/// `(table, column, row_id)` triples never give the same bytes.
pub fn record_aad(table: &str, column: &str, row_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(12 + table.len() + column.len() + row_id.len());
    for part in [table, column, row_id] {
        // Table, column and row id lengths are far below 4 GiB.
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// Associated data of the secret's encryption: the format version, then the caller's bytes.
fn data_aad(aad: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(1 + aad.len());
    bound.push(format::VERSION);
    bound.extend_from_slice(aad);
    bound
}

/// Encrypts with AES-256-GCM under a nonce that AWS-LC draws at random, returning the nonce
/// and the ciphertext followed by its tag.
fn encrypt(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), SealError> {
    let crypto = |source| SealError::Crypto {
        operation: "encryption",
        source,
    };
    let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(crypto)?;
    // Room for the tag up front, so appending it never reallocates and leaves a copy of the
    // plaintext in freed memory.
    let mut buffer = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buffer.extend_from_slice(plaintext);
    let nonce = key
        .seal_in_place_append_tag(Aad::from(aad), &mut buffer)
        .map_err(crypto)?;
    Ok((*nonce.as_ref(), buffer))
}

/// Decrypts and authenticates `buffer` (ciphertext and tag) in place, returning the plaintext.
fn decrypt<'a>(
    key: &[u8],
    aad: &[u8],
    nonce: &[u8; NONCE_LEN],
    buffer: &'a mut [u8],
) -> Result<&'a mut [u8], aws_lc_rs::error::Unspecified> {
    let key = RandomizedNonceKey::new(&AES_256_GCM, key)?;
    key.open_in_place(Nonce::from(nonce), Aad::from(aad), buffer)
}

// A wrapped data key is the data key and one tag.
const _: () = assert!(WRAPPED_KEY_LEN == DATA_KEY_LEN + TAG_LEN);

/// Errors in sealing and opening. None of them contains key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The blob names a master key that this keyring does not hold.
    #[error("sealed with master key \"{key_id}\", which is not in the keyring")]
    UnknownKey {
        /// Id of the missing key.
        key_id: String,
    },
    /// The blob failed authentication. It was altered, or its associated data differs from the
    /// one it was sealed with (it was copied to another row, for example). Or the keyring's key
    /// of that id is not the one that sealed it, because a new master key reused an old id.
    #[error(
        "sealed blob failed to open with master key \"{key_id}\": it was altered, sealed for \
         another record (associated data mismatch), or sealed under a different master key with \
         the same id; if master key \"{key_id}\" was regenerated or replaced, restore the key \
         the blob was sealed with"
    )]
    Open {
        /// Id of the master key named in the blob.
        key_id: String,
    },
    /// The blob is too short or its header is invalid.
    #[error("sealed blob is malformed: {reason}")]
    Malformed {
        /// Description of the defect.
        reason: &'static str,
    },
    /// The blob was written in a format version this build does not read.
    #[error("sealed blob has format version {version}, but this build reads only version 1")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// AWS-LC failed to encrypt or to generate randomness.
    #[error("AES-256-GCM {operation} failed in aws-lc-rs")]
    Crypto {
        /// The failed step.
        operation: &'static str,
        /// The library's error, which carries no detail.
        #[source]
        source: aws_lc_rs::error::Unspecified,
    },
}
