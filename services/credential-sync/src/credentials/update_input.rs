//! Validation of a credential update's fields. Unset fields keep their stored value; each
//! error names the field and the fix.

use certitude_proto::credential::v1::UpdateCredentialRequest;
use secrecy::{ExposeSecret, SecretString};

use super::input::{parse_client_identity, parse_name};
use crate::error::ServiceError;

/// The change an update makes to the client certificate and key.
#[derive(Debug, Clone)]
pub enum IdentityChange {
    Keep,
    /// A new certificate in PEM and its private key. `Debug` redacts the key.
    Replace {
        certificate_pem: String,
        key_pem: SecretString,
    },
    Remove,
}

/// A validated update of one credential. `Debug` redacts the new secrets.
#[derive(Debug, Clone)]
pub struct CredentialUpdate {
    pub name: Option<String>,
    pub api_key: Option<SecretString>,
    pub client_identity: IdentityChange,
    pub is_administrator: Option<bool>,
}

impl CredentialUpdate {
    /// Validates the request's fields other than the id: a name follows the rules of a new
    /// one, an API key must not be blank, and a client certificate comes with its key and not
    /// together with `remove_client_certificate`.
    pub fn parse(request: UpdateCredentialRequest) -> Result<Self, ServiceError> {
        let name = request.name.as_deref().map(parse_name).transpose()?;
        let api_key = request.api_key.map(parse_api_key).transpose()?;
        let client_identity = parse_identity_change(
            request.client_certificate_pem,
            request.client_key_pem,
            request.remove_client_certificate,
        )?;
        Ok(Self {
            name,
            api_key,
            client_identity,
            is_administrator: request.is_administrator,
        })
    }

    /// Returns whether the update replaces a secret (or removes the client certificate), so
    /// that the result must be verified against Entrust before it is stored.
    pub fn changes_authentication(&self) -> bool {
        self.api_key.is_some() || !matches!(self.client_identity, IdentityChange::Keep)
    }
}

fn parse_api_key(api_key: String) -> Result<SecretString, ServiceError> {
    let api_key = SecretString::from(api_key.trim().to_owned());
    if api_key.expose_secret().is_empty() {
        return Err(ServiceError::invalid(
            "api_key",
            "is empty: give the new Entrust API key, or leave api_key unset to keep the \
             current one",
        ));
    }
    Ok(api_key)
}

fn parse_identity_change(
    certificate_pem: Option<String>,
    key_pem: Option<String>,
    remove: bool,
) -> Result<IdentityChange, ServiceError> {
    if certificate_pem.is_none() && key_pem.is_none() {
        return Ok(if remove {
            IdentityChange::Remove
        } else {
            IdentityChange::Keep
        });
    }
    if remove {
        return Err(ServiceError::invalid(
            "remove_client_certificate",
            "cannot be set together with a new client certificate: set either \
             remove_client_certificate or client_certificate_pem with client_key_pem",
        ));
    }
    let parsed = parse_client_identity(
        certificate_pem.unwrap_or_default(),
        key_pem.unwrap_or_default(),
    )?;
    match parsed {
        (Some(certificate_pem), Some(key_pem)) => Ok(IdentityChange::Replace {
            certificate_pem,
            key_pem,
        }),
        _ => Err(ServiceError::invalid(
            "client_certificate_pem",
            "is empty: give the new certificate and key in PEM, or set \
             remove_client_certificate to remove them",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nkey-body-5678\n";
    const CERTIFICATE_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n";

    #[test]
    fn empty_request_changes_nothing() {
        let update =
            CredentialUpdate::parse(UpdateCredentialRequest::default()).expect("nothing is valid");

        assert!(update.name.is_none());
        assert!(!update.changes_authentication());
        assert!(update.is_administrator.is_none());
    }

    #[test]
    fn blank_api_key_is_rejected() {
        let request = UpdateCredentialRequest {
            api_key: Some("  ".to_owned()),
            ..UpdateCredentialRequest::default()
        };

        let error = CredentialUpdate::parse(request).expect_err("the key is blank");

        assert!(
            error.to_string().starts_with("api_key: is empty"),
            "{error}"
        );
    }

    #[test]
    fn removal_with_new_certificate_is_rejected() {
        let request = UpdateCredentialRequest {
            client_certificate_pem: Some(CERTIFICATE_PEM.to_owned()),
            client_key_pem: Some(KEY_PEM.to_owned()),
            remove_client_certificate: true,
            ..UpdateCredentialRequest::default()
        };

        let error = CredentialUpdate::parse(request).expect_err("both removes and replaces");

        assert!(
            error.to_string().starts_with("remove_client_certificate: "),
            "{error}"
        );
    }

    #[test]
    fn certificate_without_key_names_the_key() {
        let request = UpdateCredentialRequest {
            client_certificate_pem: Some(CERTIFICATE_PEM.to_owned()),
            ..UpdateCredentialRequest::default()
        };

        let error = CredentialUpdate::parse(request).expect_err("the key is missing");

        assert!(error.to_string().starts_with("client_key_pem: "), "{error}");
    }

    #[test]
    fn new_identity_is_verified_and_redacted() {
        let request = UpdateCredentialRequest {
            name: Some(" renamed ".to_owned()),
            client_certificate_pem: Some(CERTIFICATE_PEM.to_owned()),
            client_key_pem: Some(KEY_PEM.to_owned()),
            ..UpdateCredentialRequest::default()
        };

        let update = CredentialUpdate::parse(request).expect("the update is valid");

        assert_eq!(update.name.as_deref(), Some("renamed"));
        assert!(update.changes_authentication());
        assert!(!format!("{update:?}").contains("key-body-5678"));
    }
}
