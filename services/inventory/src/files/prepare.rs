//! The CPU part of an import, run on the blocking thread pool: reading each file with
//! `certitude-certfile`, finding each certificate's issuers in its file, matching private keys
//! to certificates and sealing the matched keys.

use std::collections::HashMap;

use certitude_certfile::{self as certfile, CertfileError, Imported, LinkStatus};
use certitude_platform::seal::{Keyring, record_aad};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::certificate;
use crate::certificate_store::{CertificateStatus, ChainStatus, NewCertificate, Source};
use crate::files::import::UploadedFile;
use crate::key_store::{KEYS_TABLE, PRIVATE_KEY_COLUMN};

/// One file, read and ready to store.
#[derive(Debug)]
pub(super) struct PreparedFile {
    pub name: String,
    pub format: Option<certfile::FileFormat>,
    /// Reason nothing of the file can be imported.
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub certificates: Vec<PreparedCertificate>,
    /// Private keys that matched a certificate of the file, sealed.
    pub keys: Vec<PreparedKey>,
}

/// A certificate to store, without its key id, which is known only once its key is stored.
#[derive(Debug)]
pub(super) struct PreparedCertificate {
    pub certificate: NewCertificate,
    /// Index of its key in [`PreparedFile::keys`].
    pub key: Option<usize>,
}

