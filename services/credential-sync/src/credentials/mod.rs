//! Entrust credentials: validation of new ones, their verification against Entrust, storage
//! with the secrets sealed, and reading them back with or without the secrets.

mod add;
mod input;
mod store;

use std::fmt;

use entrust::ClientIdentity;
use secrecy::SecretString;
use time::OffsetDateTime;
use url::Url;
use uuid::Uuid;

use crate::entrust_api::EntrustTarget;

pub use add::add_credential;
pub use input::NewCredential;
pub use store::{get, list, resolve};

/// Table of the credentials, named in the associated data of their sealed secrets.
const TABLE: &str = "credentials";

/// A stored credential without its secrets, as lists and events show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: Uuid,
    /// Unique name chosen by the user.
    pub name: String,
    /// Entrust API base URL, without a trailing slash.
    pub api_base_url: String,
    /// Entrust API user name.
    pub username: String,
    /// Certificate bound to the API user for mutual TLS, in PEM; not secret.
    pub client_certificate_pem: Option<String>,
    /// Whether the Entrust API user has administrator rights, as the user declared.
    pub is_administrator: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A credential with its secrets opened, for calling Entrust. `Debug` redacts the secrets.
#[derive(Clone)]
pub struct ResolvedCredential {
    pub credential: Credential,
    pub api_key: SecretString,
    /// The client certificate's private key in PEM, when the credential has a certificate.
    pub client_key_pem: Option<SecretString>,
}

impl ResolvedCredential {
    /// Returns what the Entrust adapter needs to call Entrust with this credential.
    ///
    /// Fails only when the stored URL does not parse, which the validation on adding rules
    /// out.
    pub fn target(&self) -> Result<EntrustTarget, url::ParseError> {
        let api_base_url = Url::parse(&self.credential.api_base_url)?;
        let client_identity = match (
            &self.credential.client_certificate_pem,
            &self.client_key_pem,
        ) {
            (Some(certificate_pem), Some(private_key_pem)) => Some(ClientIdentity {
                certificate_pem: certificate_pem.clone(),
                private_key_pem: private_key_pem.clone(),
            }),
            _ => None,
        };
        Ok(EntrustTarget {
            api_base_url,
            username: self.credential.username.clone(),
            api_key: self.api_key.clone(),
            client_identity,
        })
    }
}

impl fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("credential", &self.credential)
            .field("api_key", &"[REDACTED]")
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}
