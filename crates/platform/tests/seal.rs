//! Envelope encryption: which keyrings open a blob, tamper detection, rotation and re-wrapping.

use certitude_platform::seal::{
    KeyId, Keyring, KeyringError, MasterKey, SealError, record_aad, sealed_key_id,
};
use secrecy::ExposeSecret;

const SECRET: &[u8] = b"entrust-api-key-5f1c2a";

fn key(id: &str) -> MasterKey {
    let id = KeyId::parse(id).expect("test key ids are valid");
    MasterKey::generate(id).expect("the system RNG works")
}

/// Returns a copy of `key`, so that two keyrings can share one master key.
fn copy(key: &MasterKey) -> MasterKey {
    let entry = key.to_config_entry();
    let (id, encoded) = entry
        .expose_secret()
        .split_once(':')
        .expect("entry is ID:BASE64");
    let id = KeyId::parse(id).expect("the id came from a valid key");
    MasterKey::from_base64(id, encoded).expect("the entry encodes a 32-byte key")
}

fn aad() -> Vec<u8> {
    record_aad("credentials", "api_key", "0190f7a4-credential")
}

#[test]
fn sealed_blob_opens_with_its_master_key() {
    let keyring = Keyring::new(key("k1"), []).unwrap();

    let sealed = keyring.seal(SECRET, &aad()).unwrap();
    let opened = keyring.open(&sealed, &aad()).unwrap();

    assert_eq!(opened.expose_secret(), SECRET);
    assert_eq!(sealed_key_id(&sealed).unwrap(), "k1");
}

#[test]
fn empty_secret_round_trips() {
    let keyring = Keyring::new(key("k1"), []).unwrap();

    let sealed = keyring.seal(b"", &aad()).unwrap();

    assert!(
        keyring
            .open(&sealed, &aad())
            .unwrap()
            .expose_secret()
            .is_empty()
    );
}

#[test]
fn keyring_without_the_master_key_fails_to_open() {
    let sealing = Keyring::new(key("k0"), []).unwrap();
    let other = Keyring::new(key("k1"), [key("k2")]).unwrap();
    let sealed = sealing.seal(SECRET, &aad()).unwrap();

    let error = other.open(&sealed, &aad()).unwrap_err();

    assert!(matches!(&error, SealError::UnknownKey { key_id } if key_id == "k0"));
    assert_eq!(
        error.to_string(),
        r#"sealed with master key "k0", which is not in the keyring"#
    );
}

