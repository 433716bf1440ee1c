//! The CA-neutral interface that services program against.
//!
//! Services hold an `Arc<dyn CertificateAuthority>`, so a second CA (an ACME CA, Entrust's CA
//! Gateway API) can be added as another implementation without touching them.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{
    Domain, NewOrder, OrderDetail, OrderOutcome, OrderPage, OrderQuery, OrderSummary, Organization,
    Product, TrackingId,
};

/// A certificate authority account reached with one credential.
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
}
