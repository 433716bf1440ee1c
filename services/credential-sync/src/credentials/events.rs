//! The CredentialUpdated and CredentialRemoved events, built from a stored credential. Neither
//! carries a secret.

use certitude_platform::outbox::NewEvent;
use certitude_proto::events::v1::{CredentialRemoved, CredentialUpdated};
use time::format_description::well_known::Rfc3339;

use super::Credential;

/// A changed part of a credential, as CredentialUpdated's `changed` field spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Name,
    ApiKey,
    ClientCertificate,
    IsAdministrator,
    /// The record of a refused administrator action was set or cleared.
    AdministratorRight,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ApiKey => "api_key",
            Self::ClientCertificate => "client_certificate",
            Self::IsAdministrator => "is_administrator",
            Self::AdministratorRight => "administrator_right",
        }
    }
}

/// Returns the CredentialUpdated event of `credential` as it is after `changes`.
pub fn updated(credential: &Credential, changes: &[Change]) -> NewEvent {
    let missing = credential.missing_administrator_right.as_ref();
    let payload = CredentialUpdated {
        credential_id: credential.id.to_string(),
        name: credential.name.clone(),
        api_base_url: credential.api_base_url.clone(),
        username: credential.username.clone(),
        is_administrator: credential.is_administrator,
        has_client_certificate: credential.client_certificate_pem.is_some(),
        changed: changes
            .iter()
            .map(|change| change.as_str().to_owned())
            .collect(),
        lacks_administrator_right: missing.is_some(),
        administrator_right_missing_since: missing
            .and_then(|missing| missing.since.format(&Rfc3339).ok())
            .unwrap_or_default(),
        denied_administrator_action: missing
            .map(|missing| missing.action.clone())
            .unwrap_or_default(),
    };
    NewEvent::new(credential.id.to_string(), &payload)
}

/// Returns the CredentialRemoved event of a deleted credential.
pub fn removed(credential: &Credential, forced: bool) -> NewEvent {
    let payload = CredentialRemoved {
        credential_id: credential.id.to_string(),
        name: credential.name.clone(),
        forced,
    };
    NewEvent::new(credential.id.to_string(), &payload)
}
