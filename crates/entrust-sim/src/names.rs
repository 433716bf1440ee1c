//! DNS names in orders: syntax checks and which client domain covers a name.
//!
//! A domain covers itself and every name below it (`example.com` covers `www.example.com` and
//! `*.shop.example.com`). When several domains of a client cover a name, the longest one
//! decides, so an approved `example.com` does not hide a declined `shop.example.com`.

use crate::model::DomainStatus;
use crate::state::Domains;

/// Coverage of one name by the domains of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// A usable domain (APPROVED, RE_VERIFICATION or EXPIRING) covers the name.
    Usable(String),
    /// The covering domain is not usable in its current status.
    Unusable(String, DomainStatus),
    /// No domain of the client covers the name.
    Missing,
}

/// Returns how the domains of `client_id` cover `name`. Looks up the name and each parent
/// (`a.b.example.com`, `b.example.com`, `example.com`, `com`), longest first, so the cost
/// depends on the number of labels, not of domains.
pub fn coverage(domains: &Domains, client_id: i64, name: &str) -> Coverage {
    let name = normalize(name);
    let mut candidate = name.strip_prefix("*.").unwrap_or(&name);
    let covering = loop {
        if let Some(domain) = domains.get(client_id, candidate) {
            break Some(domain);
        }
        match candidate.split_once('.') {
            Some((_, parent)) => candidate = parent,
            None => break None,
        }
    };
    match covering {
        Some(domain) if domain.verification_status.is_usable() => {
            Coverage::Usable(domain.domain_name.clone())
        }
        Some(domain) => Coverage::Unusable(domain.domain_name.clone(), domain.verification_status),
        None => Coverage::Missing,
    }
}

/// Lower-cases a name and drops a trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Checks that `name` is an ASCII host name, optionally with a leading `*.` label: labels of
/// 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen, at least two labels.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    let host = name.strip_prefix("*.").unwrap_or(name);
    if host.len() > 253 {
        return Err(format!("{name:?} is longer than 253 characters"));
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("{name:?} is not a fully qualified domain name"));
    }
    for label in labels {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
        if !valid {
            return Err(format!(
                "{name:?} is not a valid DNS name; internationalized names must use their \
                 punycode (xn--) form"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::VerificationMethod;
    use crate::state::Domain;

    use super::*;

    fn domain(name: &str, client_id: i64, status: DomainStatus) -> Domain {
        Domain {
            domain_name: name.to_owned(),
            client_id,
            verification_method: VerificationMethod::Dns,
            verification_status: status,
            ov_eligible: true,
            ov_expiry: None,
            ev_eligible: false,
            ev_expiry: None,
            challenge: None,
            previous_challenge: None,
        }
    }

    #[test]
    fn subdomain_and_wildcard_are_covered() {
        let domains = Domains::new(vec![domain("example.com", 1, DomainStatus::Approved)]);

        assert_eq!(
            coverage(&domains, 1, "WWW.Example.com."),
            Coverage::Usable("example.com".to_owned())
        );
        assert_eq!(
            coverage(&domains, 1, "*.example.com"),
            Coverage::Usable("example.com".to_owned())
        );
        assert_eq!(coverage(&domains, 1, "badexample.com"), Coverage::Missing);
    }

    #[test]
    fn other_client_domain_does_not_cover() {
        let domains = Domains::new(vec![domain("example.com", 2, DomainStatus::Approved)]);

        assert_eq!(coverage(&domains, 1, "example.com"), Coverage::Missing);
    }

    #[test]
    fn longest_covering_domain_decides() {
        let domains = Domains::new(vec![
            domain("example.com", 1, DomainStatus::Approved),
            domain("shop.example.com", 1, DomainStatus::Declined),
        ]);

        assert_eq!(
            coverage(&domains, 1, "www.shop.example.com"),
            Coverage::Unusable("shop.example.com".to_owned(), DomainStatus::Declined)
        );
    }

    #[test]
    fn dns_name_syntax() {
        assert!(check_dns_name("www.example.com").is_ok());
        assert!(check_dns_name("*.example.com").is_ok());
        assert!(check_dns_name("localhost").is_err());
        assert!(check_dns_name("bad_name.example.com").is_err());
        assert!(check_dns_name("-x.example.com").is_err());
        assert!(check_dns_name("biztosítás.hu").is_err());
    }
}
