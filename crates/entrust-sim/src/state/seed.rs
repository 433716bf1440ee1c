//! Builds the starting state from a scenario: absolute dates from the clock, the clients,
//! organizations and domains, and the orders (see [`super::seed_order`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::seed_order::SeedContext;
use super::{
    CONSTRUCTED_MAILBOXES, Challenge, Client, Domain, Domains, Inventory, Organization, SimState,
};
use crate::cert_facts::CertificateParseError;
use crate::model::{DomainStatus, VerificationMethod};
use crate::scenario::{Scenario, ScenarioClient, ScenarioDomain};

/// Errors building the starting state.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// An embedded certificate could not be read.
    #[error("{entry}: certificatePem or chainPem is not a readable certificate")]
    Certificate {
        /// The scenario entry, such as `orders[3]`.
        entry: String,
        /// The parse failure.
        #[source]
        source: CertificateParseError,
    },
}

/// Builds the state a simulator starts with. `scenario` must have passed
/// [`Scenario::validate`]. No key is generated and nothing is signed here: generated orders
/// get their key, CSR and certificate when a request first needs them.
pub(crate) fn seed_state(scenario: &Scenario, now: OffsetDateTime) -> Result<SimState, SeedError> {
    let clients = scenario
        .clients
        .iter()
        .map(|client| seed_client(client, now))
        .collect();
    let organizations: Vec<Organization> = scenario
        .organizations
        .iter()
        .map(|org| Organization {
            name: org.name.clone(),
            verification_status: org.verification_status,
            client_id: org.client_id,
        })
        .collect();
    let domains = Domains::new(
        scenario
            .domains
            .iter()
            .map(|domain| seed_domain(domain, now))
            .collect(),
    );

    let default_creator = scenario
        .api_users
        .first()
        .map(|user| user.user_name.clone())
        .unwrap_or_default();
    let context = SeedContext {
        now,
        organizations: &organizations,
        domains: &domains,
        default_creator: &default_creator,
    };
    let mut orders = BTreeMap::new();
    let mut tracking_id = i64::from(scenario.account.first_tracking_id);
    for (index, seed) in scenario.orders.iter().enumerate() {
        let order = context.order(index, tracking_id, seed)?;
        orders.insert(tracking_id, Arc::new(order));
        tracking_id += 1;
    }
    let third_party = scenario
        .third_party_certificates
        .iter()
        .enumerate()
        .map(|(index, record)| context.third_party(index, record))
        .collect::<Result<Vec<_>, SeedError>>()?;

    Ok(SimState {
        account: scenario.account.clone(),
        users: scenario.api_users.clone(),
        clients,
        organizations,
        domains,
        inventory: Inventory::new(&scenario.inventory),
        orders,
        third_party,
        next_tracking_id: tracking_id,
    })
}

fn seed_client(client: &ScenarioClient, now: OffsetDateTime) -> Client {
    let days = |count: i64| whole_seconds(now + Duration::days(count));
    Client {
        client_id: client.client_id,
        client_name: client.client_name.clone(),
        verification_status: client.verification_status,
        friendly_client_name: client.friendly_client_name.clone(),
        ov_expiry: client.ov_expires_in_days.map(days),
        ev_verification_status: client.ev_verification_status,
        ev_expiry: client.ev_expires_in_days.map(days),
        address: client.address.clone(),
        auth_contact: client.auth_contact.clone(),
    }
}

/// Builds a domain; one awaiting verification starts with values that are visible at once.
fn seed_domain(domain: &ScenarioDomain, now: OffsetDateTime) -> Domain {
    let days = |count: i64| whole_seconds(now + Duration::days(count));
    let awaiting = matches!(
        domain.verification_status,
        DomainStatus::InitialVerification | DomainStatus::ReVerification
    );
    let challenge = awaiting.then(|| {
        let emails = match domain.verification_method {
            VerificationMethod::Email => constructed_addresses(&domain.domain_name),
            _ => Vec::new(),
        };
        Challenge::new(domain.verification_method, emails, now)
    });
    Domain {
        domain_name: domain.domain_name.clone(),
        client_id: domain.client_id,
        verification_method: domain.verification_method,
        verification_status: domain.verification_status,
        ov_eligible: domain.ov_eligible,
        ov_expiry: domain.ov_expires_in_days.map(days),
        ev_eligible: domain.ev_eligible,
        ev_expiry: domain.ev_expires_in_days.map(days),
        challenge,
        previous_challenge: None,
    }
}

/// Returns the addresses ECS constructs for email verification of `domain`
/// (`admin@`, `administrator@`, `webmaster@`, `hostmaster@`, `postmaster@`).
pub fn constructed_addresses(domain: &str) -> Vec<String> {
    CONSTRUCTED_MAILBOXES
        .iter()
        .map(|mailbox| format!("{mailbox}@{domain}"))
        .collect()
}

/// Drops the sub-second part, which X.509 validity and the wire format cannot carry.
pub fn whole_seconds(instant: OffsetDateTime) -> OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}
