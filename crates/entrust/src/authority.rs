//! The CA-neutral interface that services program against.
//!
//! Services hold an `Arc<dyn CertificateAuthority>`, so a second CA (an ACME CA, Entrust's CA
//! Gateway API) can be added as another implementation without touching them. Methods added
//! after the first version have default implementations that return [`Error::Unsupported`], so
//! an implementation compiles without them and reports clearly what its CA lacks.

use async_trait::async_trait;
use futures::stream::{self, BoxStream};

use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{
    AccountClient, AccountClientDetail, ApprovalOutcome, Domain, DomainDetail,
    DomainRequestAccepted, DomainVerificationRequest, NewDomain, NewOrder, OrderDetail,
    OrderOutcome, OrderPage, OrderQuery, OrderSummary, Organization, Product, Reissue, Renewal,
    Revocation, TrackingId, TrackingUpdate,
};

fn unsupported(operation: &'static str) -> Error {
    Error::Unsupported { operation }
}

/// A certificate authority account reached with one credential.
///
/// Calls that change an order (place, approve, decline, suspend, unsuspend, reissue, renew,
/// revoke, deactivate) are never repeated blindly: an ambiguous failure is
/// [`Error::OutcomeUnknown`], and the caller reads the order before trying again.
#[async_trait]
pub trait CertificateAuthority: Send + Sync + std::fmt::Debug {
    /// Makes the cheapest authenticated call and returns the CA's software version, so a
    /// credential can be checked. Fails with [`Error::CredentialsRejected`] for a bad one.
    async fn check_credentials(&self) -> Result<String, Error>;

    /// Lists the organizations certificates may name.
    async fn organizations(&self) -> Result<Vec<Organization>, Error>;

    /// Lists the account's domains with their verification state, all pages.
    async fn domains(&self) -> Result<Vec<Domain>, Error>;

    /// Lists the products the account can order, with remaining inventory.
    async fn products(&self) -> Result<Vec<Product>, Error>;

    /// Places an order. Never retried internally; see [`Error::OutcomeUnknown`].
    async fn place_order(&self, order: &NewOrder) -> Result<OrderOutcome, Error>;

    /// Fetches one order with its certificate and chain.
    async fn order(&self, tracking_id: TrackingId) -> Result<OrderDetail, Error>;

    /// Fetches one page of orders starting at item `offset`.
    async fn order_page(&self, query: &OrderQuery, offset: u64) -> Result<OrderPage, Error>;

    /// Streams every order matching `query`, each once, and always ends.
    fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>>;

    /// Collects every order matching `query`.
    async fn all_orders(&self, query: OrderQuery) -> Result<Vec<OrderSummary>, Error>;

    /// Fetches a certificate the account has on record by its SHA-1 thumbprint in hexadecimal,
    /// as for records not ordered through the CA (tracking id 0).
    async fn order_by_thumbprint(&self, thumbprint: &str) -> Result<OrderDetail, Error> {
        let _ = thumbprint;
        Err(unsupported("order_by_thumbprint"))
    }

    /// Approves a pending order. Needs administrator rights.
    async fn approve(&self, tracking_id: TrackingId) -> Result<ApprovalOutcome, Error> {
        let _ = tracking_id;
        Err(unsupported("approve"))
    }

    /// Declines a pending order with a reason (at most 254 characters; empty sends none).
    async fn decline(&self, tracking_id: TrackingId, reason: &str) -> Result<(), Error> {
        let _ = (tracking_id, reason);
        Err(unsupported("decline"))
    }

