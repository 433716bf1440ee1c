//! Property tests: no input makes the intake panic.
//!
//! These call `import` directly, not `import_batch`, because the batch API catches panics and
//! would hide them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certitude_certfile::{PemPart, SecretString, export_pem, import, order_chain};
use proptest::prelude::*;

/// Every fixture the mutation tests start from, with the password it needs.
const SEEDS: &[(&str, Option<&str>)] = &[
    ("pem/cryptography.io.chain.pem", None),
    ("pem/cryptography.io.with_headers.pem", None),
    ("pem/utf8-dnsname.pem", None),
    ("pem/invalid_utf8_common_name.pem", None),
    ("pem/badasn1time.pem", None),
    ("pem/v1_cert.pem", None),
    ("der/ValidGeneralizedTimenotAfterDateTest8EE.crt", None),
    ("der/alternate-rsa-sha1-oid.der", None),
    ("pkcs12/cert-key-aes256cbc.p12", Some("cryptography")),
    ("pkcs12/cert-rc2-key-3des.p12", Some("cryptography")),
    ("pkcs12/java-truststore.p12", None),
    ("generated/chain-certs-only.p7b", None),
    ("generated/signed-streaming-ber.p7m", None),
    ("generated/leaf.pkcs8-encrypted.pem", Some("certitude")),
    ("generated/intermediate.key.pem", None),
];

/// Imports the input and, when that works, runs the chain and export code on the result.
fn exercise(input: &[u8], password: Option<&SecretString>) {
    if let Ok(imported) = import(input, password)
        && !imported.certificates.is_empty()
    {
        let chain = order_chain(imported.certificates).unwrap();
        let _ = chain.verify();
        let _ = export_pem(&chain, PemPart::FullChainWithRoot);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { position: usize, mask: u8 },
    Set { position: usize, value: u8 },
    Insert { position: usize, bytes: Vec<u8> },
    Delete { position: usize, length: usize },
    Truncate { length: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(position, mask)| Mutation::Flip { position, mask }),
        (
            any::<usize>(),
            prop_oneof![Just(0x00u8), Just(0x80), Just(0xFF), any::<u8>()]
        )
            .prop_map(|(position, value)| Mutation::Set { position, value }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(position, bytes)| Mutation::Insert { position, bytes }),
        (any::<usize>(), 1usize..64)
            .prop_map(|(position, length)| Mutation::Delete { position, length }),
        any::<usize>().prop_map(|length| Mutation::Truncate { length }),
    ]
}

fn apply(input: &mut Vec<u8>, mutation: &Mutation) {
    if input.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip { position, mask } => {
            let index = position % input.len();
            input[index] ^= mask;
        }
        Mutation::Set { position, value } => {
            let index = position % input.len();
            input[index] = *value;
        }
        Mutation::Insert { position, bytes } => {
            let index = position % (input.len() + 1);
            input.splice(index..index, bytes.iter().copied());
        }
        Mutation::Delete { position, length } => {
            let start = position % input.len();
            let end = (start + length).min(input.len());
            input.drain(start..end);
        }
        Mutation::Truncate { length } => {
            let keep = length % input.len();
            input.truncate(keep);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&input, None);
        exercise(&input, Some(&SecretString::from("password")));
    }

    #[test]
    fn arbitrary_pem_framing_never_panics(
        label in "(CERTIFICATE|X509 CERTIFICATE|PKCS7|PRIVATE KEY|EC PRIVATE KEY|RSA PRIVATE KEY|ENCRYPTED PRIVATE KEY|[A-Z ]{0,12})",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        glued in any::<bool>(),
    ) {
        use std::io::Write;
        let mut input = Vec::new();
        writeln!(input, "-----BEGIN {label}-----").unwrap();
        input.extend_from_slice(&body);
        write!(input, "\n-----END {label}-----").unwrap();
        if glued {
            input.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nMIIB\n");
        }
        exercise(&input, Some(&SecretString::from("certitude")));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(
        seed in 0..SEEDS.len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let (path, password) = SEEDS[seed];
        let mut input = common::fixture(path);
        for mutation in &mutations {
            apply(&mut input, mutation);
        }
        let password = password.map(SecretString::from);
        exercise(&input, password.as_ref());
    }
}
