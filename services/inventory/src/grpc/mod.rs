//! The inventory's gRPC API, `certitude.inventory.v1.InventoryService`.

mod certificates;
mod generate_key;
mod page_token;
mod status;

use certitude_platform::clock::SharedClock;
use certitude_proto::inventory::v1 as proto;
use certitude_proto::inventory::v1::inventory_service_server::InventoryService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::key_service::KeyService;

pub use certificates::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Serves InventoryService from the service's pool.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    keys: KeyService,
    pool: PgPool,
    clock: SharedClock,
}

impl InventoryApi {
    pub fn new(keys: KeyService, pool: PgPool, clock: SharedClock) -> Self {
        Self { keys, pool, clock }
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn generate_key(
        &self,
        request: Request<proto::GenerateKeyRequest>,
    ) -> Result<Response<proto::GeneratedKey>, Status> {
        generate_key::generate_key(&self.keys, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_certificates(
        &self,
        request: Request<proto::ListCertificatesRequest>,
    ) -> Result<Response<proto::ListCertificatesResponse>, Status> {
        certificates::list(&self.pool, self.clock.now(), request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_certificate(
        &self,
        request: Request<proto::GetCertificateRequest>,
    ) -> Result<Response<proto::Certificate>, Status> {
        certificates::get(&self.pool, self.clock.now(), request.into_inner())
            .await
            .map(Response::new)
    }
}
