//! Builds the starting state from a scenario: absolute dates from the clock, keys and CSRs for
//! the scenario orders, certificates from the test CA, and embedded real-world certificates.

use std::collections::BTreeMap;

use rcgen::{
    CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};
use time::{Duration, OffsetDateTime};

use super::{Client, Domain, Inventory, Order, OrderCertificate, OrderCsr, Organization, SimState};
use crate::ca::{CaError, LeafRequest, TestCa};
use crate::cert_facts::{
    CertificateParseError, GeneralNameValue, format_subject_dn, parse_certificate_pem,
};
use crate::csr::{CsrError, parse_csr};
use crate::format::end_of_day;
use crate::model::{CertificateStatus, Eku, VerificationStatus};
use crate::names::{Coverage, coverage};
use crate::scenario::{Scenario, ScenarioOrder, SeedKeyType, order_has_certificate};

const DEFAULT_ISSUED_DAYS_AGO: i64 = 30;
const DEFAULT_EXPIRES_IN_DAYS: i64 = 335;
const DEFAULT_PENDING_EXPIRES_IN_DAYS: i64 = 365;

/// Errors building the starting state.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// An embedded certificate could not be read.
    #[error("orders[{index}]: certificatePem or chainPem is not a readable certificate")]
    Certificate {
        /// Position of the order in the scenario.
        index: usize,
        /// The parse failure.
        #[source]
        source: CertificateParseError,
    },
    /// Generating a key or a CSR failed.
    #[error("orders[{index}]: failed to generate a key and CSR")]
    Key {
        /// Position of the order in the scenario.
        index: usize,
        /// The rcgen failure.
        #[source]
        source: rcgen::Error,
    },
    /// The generated CSR could not be read back.
    #[error("orders[{index}]: the generated CSR is unreadable")]
    Csr {
        /// Position of the order in the scenario.
        index: usize,
        /// The CSR failure.
        #[source]
        source: CsrError,
    },
    /// The test CA failed to issue the certificate.
    #[error("orders[{index}]: the test CA failed to issue the certificate")]
    Issue {
        /// Position of the order in the scenario.
        index: usize,
        /// The CA failure.
        #[source]
        source: CaError,
    },
}

/// Builds the state a simulator starts with. `scenario` must have passed
/// [`Scenario::validate`].
pub(crate) fn seed_state(
    scenario: &Scenario,
    ca: &TestCa,
    now: OffsetDateTime,
) -> Result<SimState, SeedError> {
    let days = |count: i64| now + Duration::days(count);
    let clients = scenario
        .clients
        .iter()
        .map(|client| Client {
            client_id: client.client_id,
            client_name: client.client_name.clone(),
            verification_status: client.verification_status,
        })
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
    let domains: Vec<Domain> = scenario
        .domains
        .iter()
        .map(|domain| Domain {
            domain_name: domain.domain_name.clone(),
            client_id: domain.client_id,
            verification_method: domain.verification_method,
            verification_status: domain.verification_status,
            ov_eligible: domain.ov_eligible,
            ov_expiry: domain
                .ov_expires_in_days
                .map(|count| whole_seconds(days(count))),
            ev_eligible: domain.ev_eligible,
            ev_expiry: domain
                .ev_expires_in_days
                .map(|count| whole_seconds(days(count))),
        })
        .collect();

    let default_creator = scenario
        .api_users
        .first()
        .map(|user| user.user_name.clone())
        .unwrap_or_default();
    let mut orders = BTreeMap::new();
    let mut tracking_id = i64::from(scenario.account.first_tracking_id);
    for (index, seed) in scenario.orders.iter().enumerate() {
        let context = SeedContext {
            ca,
            now,
            include_root: scenario.account.include_root_in_chain,
            organizations: &organizations,
            domains: &domains,
            default_creator: &default_creator,
        };
        let order = context.order(index, tracking_id, seed)?;
        orders.insert(tracking_id, order);
        tracking_id += 1;
    }

    Ok(SimState {
        account: scenario.account.clone(),
        users: scenario.api_users.clone(),
        clients,
        organizations,
        domains,
        inventory: Inventory::new(&scenario.inventory),
        orders,
        next_tracking_id: tracking_id,
    })
}

struct SeedContext<'a> {
    ca: &'a TestCa,
    now: OffsetDateTime,
    include_root: bool,
    organizations: &'a [Organization],
    domains: &'a [Domain],
    default_creator: &'a str,
}

