//! Checks of a new order against the catalog that credential-sync mirrored from the
//! credential's Entrust account. They run before a key is generated or Entrust is called. Every
//! name must be on a domain that may be ordered for, the organization approved, the product in
//! stock, and the validity within the maximum in force. Each failure names the name,
//! organization or product and what to do.

use certitude_proto::credential::v1::{Domain, OrderingCatalog, Organization, Product};
use time::OffsetDateTime;

use super::validity;
use crate::error::OrderError;

/// Domain verification statuses under which Entrust still issues for the domain: approved,
/// being re-verified (usable meanwhile) and expiring (within 90 days of its expiry).
const ORDERABLE_DOMAIN_STATUSES: [&str; 3] = ["APPROVED", "RE_VERIFICATION", "EXPIRING"];

/// Product type of the pool that every SSL product except PD_SSL can draw from.
const FLEX_POOL: &str = "FLEX";

/// Fields of an order that the catalog checks read.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    pub credential_id: &'a str,
    /// Product code in upper case.
    pub product: &'a str,
    /// Every name of the certificate, lower case.
    pub dns_names: &'a [String],
    pub organization: Option<&'a str>,
    /// Entrust client (sub-account) the order is for; `None` for any.
    pub client_id: Option<i32>,
    pub validity_days: u32,
}

/// Limits of the checks that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct CatalogLimits {
    /// Maximum validity of private products (see [`validity::PRIVATE_PRODUCTS`]), in days.
    pub private_maximum_days: u32,
}

/// Checks `order` against `catalog` at `now`; the first failure is returned.
pub fn check(
    order: &OrderFacts<'_>,
    catalog: &OrderingCatalog,
    limits: CatalogLimits,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    if catalog.synced_at.is_empty() {
        return Err(OrderError::catalog(
            "credential_id",
            format!(
                "the catalog of credential {} was never synced, so the order cannot be checked; \
                 sync it (POST /v1/credentials/{}/syncs) and retry",
                order.credential_id, order.credential_id
            ),
        ));
    }
    check_validity(order, limits, now)?;
    check_product(order.product, &catalog.products)?;
    if let Some(name) = order.organization {
        check_organization(name, order.client_id, &catalog.organizations)?;
    }
    for name in order.dns_names {
        check_name(name, order.product, order.client_id, &catalog.domains)?;
    }
    Ok(())
}

fn check_validity(
    order: &OrderFacts<'_>,
    limits: CatalogLimits,
    now: OffsetDateTime,
) -> Result<(), OrderError> {
    // The maximum in force at the moment of issue, by its UTC date: that is never earlier than
    // the Eastern order date, so it gives the stricter maximum on the day a step starts.
    let issue_date = now.to_offset(time::UtcOffset::UTC).date();
    let maximum = validity::maximum_days(order.product, issue_date, limits.private_maximum_days);
    if order.validity_days > maximum {
        let rule = if validity::PRIVATE_PRODUCTS.contains(&order.product) {
            "the configured maximum for private products".to_owned()
        } else {
            format!("the maximum for public TLS certificates issued on {issue_date}")
        };
        return Err(OrderError::invalid(
            "validity_days",
            format!(
                "{} days exceeds {maximum} days, {rule}; request at most {maximum} days",
                order.validity_days
            ),
        ));
    }
    Ok(())
}

/// Checks that `product` or the FLEX pool has a certificate left. An unlimited product always
/// has; a limited product whose counts Entrust did not report is left to Entrust to decide.
fn check_product(product: &str, products: &[Product]) -> Result<(), OrderError> {
    let own = products.iter().find(|p| p.product_type == product);
    let flex = products
        .iter()
        .find(|p| p.product_type == FLEX_POOL)
        .filter(|_| flex_covers(product));
    if own.is_some_and(in_stock) || flex.is_some_and(in_stock) {
        return Ok(());
    }
    let reason = match (own, flex) {
        (None, None) => format!(
            "{product} is not in the account's inventory{}; order a product the account has \
             (GET /v1/credentials/{{id}}/products) or buy {product} from Entrust, then sync the \
             products",
            if flex_covers(product) {
                " and the account has no FLEX pool"
            } else {
                ""
            }
        ),
        (Some(own), None) => format!(
            "{product} has no certificates left ({} used of {}){}; buy more from Entrust, then \
             sync the products",
            own.used_count,
            own.total_count,
            if flex_covers(product) {
                " and the account has no FLEX pool"
            } else {
                ", and the FLEX pool cannot be used for it"
            }
        ),
        (_, Some(pool)) => format!(
            "neither {product} nor the FLEX pool has certificates left (FLEX: {} used of {}); \
             buy more from Entrust, then sync the products",
            pool.used_count, pool.total_count
        ),
    };
    Err(OrderError::catalog("product", reason))
}