    /// Suspends an issued certificate.
    async fn suspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        let _ = tracking_id;
        Err(unsupported("suspend"))
    }

    /// Resumes a suspended certificate.
    async fn unsuspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        let _ = tracking_id;
        Err(unsupported("unsuspend"))
    }

    /// Reissues a certificate under a new tracking id, keeping its expiry.
    async fn reissue(
        &self,
        tracking_id: TrackingId,
        reissue: &Reissue,
    ) -> Result<OrderOutcome, Error> {
        let _ = (tracking_id, reissue);
        Err(unsupported("reissue"))
    }

    /// Renews a certificate under a new tracking id.
    async fn renew(
        &self,
        tracking_id: TrackingId,
        renewal: &Renewal,
    ) -> Result<OrderOutcome, Error> {
        let _ = (tracking_id, renewal);
        Err(unsupported("renew"))
    }

    /// Revokes a certificate.
    async fn revoke(&self, tracking_id: TrackingId, revocation: &Revocation) -> Result<(), Error> {
        let _ = (tracking_id, revocation);
        Err(unsupported("revoke"))
    }

    /// Deactivates a certificate: the account stops tracking it.
    async fn deactivate(&self, tracking_id: TrackingId) -> Result<(), Error> {
        let _ = tracking_id;
        Err(unsupported("deactivate"))
    }

    /// Replaces the tracking data stored with an order.
    async fn update_tracking(
        &self,
        tracking_id: TrackingId,
        update: &TrackingUpdate,
    ) -> Result<(), Error> {
        let _ = (tracking_id, update);
        Err(unsupported("update_tracking"))
    }

    /// Lists the sub-accounts of the account.
    async fn clients(&self) -> Result<Vec<AccountClient>, Error> {
        Err(unsupported("clients"))
    }

    /// Fetches one sub-account with its address and organizations.
    async fn client(&self, client_id: u32) -> Result<AccountClientDetail, Error> {
        let _ = client_id;
        Err(unsupported("client"))
    }

    /// Lists the organizations of one sub-account.
    async fn client_organizations(&self, client_id: u32) -> Result<Vec<Organization>, Error> {
        let _ = client_id;
        Err(unsupported("client_organizations"))
    }

    /// Streams the account's domains, all pages, each once; the stream always ends.
    fn domain_stream(&self) -> BoxStream<'_, Result<Domain, Error>> {
        Box::pin(stream::once(async { Err(unsupported("domain_stream")) }))
    }

    /// Lists the domains of one sub-account, all pages.
    async fn client_domains(&self, client_id: u32) -> Result<Vec<Domain>, Error> {
        let _ = client_id;
        Err(unsupported("client_domains"))
    }

    /// Fetches one domain with its verification details.
    async fn domain(&self, client_id: u32, name: &str) -> Result<DomainDetail, Error> {
        let _ = (client_id, name);
        Err(unsupported("domain"))
    }

    /// Registers a domain and starts its verification.
    async fn add_domain(
        &self,
        client_id: u32,
        domain: &NewDomain,
    ) -> Result<DomainRequestAccepted, Error> {
        let _ = (client_id, domain);
        Err(unsupported("add_domain"))
    }

    /// Starts a new verification of a registered domain.
    async fn reverify_domain(
        &self,
        client_id: u32,
        name: &str,
        verification: &DomainVerificationRequest,
    ) -> Result<DomainRequestAccepted, Error> {
        let _ = (client_id, name, verification);
        Err(unsupported("reverify_domain"))
    }
}

#[async_trait]
impl CertificateAuthority for EntrustClient {
    async fn check_credentials(&self) -> Result<String, Error> {
        self.version().await
    }

    async fn organizations(&self) -> Result<Vec<Organization>, Error> {
        EntrustClient::organizations(self).await
    }

    async fn domains(&self) -> Result<Vec<Domain>, Error> {
        EntrustClient::domains(self).await
    }

    async fn products(&self) -> Result<Vec<Product>, Error> {
        EntrustClient::products(self).await
    }

    async fn place_order(&self, order: &NewOrder) -> Result<OrderOutcome, Error> {
        EntrustClient::place_order(self, order).await
    }

    async fn order(&self, tracking_id: TrackingId) -> Result<OrderDetail, Error> {
        EntrustClient::order(self, tracking_id).await
    }

    async fn order_page(&self, query: &OrderQuery, offset: u64) -> Result<OrderPage, Error> {
        EntrustClient::order_page(self, query, offset).await
    }

    fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
        EntrustClient::order_stream(self, query)
    }

    async fn all_orders(&self, query: OrderQuery) -> Result<Vec<OrderSummary>, Error> {
        EntrustClient::all_orders(self, query).await
    }

    async fn order_by_thumbprint(&self, thumbprint: &str) -> Result<OrderDetail, Error> {
        EntrustClient::order_by_thumbprint(self, thumbprint).await
    }

    async fn approve(&self, tracking_id: TrackingId) -> Result<ApprovalOutcome, Error> {
        EntrustClient::approve(self, tracking_id).await
    }

    async fn decline(&self, tracking_id: TrackingId, reason: &str) -> Result<(), Error> {
        EntrustClient::decline(self, tracking_id, reason).await
    }

    async fn suspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        EntrustClient::suspend(self, tracking_id).await
    }

    async fn unsuspend(&self, tracking_id: TrackingId) -> Result<(), Error> {
        EntrustClient::unsuspend(self, tracking_id).await
    }

    async fn reissue(
        &self,
        tracking_id: TrackingId,
        reissue: &Reissue,
    ) -> Result<OrderOutcome, Error> {
        EntrustClient::reissue(self, tracking_id, reissue).await
    }

    async fn renew(
        &self,
        tracking_id: TrackingId,
        renewal: &Renewal,
    ) -> Result<OrderOutcome, Error> {
        EntrustClient::renew(self, tracking_id, renewal).await
    }

    async fn revoke(&self, tracking_id: TrackingId, revocation: &Revocation) -> Result<(), Error> {
        EntrustClient::revoke(self, tracking_id, revocation).await
    }

    async fn deactivate(&self, tracking_id: TrackingId) -> Result<(), Error> {
        EntrustClient::deactivate(self, tracking_id).await
    }

    async fn update_tracking(
        &self,
        tracking_id: TrackingId,
        update: &TrackingUpdate,
    ) -> Result<(), Error> {
        EntrustClient::update_tracking(self, tracking_id, update).await
    }

    async fn clients(&self) -> Result<Vec<AccountClient>, Error> {
        EntrustClient::clients(self).await
    }

    async fn client(&self, client_id: u32) -> Result<AccountClientDetail, Error> {
        EntrustClient::client(self, client_id).await
    }

    async fn client_organizations(&self, client_id: u32) -> Result<Vec<Organization>, Error> {
        EntrustClient::client_organizations(self, client_id).await
    }

    fn domain_stream(&self) -> BoxStream<'_, Result<Domain, Error>> {
        EntrustClient::domain_stream(self)
    }

    async fn client_domains(&self, client_id: u32) -> Result<Vec<Domain>, Error> {
        EntrustClient::client_domains(self, client_id).await
    }

    async fn domain(&self, client_id: u32, name: &str) -> Result<DomainDetail, Error> {
        EntrustClient::domain(self, client_id, name).await
    }

    async fn add_domain(
        &self,
        client_id: u32,
        domain: &NewDomain,
    ) -> Result<DomainRequestAccepted, Error> {
        EntrustClient::add_domain(self, client_id, domain).await
    }

    async fn reverify_domain(
        &self,
        client_id: u32,
        name: &str,
        verification: &DomainVerificationRequest,
    ) -> Result<DomainRequestAccepted, Error> {
        EntrustClient::reverify_domain(self, client_id, name, verification).await
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    /// An implementation with only the methods of the first version.
    #[derive(Debug)]
    struct MinimalAuthority;

    #[async_trait]
    impl CertificateAuthority for MinimalAuthority {
        async fn check_credentials(&self) -> Result<String, Error> {
            Ok("1".to_owned())
        }
        async fn organizations(&self) -> Result<Vec<Organization>, Error> {
            Ok(Vec::new())
        }
        async fn domains(&self) -> Result<Vec<Domain>, Error> {
            Ok(Vec::new())
        }
        async fn products(&self) -> Result<Vec<Product>, Error> {
            Ok(Vec::new())
        }
        async fn place_order(&self, _order: &NewOrder) -> Result<OrderOutcome, Error> {
            Err(unsupported("place_order"))
        }
        async fn order(&self, _tracking_id: TrackingId) -> Result<OrderDetail, Error> {
            Err(unsupported("order"))
        }
        async fn order_page(&self, _query: &OrderQuery, _offset: u64) -> Result<OrderPage, Error> {
            Err(unsupported("order_page"))
        }
        fn order_stream(&self, _query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
            Box::pin(stream::empty())
        }
        async fn all_orders(&self, _query: OrderQuery) -> Result<Vec<OrderSummary>, Error> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn later_methods_default_to_unsupported() {
        let authority: &dyn CertificateAuthority = &MinimalAuthority;

        let revoke = authority
            .revoke(TrackingId::new(1), &Revocation::default())
            .await;
        let domains: Vec<Result<Domain, Error>> = authority.domain_stream().collect().await;

        assert!(
            matches!(
                revoke,
                Err(Error::Unsupported {
                    operation: "revoke"
                })
            ),
            "{revoke:?}"
        );
        assert_eq!(domains.len(), 1);
        assert!(matches!(
            domains[0],
            Err(Error::Unsupported {
                operation: "domain_stream"
            })
        ));
        assert!(matches!(
            authority.approve(TrackingId::new(1)).await,
            Err(Error::Unsupported {
                operation: "approve"
            })
        ));
    }
}