impl SeedContext<'_> {
    fn order(
        &self,
        index: usize,
        tracking_id: i64,
        seed: &ScenarioOrder,
    ) -> Result<Order, SeedError> {
        let eku = seed
            .eku
            .clone()
            .unwrap_or_else(|| Eku::ServerAndClientAuth.as_str().to_owned());
        let mut order = Order {
            tracking_id,
            status: seed.status,
            cert_type: seed.cert_type.clone(),
            client_id: seed.client_id,
            dn: String::new(),
            common_name: String::new(),
            org: None,
            ou: Vec::new(),
            subject_alt_names: Vec::new(),
            key: crate::cert_facts::KeyFacts {
                key_type: crate::model::KeyType::Other,
                key_size: 0,
            },
            signing_alg: "SHA-2".to_owned(),
            eku,
            csr: None,
            certificate: None,
            requested_expiry: self.now,
            tracking: seed.tracking.clone(),
            deactivated_on: None,
            creator_name: seed
                .creator_name
                .clone()
                .unwrap_or_else(|| self.default_creator.to_owned()),
            decline_reason: seed.decline_reason.clone(),
            domain_used: None,
            consumed_product: None,
        };
        if seed.status == CertificateStatus::Deactivated {
            let days_ago = seed.deactivated_days_ago.unwrap_or(1);
            order.deactivated_on = Some(whole_seconds(self.now - Duration::days(days_ago)));
        }

        match &seed.certificate_pem {
            Some(pem) => self.fill_from_certificate(index, &mut order, pem, &seed.chain_pem)?,
            None => self.fill_generated(index, &mut order, seed)?,
        }
        order.domain_used = match coverage(self.domains, order.client_id, &order.common_name) {
            Coverage::Usable(domain) | Coverage::Unusable(domain, _) => Some(domain),
            Coverage::Missing => None,
        };
        Ok(order)
    }

    fn fill_from_certificate(
        &self,
        index: usize,
        order: &mut Order,
        pem: &str,
        chain_pem: &[String],
    ) -> Result<(), SeedError> {
        let facts = parse_certificate_pem(pem)
            .map_err(|source| SeedError::Certificate { index, source })?;
        let mut chain = vec![facts.pem.clone()];
        for issuer in chain_pem {
            let issuer = parse_certificate_pem(issuer)
                .map_err(|source| SeedError::Certificate { index, source })?;
            chain.push(issuer.pem);
        }
        order.common_name = facts
            .common_name
            .clone()
            .unwrap_or_else(|| facts.dn.clone());
        order.dn = facts.dn.clone();
        order.org = facts.organization.clone();
        order.ou = facts.organizational_units.clone();
        order.subject_alt_names = facts.subject_alt_names.clone();
        order.key = facts.key;
        order.signing_alg = facts.signing_alg.to_owned();
        order.requested_expiry = facts.not_after;
        order.certificate = Some(OrderCertificate {
            pem: facts.pem,
            chain,
            serial: facts.serial,
            not_before: facts.not_before,
            not_after: facts.not_after,
        });
        Ok(())
    }

    fn fill_generated(
        &self,
        index: usize,
        order: &mut Order,
        seed: &ScenarioOrder,
    ) -> Result<(), SeedError> {
        let common_name = seed.common_name.clone().unwrap_or_default();
        let mut dns_names = seed.subject_alt_name.clone();
        if !dns_names.contains(&common_name) {
            dns_names.insert(0, common_name.clone());
        }
        let org = seed.org.clone().or_else(|| {
            self.organizations
                .iter()
                .find(|org| {
                    org.client_id == seed.client_id
                        && org.verification_status == VerificationStatus::Approved
                })
                .map(|org| org.name.clone())
        });

        let key_error = |source| SeedError::Key { index, source };
        let key = match seed.key_type {
            SeedKeyType::Ec => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            SeedKeyType::Rsa => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
        }
        .map_err(key_error)?;
        let mut params = CertificateParams::new(dns_names.clone()).map_err(key_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name.as_str());
        if let Some(org) = &org {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org.as_str());
        }
        let csr_pem = params
            .serialize_request(&key)
            .and_then(|csr| csr.pem())
            .map_err(key_error)?;
        let csr = parse_csr(&csr_pem).map_err(|source| SeedError::Csr { index, source })?;

        let expires_in_days =
            seed.expires_in_days
                .unwrap_or(if order_has_certificate(seed.status) {
                    DEFAULT_EXPIRES_IN_DAYS
                } else {
                    DEFAULT_PENDING_EXPIRES_IN_DAYS
                });
        order.requested_expiry = end_of_day((self.now + Duration::days(expires_in_days)).date());
        order.dn = format_subject_dn(&common_name, &[], org.as_deref());
        order.common_name = common_name.clone();
        order.org = org.clone();
        order.subject_alt_names = dns_names.iter().map(GeneralNameValue::dns).collect();
        order.key = csr.key;

        if order_has_certificate(seed.status) {
            let issued_days_ago = seed.issued_days_ago.unwrap_or(DEFAULT_ISSUED_DAYS_AGO);
            let eku = crate::model::Eku::parse(&order.eku).unwrap_or(Eku::ServerAndClientAuth);
            let issued = self
                .ca
                .issue(&LeafRequest {
                    spki_der: csr.spki_der.clone(),
                    key_type: csr.key.key_type,
                    common_name,
                    organizational_units: Vec::new(),
                    organization: org,
                    dns_names,
                    not_before: self.now - Duration::days(issued_days_ago),
                    not_after: order.requested_expiry,
                    eku,
                })
                .map_err(|source| SeedError::Issue { index, source })?;
            order.certificate = Some(OrderCertificate {
                chain: self.ca.chain_for(&issued.pem, self.include_root),
                pem: issued.pem,
                serial: issued.serial,
                not_before: issued.not_before,
                not_after: issued.not_after,
            });
        }
        order.csr = Some(OrderCsr {
            pem: csr.pem,
            spki_der: csr.spki_der,
        });
        Ok(())
    }
}

fn whole_seconds(instant: OffsetDateTime) -> OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}
