//! Ordering an unordered set of certificates into leaf → intermediates → root, and checking
//! each link's signature.

use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::prelude::FromDer;

use crate::CertfileError;
use crate::facts::{CertificateFacts, KeyAlgorithm};

/// Certificates ordered from the leaf up, with the signature check of every link.
///
/// Only [`order_chain`] creates a chain, so it always has at least the leaf.
#[derive(Debug, Clone)]
pub struct Chain {
    certificates: Vec<CertificateFacts>,
    links: Vec<ChainLink>,
    unrelated: Vec<CertificateFacts>,
}

/// The signature check of one certificate against its issuer's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// Position of the signed certificate in [`Chain::certificates`].
    pub subject_position: usize,
    /// Position of the issuing certificate; equal to `subject_position` for a self-signature.
    pub issuer_position: usize,
    /// Result of the check.
    pub status: LinkStatus,
}

/// Result of a link's signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkStatus {
    /// The issuer's public key verifies the signature.
    Verified,
    /// The signature does not verify: the certificate was not signed by this issuer's key or
    /// was altered.
    SignatureInvalid,
    /// The algorithm cannot be checked here (for example MD5 with RSA, or RSA with SHA-256
    /// and a key under 2048 bits).
    Unsupported {
        /// The verifier's message.
        detail: String,
    },
}

impl Chain {
    /// Returns the leaf certificate.
    pub fn leaf(&self) -> &CertificateFacts {
        &self.certificates[0]
    }

    /// Returns the certificates, the leaf first and then each issuer.
    pub fn certificates(&self) -> &[CertificateFacts] {
        &self.certificates
    }

    /// Returns one entry per link: `links()[i]` checks the signature of `certificates()[i]`.
    /// For a self-issued last certificate the link is its self-signature. A last certificate
    /// whose issuer is missing has no link.
    pub fn links(&self) -> &[ChainLink] {
        &self.links
    }

    /// Returns the input certificates that are not part of the leaf's chain, in input order.
    pub fn unrelated(&self) -> &[CertificateFacts] {
        &self.unrelated
    }

    /// Returns whether the chain ends in a self-issued certificate (normally a root).
    pub fn ends_at_root(&self) -> bool {
        self.certificates
            .last()
            .is_some_and(|certificate| certificate.self_issued)
    }

    /// Checks that every link verified.
    ///
    /// A chain that stops below a root, because the root was not in the input, passes as long
    /// as its links verify. Call [`Chain::ends_at_root`] to require a root.
    ///
    /// # Errors
    ///
    /// [`CertfileError::ChainLinkBroken`] for the first link, counted from the leaf, that did
    /// not verify.
    pub fn verify(&self) -> Result<(), CertfileError> {
        for link in &self.links {
            let reason = match &link.status {
                LinkStatus::Verified => continue,
                LinkStatus::SignatureInvalid => "signature invalid".to_owned(),
                LinkStatus::Unsupported { detail } => format!("cannot be checked: {detail}"),
            };
            return Err(CertfileError::ChainLinkBroken {
                position: link.subject_position,
                subject: self.certificates[link.subject_position]
                    .subject
                    .rfc4514
                    .clone(),
                issuer: self.certificates[link.issuer_position]
                    .subject
                    .rfc4514
                    .clone(),
                reason,
            });
        }
        Ok(())
    }

    /// Returns the certificates above the leaf without a self-issued root, the content of
    /// certbot's `chain.pem`.
    pub fn intermediates(&self) -> &[CertificateFacts] {
        let end = if self.ends_at_root() && self.certificates.len() > 1 {
            self.certificates.len() - 1
        } else {
            self.certificates.len()
        };
        &self.certificates[1..end]
    }

    /// Returns the self-issued root at the top, if the chain has one above the leaf.
    pub fn root(&self) -> Option<&CertificateFacts> {
        if self.ends_at_root() && self.certificates.len() > 1 {
            self.certificates.last()
        } else {
            None
        }
    }
}

/// Orders certificates given in any order into the leaf's chain and checks each link.
///
/// The leaf is a certificate that issued none of the others. Among several, non-CA
/// certificates come first, then the one with the longest chain of issuer names in the input,
/// then the first in input order. Each next certificate is one whose subject equals the previous
/// certificate's issuer name byte for byte. Among several such candidates, the one whose
/// subject key identifier matches the authority key identifier wins, then the one whose key
/// verifies the signature. Duplicates (same SHA-256 fingerprint) are dropped.
///
/// # Errors
///
/// [`CertfileError::EmptyChain`] when `certificates` is empty.
pub fn order_chain(certificates: Vec<CertificateFacts>) -> Result<Chain, CertfileError> {
    let mut pool: Vec<CertificateFacts> = Vec::with_capacity(certificates.len());
    for certificate in certificates {
        if !pool
            .iter()
            .any(|known| known.sha256_fingerprint == certificate.sha256_fingerprint)
        {
            pool.push(certificate);
        }
    }
    if pool.is_empty() {
        return Err(CertfileError::EmptyChain);
    }

    let leaf_index = choose_leaf(&pool);
    let mut ordered = vec![pool.remove(leaf_index)];
    let mut links = Vec::new();
    loop {
        let position = ordered.len() - 1;
        let current = &ordered[position];
        if current.self_issued {
            links.push(ChainLink {
                subject_position: position,
                issuer_position: position,
                status: check_signature(current, current),
            });
            break;
        }
        let Some(issuer_index) = choose_issuer(current, &pool) else {
            break;
        };
        let issuer = pool.remove(issuer_index);
        links.push(ChainLink {
            subject_position: position,
            issuer_position: position + 1,
            status: check_signature(current, &issuer),
        });
        ordered.push(issuer);
    }
    Ok(Chain {
        certificates: ordered,
        links,
        unrelated: pool,
    })
}