/// A private key sealed for the `keys` row [`PreparedKey::id`].
pub(super) struct PreparedKey {
    pub id: Uuid,
    /// Algorithm name as the `keys` table stores it, such as `ECDSA_P256` or `RSA_2048`.
    pub algorithm: String,
    pub sealed_private_key: Vec<u8>,
    /// SubjectPublicKeyInfo DER of the matched certificate.
    pub public_key_spki: Vec<u8>,
    /// Common name and DNS names of the first certificate the key matched.
    pub common_name: String,
    pub dns_names: Vec<String>,
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PreparedKey")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Reads every file and returns one prepared file per input, in input order. A file that
/// fails to read gets an error and never affects the others; a parser panic is caught by
/// [`certfile::import_batch`].
pub(super) fn prepare_files(
    files: Vec<UploadedFile>,
    password: Option<&SecretString>,
    keyring: &Keyring,
    now: OffsetDateTime,
) -> Vec<PreparedFile> {
    let results = certfile::import_batch(files.iter().map(|file| &file.content), password);
    files
        .into_iter()
        .zip(results)
        .map(|(file, result)| prepare_file(file, result, keyring, now))
        .collect()
}

fn prepare_file(
    file: UploadedFile,
    result: Result<Imported, CertfileError>,
    keyring: &Keyring,
    now: OffsetDateTime,
) -> PreparedFile {
    let mut prepared = PreparedFile {
        name: file.name,
        format: certfile::detect_format(&file.content),
        error: None,
        warnings: Vec::new(),
        certificates: Vec::new(),
        keys: Vec::new(),
    };
    let imported = match result {
        Ok(imported) => imported,
        Err(error) => {
            prepared.error = Some(error.to_string());
            return prepared;
        }
    };
    prepared.format = Some(imported.format);
    prepared
        .warnings
        .extend(imported.warnings.iter().map(ToString::to_string));
    for key in &imported.encrypted_keys {
        prepared.warnings.push(format!(
            "{}: private key encrypted with {} was not decrypted ({}); not stored",
            key.location, key.encryption, key.reason
        ));
    }

    let certificates = distinct_certificates(imported.certificates, &mut prepared.warnings);
    if certificates.is_empty() {
        prepared.error = Some(
            "no certificate in the file: a private key is imported only in the same file as its \
             certificate (PEM or PKCS#12)"
                .to_owned(),
        );
        return prepared;
    }
    let key_of = match_keys(
        &imported.keys,
        &certificates,
        keyring,
        &mut prepared.keys,
        &mut prepared.warnings,
    );

    let subjects = index_by_subject(&certificates);
    for (index, facts) in certificates.iter().enumerate() {
        let (issuers, chain_status) = issuers_of(index, &certificates, &subjects);
        match new_certificate(facts, &issuers, chain_status, now) {
            Ok(certificate) => prepared.certificates.push(PreparedCertificate {
                certificate,
                key: key_of[index],
            }),
            Err(error) => prepared.warnings.push(format!(
                "certificate {} (SHA-256 {}): {error}; skipped",
                facts.subject.rfc4514, facts.sha256_fingerprint
            )),
        }
    }
    prepared
}

/// Drops repeated certificates (same SHA-256 fingerprint) of one file, with a warning each.
fn distinct_certificates(
    certificates: Vec<certfile::CertificateFacts>,
    warnings: &mut Vec<String>,
) -> Vec<certfile::CertificateFacts> {
    let mut distinct: Vec<certfile::CertificateFacts> = Vec::with_capacity(certificates.len());
    for facts in certificates {
        if distinct
            .iter()
            .any(|known| known.sha256_fingerprint == facts.sha256_fingerprint)
        {
            warnings.push(format!(
                "certificate {} (SHA-256 {}) appears more than once in the file; stored once",
                facts.subject.rfc4514, facts.sha256_fingerprint
            ));
        } else {
            distinct.push(facts);
        }
    }
    distinct
}

/// Seals each key that matches certificates of the file into `sealed` and returns, for each
/// certificate, the index of its key in `sealed`. A key that matches no certificate, or whose
/// match cannot be checked, gets a warning and is dropped.
fn match_keys(
    keys: &[certfile::PrivateKey],
    certificates: &[certfile::CertificateFacts],
    keyring: &Keyring,
    sealed: &mut Vec<PreparedKey>,
    warnings: &mut Vec<String>,
) -> Vec<Option<usize>> {
    let mut key_of = vec![None; certificates.len()];
    for (number, key) in keys.iter().enumerate().map(|(index, key)| (index + 1, key)) {
        let checks: Vec<Option<bool>> = certificates
            .iter()
            .map(|certificate| key.matches_certificate(certificate))
            .collect();
        let matched: Vec<usize> = (0..certificates.len())
            .filter(|&index| checks[index] == Some(true) && key_of[index].is_none())
            .collect();
        let Some(&first) = matched.first() else {
            let reason = if checks.contains(&Some(true)) {
                "its certificates have a key from earlier in the file"
            } else if checks.iter().all(Option::is_none) {
                "whether it belongs to a certificate cannot be checked for this key type"
            } else {
                "it matches no certificate of the file"
            };
            warnings.push(format!(
                "private key {number} ({:?}): {reason}; not stored",
                key.algorithm()
            ));
            continue;
        };
        match seal_key(key, &certificates[first], keyring) {
            Ok(prepared) => {
                for &index in &matched {
                    key_of[index] = Some(sealed.len());
                }
                sealed.push(prepared);
            }
            Err(reason) => warnings.push(format!("private key {number}: {reason}; not stored")),
        }
    }
    key_of
}

fn seal_key(
    key: &certfile::PrivateKey,
    certificate: &certfile::CertificateFacts,
    keyring: &Keyring,
) -> Result<PreparedKey, String> {
    let facts = certificate::parse_der(&certificate.der)
        .map_err(|error| format!("its certificate does not parse ({error})"))?;
    let id = Uuid::now_v7();
    let aad = record_aad(KEYS_TABLE, PRIVATE_KEY_COLUMN, &id.to_string());
    let sealed_private_key = keyring
        .seal(key.pkcs8_der().expose_secret(), &aad)
        .map_err(|error| {
            tracing::error!(key.id = %id, error = %error, "sealing an imported private key failed");
            "sealing it failed; the cause was logged".to_owned()
        })?;
    Ok(PreparedKey {
        id,
        algorithm: key_algorithm_name(key.algorithm()),
        sealed_private_key,
        public_key_spki: facts.public_key_spki,
        common_name: facts.common_name.unwrap_or_default(),
        dns_names: facts.dns_names,
    })
}

/// Returns the algorithm name the `keys` table stores: the names of generated keys
/// (`ECDSA_P256`, `ECDSA_P384`, `RSA_2048` …) where they apply.
fn key_algorithm_name(algorithm: &certfile::KeyAlgorithm) -> String {
    use certfile::KeyAlgorithm;
    match algorithm {
        KeyAlgorithm::Ec { curve, .. } => match curve.as_str() {
            "P-256" => "ECDSA_P256".to_owned(),
            "P-384" => "ECDSA_P384".to_owned(),
            "P-521" => "ECDSA_P521".to_owned(),
            other => format!("EC_{other}"),
        },
        KeyAlgorithm::Rsa { bits } => format!("RSA_{bits}"),
        KeyAlgorithm::RsaPss { bits } => format!("RSA_PSS_{bits}"),
        KeyAlgorithm::Ed25519 => "ED25519".to_owned(),
        KeyAlgorithm::Ed448 => "ED448".to_owned(),
        KeyAlgorithm::Dsa { .. } => "DSA".to_owned(),
        KeyAlgorithm::Other { oid } => format!("OTHER_{oid}"),
        _ => "OTHER".to_owned(),
    }
}

/// Maps each subject name (DER) to the certificates of the file with that subject.
fn index_by_subject(certificates: &[certfile::CertificateFacts]) -> HashMap<&[u8], Vec<usize>> {
    let mut subjects: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (index, certificate) in certificates.iter().enumerate() {
        subjects
            .entry(certificate.subject.der.as_slice())
            .or_default()
            .push(index);
    }
    subjects
}

/// Returns the issuers of certificate `index` among the file's certificates, nearest first,
/// and the chain status they give it.
///
/// The candidates are the certificates reached from it by following issuer names. certfile's
/// `order_chain` picks among them and checks each link's signature. A self-signature of the
/// last issuer is not a link: as for certificates of orders, `verified` means that each
/// certificate is signed by the next one, and no issuers means `missing`.
fn issuers_of(
    index: usize,
    certificates: &[certfile::CertificateFacts],
    subjects: &HashMap<&[u8], Vec<usize>>,
) -> (Vec<certfile::CertificateFacts>, ChainStatus) {
    let candidates = issuer_candidates(index, certificates, subjects);
    if candidates.is_empty() {
        return (Vec::new(), ChainStatus::Missing);
    }

    let subject = &certificates[index];
    let mut pool = Vec::with_capacity(candidates.len() + 1);
    pool.push(subject.clone());
    pool.extend(candidates.iter().map(|&other| certificates[other].clone()));
    let Ok(chain) = certfile::order_chain(pool) else {
        return (Vec::new(), ChainStatus::Missing);
    };
    // NOTE: cross-signed candidates can issue each other, so the chain may start at another
    // certificate. The certificate is then stored without issuers.
    if chain.leaf().sha256_fingerprint != subject.sha256_fingerprint {
        return (Vec::new(), ChainStatus::Missing);
    }

    let issuers = chain.certificates()[1..].to_vec();
    if issuers.is_empty() {
        return (issuers, ChainStatus::Missing);
    }
    let verified = chain
        .links()
        .iter()
        .filter(|link| link.subject_position != link.issuer_position)
        .all(|link| link.status == LinkStatus::Verified);
    let status = if verified {
        ChainStatus::Verified
    } else {
        ChainStatus::Broken
    };
    (issuers, status)
}

/// Returns the certificates whose subject is the issuer name of certificate `index`, of those,
/// and so on up to self-issued ones, in the order found.
fn issuer_candidates(
    index: usize,
    certificates: &[certfile::CertificateFacts],
    subjects: &HashMap<&[u8], Vec<usize>>,
) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    if certificates[index].self_issued {
        return found;
    }
    let mut pending: Vec<&[u8]> = vec![certificates[index].issuer.der.as_slice()];
    while let Some(name) = pending.pop() {
        for &candidate in subjects.get(name).into_iter().flatten() {
            if candidate == index || found.contains(&candidate) {
                continue;
            }
            found.push(candidate);
            if !certificates[candidate].self_issued {
                pending.push(certificates[candidate].issuer.der.as_slice());
            }
        }
    }
    found
}

