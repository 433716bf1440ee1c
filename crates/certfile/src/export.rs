//! PEM and PKCS#12 export of an ordered chain and its key.

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};

use crate::CertfileError;
use crate::chain::Chain;
use crate::facts::CertificateFacts;
use crate::key::PrivateKey;
use crate::pkcs12::{Pkcs12Encryption, write_pkcs12};

/// Selection of a chain's certificates for a PEM export. The names follow certbot's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemPart {
    /// The leaf alone (`cert.pem`).
    Leaf,
    /// The intermediates without the leaf and without a self-issued root (`chain.pem`).
    Chain,
    /// The leaf followed by the intermediates, without a self-issued root (`fullchain.pem`):
    /// what a TLS server sends.
    FullChain,
    /// The leaf, the intermediates and the root, if the chain has one.
    FullChainWithRoot,
}

/// Writes certificates of the chain as PEM `CERTIFICATE` blocks, leaf side first, with LF
/// line ends. Returns an empty string when the part has no certificates (for example
/// [`PemPart::Chain`] of a self-signed leaf).
pub fn export_pem(chain: &Chain, part: PemPart) -> String {
    let certificates: Vec<&CertificateFacts> = match part {
        PemPart::Leaf => vec![chain.leaf()],
        PemPart::Chain => chain.intermediates().iter().collect(),
        PemPart::FullChain => std::iter::once(chain.leaf())
            .chain(chain.intermediates())
            .collect(),
        PemPart::FullChainWithRoot => chain.certificates().iter().collect(),
    };
    let blocks: Vec<pem::Pem> = certificates
        .iter()
        .map(|certificate| pem::Pem::new("CERTIFICATE", certificate.der.clone()))
        .collect();
    pem::encode_many_config(&blocks, line_feed_config())
}

/// Writes the key as an unencrypted PKCS#8 `PRIVATE KEY` PEM block.
pub fn export_key_pem(key: &PrivateKey) -> SecretString {
    let block = pem::Pem::new("PRIVATE KEY", key.pkcs8_der().expose_secret().to_vec());
    let text = pem::encode_config(&block, line_feed_config());
    block.into_contents().zeroize();
    SecretString::from(text)
}

/// Writes the chain (leaf first, root included when present) and the key as a PKCS#12 file
/// protected by `password`.
///
/// [`Pkcs12Encryption::Aes256`] is the default; the legacy variants are for old readers. Key
/// derivation and MAC use 10,000 iterations. The key bag's friendly name is the leaf's common
/// name, or its SHA-256 fingerprint when it has none.
///
/// # Errors
///
/// - [`CertfileError::EmptyExportPassword`] for an empty password.
/// - [`CertfileError::KeyMismatch`] when the key is known not to belong to the leaf (see
///   [`PrivateKey::matches_certificate`]).
/// - [`CertfileError::Pkcs12ExportFailed`] when encoding fails.
pub fn export_pkcs12(
    chain: &Chain,
    key: &PrivateKey,
    password: &SecretString,
    encryption: Pkcs12Encryption,
) -> Result<Vec<u8>, CertfileError> {
    write_pkcs12(chain, key, password, encryption)
}

fn line_feed_config() -> pem::EncodeConfig {
    pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF)
}
