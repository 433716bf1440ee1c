//! The inventory's gRPC API, `certitude.inventory.v1.InventoryService`.

mod certificates;
mod deployments;
mod files;
mod generate_key;
mod license;
mod page_token;
mod status;

use certitude_platform::clock::SharedClock;
use certitude_proto::inventory::v1 as proto;
use certitude_proto::inventory::v1::inventory_service_server::InventoryService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::deployments::Deployments;
use crate::files::{Exporter, FileImporter};
use crate::key_service::KeyService;
use crate::lifecycle::Lifecycle;

pub use certificates::{
    DEFAULT_PAGE_SIZE, ListQuery, MAX_EXPIRING_WITHIN_DAYS, MAX_FILTER_TEXT_LEN, MAX_PAGE_SIZE,
    validate_list,
};
pub use files::MAX_REQUEST_BYTES as MAX_IMPORT_REQUEST_BYTES;

/// Serves InventoryService from the service's pool.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    keys: KeyService,
    pool: PgPool,
    clock: SharedClock,
    lifecycle: Lifecycle,
    deployments: Deployments,
}

impl InventoryApi {
    pub fn new(
        keys: KeyService,
        pool: PgPool,
        clock: SharedClock,
        lifecycle: Lifecycle,
        deployments: Deployments,
    ) -> Self {
        Self {
            keys,
            pool,
            clock,
            lifecycle,
            deployments,
        }
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

    async fn remove_certificate(
        &self,
        request: Request<proto::RemoveCertificateRequest>,
    ) -> Result<Response<proto::Certificate>, Status> {
        certificates::remove(
            &self.pool,
            &self.lifecycle,
            self.clock.now(),
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn get_license(
        &self,
        _request: Request<proto::GetLicenseRequest>,
    ) -> Result<Response<proto::License>, Status> {
        license::get(&self.pool).await.map(Response::new)
    }

    async fn set_license(
        &self,
        request: Request<proto::SetLicenseRequest>,
    ) -> Result<Response<proto::License>, Status> {
        license::set(
            &self.pool,
            &self.lifecycle,
            self.clock.now(),
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn add_deployment(
        &self,
        request: Request<proto::AddDeploymentRequest>,
    ) -> Result<Response<proto::Deployment>, Status> {
        deployments::add(
            &self.pool,
            &self.deployments,
            self.clock.now(),
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn list_deployments(
        &self,
        request: Request<proto::ListDeploymentsRequest>,
    ) -> Result<Response<proto::ListDeploymentsResponse>, Status> {
        deployments::list(&self.pool, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn confirm_deployment(
        &self,
        request: Request<proto::ConfirmDeploymentRequest>,
    ) -> Result<Response<proto::Deployment>, Status> {
        deployments::confirm(
            &self.pool,
            &self.deployments,
            self.clock.now(),
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn remove_deployment(
        &self,
        request: Request<proto::RemoveDeploymentRequest>,
    ) -> Result<Response<proto::Deployment>, Status> {
        deployments::remove(&self.pool, &self.deployments, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn import_certificate_files(
        &self,
        request: Request<proto::ImportCertificateFilesRequest>,
    ) -> Result<Response<proto::ImportCertificateFilesResponse>, Status> {
        let importer = FileImporter::new(
            self.pool.clone(),
            self.lifecycle.clone(),
            self.keys.keyring().clone(),
            self.clock.clone(),
        );
        files::import(&importer, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn export_certificate(
        &self,
        request: Request<proto::ExportCertificateRequest>,
    ) -> Result<Response<proto::ExportedCertificate>, Status> {
        let exporter = Exporter::new(
            self.pool.clone(),
            self.keys.keyring().clone(),
            self.clock.clone(),
        );
        files::export(&exporter, request.into_inner())
            .await
            .map(Response::new)
    }
}