fn issued_by(certificate: &CertificateFacts, issuer: &CertificateFacts) -> bool {
    certificate.issuer.der == issuer.subject.der
}

fn choose_leaf(pool: &[CertificateFacts]) -> usize {
    let issues_another = |candidate: &CertificateFacts| {
        pool.iter().any(|other| {
            other.sha256_fingerprint != candidate.sha256_fingerprint && issued_by(other, candidate)
        })
    };
    let leaves: Vec<usize> = (0..pool.len())
        .filter(|&index| !issues_another(&pool[index]))
        .collect();
    // min_by_key returns the first of equal candidates, which keeps input order as the tie
    // breaker.
    leaves
        .iter()
        .copied()
        .min_by_key(|&index| {
            let ca_rank = usize::from(pool[index].is_ca);
            (ca_rank, usize::MAX - chain_length_by_name(index, pool))
        })
        .unwrap_or(0)
}

/// Number of certificates reachable from `start` by following issuer names through the pool.
fn chain_length_by_name(start: usize, pool: &[CertificateFacts]) -> usize {
    let mut visited = vec![start];
    let mut current = start;
    while !pool[current].self_issued {
        let next = (0..pool.len())
            .find(|&index| !visited.contains(&index) && issued_by(&pool[current], &pool[index]));
        let Some(next) = next else {
            break;
        };
        visited.push(next);
        current = next;
    }
    visited.len()
}

fn choose_issuer(certificate: &CertificateFacts, pool: &[CertificateFacts]) -> Option<usize> {
    let candidates: Vec<usize> = (0..pool.len())
        .filter(|&index| issued_by(certificate, &pool[index]))
        .collect();
    let key_id_match = |index: &usize| {
        certificate.authority_key_id.is_some()
            && certificate.authority_key_id == pool[*index].subject_key_id
    };
    let verifies =
        |index: &usize| check_signature(certificate, &pool[*index]) == LinkStatus::Verified;
    candidates
        .iter()
        .copied()
        .find(|index| key_id_match(index) && verifies(index))
        .or_else(|| candidates.iter().copied().find(key_id_match))
        .or_else(|| candidates.iter().copied().find(verifies))
        .or_else(|| candidates.first().copied())
}

/// Verifies `certificate`'s signature with `issuer`'s public key through x509-parser, which
/// uses aws-lc-rs.
// NOTE: x509-parser 0.18 checks RSA PKCS#1 v1.5 with SHA-1 from 1024 bits but with SHA-256/384/512
// only from 2048 bits, plus RSA-PSS, ECDSA P-256/P-384 and Ed25519. Other links come back as
// Unsupported.
fn check_signature(certificate: &CertificateFacts, issuer: &CertificateFacts) -> LinkStatus {
    let (Ok((_, signed)), Ok((_, signer))) = (
        X509Certificate::from_der(&certificate.der),
        X509Certificate::from_der(&issuer.der),
    ) else {
        return LinkStatus::Unsupported {
            detail: "certificate no longer parses".to_owned(),
        };
    };
    match signed.verify_signature(Some(signer.public_key())) {
        Ok(()) => LinkStatus::Verified,
        Err(X509Error::SignatureVerificationError) => match issuer.public_key {
            KeyAlgorithm::Rsa { bits } if bits < 2048 && !is_sha1_with_rsa(certificate) => {
                LinkStatus::Unsupported {
                    detail: format!(
                        "{} with a {bits}-bit RSA key; the verifier needs 2048 bits or more",
                        certificate.signature_algorithm.name
                    ),
                }
            }
            _ => LinkStatus::SignatureInvalid,
        },
        Err(error) => LinkStatus::Unsupported {
            detail: error.to_string(),
        },
    }
}

/// sha1WithRSAEncryption and its older OID sha1WithRSA, which the verifier accepts from 1024 bits.
fn is_sha1_with_rsa(certificate: &CertificateFacts) -> bool {
    matches!(
        certificate.signature_algorithm.oid.as_str(),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29"
    )
}
