//! One domain of a client: `GET /clients/{clientId}/domains/{domain}` (DomainEx), adding a
//! domain (`POST /clients/{clientId}/domains`) and re-verifying one
//! (`PUT /clients/{clientId}/domains/{domain}`).
//!
//! Adding puts a domain in INITIAL_VERIFICATION. Re-verifying puts an APPROVED, EXPIRING or
//! RE_VERIFICATION domain in RE_VERIFICATION (still usable, as ECS documents) and any other in
//! INITIAL_VERIFICATION. NOTE: ECS documents only the first case; treating a DECLINED,
//! CANCELLED or EXPIRED domain as a first verification is an assumption. Both return 202 with
//! `Location` (relative to the API base, as in the specification's example) and `Retry-After`
//! as an HTTP date, when the new verification values appear. The domain in the path is
//! trimmed, because Entrust's Go client sends it with a trailing space.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::domains::domain_json;
use super::gate::Caller;
use super::path_integer;
use crate::error::ApiError;
use crate::format::http_date;
use crate::json_fields::{Fields, parse_object};
use crate::model::{DomainStatus, VerificationMethod};
use crate::names::{check_dns_name, normalize};
use crate::simulator::Simulator;
use crate::state::{Challenge, Domain, SimState, constructed_addresses};

/// Returns the DomainEx; 404 for an unknown client or domain.
pub async fn detail(
    State(sim): State<Arc<Simulator>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (client_id, name) = domain_path(path)?;
    let now = sim.now();
    let state = sim.state();
    let domain = find(&state, client_id, &name)?;
    Ok(Json(domain_ex(domain, now)))
}

/// Adds a domain to the client: 202 with `Location` and `Retry-After`.
pub async fn add(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    client_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client_id = path_integer(client_id, "clientId")?;
    let body = parse_object(&body)?;
    let now = sim.now();
    let mut state = sim.state();
    state.known_client(client_id)?;

    let mut fields = Fields::new(&body);
    let name = fields.string("domainName");
    fields.finish()?;
    let name = name.map(|name| normalize(&name)).ok_or_else(|| {
        ApiError::invalid("domainName", "domainName is required, such as example.com.")
    })?;
    if name.starts_with("*.") {
        return Err(ApiError::invalid(
            "domainName",
            format!("domainName {name:?} must not be a wildcard; add the domain itself."),
        ));
    }
    check_dns_name(&name).map_err(|message| ApiError::invalid("domainName", message))?;
    if state.domains.get(client_id, &name).is_some() {
        return Err(ApiError::invalid(
            "domainName",
            format!(
                "Domain {name} already belongs to client {client_id}; re-verify it with PUT \
                 /clients/{client_id}/domains/{name}."
            ),
        ));
    }
    let (method, emails) = read_method(&body, &name, None)?;
    let available_at = values_available_at(&state, now);
    state.domains.push(Domain {
        domain_name: name.clone(),
        client_id,
        verification_method: method,
        verification_status: DomainStatus::InitialVerification,
        ov_eligible: false,
        ov_expiry: None,
        ev_eligible: false,
        ev_expiry: None,
        challenge: Some(Challenge::new(method, emails, available_at)),
        previous_challenge: None,
    });
    tracing::info!(client.id = client_id, domain = %name, user.name = %caller.user_name, "Simulated domain added");
    Ok(accepted(client_id, &name, available_at))
}

/// Re-verifies a domain of the client with new random values: 202 with `Location` and
/// `Retry-After`.
pub async fn reverify(
    State(sim): State<Arc<Simulator>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (client_id, name) = domain_path(path)?;
    let body = parse_object(&body)?;
    let now = sim.now();
    let mut state = sim.state();
    let current = find(&state, client_id, &name)?.verification_method;
    let (method, emails) = read_method(&body, &name, Some(current))?;
    let available_at = values_available_at(&state, now);
    let domain = state
        .domains
        .get_mut(client_id, &name)
        .ok_or_else(|| unknown_domain(client_id, &name))?;
    domain.verification_status = match domain.verification_status {
        DomainStatus::Approved | DomainStatus::Expiring | DomainStatus::ReVerification => {
            DomainStatus::ReVerification
        }
        _ => DomainStatus::InitialVerification,
    };
    domain.restart_verification(method, emails, available_at);
    tracing::info!(client.id = client_id, domain = %name, user.name = %caller.user_name, status = %domain.verification_status, "Simulated domain re-verification started");
    Ok(accepted(client_id, &name, available_at))
}

/// Reads the client id and the domain name (lower case, trimmed) of a domain path.
fn domain_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(i64, String), ApiError> {
    let Path((client_id, name)) =
        path.map_err(|_| ApiError::invalid("clientId", "clientId must be an integer."))?;
    let client_id = client_id.trim().parse::<i32>().map_err(|_| {
        ApiError::invalid(
            "clientId",
            format!("clientId {client_id:?} must be an int32 integer."),
        )
    })?;
    Ok((i64::from(client_id), normalize(&name)))
}

