//! `Debug` for the generated messages that carry secrets: every field but the secrets is shown.

use std::fmt;

use crate::credential::v1::{AddCredentialRequest, ResolvedCredential, UpdateCredentialRequest};

const REDACTED: &str = "[REDACTED]";

impl fmt::Debug for AddCredentialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddCredentialRequest")
            .field("name", &self.name)
            .field("api_base_url", &self.api_base_url)
            .field("username", &self.username)
            .field("api_key", &REDACTED)
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &REDACTED)
            .field("is_administrator", &self.is_administrator)
            .finish()
    }
}

impl fmt::Debug for UpdateCredentialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| REDACTED);
        f.debug_struct("UpdateCredentialRequest")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("api_key", &redacted(&self.api_key))
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &redacted(&self.client_key_pem))
            .field("remove_client_certificate", &self.remove_client_certificate)
            .field("is_administrator", &self.is_administrator)
            .finish()
    }
}

impl fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("credential", &self.credential)
            .field("api_key", &REDACTED)
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_api_key_and_client_key() {
        let request = AddCredentialRequest {
            name: "demo".into(),
            api_key: "key-that-must-not-show".into(),
            client_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
            ..Default::default()
        };
        let resolved = ResolvedCredential {
            api_key: "key-that-must-not-show".into(),
            client_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
            ..Default::default()
        };

        let update = UpdateCredentialRequest {
            api_key: Some("key-that-must-not-show".into()),
            client_key_pem: Some("-----BEGIN PRIVATE KEY-----".into()),
            ..Default::default()
        };

        for debug in [
            format!("{request:?}"),
            format!("{resolved:?}"),
            format!("{update:?}"),
        ] {
            assert!(!debug.contains("must-not-show"), "{debug}");
            assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        }
    }
}
