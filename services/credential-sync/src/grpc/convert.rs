//! Conversion of the service's types into the messages of the gRPC contract. No conversion
//! copies a secret except [`resolved`], which exists to hand one out.

use certitude_proto::credential::v1 as proto;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::{DomainEntry, OrganizationEntry, ProductEntry};
use crate::credentials::{Credential, MissingAdministratorRight, ResolvedCredential};
use crate::sync::SyncRun;

/// Formats an instant as RFC 3339 text.
pub fn rfc3339(instant: OffsetDateTime) -> String {
    instant.format(&Rfc3339).unwrap_or_default()
}

/// Formats an optional instant; empty when absent.
fn optional_rfc3339(instant: Option<OffsetDateTime>) -> String {
    instant.map(rfc3339).unwrap_or_default()
}

/// Converts a client id to the contract's `int32`, 0 when unknown or out of range.
fn client_id(value: Option<i64>) -> i32 {
    value
        .and_then(|id| i32::try_from(id).ok())
        .unwrap_or_default()
}

/// Converts a credential without its secrets.
pub fn credential(credential: &Credential) -> proto::Credential {
    let missing = credential.missing_administrator_right.as_ref();
    proto::Credential {
        id: credential.id.to_string(),
        name: credential.name.clone(),
        api_base_url: credential.api_base_url.clone(),
        username: credential.username.clone(),
        is_administrator: credential.is_administrator,
        has_client_certificate: credential.client_certificate_pem.is_some(),
        created_at: rfc3339(credential.created_at),
        updated_at: rfc3339(credential.updated_at),
        lacks_administrator_right: missing.is_some(),
        administrator_right_missing_since: missing
            .map(|missing| rfc3339(missing.since))
            .unwrap_or_default(),
        denied_administrator_action: missing
            .map(|missing| missing.action.clone())
            .unwrap_or_default(),
        administrator_right_message: missing
            .map(MissingAdministratorRight::message)
            .unwrap_or_default(),
    }
}

/// Converts a credential with its opened secrets, for ResolveCredential only.
pub fn resolved(resolved: &ResolvedCredential) -> proto::ResolvedCredential {
    proto::ResolvedCredential {
        credential: Some(credential(&resolved.credential)),
        api_key: resolved.api_key.expose_secret().to_owned(),
        client_certificate_pem: resolved
            .credential
            .client_certificate_pem
            .clone()
            .unwrap_or_default(),
        client_key_pem: resolved
            .client_key_pem
            .as_ref()
            .map(|key| key.expose_secret().to_owned())
            .unwrap_or_default(),
    }
}

/// Converts a sync run.
pub fn sync_run(run: &SyncRun) -> proto::SyncRun {
    proto::SyncRun {
        id: run.id.to_string(),
        credential_id: run.credential_id.to_string(),
        state: run.state.as_str().to_owned(),
        organizations: run.organizations,
        domains: run.domains,
        products: run.products,
        error: run.error.clone().unwrap_or_default(),
        started_at: rfc3339(run.started_at),
        finished_at: optional_rfc3339(run.finished_at),
        trigger: run.trigger.clone(),
        removed: run.removed,
        kinds: run.kinds.names(),
        added: run.added,
        changed: run.changed,
    }
}

pub fn organization(entry: OrganizationEntry) -> proto::Organization {
    proto::Organization {
        name: entry.name,
        client_id: client_id(entry.client_id),
        verification_status: entry.verification_status,
        first_seen_at: rfc3339(entry.first_seen_at),
        updated_at: rfc3339(entry.updated_at),
        removed_at: optional_rfc3339(entry.removed_at),
    }
}

pub fn domain(entry: DomainEntry) -> proto::Domain {
    proto::Domain {
        name: entry.name,
        client_id: client_id(entry.client_id),
        verification_method: entry.verification_method.unwrap_or_default(),
        verification_status: entry.verification_status,
        ov_eligible: entry.ov_eligible.unwrap_or_default(),
        ov_expiry: optional_rfc3339(entry.ov_expiry),
        ev_eligible: entry.ev_eligible.unwrap_or_default(),
        ev_expiry: optional_rfc3339(entry.ev_expiry),
        first_seen_at: rfc3339(entry.first_seen_at),
        updated_at: rfc3339(entry.updated_at),
        removed_at: optional_rfc3339(entry.removed_at),
    }
}

pub fn product(entry: ProductEntry) -> proto::Product {
    let counts_reported =
        entry.remaining.is_some() || entry.used.is_some() || entry.total.is_some();
    proto::Product {
        product_type: entry.product_type,
        unlimited: entry.unlimited,
        remaining_count: entry.remaining.unwrap_or_default(),
        used_count: entry.used.unwrap_or_default(),
        total_count: entry.total.unwrap_or_default(),
        counts_reported,
        first_seen_at: rfc3339(entry.first_seen_at),
        updated_at: rfc3339(entry.updated_at),
        removed_at: optional_rfc3339(entry.removed_at),
    }
}
