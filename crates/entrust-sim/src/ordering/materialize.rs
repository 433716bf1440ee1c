//! Making the key, CSR and certificate of a scenario order the first time a request needs them.
//!
//! Scenarios may hold 100,000 orders, and signing each at start would take minutes, so the
//! simulator fixes only the serial and dates at start and signs on first use. Until then nothing
//! outside the simulator has seen the certificate, so signing later is indistinguishable from
//! signing at start. ECDSA orders get a fresh P-256 key each; RSA orders share one RSA-2048 key
//! per simulator, because generating an RSA key takes about a tenth of a second.

use std::sync::OnceLock;

use rcgen::{
    CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};

use super::{IssueContext, certificate_of, sign};
use crate::csr::parse_csr;
use crate::error::ApiError;
use crate::scenario::SeedKeyType;
use crate::state::{CertificateEncoding, KeyMaterial, Order, OrderCsr};

/// Keys for scenario orders: the shared RSA key, generated on first use.
#[derive(Default)]
pub struct KeyPool {
    rsa: OnceLock<KeyPair>,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPool")
            .field("rsa_generated", &self.rsa.get().is_some())
            .finish()
    }
}

impl KeyPool {
    /// Runs `use_key` with a key of `key_type`: a new P-256 key, or the shared RSA key.
    fn with_key<T>(
        &self,
        key_type: SeedKeyType,
        use_key: impl FnOnce(&KeyPair) -> T,
    ) -> Result<T, rcgen::Error> {
        match key_type {
            SeedKeyType::Ec => Ok(use_key(&KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)),
            SeedKeyType::Rsa => {
                let key = match self.rsa.get() {
                    Some(key) => key,
                    None => {
                        let generated =
                            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?;
                        self.rsa.get_or_init(|| generated)
                    }
                };
                Ok(use_key(key))
            }
        }
    }
}

/// Makes whatever `order` still lacks: its key and CSR, then its certificate with the serial
/// and dates fixed at start. Does nothing for an order that has both.
pub fn materialize(
    order: &mut Order,
    context: &IssueContext<'_>,
    include_root: bool,
) -> Result<(), ApiError> {
    if let KeyMaterial::Deferred(key_type) = order.key_material {
        let csr = generate_csr(order, context, key_type)?;
        order.key_material = KeyMaterial::Csr(csr);
    }
    let Some(certificate) = &order.certificate else {
        return Ok(());
    };
    let CertificateEncoding::Deferred { serial } = &certificate.encoding else {
        return Ok(());
    };
    let issued = sign(
        order,
        context.ca,
        Some(serial.clone()),
        certificate.not_before,
        certificate.not_after,
    )?;
    order.certificate = Some(certificate_of(issued, context.ca, include_root));
    Ok(())
}

/// Generates a key and a CSR with the order's common name, DNS names and organization.
fn generate_csr(
    order: &Order,
    context: &IssueContext<'_>,
    key_type: SeedKeyType,
) -> Result<OrderCsr, ApiError> {
    let failed = |error: rcgen::Error| ApiError::internal("generate a scenario key and CSR", error);
    let dns_names: Vec<String> = order
        .subject_alt_names
        .iter()
        .filter(|name| name.kind == "dNSName")
        .map(|name| name.value.clone())
        .collect();
    let mut params = CertificateParams::new(dns_names).map_err(failed)?;
    params
        .distinguished_name
        .push(DnType::CommonName, order.common_name.as_str());
    if let Some(org) = &order.org {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org.as_str());
    }
    let csr_pem = context
        .keys
        .with_key(key_type, |key| {
            params.serialize_request(key).and_then(|csr| csr.pem())
        })
        .and_then(|result| result)
        .map_err(failed)?;
    let csr =
        parse_csr(&csr_pem).map_err(|error| ApiError::internal("read a generated CSR", error))?;
    Ok(OrderCsr {
        pem: csr.pem,
        spki_der: csr.spki_der,
    })
}