/// Entrust's SSL product types that the FLEX pool pays for: every `*_SSL` type of the API
/// (version 2.1.0) except PD_SSL, with both spellings of the PSD2 type.
const FLEX_PRODUCTS: [&str; 9] = [
    "STANDARD_SSL",
    "ADVANTAGE_SSL",
    "UC_SSL",
    "EV_SSL",
    "QWAC_SSL",
    "PSD2_SSL",
    "QWACPSD2_SSL",
    "WILDCARD_SSL",
    "PRIVATE_SSL",
];

/// Tells whether the FLEX pool can pay for `product`. A name that merely ends in `_SSL` is not
/// an Entrust product, so it is checked against the account's own products only.
fn flex_covers(product: &str) -> bool {
    FLEX_PRODUCTS.contains(&product)
}

fn in_stock(product: &Product) -> bool {
    product.unlimited || !product.counts_reported || product.remaining_count > 0
}

fn check_organization(
    name: &str,
    client_id: Option<i32>,
    organizations: &[Organization],
) -> Result<(), OrderError> {
    let matching: Vec<&Organization> = organizations
        .iter()
        .filter(|o| o.name.eq_ignore_ascii_case(name))
        .filter(|o| client_id.is_none_or(|id| o.client_id == id))
        .collect();
    if matching.iter().any(|o| o.verification_status == "APPROVED") {
        return Ok(());
    }
    let reason = match matching.first() {
        None => format!(
            "{name:?} is not an organization of the account{}; use one listed by GET \
             /v1/credentials/{{id}}/organizations, or add it in Entrust and sync",
            client_id.map_or(String::new(), |id| format!(" for client {id}"))
        ),
        Some(found) => format!(
            "{} has verification status {}; Entrust orders need an APPROVED organization, so \
             have Entrust verify it or use another one",
            found.name, found.verification_status
        ),
    };
    Err(OrderError::catalog("organization", reason))
}

/// Checks that a domain of the account covers `name` and may be ordered for: the domain whose
/// name is `name` or its nearest parent, with a wildcard covered by its base domain.
fn check_name(
    name: &str,
    product: &str,
    client_id: Option<i32>,
    domains: &[Domain],
) -> Result<(), OrderError> {
    let base = name.strip_prefix("*.").unwrap_or(name);
    let covering: Vec<&Domain> = domains
        .iter()
        .filter(|d| covers(&d.name, base))
        .filter(|d| client_id.is_none_or(|id| d.client_id == 0 || d.client_id == id))
        .collect();
    let Some(nearest) = covering.iter().max_by_key(|d| d.name.len()) else {
        return Err(OrderError::catalog(
            "dns_names",
            format!(
                "{name} is on no domain of the account{}; add its domain in Entrust (or sync the \
                 domains if it was added) and retry",
                client_id.map_or(String::new(), |id| format!(" for client {id}"))
            ),
        ));
    };
    let usable = covering.iter().find(|d| {
        d.name == nearest.name
            && ORDERABLE_DOMAIN_STATUSES.contains(&d.verification_status.as_str())
    });
    let Some(domain) = usable else {
        return Err(OrderError::catalog(
            "dns_names",
            format!(
                "{name} is on domain {}, whose verification status is {}; Entrust issues only \
                 for domains that are APPROVED, RE_VERIFICATION or EXPIRING, so re-verify {} in \
                 Entrust and retry",
                nearest.name, nearest.verification_status, nearest.name
            ),
        ));
    };
    if product == "EV_SSL" && !domain.ev_eligible {
        return Err(OrderError::catalog(
            "dns_names",
            format!(
                "{name} is on domain {}, which is not verified for EV; have Entrust verify it \
                 for EV or order an OV product",
                domain.name
            ),
        ));
    }
    Ok(())
}

