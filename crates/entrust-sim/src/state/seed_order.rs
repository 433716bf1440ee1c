//! Builds the orders and third-party records of a scenario.
//!
//! A generated order gets its names, key type, serial and dates here, and a deferred key and
//! certificate that [`crate::ordering::materialize`] makes on first use. An embedded
//! certificate is read at once and reported with its own serial, dates and subject.

use time::{Duration, OffsetDateTime};

use super::seed::{SeedError, whole_seconds};
use super::{
    CertificateEncoding, Domains, EncodedCertificate, KeyMaterial, Order, OrderCertificate,
    Organization, Revocation,
};
use crate::ca::random_serial_bytes;
use crate::cert_facts::{GeneralNameValue, KeyFacts, format_subject_dn, parse_certificate_pem};
use crate::format::{end_of_day, serial_hex};
use crate::model::{CertificateStatus, Eku, KeyType, VerificationStatus};
use crate::names::{Coverage, coverage};
use crate::scenario::{ScenarioOrder, SeedKeyType, ThirdPartyCertificate, order_has_certificate};

const DEFAULT_ISSUED_DAYS_AGO: i64 = 30;
const DEFAULT_EXPIRES_IN_DAYS: i64 = 335;
const DEFAULT_PENDING_EXPIRES_IN_DAYS: i64 = 365;

/// The parts of the scenario that every seeded order reads.
pub(super) struct SeedContext<'a> {
    pub now: OffsetDateTime,
    pub organizations: &'a [Organization],
    pub domains: &'a Domains,
    pub default_creator: &'a str,
}

impl SeedContext<'_> {
    /// Builds the order at scenario position `index`.
    pub fn order(
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
            third_party: false,
            cert_type: seed.cert_type.clone(),
            client_id: seed.client_id,
            dn: String::new(),
            common_name: String::new(),
            org: None,
            ou: Vec::new(),
            subject_alt_names: Vec::new(),
            key: key_facts(seed.key_type),
            key_material: KeyMaterial::Deferred(seed.key_type),
            signing_alg: "SHA-2".to_owned(),
            eku,
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
            revocation: None,
        };
        if seed.status == CertificateStatus::Deactivated {
            let days_ago = seed.deactivated_days_ago.unwrap_or(1);
            order.deactivated_on = Some(whole_seconds(self.now - Duration::days(days_ago)));
        }

        match &seed.certificate_pem {
            Some(pem) => {
                let entry = format!("orders[{index}]");
                fill_from_certificate(&entry, &mut order, pem, &seed.chain_pem)?;
            }
            None => self.fill_generated(&mut order, seed),
        }
        order.revocation = self.seeded_revocation(seed.status);
        order.domain_used = self.domain_used(&order);
        Ok(order)
    }

    /// Builds the third-party record at position `index` of `thirdPartyCertificates`.
    pub fn third_party(
        &self,
        index: usize,
        record: &ThirdPartyCertificate,
    ) -> Result<Order, SeedError> {
        let mut order = Order {
            tracking_id: 0,
            status: CertificateStatus::Unknown,
            third_party: true,
            cert_type: String::new(),
            client_id: 1,
            dn: String::new(),
            common_name: String::new(),
            org: None,
            ou: Vec::new(),
            subject_alt_names: Vec::new(),
            key: key_facts(SeedKeyType::Ec),
            key_material: KeyMaterial::PublicKey(Vec::new()),
            signing_alg: String::new(),
            eku: String::new(),
            certificate: None,
            requested_expiry: self.now,
            tracking: record.tracking.clone(),
            deactivated_on: None,
            creator_name: String::new(),
            decline_reason: None,
            domain_used: None,
            consumed_product: None,
            revocation: None,
        };
        let entry = format!("thirdPartyCertificates[{index}]");
        fill_from_certificate(
            &entry,
            &mut order,
            &record.certificate_pem,
            &record.chain_pem,
        )?;
        order.domain_used = self.domain_used(&order);
        Ok(order)
    }

    fn domain_used(&self, order: &Order) -> Option<String> {
        match coverage(self.domains, order.client_id, &order.common_name) {
            Coverage::Usable(domain) | Coverage::Unusable(domain, _) => Some(domain),
            Coverage::Missing => None,
        }
    }

    /// Revoked and reissued scenario orders count as revoked when the simulator starts.
    fn seeded_revocation(&self, status: CertificateStatus) -> Option<Revocation> {
        let reason = match status {
            CertificateStatus::Revoked => "unspecified",
            CertificateStatus::Reissued => "superseded",
            _ => return None,
        };
        Some(Revocation {
            revoked_at: self.now,
            reason: reason.to_owned(),
            comment: None,
        })
    }

    fn fill_generated(&self, order: &mut Order, seed: &ScenarioOrder) {
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
        let expires_in_days =
            seed.expires_in_days
                .unwrap_or(if order_has_certificate(seed.status) {
                    DEFAULT_EXPIRES_IN_DAYS
                } else {
                    DEFAULT_PENDING_EXPIRES_IN_DAYS
                });

        order.requested_expiry = end_of_day((self.now + Duration::days(expires_in_days)).date());
        order.dn = format_subject_dn(&common_name, &[], org.as_deref());
        order.common_name = common_name;
        order.org = org;
        order.subject_alt_names = dns_names.iter().map(GeneralNameValue::dns).collect();

        if order_has_certificate(seed.status) {
            let issued_days_ago = seed.issued_days_ago.unwrap_or(DEFAULT_ISSUED_DAYS_AGO);
            let serial = random_serial_bytes();
            order.certificate = Some(OrderCertificate {
                serial: serial_hex(&serial),
                not_before: whole_seconds(self.now - Duration::days(issued_days_ago)),
                not_after: order.requested_expiry,
                encoding: CertificateEncoding::Deferred { serial },
            });
        }
    }
}

/// The key facts of a key the simulator will generate.
fn key_facts(key_type: SeedKeyType) -> KeyFacts {
    match key_type {
        SeedKeyType::Ec => KeyFacts {
            key_type: KeyType::Ec,
            key_size: 256,
        },
        SeedKeyType::Rsa => KeyFacts {
            key_type: KeyType::Rsa,
            key_size: 2048,
        },
    }
}

/// Fills an order from an embedded certificate and its chain.
fn fill_from_certificate(
    entry: &str,
    order: &mut Order,
    pem: &str,
    chain_pem: &[String],
) -> Result<(), SeedError> {
    let unreadable = |source| SeedError::Certificate {
        entry: entry.to_owned(),
        source,
    };
    let facts = parse_certificate_pem(pem).map_err(unreadable)?;
    let mut chain = vec![facts.pem.clone()];
    for issuer in chain_pem {
        chain.push(parse_certificate_pem(issuer).map_err(unreadable)?.pem);
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
    order.key_material = KeyMaterial::PublicKey(facts.spki_der);
    order.signing_alg = facts.signing_alg.to_owned();
    order.requested_expiry = facts.not_after;

    order.certificate = Some(OrderCertificate {
        serial: facts.serial,
        not_before: facts.not_before,
        not_after: facts.not_after,
        encoding: CertificateEncoding::Encoded(EncodedCertificate {
            pem: facts.pem,
            chain,
            thumbprint: facts.thumbprint,
        }),
    });
    Ok(())
}