/// Builds the inventory's row for an imported certificate, with facts parsed the way
/// certificates of orders are parsed.
fn new_certificate(
    facts: &certfile::CertificateFacts,
    issuers: &[certfile::CertificateFacts],
    chain_status: ChainStatus,
    now: OffsetDateTime,
) -> Result<NewCertificate, certificate::CertificateError> {
    let parsed = certificate::parse_der(&facts.der)?;
    Ok(NewCertificate {
        id: Uuid::now_v7(),
        order_id: None,
        tracking_id: None,
        credential_id: None,
        key_id: None,
        replaces_certificate_id: None,
        replacement: None,
        status: CertificateStatus::at(parsed.not_after, now),
        source: Source::Import,
        certificate_pem: certificate::der_to_pem(&facts.der),
        chain_pem: issuers
            .iter()
            .map(|issuer| certificate::der_to_pem(&issuer.der))
            .collect(),
        chain_status,
        facts: parsed,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use certitude_platform::seal::{KeyId, MasterKey};
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);

    fn keyring() -> Keyring {
        let master_key = MasterKey::generate(KeyId::parse("test").unwrap()).unwrap();
        Keyring::parse_list(master_key.to_config_entry().expose_secret()).unwrap()
    }

    fn ca(name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    }

    fn leaf(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params
    }

    /// Returns a root, an intermediate and two leaves it issued, as PEM, and the first leaf's
    /// key.
    fn two_leaves() -> (Vec<String>, KeyPair) {
        let root = CertifiedIssuer::self_signed(ca("Root"), KeyPair::generate().unwrap()).unwrap();
        let intermediate =
            CertifiedIssuer::signed_by(ca("Intermediate"), KeyPair::generate().unwrap(), &root)
                .unwrap();
        let first_key = KeyPair::generate().unwrap();
        let first = leaf("one.example.com")
            .signed_by(&first_key, &intermediate)
            .unwrap();
        let second = leaf("two.example.com")
            .signed_by(&KeyPair::generate().unwrap(), &intermediate)
            .unwrap();
        let pems = vec![first.pem(), second.pem(), intermediate.pem(), root.pem()];
        (pems, first_key)
    }

    fn prepare_with(content: String, keyring: &Keyring) -> PreparedFile {
        let file = UploadedFile {
            name: "bundle.pem".to_owned(),
            content: content.into_bytes(),
        };
        prepare_files(vec![file], None, keyring, NOW).remove(0)
    }

    fn prepare(content: String) -> PreparedFile {
        prepare_with(content, &keyring())
    }

    #[test]
    fn leaves_of_one_issuer_both_get_the_chain() {
        let (pems, _) = two_leaves();

        let prepared = prepare(pems.concat());

        assert_eq!(prepared.error, None);
        let chains: Vec<(Option<String>, usize, ChainStatus)> = prepared
            .certificates
            .iter()
            .map(|prepared| {
                let certificate = &prepared.certificate;
                (
                    certificate.facts.common_name.clone(),
                    certificate.chain_pem.len(),
                    certificate.chain_status,
                )
            })
            .collect();
        assert_eq!(
            chains,
            [
                (Some("one.example.com".to_owned()), 2, ChainStatus::Verified),
                (Some("two.example.com".to_owned()), 2, ChainStatus::Verified),
                (Some("Intermediate".to_owned()), 1, ChainStatus::Verified),
                (Some("Root".to_owned()), 0, ChainStatus::Missing),
            ]
        );
    }

    #[test]
    fn key_is_sealed_for_its_certificate_only() {
        let (pems, first_key) = two_leaves();
        let key_pem = first_key.serialize_pem();
        let keyring = keyring();

        let prepared = prepare_with(format!("{}{key_pem}{key_pem}", pems.concat()), &keyring);

        assert_eq!(prepared.keys.len(), 1);
        assert_eq!(prepared.certificates[0].key, Some(0));
        assert_eq!(prepared.certificates[1].key, None);
        assert_eq!(prepared.keys[0].algorithm, "ECDSA_P256");
        assert_eq!(prepared.keys[0].common_name, "one.example.com");
        let aad = record_aad(
            KEYS_TABLE,
            PRIVATE_KEY_COLUMN,
            &prepared.keys[0].id.to_string(),
        );
        let opened = keyring
            .open(&prepared.keys[0].sealed_private_key, &aad)
            .unwrap();
        assert_eq!(opened.expose_secret(), first_key.serialize_der().as_slice());
        assert_eq!(prepared.warnings.len(), 1, "{:?}", prepared.warnings);
        assert!(
            prepared.warnings[0].contains("have a key from earlier in the file"),
            "{:?}",
            prepared.warnings
        );
    }

    #[test]
    fn repeated_certificate_is_kept_once() {
        let (pems, _) = two_leaves();

        let prepared = prepare(format!("{}{}", pems[0], pems[0]));

        assert_eq!(prepared.certificates.len(), 1);
        assert!(
            prepared.warnings[0].contains("more than once"),
            "{:?}",
            prepared.warnings
        );
    }

    #[test]
    fn generated_key_names_are_kept() {
        let cases = [
            (
                certfile::KeyAlgorithm::Ec {
                    curve: "P-384".to_owned(),
                    bits: 384,
                },
                "ECDSA_P384",
            ),
            (certfile::KeyAlgorithm::Rsa { bits: 2048 }, "RSA_2048"),
            (certfile::KeyAlgorithm::Ed25519, "ED25519"),
        ];
        for (algorithm, name) in cases {
            assert_eq!(key_algorithm_name(&algorithm), name);
        }
    }
}
