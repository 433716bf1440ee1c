//! Shared test setup: client settings, CSR generation and secret checks.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entrust::{EntrustClient, EntrustConfig, SecretString};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use url::Url;

/// The API key every transport test uses; tests search their outputs for it.
pub const TEST_API_KEY: &str = "test-api-key-7f3c9d2e81b64a05";
pub const TEST_USER: &str = "certitude-test";

/// Settings with short timeouts and near-zero backoff so retry tests run fast.
pub fn fast_config(base_url: &str, username: &str, api_key: &str) -> anyhow::Result<EntrustConfig> {
    let mut config =
        EntrustConfig::new(Url::parse(base_url)?, username, SecretString::from(api_key));
    config.timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    config.max_retries = 2;
    config.initial_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(20);
    config.max_retry_after = Duration::from_secs(5);
    Ok(config)
}

pub fn client(base_url: &str, username: &str, api_key: &str) -> anyhow::Result<EntrustClient> {
    Ok(EntrustClient::new(fast_config(
        base_url, username, api_key,
    )?)?)
}

/// Every spelling of the credentials that must never appear in output.
pub fn secret_spellings(username: &str, api_key: &str) -> Vec<String> {
    vec![
        api_key.to_owned(),
        STANDARD.encode(format!("{username}:{api_key}")),
    ]
}

/// Asserts that `text` contains none of the credential spellings.
pub fn assert_no_secret(text: &str, username: &str, api_key: &str, context: &str) {
    for secret in secret_spellings(username, api_key) {
        assert!(
            !text.contains(&secret),
            "{context} contains a credential spelling: {text}"
        );
    }
}

/// A fresh key pair and a CSR for `names` (the first is the common name), in PEM.
pub struct GeneratedCsr {
    pub csr_pem: String,
    /// The key's SubjectPublicKeyInfo in DER.
    pub public_key_der: Vec<u8>,
}

pub fn generate_csr(names: &[&str]) -> anyhow::Result<GeneratedCsr> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    )?;
    let mut subject = DistinguishedName::new();
    if let Some(first) = names.first() {
        subject.push(DnType::CommonName, *first);
    }
    params.distinguished_name = subject;
    let csr = params.serialize_request(&key)?;
    Ok(GeneratedCsr {
        csr_pem: csr.pem()?,
        public_key_der: key.subject_public_key_info(),
    })
}
