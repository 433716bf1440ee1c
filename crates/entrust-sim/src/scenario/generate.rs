//! Generated scenarios for load tests and benchmarks: many domains and orders with the status
//! mix of a long-lived account, built from a seed so that one seed always gives one scenario
//! (for a given version of the `rand` crate).
//!
//! Generating is cheap (no keys or certificates): the simulator makes each order's key and
//! certificate the first time a request needs them, so even 100,000 orders start in seconds.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;

use super::{
    AccountSettings, ApiUser, Scenario, ScenarioClient, ScenarioDomain, ScenarioInventoryItem,
    ScenarioOrder, ScenarioOrganization, SeedKeyType,
};
use crate::model::{
    CertificateStatus, DomainStatus, Role, UserTracking, VerificationMethod, VerificationStatus,
};

/// Size and seed of a generated scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of domains, spread over clients 1 to 4.
    pub domains: usize,
    /// Number of orders, spread over clients 1 to 3.
    pub orders: usize,
    /// Seed of the random choices.
    pub seed: u64,
}

/// Tracking id of the first generated order.
const FIRST_TRACKING_ID: i32 = 3_000_000;
/// Units left in each counted product after the generated orders.
const SPARE_UNITS: u32 = 10_000;

const CLIENTS: &[(i64, &str, VerificationStatus)] = &[
    (1, "Certitude Load Corp", VerificationStatus::Approved),
    (2, "Load Subsidiary Two Ltd", VerificationStatus::Approved),
    (3, "Load Subsidiary Three SA", VerificationStatus::Approved),
    (4, "Load Pending Client Inc", VerificationStatus::Pending),
];

/// Products of generated orders, with their share in percent. `None` marks an UNLIMITED one.
const PRODUCTS: &[(&str, u32, Option<u32>)] = &[
    ("STANDARD_SSL", 50, Some(0)),
    ("ADVANTAGE_SSL", 20, Some(0)),
    ("WILDCARD_SSL", 10, Some(0)),
    ("UC_SSL", 10, None),
    ("EV_SSL", 5, Some(0)),
    ("PRIVATE_SSL", 5, None),
];

impl Scenario {
    /// Returns the large load scenario: 10,000 domains and 100,000 orders.
    pub fn large(seed: u64) -> Scenario {
        Scenario::generate(&GenerateOptions {
            domains: 10_000,
            orders: 100_000,
            seed,
        })
    }

    /// Generates a scenario of `options.domains` domains and `options.orders` orders. The API
    /// users are the demo ones (`demo-admin`, `demo-requester`, same keys), order tracking ids
    /// start at 3,000,000, and domain verification values appear at once.
    pub fn generate(options: &GenerateOptions) -> Scenario {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let domains: Vec<ScenarioDomain> = (0..options.domains)
            .map(|index| generated_domain(&mut rng, index))
            .collect();
        let usable: Vec<&ScenarioDomain> = domains
            .iter()
            .filter(|domain| domain.verification_status.is_usable() && domain.client_id <= 3)
            .collect();
        let orders: Vec<ScenarioOrder> = if usable.is_empty() {
            Vec::new()
        } else {
            (0..options.orders)
                .map(|index| generated_order(&mut rng, index, &usable))
                .collect()
        };
        let inventory = inventory_for(&orders);

        Scenario {
            account: AccountSettings {
                version: "12.5.0.138-sim".to_owned(),
                first_tracking_id: FIRST_TRACKING_ID,
                max_validity_days: 397,
                pooling: true,
                include_root_in_chain: false,
                rate_limit_quota: None,
                legacy_crl_reasons: false,
                domain_values_delay_seconds: 0,
                forbid_self_approval: false,
            },
            api_users: vec![
                user("demo-admin", "sim-demo-admin-key", Role::Administrator),
                user("demo-requester", "sim-demo-requester-key", Role::Requester),
            ],
            clients: CLIENTS
                .iter()
                .map(|(client_id, name, status)| ScenarioClient {
                    client_id: *client_id,
                    client_name: (*name).to_owned(),
                    verification_status: *status,
                    friendly_client_name: None,
                    ov_expires_in_days: (*status == VerificationStatus::Approved).then_some(300),
                    ev_verification_status: None,
                    ev_expires_in_days: None,
                    address: None,
                    auth_contact: None,
                })
                .collect(),
            organizations: CLIENTS
                .iter()
                .map(|(client_id, name, status)| ScenarioOrganization {
                    name: (*name).to_owned(),
                    verification_status: *status,
                    client_id: *client_id,
                })
                .collect(),
            domains,
            inventory,
            orders,
            third_party_certificates: Vec::new(),
        }
    }
}

