//! Validate-only orders: the request checks and the catalog check run as for a real order, then
//! Entrust validates the order (`validateOnly`) without placing it. Nothing is stored and no
//! event is sent. Without a supplied CSR, a throwaway key and CSR are made in memory and dropped
//! once Entrust has responded.

use certitude_proto::inventory::v1::KeyAlgorithm;
use entrust::model::{NewOrder, OrderOutcome, Requester};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, RsaKeySize,
};

use super::create::check_catalog;
use super::submit::{Verdict, verdict};
use super::validate::ValidOrderRequest;
use super::validity;
use crate::core::Core;
use crate::error::OrderError;

/// Asks Entrust to validate the order `request` describes, after the catalog check.
///
/// Fails with [`OrderError::ValidationRejected`] when Entrust rejects it and with
/// [`OrderError::ValidationNoResponse`] when Entrust did not respond. Neither stores anything.
pub(crate) async fn validate_at_entrust(
    core: &Core,
    request: &ValidOrderRequest,
) -> Result<(), OrderError> {
    check_catalog(core, request).await?;
    let authority = core.credentials.authority(&request.credential_id).await?;
    let csr_pem = match &request.supplied_csr {
        Some(csr) => csr.csr_pem.clone(),
        None => throwaway_csr(request).await?,
    };
    let order = NewOrder {
        product: request.product.clone(),
        csr_pem,
        dns_names: request.dns_names.clone(),
        client_id: request.client_id.and_then(|id| u32::try_from(id).ok()),
        organization: request.organization.clone(),
        expires_on: validity::expiry_date(core.now(), request.validity_days),
        lifetime: None,
        eku: None,
        tracking_marker: None,
        requester: Requester::default(),
        queue_for_approval: request.queue_for_approval,
        validate_only: true,
    };

    tracing::info!(
        credential.id = %request.credential_id, order.product = %request.product,
        order.supplied_csr = request.supplied_csr.is_some(),
        "asking Entrust to validate an order"
    );
    let error = match authority.place_order(&order).await {
        Ok(OrderOutcome::Validated) => return Ok(()),
        Ok(OrderOutcome::Issued(certificate)) => {
            return Err(OrderError::ValidationPlacedOrder {
                tracking_id: certificate.tracking_id.get(),
            });
        }
        Ok(OrderOutcome::Pending { tracking_id }) => {
            return Err(OrderError::ValidationPlacedOrder {
                tracking_id: tracking_id.get(),
            });
        }
        Err(error) => error,
    };
    match verdict(&error) {
        Verdict::Rejected => {
            tracing::info!(
                credential.id = %request.credential_id, error = %error,
                "Entrust rejected an order in validation"
            );
            Err(OrderError::ValidationRejected { source: error })
        }
        Verdict::NotSent | Verdict::Unknown => {
            Err(OrderError::ValidationNoResponse { source: error })
        }
    }
}

/// Builds a CSR for the order's names and organization with a new key of the order's
/// algorithm. The key is dropped on return; RSA keys take up to seconds to generate, so the
/// work runs on the blocking pool.
async fn throwaway_csr(request: &ValidOrderRequest) -> Result<String, OrderError> {
    let algorithm = request.key_algorithm;
    let common_name = request.common_name.clone();
    let dns_names = request.dns_names.clone();
    let organization = request.organization.clone();
    tokio::task::spawn_blocking(move || {
        build_csr(algorithm, &common_name, dns_names, organization.as_deref())
    })
    .await
    .map_err(|error| OrderError::ThrowawayCsr(Box::new(error)))?
    .map_err(|error| OrderError::ThrowawayCsr(Box::new(error)))
}

fn build_csr(
    algorithm: KeyAlgorithm,
    common_name: &str,
    dns_names: Vec<String>,
    organization: Option<&str>,
) -> Result<String, rcgen::Error> {
    let key = match algorithm {
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384)?,
        KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?,
        KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072)?,
        KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096)?,
        // A checked request never carries Unspecified; P-256 is the documented default.
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Unspecified => {
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?
        }
    };
    let mut params = CertificateParams::new(dns_names)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, common_name);
    if let Some(organization) = organization {
        subject.push(DnType::OrganizationName, organization);
    }
    params.distinguished_name = subject;
    params.serialize_request(&key)?.pem()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::supplied_csr;

    #[test]
    fn throwaway_csr_carries_names_and_algorithm() {
        let names = vec!["www.example.com".to_owned(), "example.com".to_owned()];

        let csr_pem = build_csr(
            KeyAlgorithm::Rsa2048,
            "www.example.com",
            names.clone(),
            Some("Example Inc."),
        )
        .expect("the CSR builds");
        let parsed = supplied_csr::parse(&csr_pem).expect("the CSR passes the CSR checks");

        assert_eq!(parsed.key_algorithm, KeyAlgorithm::Rsa2048);
        assert_eq!(parsed.common_name.as_deref(), Some("www.example.com"));
        assert_eq!(parsed.dns_names, names);
    }
}
