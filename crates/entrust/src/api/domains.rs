//! One domain of a sub-account: `GET`, `POST` (add) and `PUT` (re-verify) under
//! `/clients/{clientId}/domains`.
//!
//! Adding and re-verifying start an asynchronous verification at the CA and are sent once:
//! repeating an add fails for the existing domain, and each re-verification draws new random
//! values. An ambiguous failure is [`Error::OutcomeUnknown`]; read the domain to learn its
//! state.

use futures::stream::BoxStream;
use reqwest::Method;

use super::bodies::{invalid, to_json};
use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{
    Domain, DomainDetail, DomainRequestAccepted, DomainVerificationRequest, EmailSource, NewDomain,
    VerificationMethod,
};
use crate::transport::{Call, Repeatable};
use crate::wire::convert_account;
use crate::wire::domains::{DomainDetailRecord, DomainRequest, EmailMethodRequest};

const GET_DOMAIN: &str = "GET /clients/{clientId}/domains/{domain}";
const ADD_DOMAIN: &str = "POST /clients/{clientId}/domains";
const REVERIFY_DOMAIN: &str = "PUT /clients/{clientId}/domains/{domain}";

/// Checks a domain name for use in a path and returns it trimmed and lower-cased.
///
/// Surrounding whitespace is removed rather than sent, because a trailing space in the path
/// makes ECS return 404.
pub(crate) fn domain_name(name: &str) -> Result<String, Error> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'));
    if !valid {
        return Err(invalid(
            "domain",
            format!(
                "{name:?} is not a domain name: use letters, digits, `-` and `.` only, for \
                 example example.com"
            ),
        ));
    }
    Ok(name)
}

/// Builds the body of an add (with `domain_name`) or a re-verification (without).
pub(crate) fn domain_request_body(
    domain_name: Option<&str>,
    verification: &DomainVerificationRequest,
) -> Result<Vec<u8>, Error> {
    let email_method = match (&verification.method, &verification.email) {
        (VerificationMethod::Email, None)
        | (VerificationMethod::Email, Some(EmailSource::Whois)) => Some(EmailMethodRequest {
            email_source: "INCLUDE_WHOIS",
            email: None,
        }),
        (VerificationMethod::Email, Some(EmailSource::Specified(address))) => {
            if !address.contains('@') {
                return Err(invalid(
                    "email",
                    format!("{address:?} is not an email address"),
                ));
            }
            Some(EmailMethodRequest {
                email_source: "SPECIFIED",
                email: Some(address.trim()),
            })
        }
        (_, Some(_)) => {
            return Err(invalid(
                "email",
                "applies to the EMAIL verification method only: remove it or use EMAIL",
            ));
        }
        (_, None) => None,
    };
    if let VerificationMethod::Unrecognized(method) = &verification.method {
        return Err(invalid(
            "method",
            format!(
                "{method:?} is not a verification method: use DNS, EMAIL, MANUAL or WEB_SERVER"
            ),
        ));
    }
    to_json(
        "domain request",
        &DomainRequest {
            domain_name,
            verification_method: verification.method.as_str(),
            email_method,
        },
    )
}

impl EntrustClient {
    /// Streams the domains of one sub-account (`GET /clients/{clientId}/domains`, all
    /// pages), with the same ending rules as [`EntrustClient::order_stream`].
    pub fn client_domain_stream(&self, client_id: u32) -> BoxStream<'_, Result<Domain, Error>> {
        use futures::StreamExt;