#[test]
fn different_key_with_same_id_fails_to_open() {
    let sealing = Keyring::new(key("k1"), []).unwrap();
    let impostor = Keyring::new(key("k1"), []).unwrap();
    let sealed = sealing.seal(SECRET, &aad()).unwrap();

    let error = impostor.open(&sealed, &aad()).unwrap_err();

    assert!(matches!(error, SealError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("it was altered"), "{message}");
    assert!(message.contains("sealed for another record"), "{message}");
    assert!(
        message.contains("sealed under a different master key with the same id"),
        "{message}"
    );
    assert!(
        message.contains("restore the key the blob was sealed with"),
        "{message}"
    );
}

#[test]
fn open_error_names_no_key_material() {
    let original = key("k1");
    let replacement = key("k1");
    let material: Vec<String> = [&original, &replacement]
        .iter()
        .map(|master| {
            let entry = master.to_config_entry();
            entry.expose_secret().split_once(':').unwrap().1.to_owned()
        })
        .collect();
    let sealed = Keyring::new(original, [])
        .unwrap()
        .seal(SECRET, &aad())
        .unwrap();

    let error = Keyring::new(replacement, [])
        .unwrap()
        .open(&sealed, &aad())
        .unwrap_err();

    let message = error.to_string();
    let debug = format!("{error:?}");
    for encoded in &material {
        assert!(!message.contains(encoded.as_str()), "{message}");
        assert!(!debug.contains(encoded.as_str()), "{debug}");
    }
    assert!(!message.contains("entrust-api-key"), "{message}");
}

#[test]
fn flipped_byte_anywhere_fails_to_open() {
    let keyring = Keyring::new(key("k1"), []).unwrap();
    let sealed = keyring.seal(SECRET, &aad()).unwrap();

    // Every position: version, id length, id, wrapping nonce, wrapped key, data nonce,
    // ciphertext and tag.
    for position in 0..sealed.len() {
        for flip in [0x01, 0x80] {
            let mut tampered = sealed.clone();
            tampered[position] ^= flip;
            let result = keyring.open(&tampered, &aad());
            assert!(
                result.is_err(),
                "blob opened with byte {position} of {} xor {flip:#04x}",
                sealed.len()
            );
        }
    }
}

#[test]
fn truncated_blob_fails_to_open() {
    let keyring = Keyring::new(key("k1"), []).unwrap();
    let sealed = keyring.seal(SECRET, &aad()).unwrap();

    for length in 0..sealed.len() {
        let result = keyring.open(&sealed[..length], &aad());
        assert!(result.is_err(), "blob truncated to {length} bytes opened");
    }
}

#[test]
fn unknown_format_version_is_named() {
    let keyring = Keyring::new(key("k1"), []).unwrap();
    let mut sealed = keyring.seal(SECRET, &aad()).unwrap();
    sealed[0] = 7;

    let error = keyring.open(&sealed, &aad()).unwrap_err();

    assert!(matches!(
        error,
        SealError::UnsupportedVersion { version: 7 }
    ));
}

#[test]
fn sealing_same_secret_twice_gives_different_bytes() {
    let keyring = Keyring::new(key("k1"), []).unwrap();

    let first = keyring.seal(SECRET, &aad()).unwrap();
    let second = keyring.seal(SECRET, &aad()).unwrap();

    assert_ne!(first, second);
}

#[test]
fn wrong_aad_fails_to_open() {
    let keyring = Keyring::new(key("k1"), []).unwrap();
    let sealed = keyring.seal(SECRET, &aad()).unwrap();

    let other_row = record_aad("credentials", "api_key", "0190f7a4-other");
    let other_column = record_aad("credentials", "client_key", "0190f7a4-credential");

    assert!(matches!(
        keyring.open(&sealed, &other_row).unwrap_err(),
        SealError::Open { .. }
    ));
    assert!(matches!(
        keyring.open(&sealed, &other_column).unwrap_err(),
        SealError::Open { .. }
    ));
    assert!(keyring.open(&sealed, b"").is_err());
}

#[test]
fn record_aad_separates_parts() {
    assert_ne!(record_aad("ab", "c", "d"), record_aad("a", "bc", "d"));
}

#[test]
fn record_from_previous_key_opens_after_rotation() {
    let old = key("k1");
    let before = Keyring::new(copy(&old), []).unwrap();
    let sealed = before.seal(SECRET, &aad()).unwrap();

    let after = Keyring::new(key("k2"), [old]).unwrap();
    let opened = after.open(&sealed, &aad()).unwrap();

    assert_eq!(opened.expose_secret(), SECRET);
    assert_eq!(after.current_key_id().as_str(), "k2");
    assert!(!after.is_current(&sealed).unwrap());
}

#[test]
fn rewrap_moves_record_to_current_key() {
    let old = key("k1");
    let new = key("k2");
    let before = Keyring::new(copy(&old), []).unwrap();
    let sealed = before.seal(SECRET, &aad()).unwrap();
    let rotated = Keyring::new(copy(&new), [old]).unwrap();

    let rewrapped = rotated.rewrap(&sealed).unwrap();

    let only_new = Keyring::new(new, []).unwrap();
    assert_eq!(sealed_key_id(&rewrapped).unwrap(), "k2");
    assert_eq!(
        only_new.open(&rewrapped, &aad()).unwrap().expose_secret(),
        SECRET
    );
    assert!(only_new.open(&sealed, &aad()).is_err());
    // The secret's nonce and ciphertext are carried over; only the header and wrapped key
    // change (both ids are two bytes long, so the offsets match).
    let data_start = sealed.len() - (12 + SECRET.len() + 16);
    assert_eq!(rewrapped[data_start..], sealed[data_start..]);
}

#[test]
fn rewrap_keeps_aad_binding() {
    let old = key("k1");
    let before = Keyring::new(copy(&old), []).unwrap();
    let sealed = before.seal(SECRET, &aad()).unwrap();
    let rotated = Keyring::new(key("k2"), [old]).unwrap();

    let rewrapped = rotated.rewrap(&sealed).unwrap();

    assert!(rotated.open(&rewrapped, b"another record").is_err());
}

#[test]
fn rewrap_of_current_blob_returns_it_unchanged() {
    let keyring = Keyring::new(key("k1"), []).unwrap();
    let sealed = keyring.seal(SECRET, &aad()).unwrap();

    assert_eq!(keyring.rewrap(&sealed).unwrap(), sealed);
    assert!(keyring.is_current(&sealed).unwrap());
}

#[test]
fn rewrap_without_the_old_key_fails() {
    let sealed = Keyring::new(key("k1"), [])
        .unwrap()
        .seal(SECRET, &aad())
        .unwrap();
    let keyring = Keyring::new(key("k2"), []).unwrap();

    let error = keyring.rewrap(&sealed).unwrap_err();

    assert!(matches!(error, SealError::UnknownKey { key_id } if key_id == "k1"));
}

#[test]
fn parse_list_puts_first_entry_current() {
    let current = key("k2");
    let previous = key("k1");
    let list = format!(
        "{}, {}",
        current.to_config_entry().expose_secret(),
        previous.to_config_entry().expose_secret()
    );

    let keyring = Keyring::parse_list(&list).unwrap();

    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    assert_eq!(ids, ["k2", "k1"]);
    let sealed = keyring.seal(SECRET, &aad()).unwrap();
    let only_current = Keyring::new(current, []).unwrap();
    assert!(only_current.open(&sealed, &aad()).is_ok());
}

#[test]
fn parse_lines_skips_comments_and_blank_lines() {
    let text = format!(
        "# rotated 2026-01\n{}\n\n  {}\n",
        key("k2").to_config_entry().expose_secret(),
        key("k1").to_config_entry().expose_secret()
    );

    let keyring = Keyring::parse_lines(&text).unwrap();

    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    assert_eq!(ids, ["k2", "k1"]);
}

#[test]
fn short_key_is_rejected_with_id_and_length() {
    // 16 bytes of base64: a 128-bit key.
    let error = Keyring::parse_list("k1:c2l4dGVlbi1ieXRlcy1reQ==").unwrap_err();

    assert!(matches!(&error, KeyringError::WrongLength { id, length: 16 } if id == "k1"));
    let message = error.to_string();
    assert!(message.contains(r#""k1""#), "{message}");
    assert!(!message.contains("c2l4dGVlbi1ieXRlcy1reQ"), "{message}");
}

#[test]
fn bad_base64_is_rejected_without_the_value() {
    let error = Keyring::parse_list("k3:not*base64*at*all").unwrap_err();

    assert!(matches!(&error, KeyringError::InvalidBase64 { id } if id == "k3"));
    assert!(!error.to_string().contains("not*base64"));
}

#[test]
fn keyring_rejects_duplicate_ids_and_empty_lists() {
    let duplicate = Keyring::new(key("k1"), [key("k1")]).unwrap_err();
    let empty = Keyring::parse_list(" , ").unwrap_err();
    let no_id = Keyring::parse_lines("c2l4dGVlbi1ieXRlcy1reQ==").unwrap_err();

    assert!(matches!(duplicate, KeyringError::DuplicateKeyId { id } if id == "k1"));
    assert!(matches!(empty, KeyringError::Empty));
    assert!(matches!(no_id, KeyringError::MissingKeyId { entry: 1 }));
}

#[test]
fn key_ids_are_validated() {
    assert!(KeyId::parse("2026-01_a").is_ok());
    assert!(KeyId::parse("").is_err());
    assert!(KeyId::parse("k 1").is_err());
    assert!(KeyId::parse("k:1").is_err());
    assert!(KeyId::parse(&"k".repeat(33)).is_err());
}

#[test]
fn debug_output_hides_key_material_and_plaintext() {
    let master = key("k1");
    let entry = master.to_config_entry();
    let encoded = entry.expose_secret().split_once(':').unwrap().1.to_owned();
    let keyring = Keyring::new(master, [key("k0")]).unwrap();
    let opened = keyring
        .open(&keyring.seal(SECRET, &aad()).unwrap(), &aad())
        .unwrap();

    let keyring_debug = format!("{keyring:?}");
    let opened_debug = format!("{opened:?}");
    let entry_debug = format!("{entry:?}");

    assert_eq!(
        keyring_debug,
        r#"Keyring { current: "k1", previous: ["k0"] }"#
    );
    assert!(!opened_debug.contains("entrust-api-key"), "{opened_debug}");
    assert!(!entry_debug.contains(&encoded), "{entry_debug}");
}
