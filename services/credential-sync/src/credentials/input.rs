//! Validation of a new credential's fields, each error naming the field and the fix.

use certitude_proto::credential::v1::AddCredentialRequest;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::entrust_api::{EntrustAccess, EntrustTarget};
use crate::error::ServiceError;

/// Maximum length of a credential name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Maximum length of an Entrust API user name, in characters.
const MAX_USERNAME_CHARS: usize = 256;

/// A validated new credential. `Debug` redacts the API key and the client key.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub name: String,
    pub api_base_url: Url,
    pub username: String,
    pub api_key: SecretString,
    pub client_certificate_pem: Option<String>,
    pub client_key_pem: Option<SecretString>,
    pub is_administrator: bool,
}

impl NewCredential {
    /// Validates a request. The name, URL (checked by `access`'s policy), user name and API
    /// key are required, and the client certificate and key come together or not at all.
    pub fn parse(
        request: AddCredentialRequest,
        access: &EntrustAccess,
    ) -> Result<Self, ServiceError> {
        let name = parse_name(&request.name)?;
        let api_base_url = parse_url(&request.api_base_url, access)?;
        let username = parse_username(&request.username)?;
        let api_key = SecretString::from(request.api_key.trim().to_owned());
        if api_key.expose_secret().is_empty() {
            return Err(ServiceError::invalid(
                "api_key",
                "is required: give the Entrust API key of the API user",
            ));
        }
        let (client_certificate_pem, client_key_pem) =
            parse_client_identity(request.client_certificate_pem, request.client_key_pem)?;
        Ok(Self {
            name,
            api_base_url,
            username,
            api_key,
            client_certificate_pem,
            client_key_pem,
            is_administrator: request.is_administrator,
        })
    }

    /// Returns what the Entrust adapter needs to check this credential.
    pub fn target(&self) -> EntrustTarget {
        let client_identity = match (&self.client_certificate_pem, &self.client_key_pem) {
            (Some(certificate_pem), Some(private_key_pem)) => Some(entrust::ClientIdentity {
                certificate_pem: certificate_pem.clone(),
                private_key_pem: private_key_pem.clone(),
            }),
            _ => None,
        };
        EntrustTarget {
            api_base_url: self.api_base_url.clone(),
            username: self.username.clone(),
            api_key: self.api_key.clone(),
            client_identity,
        }
    }

    /// Returns the URL as stored: without a trailing slash.
    pub fn stored_url(&self) -> String {
        self.api_base_url.as_str().trim_end_matches('/').to_owned()
    }
}

pub(super) fn parse_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid(
            "name",
            "is required: give the credential a name, such as production",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::invalid(
            "name",
            format!("is longer than {MAX_NAME_CHARS} characters: choose a shorter name"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "name",
            "contains a control character: use printable characters only",
        ));
    }
    Ok(name.to_owned())
}

fn parse_url(text: &str, access: &EntrustAccess) -> Result<Url, ServiceError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ServiceError::invalid(
            "api_base_url",
            "is required: give the Entrust API base URL, such as \
             https://api.entrust.net/enterprise/v2",
        ));
    }
    let url = Url::parse(text).map_err(|error| {
        ServiceError::invalid(
            "api_base_url",
            format!("is not a valid URL ({error}): use one such as https://api.entrust.net/enterprise/v2"),
        )
    })?;
    access.check_url(&url)?;
    Ok(url)
}

fn parse_username(username: &str) -> Result<String, ServiceError> {
    let username = username.trim();
    if username.is_empty() {
        return Err(ServiceError::invalid(
            "username",
            "is required: give the Entrust API user name",
        ));
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "username",
            "contains ':' or a control character, which HTTP Basic authentication cannot \
             carry: check the API user name",
        ));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(ServiceError::invalid(
            "username",
            format!("is longer than {MAX_USERNAME_CHARS} characters: check the API user name"),
        ));
    }
    Ok(username.to_owned())
}

/// Returns the certificate and key, both present or both absent.
pub(super) fn parse_client_identity(
    certificate_pem: String,
    key_pem: String,
) -> Result<(Option<String>, Option<SecretString>), ServiceError> {
    let key_pem = SecretString::from(key_pem);
    let has_certificate = !certificate_pem.trim().is_empty();
    let has_key = !key_pem.expose_secret().trim().is_empty();
    match (has_certificate, has_key) {
        (false, false) => Ok((None, None)),
        (true, false) => Err(ServiceError::invalid(
            "client_key_pem",
            "is required with client_certificate_pem: give the certificate's private key in PEM",
        )),
        (false, true) => Err(ServiceError::invalid(
            "client_certificate_pem",
            "is required with client_key_pem: give the client certificate in PEM",
        )),
        (true, true) if !certificate_pem.contains("-----BEGIN CERTIFICATE-----") => {
            Err(ServiceError::invalid(
                "client_certificate_pem",
                "is not a PEM certificate: give it as -----BEGIN CERTIFICATE----- ...",
            ))
        }
        (true, true) => Ok((Some(certificate_pem.trim().to_owned()), Some(key_pem))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request() -> AddCredentialRequest {
        AddCredentialRequest {
            name: " production ".to_owned(),
            api_base_url: "https://api.entrust.net/enterprise/v2/".to_owned(),
            username: "api-user".to_owned(),
            api_key: "key-1234".to_owned(),
            ..AddCredentialRequest::default()
        }
    }

    fn parse(request: AddCredentialRequest) -> Result<NewCredential, ServiceError> {
        NewCredential::parse(request, &EntrustAccess::new(Duration::from_secs(5), false))
    }

    #[test]
    fn valid_request_is_trimmed() {
        let credential = parse(request()).expect("the request is valid");

        assert_eq!(credential.name, "production");
        assert_eq!(
            credential.stored_url(),
            "https://api.entrust.net/enterprise/v2"
        );
        assert!(credential.client_key_pem.is_none());
    }

    #[test]
    fn each_required_field_is_named() {
        type Blank = fn(&mut AddCredentialRequest);
        let cases: [(&str, Blank); 4] = [
            ("name", |r| r.name.clear()),
            ("api_base_url", |r| r.api_base_url.clear()),
            ("username", |r| r.username = "  ".to_owned()),
            ("api_key", |r| r.api_key.clear()),
        ];
        for (field, blank) in cases {
            let mut request = request();
            blank(&mut request);

            let error = parse(request).expect_err("a required field is blank");

            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{field}: is required")),
                "{field}: {error}"
            );
        }
    }

    #[test]
    fn client_key_without_certificate_is_rejected() {
        let mut request = request();
        request.client_key_pem = "-----BEGIN PRIVATE KEY-----\nsecret\n".to_owned();

        let error = parse(request).expect_err("the certificate is missing");

        assert!(
            error.to_string().starts_with("client_certificate_pem: "),
            "{error}"
        );
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut request = request();
        request.client_certificate_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n".to_owned();
        request.client_key_pem = "-----BEGIN PRIVATE KEY-----\nkey-body-5678\n".to_owned();

        let debug = format!("{:?}", parse(request).expect("the request is valid"));

        assert!(!debug.contains("key-1234"), "{debug}");
        assert!(!debug.contains("key-body-5678"), "{debug}");
    }
}