        self.domain_walk(
            "GET /clients/{clientId}/domains",
            format!("/clients/{client_id}/domains"),
        )
        .map(move |domain| {
            domain.map(|mut domain| {
                domain.client_id.get_or_insert(client_id);
                domain
            })
        })
        .boxed()
    }

    /// Fetches one domain with its verification details
    /// (`GET /clients/{clientId}/domains/{domain}`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed name; [`Error::NotFound`] for an unknown client
    /// or domain.
    pub async fn domain(&self, client_id: u32, name: &str) -> Result<DomainDetail, Error> {
        let name = domain_name(name)?;
        let record: DomainDetailRecord = self
            .get_json(Call::get(
                GET_DOMAIN,
                format!("/clients/{client_id}/domains/{name}"),
            ))
            .await?;
        let mut detail = convert_account::domain_detail(record).ok_or_else(|| Error::NotFound {
            endpoint: GET_DOMAIN,
            path: format!("/clients/{client_id}/domains/{name}"),
            messages: Default::default(),
        })?;
        detail.domain.client_id.get_or_insert(client_id);
        Ok(detail)
    }

    /// Registers a domain with a sub-account and starts its verification
    /// (`POST /clients/{clientId}/domains`). The domain then reads `INITIAL_VERIFICATION`;
    /// its DNS or file values appear some seconds later (see
    /// [`DomainRequestAccepted::ready_at`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed name or email target; [`Error::InvalidRequest`]
    /// when the CA rejects the domain; [`Error::NotFound`] for an unknown client.
    pub async fn add_domain(
        &self,
        client_id: u32,
        domain: &NewDomain,
    ) -> Result<DomainRequestAccepted, Error> {
        let name = domain_name(&domain.name)?;
        let body = domain_request_body(Some(&name), &domain.verification)?;
        let success = self
            .transport
            .send(Call {
                endpoint: ADD_DOMAIN,
                method: Method::POST,
                path: format!("/clients/{client_id}/domains"),
                query: Vec::new(),
                body: Some(body),
                repeatable: Repeatable::No,
            })
            .await?;
        Ok(convert_account::domain_request_accepted(
            success.location.as_deref(),
            success.retry_after.as_deref(),
        ))
    }

    /// Asks the CA to verify a registered domain again, possibly by another method
    /// (`PUT /clients/{clientId}/domains/{domain}`). An approved domain then reads
    /// `RE_VERIFICATION` and stays usable meanwhile.
    ///
    /// # Errors
    ///
    /// As [`EntrustClient::add_domain`], and [`Error::NotFound`] for an unknown domain.
    pub async fn reverify_domain(
        &self,
        client_id: u32,
        name: &str,
        verification: &DomainVerificationRequest,
    ) -> Result<DomainRequestAccepted, Error> {
        let name = domain_name(name)?;
        let body = domain_request_body(None, verification)?;
        let success = self
            .transport
            .send(Call {
                endpoint: REVERIFY_DOMAIN,
                method: Method::PUT,
                path: format!("/clients/{client_id}/domains/{name}"),
                query: Vec::new(),
                body: Some(body),
                repeatable: Repeatable::No,
            })
            .await?;
        Ok(convert_account::domain_request_accepted(
            success.location.as_deref(),
            success.retry_after.as_deref(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn json_of(bytes: Result<Vec<u8>, Error>) -> Value {
        let bytes = bytes.unwrap_or_else(|error| panic!("body failed: {error}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("body is not JSON: {error}"))
    }

    fn request(
        method: VerificationMethod,
        email: Option<EmailSource>,
    ) -> DomainVerificationRequest {
        DomainVerificationRequest { method, email }
    }

    #[test]
    fn domain_names_are_trimmed_and_checked() {
        assert_eq!(
            domain_name(" Example.COM. ").ok().as_deref(),
            Some("example.com")
        );
        for bad in ["", "a/b", "a b.com", "ex%41.com", "a?b"] {
            assert!(
                matches!(
                    domain_name(bad),
                    Err(Error::InvalidInput {
                        field: "domain",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn add_body_names_domain_and_email_source() {
        assert_eq!(
            json_of(domain_request_body(
                Some("example.com"),
                &request(
                    VerificationMethod::Email,
                    Some(EmailSource::Specified("admin@example.com".to_owned()))
                )
            )),
            json!({
                "domainName": "example.com",
                "verificationMethod": "EMAIL",
                "emailMethod": {"emailSource": "SPECIFIED", "email": "admin@example.com"}
            })
        );
        assert_eq!(
            json_of(domain_request_body(
                None,
                &request(VerificationMethod::Email, None)
            )),
            json!({"verificationMethod": "EMAIL", "emailMethod": {"emailSource": "INCLUDE_WHOIS"}})
        );
        assert_eq!(
            json_of(domain_request_body(
                None,
                &request(VerificationMethod::Dns, None)
            )),
            json!({"verificationMethod": "DNS"})
        );
    }

    #[test]
    fn email_target_without_email_method_is_rejected() {
        let result = domain_request_body(
            None,
            &request(VerificationMethod::Dns, Some(EmailSource::Whois)),
        );

        assert!(matches!(
            result,
            Err(Error::InvalidInput { field: "email", .. })
        ));
    }
}