/// Tells whether the domain `domain` covers the host name `name`: equal, or a parent of it.
fn covers(domain: &str, name: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-04 12:00 UTC);
    const LIMITS: CatalogLimits = CatalogLimits {
        private_maximum_days: 825,
    };

    fn domain(name: &str, client_id: i32, status: &str, ev_eligible: bool) -> Domain {
        Domain {
            name: name.to_owned(),
            client_id,
            verification_status: status.to_owned(),
            ev_eligible,
            ..Domain::default()
        }
    }

    fn product(product_type: &str, remaining: i64, used: i64) -> Product {
        Product {
            product_type: product_type.to_owned(),
            remaining_count: remaining,
            used_count: used,
            total_count: remaining + used,
            counts_reported: true,
            ..Product::default()
        }
    }

    /// Builds part of the demo account's catalog.
    fn catalog() -> OrderingCatalog {
        OrderingCatalog {
            domains: vec![
                domain("example.com", 1, "APPROVED", true),
                domain("example.net", 1, "RE_VERIFICATION", false),
                domain("example.org", 1, "EXPIRING", false),
                domain("lapsed.test", 1, "EXPIRED", false),
                domain("new-product.test", 1, "INITIAL_VERIFICATION", false),
                domain("canon-city.test", 2, "APPROVED", false),
            ],
            organizations: vec![
                Organization {
                    name: "Certitude Demo Corp".to_owned(),
                    client_id: 1,
                    verification_status: "APPROVED".to_owned(),
                    ..Organization::default()
                },
                Organization {
                    name: "Certitude Demo Labs".to_owned(),
                    client_id: 1,
                    verification_status: "PENDING".to_owned(),
                    ..Organization::default()
                },
            ],
            products: vec![
                product("STANDARD_SSL", 14, 6),
                product("PD_SSL", 0, 2),
                product("EV_SSL", 2, 1),
                product("FLEX", 6, 4),
                Product {
                    product_type: "UC_SSL".to_owned(),
                    unlimited: true,
                    ..Product::default()
                },
            ],
            synced_at: "2026-12-04T11:00:00Z".to_owned(),
        }
    }

    fn names(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    fn order<'a>(product: &'a str, dns_names: &'a [String]) -> OrderFacts<'a> {
        OrderFacts {
            credential_id: "c1",
            product,
            dns_names,
            organization: None,
            client_id: None,
            validity_days: 90,
        }
    }

    /// Returns the field and message of a failed check.
    fn failure(order: &OrderFacts<'_>, catalog: &OrderingCatalog) -> (&'static str, String) {
        match check(order, catalog, LIMITS, NOW) {
            Err(OrderError::CatalogCheck { field, reason }) => (field, reason),
            Err(OrderError::InvalidArgument { field, reason }) => (field, reason),
            other => panic!("expected a failed check, got {other:?}"),
        }
    }

    #[test]
    fn names_on_orderable_domains_pass() {
        let dns_names = names(&[
            "example.com",
            "www.example.com",
            "*.shop.example.com",
            "api.example.net",
            "example.org",
        ]);

        let result = check(&order("STANDARD_SSL", &dns_names), &catalog(), LIMITS, NOW);

        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn name_without_domain_is_named() {
        let dns_names = names(&["www.example.com", "www.unknown.test"]);

        let (field, reason) = failure(&order("STANDARD_SSL", &dns_names), &catalog());

        assert_eq!(field, "dns_names");
        assert!(
            reason.starts_with("www.unknown.test is on no domain"),
            "{reason}"
        );
    }

    #[test]
    fn look_alike_suffix_is_not_covered() {
        let dns_names = names(&["notexample.com"]);

        let (field, reason) = failure(&order("STANDARD_SSL", &dns_names), &catalog());

        assert_eq!(field, "dns_names");
        assert!(
            reason.contains("notexample.com is on no domain"),
            "{reason}"
        );
    }

    #[test]
    fn expired_and_unverified_domains_are_rejected() {
        for (name, domain, status) in [
            ("shop.lapsed.test", "lapsed.test", "EXPIRED"),
            (
                "*.new-product.test",
                "new-product.test",
                "INITIAL_VERIFICATION",
            ),
        ] {
            let dns_names = names(&[name]);

            let (field, reason) = failure(&order("STANDARD_SSL", &dns_names), &catalog());

            assert_eq!(field, "dns_names");
            assert!(
                reason.contains(&format!(
                    "on domain {domain}, whose verification status is {status}"
                )),
                "{reason}"
            );
            assert!(reason.contains(&format!("re-verify {domain}")), "{reason}");
        }
    }

    #[test]
    fn domain_of_another_client_does_not_cover() {
        let dns_names = names(&["canon-city.test"]);
        let mut facts = order("STANDARD_SSL", &dns_names);
        facts.client_id = Some(1);

        let (field, reason) = failure(&facts, &catalog());

        assert_eq!(field, "dns_names");
        assert!(reason.contains("for client 1"), "{reason}");
    }

    #[test]
    fn ev_needs_ev_eligible_domain() {
        let dns_names = names(&["example.net"]);

        let (field, reason) = failure(&order("EV_SSL", &dns_names), &catalog());

        assert_eq!(field, "dns_names");
        assert!(reason.contains("not verified for EV"), "{reason}");
        let approved = names(&["example.com"]);
        assert!(check(&order("EV_SSL", &approved), &catalog(), LIMITS, NOW).is_ok());
    }

    #[test]
    fn organization_must_be_approved() {
        let dns_names = names(&["example.com"]);
        let mut facts = order("STANDARD_SSL", &dns_names);
        facts.organization = Some("certitude demo labs");

        let (field, reason) = failure(&facts, &catalog());

        assert_eq!(field, "organization");
        assert!(
            reason.starts_with("Certitude Demo Labs has verification status PENDING"),
            "{reason}"
        );
        facts.organization = Some("Nobody Inc");
        let (field, reason) = failure(&facts, &catalog());
        assert_eq!(field, "organization");
        assert!(
            reason.contains("is not an organization of the account"),
            "{reason}"
        );
        facts.organization = Some("Certitude Demo Corp");
        assert!(check(&facts, &catalog(), LIMITS, NOW).is_ok());
    }

    #[test]
    fn flex_pool_covers_missing_product() {
        let dns_names = names(&["example.com"]);
        let mut without_standard = catalog();
        without_standard
            .products
            .retain(|p| p.product_type != "STANDARD_SSL");

        assert!(check(&order("ADVANTAGE_SSL", &dns_names), &catalog(), LIMITS, NOW).is_ok());
        assert!(
            check(
                &order("STANDARD_SSL", &dns_names),
                &without_standard,
                LIMITS,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_ssl_product_is_not_paid_by_flex() {
        let dns_names = names(&["example.com"]);

        let (field, reason) = failure(&order("NOPE_SSL", &dns_names), &catalog());

        assert_eq!(field, "product");
        assert!(
            reason.starts_with("NOPE_SSL is not in the account's inventory;"),
            "{reason}"
        );
    }

    #[test]
    fn pd_ssl_cannot_use_flex() {
        let dns_names = names(&["example.com"]);

        let (field, reason) = failure(&order("PD_SSL", &dns_names), &catalog());

        assert_eq!(field, "product");
        assert!(
            reason.starts_with("PD_SSL has no certificates left (2 used of 2)"),
            "{reason}"
        );
        assert!(
            reason.contains("FLEX pool cannot be used for it"),
            "{reason}"
        );
    }

    #[test]
    fn empty_product_and_empty_flex_are_rejected() {
        let dns_names = names(&["example.com"]);
        let mut empty = catalog();
        for p in &mut empty.products {
            if p.product_type == "FLEX" || p.product_type == "STANDARD_SSL" {
                p.used_count += p.remaining_count;
                p.remaining_count = 0;
            }
        }

        let (field, reason) = failure(&order("STANDARD_SSL", &dns_names), &empty);

        assert_eq!(field, "product");
        assert!(
            reason.starts_with("neither STANDARD_SSL nor the FLEX pool has certificates left"),
            "{reason}"
        );
    }

    #[test]
    fn unlimited_product_is_always_in_stock() {
        let dns_names = names(&["example.com"]);
        let mut no_flex = catalog();
        no_flex.products.retain(|p| p.product_type != "FLEX");

        assert!(check(&order("UC_SSL", &dns_names), &no_flex, LIMITS, NOW).is_ok());
    }

    #[test]
    fn product_not_in_inventory_is_named() {
        let dns_names = names(&["example.com"]);

        let (field, reason) = failure(&order("CODE_SIGNING", &dns_names), &catalog());

        assert_eq!(field, "product");
        assert!(
            reason.starts_with("CODE_SIGNING is not in the account's inventory;"),
            "{reason}"
        );
    }

    #[test]
    fn validity_over_maximum_in_force_is_rejected() {
        let dns_names = names(&["example.com"]);
        let mut facts = order("STANDARD_SSL", &dns_names);
        facts.validity_days = 201;

        let (field, reason) = failure(&facts, &catalog());

        assert_eq!(field, "validity_days");
        assert!(
            reason.contains("201 days exceeds 200 days, the maximum for public TLS certificates issued on 2026-12-04"),
            "{reason}"
        );
        facts.validity_days = 200;
        assert!(check(&facts, &catalog(), LIMITS, NOW).is_ok());
    }

    #[test]
    fn never_synced_catalog_is_rejected() {
        let dns_names = names(&["example.com"]);
        let mut never = catalog();
        never.synced_at.clear();

        let (field, reason) = failure(&order("STANDARD_SSL", &dns_names), &never);

        assert_eq!(field, "credential_id");
        assert!(reason.contains("was never synced"), "{reason}");
    }
}
