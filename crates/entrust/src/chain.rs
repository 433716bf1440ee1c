//! Orders a certificate chain leaf first.
//!
//! ECS returns `chainCerts` as an array of PEM strings. Its order is not specified; clients
//! read element 0 as the end-entity certificate and element 1 as the issuing CA. This module
//! does not rely on that: it starts from the end-entity certificate and follows issuer names.

use x509_parser::pem::Pem;

struct ParsedCert {
    pem: String,
    der: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
}

fn parse(pem_text: &str) -> Option<ParsedCert> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).ok()?;
    let (subject, issuer) = names(&pem)?;
    Some(ParsedCert {
        pem: normalize_pem(pem_text),
        der: pem.contents,
        subject,
        issuer,
    })
}

fn names(pem: &Pem) -> Option<(Vec<u8>, Vec<u8>)> {
    let certificate = pem.parse_x509().ok()?;
    Some((
        certificate.subject().as_raw().to_vec(),
        certificate.issuer().as_raw().to_vec(),
    ))
}

/// Trims surrounding whitespace and ends the text with one newline.
pub(crate) fn normalize_pem(pem: &str) -> String {
    let mut text = pem.trim().to_owned();
    text.push('\n');
    text
}

/// Returns `chain` ordered leaf first, starting with `leaf_pem`.
///
/// The leaf is placed first even when the CA left it out of the chain. Each next element is
/// the certificate whose subject is the previous one's issuer. Certificates that do not link
/// (unparseable ones, cross-signed extras) keep their relative order after the linked ones.
/// Duplicates are dropped.
pub(crate) fn order_leaf_first(leaf_pem: &str, chain: &[String]) -> Vec<String> {
    let leaf = parse(leaf_pem);
    let mut remaining: Vec<Option<ParsedCert>> = Vec::new();
    let mut unparsed: Vec<String> = Vec::new();
    for pem in chain {
        match parse(pem) {
            Some(cert) => remaining.push(Some(cert)),
            None => unparsed.push(normalize_pem(pem)),
        }
    }

    let leaf_text = normalize_pem(leaf_pem);
    let mut ordered = vec![leaf_text.clone()];
    let Some(leaf) = leaf else {
        // The leaf itself is unreadable: keep the CA's order behind it, dropping copies of it.
        ordered.extend(
            remaining
                .into_iter()
                .flatten()
                .map(|cert| cert.pem)
                .chain(unparsed)
                .filter(|pem| *pem != leaf_text),
        );
        return ordered;
    };

    for cert in remaining.iter_mut() {
        if cert.as_ref().is_some_and(|c| c.der == leaf.der) {
            *cert = None;
        }
    }

    let mut current_issuer = leaf.issuer.clone();
    let mut current_subject = leaf.subject.clone();
    // A self-signed certificate ends the walk; a chain cannot be longer than its input.
    while current_issuer != current_subject {
        let next = remaining
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|c| c.subject == current_issuer));
        let Some(cert) = next.and_then(Option::take) else {
            break;
        };
        current_issuer = cert.issuer;
        current_subject = cert.subject;
        ordered.push(cert.pem);
    }

    let mut seen_der: Vec<Vec<u8>> = Vec::new();
    for cert in remaining.into_iter().flatten() {
        if !seen_der.contains(&cert.der) {
            seen_der.push(cert.der);
            ordered.push(cert.pem);
        }
    }
    ordered.extend(unparsed);
    ordered
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    use super::*;

    struct TestChain {
        root: String,
        intermediate: String,
        leaf: String,
    }

    fn ca_params(name: &str) -> Result<CertificateParams, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ok(params)
    }

    fn build_chain() -> Result<TestChain, rcgen::Error> {
        let root_key = KeyPair::generate()?;
        let root_params = ca_params("Test Root")?;
        let root = root_params.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = KeyPair::generate()?;
        let intermediate_params = ca_params("Test Issuing CA")?;
        let intermediate = intermediate_params.signed_by(&intermediate_key, &root_issuer)?;
        let intermediate_issuer = Issuer::new(intermediate_params, intermediate_key);

        let leaf_key = KeyPair::generate()?;
        let leaf_params = CertificateParams::new(vec!["www.example.com".to_owned()])?;
        let leaf = leaf_params.signed_by(&leaf_key, &intermediate_issuer)?;

        Ok(TestChain {
            root: root.pem(),
            intermediate: intermediate.pem(),
            leaf: leaf.pem(),
        })
    }

    #[test]
    fn chain_is_sorted_leaf_first() -> Result<(), rcgen::Error> {
        let chain = build_chain()?;

        let ordered = order_leaf_first(
            &chain.leaf,
            &[
                chain.root.clone(),
                chain.leaf.clone(),
                chain.intermediate.clone(),
            ],
        );

        assert_eq!(
            ordered,
            vec![
                normalize_pem(&chain.leaf),
                normalize_pem(&chain.intermediate),
                normalize_pem(&chain.root),
            ]
        );
        Ok(())
    }

    #[test]
    fn chain_without_leaf_gets_leaf_prepended() -> Result<(), rcgen::Error> {
        let chain = build_chain()?;

        let ordered = order_leaf_first(&chain.leaf, std::slice::from_ref(&chain.intermediate));

        assert_eq!(
            ordered,
            vec![
                normalize_pem(&chain.leaf),
                normalize_pem(&chain.intermediate)
            ]
        );
        Ok(())
    }

    #[test]
    fn unlinked_and_unparseable_entries_stay_behind() -> Result<(), rcgen::Error> {
        let chain = build_chain()?;

        let ordered = order_leaf_first(
            &chain.leaf,
            &["not a certificate".to_owned(), chain.root.clone()],
        );

        assert_eq!(
            ordered,
            vec![
                normalize_pem(&chain.leaf),
                normalize_pem(&chain.root),
                "not a certificate\n".to_owned(),
            ]
        );
        Ok(())
    }
}
