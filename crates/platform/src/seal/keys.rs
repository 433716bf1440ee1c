//! Master keys and the keyring: parsing `ID:BASE64` lists from configuration, with errors that
//! name the key id and never the key material.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox, SecretString};

/// Length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// Longest accepted key id, in characters. The id is stored in every sealed blob.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Name of a master key, stored in every blob it seals (`k1`, `2026-01`). Ids contain only
/// ASCII letters, digits, `_` and `-`, and are 1 to 32 characters long.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Validates a key id.
    pub fn parse(id: &str) -> Result<Self, KeyringError> {
        let valid_chars = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if id.is_empty() || id.len() > MAX_KEY_ID_LEN || !valid_chars {
            return Err(KeyringError::InvalidKeyId { id: id.to_owned() });
        }
        Ok(Self(id.to_owned()))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit master key and its id. The material is zeroized on drop and redacted in `Debug`.
#[derive(Debug)]
pub struct MasterKey {
    id: KeyId,
    material: SecretBox<[u8; MASTER_KEY_LEN]>,
}

impl MasterKey {
    /// Creates a master key from raw material.
    pub fn new(id: KeyId, material: SecretBox<[u8; MASTER_KEY_LEN]>) -> Self {
        Self { id, material }
    }

    /// Generates a random master key, for tests and for provisioning tools.
    pub fn generate(id: KeyId) -> Result<Self, KeyringError> {
        let mut material = SecretBox::new(Box::new([0u8; MASTER_KEY_LEN]));
        SystemRandom::new()
            .fill(material.expose_secret_mut())
            .map_err(|_| KeyringError::Random)?;
        Ok(Self { id, material })
    }

    /// Decodes a master key from standard base64 (with padding), as `openssl rand -base64 32`
    /// prints it. Errors name the key id, never the encoded value.
    pub fn from_base64(id: KeyId, encoded: &str) -> Result<Self, KeyringError> {
        // The decode error is dropped because its message quotes a character of the key.
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyringError::InvalidBase64 { id: id.0.clone() })?,
        );
        let material: [u8; MASTER_KEY_LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyringError::WrongLength {
                    id: id.0.clone(),
                    length: decoded.len(),
                })?;
        Ok(Self::new(id, SecretBox::new(Box::new(material))))
    }

    /// Encodes the key as `ID:BASE64`, the format `CERTITUDE_MASTER_KEYS` takes.
    pub fn to_config_entry(&self) -> SecretString {
        let encoded = Zeroizing::new(STANDARD.encode(self.material.expose_secret()));
        SecretString::from(format!("{}:{}", self.id, encoded.as_str()))
    }

    /// Returns the key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn material(&self) -> &[u8; MASTER_KEY_LEN] {
        self.material.expose_secret()
    }
}

/// The master keys a service can use: the current one, which seals every new record, and the
/// previous ones, kept so that records sealed before a rotation still open.
///
/// Cloning is cheap (the keys are shared). `Debug` lists key ids only.
#[derive(Clone)]
pub struct Keyring {
    /// Current key first, then the previous keys in the order given. Never empty.
    keys: Arc<[MasterKey]>,
}

impl Keyring {
    /// Builds a keyring from the current key and the previous ones. Rejects duplicate ids.
    pub fn new(
        current: MasterKey,
        previous: impl IntoIterator<Item = MasterKey>,
    ) -> Result<Self, KeyringError> {
        let keys: Vec<MasterKey> = std::iter::once(current).chain(previous).collect();
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|earlier| earlier.id == key.id) {
                return Err(KeyringError::DuplicateKeyId {
                    id: key.id.0.clone(),
                });
            }
        }
        Ok(Self { keys: keys.into() })
    }

    /// Parses a comma-separated list of `ID:BASE64` entries, the format of
    /// `CERTITUDE_MASTER_KEYS`. The first entry is the current key.
    pub fn parse_list(list: &str) -> Result<Self, KeyringError> {
        Self::parse_entries(list.split(','))
    }

    /// Parses one `ID:BASE64` entry per line, the format of the file named by
    /// `CERTITUDE_MASTER_KEY_FILE`. Blank lines and lines starting with `#` are skipped; the
    /// first entry is the current key.
    pub fn parse_lines(text: &str) -> Result<Self, KeyringError> {
        let entries = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'));
        Self::parse_entries(entries)
    }

    fn parse_entries<'a>(entries: impl Iterator<Item = &'a str>) -> Result<Self, KeyringError> {
        let mut keys = Vec::new();
        let non_blank = entries.map(str::trim).filter(|entry| !entry.is_empty());
        for (index, entry) in non_blank.enumerate() {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or(KeyringError::MissingKeyId { entry: index + 1 })?;
            keys.push(MasterKey::from_base64(KeyId::parse(id.trim())?, encoded)?);
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(KeyringError::Empty)?;
        Self::new(current, keys)
    }

    /// Returns the id of the key that seals new records.
    pub fn current_key_id(&self) -> &KeyId {
        &self.current().id
    }

    /// Returns the ids of every key, current first.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|key| &key.id)
    }

    pub(crate) fn current(&self) -> &MasterKey {
        // `new` always puts the current key first, so the slice is never empty.
        &self.keys[0]
    }

    pub(crate) fn find(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|key| key.id.as_str() == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current().id.as_str())
            .field(
                "previous",
                &self.keys[1..]
                    .iter()
                    .map(|key| key.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Errors in building a keyring. None of them contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A key id is empty, too long or has a character outside `[A-Za-z0-9_-]`.
    #[error("invalid master key id {id:?}: expected 1 to 32 ASCII letters, digits, '_' or '-'")]
    InvalidKeyId {
        /// The rejected id.
        id: String,
    },
    /// An entry has no `:` between its id and its key.
    #[error("master key entry {entry} has no key id: expected ID:BASE64, such as k1:<base64>")]
    MissingKeyId {
        /// One-based position of the entry among the non-blank entries.
        entry: usize,
    },
    /// A key is not standard base64.
    #[error(
        "master key {id:?} is not valid base64: expected the standard alphabet with padding, \
         as printed by `openssl rand -base64 32`"
    )]
    InvalidBase64 {
        /// Id of the rejected key.
        id: String,
    },
    /// A key does not decode to 32 bytes.
    #[error(
        "master key {id:?} is {length} bytes long: expected 32 bytes (256 bits), such as the \
         output of `openssl rand -base64 32`"
    )]
    WrongLength {
        /// Id of the rejected key.
        id: String,
        /// Decoded length in bytes.
        length: usize,
    },
    /// Two keys share one id, so a sealed blob could not say which one sealed it.
    #[error("master key id {id:?} appears more than once: give every key its own id")]
    DuplicateKeyId {
        /// The repeated id.
        id: String,
    },
    /// The list contains no entry.
    #[error("no master key given: expected at least one ID:BASE64 entry")]
    Empty,
    /// The system random number generator failed.
    #[error("failed to generate a master key: the system random number generator failed")]
    Random,
}
