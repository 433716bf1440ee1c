//! gRPC clients of the services the gateway calls.

use std::time::Duration;

use certitude_platform::grpc::{TracedChannel, connect_lazy, traced};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::renewal::v1::renewal_service_client::RenewalServiceClient;

/// gRPC URL of renewal-scheduler until [`ServiceClients::with_renewal_scheduler`] names one.
pub const DEFAULT_RENEWAL_SCHEDULER_URL: &str = "http://127.0.0.1:50055";

/// One lazily connected client per service; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceClients {
    pub credentials: CredentialServiceClient<TracedChannel>,
    pub orders: OrderServiceClient<TracedChannel>,
    pub inventory: InventoryServiceClient<TracedChannel>,
    pub renewals: RenewalServiceClient<TracedChannel>,
}

impl ServiceClients {
    /// Creates clients for the given service URLs; connections open on first use.
    pub fn connect(
        credential_sync_url: &str,
        order_manager_url: &str,
        inventory_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            credentials: CredentialServiceClient::new(traced(connect_lazy(
                credential_sync_url,
                timeout,
            )?)),
            orders: OrderServiceClient::new(traced(connect_lazy(order_manager_url, timeout)?)),
            inventory: InventoryServiceClient::new(traced(connect_lazy(inventory_url, timeout)?)),
            renewals: RenewalServiceClient::new(traced(connect_lazy(
                DEFAULT_RENEWAL_SCHEDULER_URL,
                timeout,
            )?)),
        })
    }

    /// Points the renewal client at `renewal_scheduler_url`; connections open on first use.
    pub fn with_renewal_scheduler(
        mut self,
        renewal_scheduler_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        self.renewals =
            RenewalServiceClient::new(traced(connect_lazy(renewal_scheduler_url, timeout)?));
        Ok(self)
    }
}