fn user(name: &str, key: &str, role: Role) -> ApiUser {
    ApiUser {
        user_name: name.to_owned(),
        api_key: SecretString::from(key),
        role,
        permissions: None,
        client_certificate_pem: None,
        generate_client_certificate: false,
    }
}

/// Picks the index of a weighted choice; `weights` are percentages that add up to 100.
fn pick(rng: &mut StdRng, weights: &[u32]) -> usize {
    let roll = rng.random_range(0..100u32);
    let mut total = 0;
    for (index, weight) in weights.iter().enumerate() {
        total += weight;
        if roll < total {
            return index;
        }
    }
    weights.len() - 1
}

fn generated_domain(rng: &mut StdRng, index: usize) -> ScenarioDomain {
    let client_id = [1, 1, 1, 1, 1, 1, 1, 2, 3, 4][index % 10];
    let status = [
        DomainStatus::Approved,
        DomainStatus::Expiring,
        DomainStatus::ReVerification,
        DomainStatus::InitialVerification,
        DomainStatus::Expired,
        DomainStatus::Declined,
        DomainStatus::Cancelled,
    ][pick(rng, &[85, 5, 3, 2, 2, 2, 1])];
    let method = [
        VerificationMethod::Dns,
        VerificationMethod::WebServer,
        VerificationMethod::Email,
        VerificationMethod::Manual,
    ][pick(rng, &[50, 25, 20, 5])];
    let ov_days = match status {
        DomainStatus::Approved => Some(rng.random_range(90..396)),
        DomainStatus::Expiring => Some(rng.random_range(1..90)),
        DomainStatus::ReVerification => Some(rng.random_range(1..200)),
        DomainStatus::Expired => Some(rng.random_range(-200..0)),
        _ => None,
    };
    let ev_eligible = status == DomainStatus::Approved && rng.random_bool(0.2);
    ScenarioDomain {
        domain_name: format!("d{index:05}.load-c{client_id}.test"),
        client_id,
        verification_method: method,
        verification_status: status,
        ov_eligible: status.is_usable(),
        ov_expires_in_days: ov_days,
        ev_eligible,
        ev_expires_in_days: ov_days.filter(|_| ev_eligible).map(|days| days / 2),
    }
}

fn generated_order(rng: &mut StdRng, index: usize, usable: &[&ScenarioDomain]) -> ScenarioOrder {
    let domain = usable[rng.random_range(0..usable.len())];
    let weights: Vec<u32> = PRODUCTS.iter().map(|(_, share, _)| *share).collect();
    let cert_type = PRODUCTS[pick(rng, &weights)].0;
    let (common_name, subject_alt_name) = names_for(cert_type, index, &domain.domain_name);

    let status = [
        CertificateStatus::Active,
        CertificateStatus::Pending,
        CertificateStatus::Declined,
        CertificateStatus::Revoked,
        CertificateStatus::Suspended,
        CertificateStatus::Deactivated,
        CertificateStatus::Reissued,
        CertificateStatus::Renewed,
    ][pick(rng, &[84, 3, 1, 4, 1, 3, 2, 2])];
    let issued = super::order_has_certificate(status);
    let lifetime = rng.random_range(90..=397);
    let issued_days_ago = rng.random_range(0..=420);
    ScenarioOrder {
        status,
        cert_type: cert_type.to_owned(),
        client_id: domain.client_id,
        org: None,
        common_name: Some(common_name),
        subject_alt_name,
        key_type: if rng.random_bool(0.05) {
            SeedKeyType::Rsa
        } else {
            SeedKeyType::Ec
        },
        eku: None,
        issued_days_ago: issued.then_some(issued_days_ago),
        expires_in_days: Some(if issued {
            lifetime - issued_days_ago
        } else {
            lifetime
        }),
        deactivated_days_ago: (status == CertificateStatus::Deactivated)
            .then(|| rng.random_range(0..=issued_days_ago)),
        tracking: UserTracking {
            tracking_info: Some(format!("load-{index}")),
            requester_name: Some("Load Generator".to_owned()),
            requester_email: Some("load@example.com".to_owned()),
            requester_phone: Some("+1 613 555 0199".to_owned()),
            ..UserTracking::default()
        },
        creator_name: None,
        decline_reason: (status == CertificateStatus::Declined)
            .then(|| "Generated decline.".to_owned()),
        certificate_pem: None,
        chain_pem: Vec::new(),
    }
}

