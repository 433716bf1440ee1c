//! Consistency checks of a scenario, run before a simulator starts from it.

use std::collections::HashSet;

use super::{Scenario, ScenarioError, ScenarioOrder, order_has_certificate};
use crate::cert_facts::parse_certificate_pem;
use crate::model::{CERT_TYPES, CertificateStatus, FLEX_PRODUCT, is_ssl_type};

impl Scenario {
    /// Checks that the scenario is consistent: unique names and ids, references to existing
    /// clients, known products and statuses that fit each order.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |message: String| Err(ScenarioError::Invalid(message));

        if self.account.first_tracking_id < 1 {
            return invalid("account.firstTrackingId must be positive".to_owned());
        }
        let last_seed_id = i64::from(self.account.first_tracking_id) + self.orders.len() as i64;
        if last_seed_id > i64::from(i32::MAX) {
            return invalid("account.firstTrackingId leaves no room for the orders".to_owned());
        }
        if self.api_users.is_empty() {
            return invalid("apiUsers must name at least one user".to_owned());
        }
        let mut user_names = HashSet::new();
        for user in &self.api_users {
            if user.user_name.is_empty() || user.user_name.contains(':') {
                return invalid(format!(
                    "API user name {:?} must be non-empty and free of ':'",
                    user.user_name
                ));
            }
            if !user_names.insert(user.user_name.as_str()) {
                return invalid(format!("API user {} appears twice", user.user_name));
            }
            if user.generate_client_certificate && user.client_certificate_pem.is_some() {
                return invalid(format!(
                    "API user {} sets both clientCertificatePem and generateClientCertificate; \
                     keep one",
                    user.user_name
                ));
            }
            if let Some(pem) = &user.client_certificate_pem
                && let Err(error) = parse_certificate_pem(pem)
            {
                return invalid(format!(
                    "API user {}: clientCertificatePem is not a readable certificate ({error})",
                    user.user_name
                ));
            }
        }
        if self.account.rate_limit_quota == Some(0) {
            return invalid(
                "account.rateLimitQuota must be at least 1; leave it out for no limit".to_owned(),
            );
        }

        let mut client_ids = HashSet::new();
        for client in &self.clients {
            if !client_ids.insert(client.client_id) {
                return invalid(format!("client {} appears twice", client.client_id));
            }
        }
        if !client_ids.contains(&1) {
            return invalid("clients must contain the primary client, clientId 1".to_owned());
        }
        for org in &self.organizations {
            if !client_ids.contains(&org.client_id) {
                return invalid(format!(
                    "organization {:?} names unknown client {}",
                    org.name, org.client_id
                ));
            }
        }
        let mut domains = HashSet::new();
        for domain in &self.domains {
            if !client_ids.contains(&domain.client_id) {
                return invalid(format!(
                    "domain {} names unknown client {}",
                    domain.domain_name, domain.client_id
                ));
            }
            if domain.domain_name != domain.domain_name.to_ascii_lowercase() {
                return invalid(format!("domain {} must be lower case", domain.domain_name));
            }
            if !domains.insert((domain.client_id, domain.domain_name.as_str())) {
                return invalid(format!(
                    "domain {} appears twice for client {}",
                    domain.domain_name, domain.client_id
                ));
            }
        }

        let mut products = HashSet::new();
        for item in &self.inventory {
            let known = item.product_type == FLEX_PRODUCT
                || CERT_TYPES.contains(&item.product_type.as_str());
            if !known {
                return invalid(format!("unknown inventory product {}", item.product_type));
            }
            if !products.insert(item.product_type.as_str()) {
                return invalid(format!("product {} appears twice", item.product_type));
            }
            match item.consumption_type.as_deref() {
                None | Some("UNLIMITED") => {}
                Some(other) => {
                    return invalid(format!(
                        "product {} has consumptionType {other}; only UNLIMITED is known",
                        item.product_type
                    ));
                }
            }
        }

        for (index, order) in self.orders.iter().enumerate() {
            self.validate_order(index, order, &client_ids)?;
        }
        for (index, record) in self.third_party_certificates.iter().enumerate() {
            let pems = std::iter::once(&record.certificate_pem).chain(&record.chain_pem);
            for pem in pems {
                if let Err(error) = parse_certificate_pem(pem) {
                    return invalid(format!(
                        "thirdPartyCertificates[{index}]: not a readable certificate ({error})"
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_order(
        &self,
        index: usize,
        order: &ScenarioOrder,
        client_ids: &HashSet<i64>,
    ) -> Result<(), ScenarioError> {
        let name = format!("orders[{index}]");
        let invalid = |message: String| Err(ScenarioError::Invalid(format!("{name}: {message}")));

        if !is_ssl_type(&order.cert_type) || !CERT_TYPES.contains(&order.cert_type.as_str()) {
            return invalid(format!(
                "certType {} is not an SSL type the simulator can issue",
                order.cert_type
            ));
        }
        if !client_ids.contains(&order.client_id) {
            return invalid(format!("unknown client {}", order.client_id));
        }
        let has_certificate = order_has_certificate(order.status);
        match order.status {
            CertificateStatus::Expired => {
                return invalid(
                    "EXPIRED is derived from the clock; store ACTIVE with a negative expiresInDays"
                        .to_owned(),
                );
            }
            CertificateStatus::Pending | CertificateStatus::Declined => {}
            status if !has_certificate => {
                return invalid(format!("status {status} is not supported in scenarios"));
            }
            _ => {}
        }
        if order.certificate_pem.is_some() && !has_certificate {
            return invalid(format!(
                "status {} orders have no certificate, so certificatePem is not allowed",
                order.status
            ));
        }
        if order.certificate_pem.is_none() && order.common_name.is_none() {
            return invalid("commonName is required unless certificatePem is given".to_owned());
        }
        if order.decline_reason.is_some() && order.status != CertificateStatus::Declined {
            return invalid("declineReason is only allowed on DECLINED orders".to_owned());
        }
        if let Some(org) = &order.org {
            let known = self
                .organizations
                .iter()
                .any(|candidate| &candidate.name == org && candidate.client_id == order.client_id);
            if !known {
                return invalid(format!(
                    "org {org:?} is not an organization of client {}",
                    order.client_id
                ));
            }
        }
        Ok(())
    }
}
