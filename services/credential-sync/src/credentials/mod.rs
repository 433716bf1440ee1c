//! Entrust credentials: validation of new ones and of changes, their verification against
//! Entrust, storage with the secrets sealed, reading them back with or without the secrets,
//! deletion, and the record of administrator actions Entrust refused.

mod add;
mod changes;
mod delete;
mod events;
mod input;
mod permission;
mod store;
mod update;
mod update_input;

use std::fmt;

use entrust::ClientIdentity;
use secrecy::SecretString;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;
use uuid::Uuid;

use crate::entrust_api::EntrustTarget;

pub use add::add_credential;
pub use delete::delete_credential;
pub use input::NewCredential;
pub use permission::{mark_administrator_right_missing, report_permission_denied};
pub use store::{get, list, resolve};
pub use update::update_credential;
pub use update_input::{CredentialUpdate, IdentityChange};

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
    /// Set when Entrust refused an administrator action taken with the credential (HTTP 403)
    /// since `is_administrator` was last set.
    pub missing_administrator_right: Option<MissingAdministratorRight>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An administrator action Entrust refused with HTTP 403, and when it first did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAdministratorRight {
    pub since: OffsetDateTime,
    /// The refused action as its reporter named it, such as `approve order 12345`.
    pub action: String,
}

impl MissingAdministratorRight {
    /// Returns what happened and what to do, for display.
    pub fn message(&self) -> String {
        let since = self.since.format(&Rfc3339).unwrap_or_default();
        format!(
            "Entrust refused the administrator action {:?} with this credential on {since} \
             (HTTP 403): grant the Entrust API user administrator rights in the Entrust portal, \
             then set is_administrator with UpdateCredential; until then use a credential with \
             administrator rights for such actions",
            self.action
        )
    }
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
