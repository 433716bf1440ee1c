//! The order count a credential's deletion checks first: the [`OrderCounter`] trait, and its
//! implementation with order-manager's CountOrders call.

use std::fmt;

use async_trait::async_trait;
use certitude_platform::grpc::{TracedChannel, traced};
use certitude_proto::order::v1::CountOrdersRequest;
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

/// Counts the orders that use a credential. order-manager counts them in production, and tests
/// may count in process.
#[async_trait]
pub trait OrderCounter: Send + Sync + fmt::Debug {
    /// Returns how many orders, in any state, use the credential.
    async fn count_orders(&self, credential_id: Uuid) -> Result<u64, OrderCountError>;
}

/// Why the orders of a credential could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum OrderCountError {
    /// order-manager could not be reached or did not respond in time. A retry may succeed.
    #[error("order-manager at {url} is unavailable")]
    Unavailable {
        url: String,
        #[source]
        source: Status,
    },

    /// order-manager returned an error.
    #[error("order-manager at {url} failed to count the orders")]
    Failed {
        url: String,
        #[source]
        source: Status,
    },
}

/// Counts orders with order-manager's CountOrders call.
#[derive(Debug, Clone)]
pub struct GrpcOrderCounter {
    client: OrderServiceClient<TracedChannel>,
    url: String,
}

impl GrpcOrderCounter {
    /// Creates a counter that calls order-manager at `url` over `channel`.
    pub fn new(channel: Channel, url: impl Into<String>) -> Self {
        Self {
            client: OrderServiceClient::new(traced(channel)),
            url: url.into(),
        }
    }
}

#[async_trait]
impl OrderCounter for GrpcOrderCounter {
    async fn count_orders(&self, credential_id: Uuid) -> Result<u64, OrderCountError> {
        let request = CountOrdersRequest {
            credential_id: credential_id.to_string(),
        };
        match self.client.clone().count_orders(request).await {
            Ok(response) => Ok(response.into_inner().count),
            Err(status) if is_unavailable(&status) => Err(OrderCountError::Unavailable {
                url: self.url.clone(),
                source: status,
            }),
            Err(status) => Err(OrderCountError::Failed {
                url: self.url.clone(),
                source: status,
            }),
        }
    }
}

/// Tells a failure to reach order-manager (connection refused or reset, deadline) from an
/// error it returned. tonic reports transport failures as UNAVAILABLE or UNKNOWN.
fn is_unavailable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
    )
}
