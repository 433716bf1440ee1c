//! The public key check: a certificate Entrust returns for another key than the CSR's fails the
//! order and never enters Certitude.

use std::sync::Arc;

use async_trait::async_trait;
use certitude_proto::events::v1::{CertificateIssued, OrderCreated};
use entrust::model::{
    Domain, NewOrder, OrderDetail, OrderOutcome, OrderPage, OrderQuery, OrderSummary, Organization,
    Product, TrackingId,
};
use entrust::{CertificateAuthority, EntrustClient, Error};
use futures::stream::BoxStream;
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::support::{Harness, payloads};

/// The simulator's client, except that an issued certificate is swapped for one with a key of
/// its own, as a CA that ignored the CSR would return.
#[derive(Debug)]
struct ForeignKeyAuthority {
    inner: EntrustClient,
}

fn foreign_certificate(common_name: &str) -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key generation works");
    CertificateParams::new(vec![common_name.to_owned()])
        .expect("the name is valid")
        .self_signed(&key)
        .expect("the certificate signs")
        .pem()
}

#[async_trait]
impl CertificateAuthority for ForeignKeyAuthority {
    async fn check_credentials(&self) -> Result<String, Error> {
        CertificateAuthority::check_credentials(&self.inner).await
    }

    async fn organizations(&self) -> Result<Vec<Organization>, Error> {
        CertificateAuthority::organizations(&self.inner).await
    }

    async fn domains(&self) -> Result<Vec<Domain>, Error> {
        CertificateAuthority::domains(&self.inner).await
    }

    async fn products(&self) -> Result<Vec<Product>, Error> {
        CertificateAuthority::products(&self.inner).await
    }

    async fn place_order(&self, order: &NewOrder) -> Result<OrderOutcome, Error> {
        match CertificateAuthority::place_order(&self.inner, order).await? {
            OrderOutcome::Issued(mut certificate) => {
                certificate.certificate_pem = foreign_certificate(&order.dns_names[0]);
                Ok(OrderOutcome::Issued(certificate))
            }
            outcome => Ok(outcome),
        }
    }

    async fn order(&self, tracking_id: TrackingId) -> Result<OrderDetail, Error> {
        CertificateAuthority::order(&self.inner, tracking_id).await
    }

    async fn order_page(&self, query: &OrderQuery, offset: u64) -> Result<OrderPage, Error> {
        CertificateAuthority::order_page(&self.inner, query, offset).await
    }

    fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
        CertificateAuthority::order_stream(&self.inner, query)
    }

    async fn all_orders(&self, query: OrderQuery) -> Result<Vec<OrderSummary>, Error> {
        CertificateAuthority::all_orders(&self.inner, query).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_with_foreign_key_fails_order() {
    let harness = Harness::start_with_authority(&[], |inner| {
        Arc::new(ForeignKeyAuthority { inner }) as Arc<dyn CertificateAuthority>
    })
    .await;

    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("foreign-key", "www.example.com"))
        .await
        .expect("the order is recorded")
        .into_inner();

    assert_eq!(order.status, "FAILED");
    assert!(order.error.contains("differs from the CSR"), "{order:?}");
    assert!(order.certificate_id.is_empty());
    assert!(order.tracking_id > 0);
    let events = harness.published_events().await;
    let created = payloads::<OrderCreated>(&events);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1.status, "FAILED");
    assert!(payloads::<CertificateIssued>(&events).is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_leaves_failed_order_failed() {
    let harness = Harness::start_with_authority(&[], |inner| {
        Arc::new(ForeignKeyAuthority { inner }) as Arc<dyn CertificateAuthority>
    })
    .await;
    let order = harness
        .client
        .clone()
        .create_order(harness.order_request("foreign-key-import", "www.example.com"))
        .await
        .expect("the order is recorded")
        .into_inner();
    assert_eq!(order.status, "FAILED");

    let job = crate::importing::run_import(&harness).await;

    assert_eq!(job.state, "succeeded", "{job:?}");
    let after = harness.get_order(&order.id).await;
    assert_eq!(after.status, "FAILED");
    assert!(after.certificate_id.is_empty());
    let events = harness.published_events().await;
    let certificates: Vec<_> = payloads::<CertificateIssued>(&events)
        .into_iter()
        .filter(|(_, event)| event.order_id == order.id)
        .collect();
    assert!(certificates.is_empty(), "{certificates:?}");
    harness.stop().await;
}