fn find<'a>(state: &'a SimState, client_id: i64, name: &str) -> Result<&'a Domain, ApiError> {
    state.known_client(client_id)?;
    state
        .domains
        .get(client_id, name)
        .ok_or_else(|| unknown_domain(client_id, name))
}

fn unknown_domain(client_id: i64, name: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Domain {name} of client {client_id} was not found."
    ))
}

fn values_available_at(state: &SimState, now: OffsetDateTime) -> OffsetDateTime {
    let delay = i64::from(state.account.domain_values_delay_seconds);
    crate::state::whole_seconds(now + Duration::seconds(delay))
}

/// Reads `verificationMethod` (required unless `current` is given) and, for EMAIL,
/// `emailMethod`: INCLUDE_WHOIS (the default) mails every constructed address, SPECIFIED
/// only `email`, which must be a constructed address of the domain or a parent domain.
fn read_method(
    body: &Map<String, Value>,
    domain: &str,
    current: Option<VerificationMethod>,
) -> Result<(VerificationMethod, Vec<String>), ApiError> {
    let mut fields = Fields::new(body);
    let method = fields.string("verificationMethod");
    let email_method = fields.object("emailMethod").map(|mut email_method| {
        let source = email_method.string("emailSource");
        let email = email_method.string("email");
        (source, email, email_method)
    });
    let (source, email) = match email_method {
        Some((source, email, nested)) => {
            fields.absorb(nested);
            (source, email)
        }
        None => (None, None),
    };
    fields.finish()?;

    let method = match (method, current) {
        (Some(text), _) => VerificationMethod::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                "verificationMethod",
                format!(
                    "verificationMethod {text:?} is not allowed; use DNS, EMAIL, WEB_SERVER or \
                     MANUAL."
                ),
            )
        })?,
        (None, Some(current)) => current,
        (None, None) => {
            return Err(ApiError::invalid(
                "verificationMethod",
                "verificationMethod is required: DNS, EMAIL, WEB_SERVER or MANUAL.",
            ));
        }
    };
    if method != VerificationMethod::Email {
        return Ok((method, Vec::new()));
    }
    let emails = match source.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("INCLUDE_WHOIS") => constructed_addresses(domain),
        Some("SPECIFIED") => vec![specified_email(domain, email)?],
        Some(other) => {
            return Err(ApiError::invalid(
                "emailMethod.emailSource",
                format!("emailSource {other:?} is not allowed; use INCLUDE_WHOIS or SPECIFIED."),
            ));
        }
    };
    Ok((method, emails))
}

fn specified_email(domain: &str, email: Option<String>) -> Result<String, ApiError> {
    let email = email
        .map(|email| email.trim().to_ascii_lowercase())
        .ok_or_else(|| {
            ApiError::invalid(
                "emailMethod.email",
                "emailMethod.email is required when emailSource is SPECIFIED.",
            )
        })?;
    let mut candidate = domain;
    loop {
        if constructed_addresses(candidate).contains(&email) {
            return Ok(email);
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => break,
        }
    }
    Err(ApiError::invalid(
        "emailMethod.email",
        format!(
            "{email} is not an address ECS can mail for {domain}; use admin@, administrator@, \
             webmaster@, hostmaster@ or postmaster@ of the domain or a parent domain."
        ),
    ))
}

fn accepted(client_id: i64, name: &str, available_at: OffsetDateTime) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(json!({}))).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/clients/{client_id}/domains/{name}")) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(retry_after) = HeaderValue::from_str(&http_date(available_at)) {
        headers.insert(header::RETRY_AFTER, retry_after);
    }
    response
}

/// Returns the DomainEx of `domain` at `now`: the Domain fields plus the verification values
/// that are visible.
fn domain_ex(domain: &Domain, now: OffsetDateTime) -> Value {
    let mut object = domain_json(domain);
    let Some(challenge) = domain.visible_challenge(now) else {
        return object;
    };
    let name = &domain.domain_name;
    let (key, value) = match challenge.method {
        VerificationMethod::Dns => (
            "dnsMethod",
            json!({
                "recordDomain": format!("_pki-validation.{name}"),
                "recordType": "TXT",
                "recordValue": challenge.token,
            }),
        ),
        VerificationMethod::WebServer => (
            "webServerMethod",
            json!({
                "fileLocation": format!(
                    "http://{name}/.well-known/pki-validation/{}.txt",
                    challenge.file_name
                ),
                "fileContents": challenge.token,
            }),
        ),
        VerificationMethod::Email => ("emailMethod", json!(challenge.emails)),
        VerificationMethod::Manual => return object,
    };
    if let Value::Object(map) = &mut object {
        map.insert(key.to_owned(), value);
    }
    object
}