fn names_for(cert_type: &str, index: usize, domain: &str) -> (String, Vec<String>) {
    match cert_type {
        "WILDCARD_SSL" => (format!("*.{domain}"), Vec::new()),
        "STANDARD_SSL" => (format!("www.{domain}"), vec![domain.to_owned()]),
        "UC_SSL" => (
            format!("h{index}.{domain}"),
            vec![
                format!("api{index}.{domain}"),
                format!("mail{index}.{domain}"),
            ],
        ),
        _ => (format!("h{index}.{domain}"), Vec::new()),
    }
}

/// Counts the orders of each product and leaves [`SPARE_UNITS`] of each counted product.
fn inventory_for(orders: &[ScenarioOrder]) -> Vec<ScenarioInventoryItem> {
    let mut items: Vec<ScenarioInventoryItem> = PRODUCTS
        .iter()
        .map(|(product, _, counted)| ScenarioInventoryItem {
            product_type: (*product).to_owned(),
            consumption_type: counted.is_none().then(|| "UNLIMITED".to_owned()),
            total_count: 0,
            used_count: 0,
            remaining_count: 0,
        })
        .collect();
    for order in orders {
        if let Some(item) = items
            .iter_mut()
            .find(|item| item.product_type == order.cert_type && !item.is_unlimited())
        {
            item.used_count += 1;
        }
    }
    for item in items.iter_mut().filter(|item| !item.is_unlimited()) {
        item.remaining_count = SPARE_UNITS;
        item.total_count = item.used_count + SPARE_UNITS;
    }
    items.push(ScenarioInventoryItem {
        product_type: "FLEX".to_owned(),
        consumption_type: None,
        total_count: SPARE_UNITS,
        used_count: 0,
        remaining_count: SPARE_UNITS,
    });
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Scenario {
        Scenario::generate(&GenerateOptions {
            domains: 200,
            orders: 1_000,
            seed,
        })
    }

    #[test]
    fn generated_scenario_has_requested_counts_and_validates() {
        let scenario = small(7);

        assert_eq!(scenario.domains.len(), 200);
        assert_eq!(scenario.orders.len(), 1_000);
        scenario.validate().unwrap();
    }

    #[test]
    fn same_seed_gives_same_scenario() {
        let first = small(42).to_json().unwrap();
        let second = small(42).to_json().unwrap();
        let other = small(43).to_json().unwrap();

        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn generated_json_reads_back() {
        let json = small(1).to_json().unwrap();

        let scenario = Scenario::from_json(&json).unwrap();

        assert_eq!(scenario.orders.len(), 1_000);
        assert_eq!(scenario.api_users[0].user_name, "demo-admin");
    }

    #[test]
    fn orders_use_usable_domains_of_approved_clients() {
        let scenario = small(3);

        for order in &scenario.orders {
            assert!(order.client_id <= 3, "client {}", order.client_id);
            let name = order.common_name.as_deref().unwrap();
            let base = name.trim_start_matches("*.");
            let covered = scenario.domains.iter().any(|domain| {
                domain.client_id == order.client_id
                    && domain.verification_status.is_usable()
                    && base.ends_with(&domain.domain_name)
            });
            assert!(covered, "{name}");
        }
    }
}
