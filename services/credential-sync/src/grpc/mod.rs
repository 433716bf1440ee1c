//! The gRPC edge: `certitude.credential.v1.CredentialService`, which parses requests, calls the
//! service layer and maps its errors to statuses.

mod convert;
mod status;

use std::sync::Arc;

use certitude_proto::credential::v1 as proto;
use certitude_proto::credential::v1::credential_service_server::CredentialService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::catalog::{self, CatalogQuery, KindSet, OrderingQuery};
use crate::credentials::{self, CredentialUpdate, NewCredential};
use crate::order_manager::OrderCounter;
use crate::state::Deps;
use crate::sync::{SyncLauncher, Trigger};

use status::{parse_id, to_status};

/// The handler of CredentialService.
#[derive(Debug, Clone)]
pub struct CredentialApi {
    deps: Deps,
    syncs: SyncLauncher,
    orders: Arc<dyn OrderCounter>,
}

impl CredentialApi {
    /// Creates the handler; `orders` counts a credential's orders before its deletion.
    pub fn new(deps: Deps, syncs: SyncLauncher, orders: Arc<dyn OrderCounter>) -> Self {
        Self {
            deps,
            syncs,
            orders,
        }
    }

    /// Fails with NOT_FOUND unless the credential exists.
    async fn require_credential(&self, id: Uuid) -> Result<(), Status> {
        credentials::get(&self.deps.pool, id)
            .await
            .map(|_| ())
            .map_err(to_status)
    }

    async fn catalog_query(&self, request: proto::CatalogRequest) -> Result<CatalogQuery, Status> {
        let credential_id = parse_id("credential_id", &request.credential_id)?;
        self.require_credential(credential_id).await?;
        Ok(CatalogQuery {
            credential_id,
            page_size: request.page_size,
            page_token: request.page_token,
            include_removed: request.include_removed,
        })
    }
}

#[tonic::async_trait]
impl CredentialService for CredentialApi {
    async fn add_credential(
        &self,
        request: Request<proto::AddCredentialRequest>,
    ) -> Result<Response<proto::Credential>, Status> {
        let new =
            NewCredential::parse(request.into_inner(), &self.deps.entrust).map_err(to_status)?;
        let credential = credentials::add_credential(&self.deps, &self.syncs, new)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::credential(&credential)))
    }

    async fn list_credentials(
        &self,
        request: Request<proto::ListCredentialsRequest>,
    ) -> Result<Response<proto::ListCredentialsResponse>, Status> {
        let request = request.into_inner();
        let (page, next_page_token) =
            credentials::list(&self.deps.pool, request.page_size, &request.page_token)
                .await
                .map_err(to_status)?;
        Ok(Response::new(proto::ListCredentialsResponse {
            credentials: page.iter().map(convert::credential).collect(),
            next_page_token,
        }))
    }

    async fn get_credential(
        &self,
        request: Request<proto::GetCredentialRequest>,
    ) -> Result<Response<proto::Credential>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let credential = credentials::get(&self.deps.pool, id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::credential(&credential)))
    }

    async fn update_credential(
        &self,
        request: Request<proto::UpdateCredentialRequest>,
    ) -> Result<Response<proto::Credential>, Status> {
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let update = CredentialUpdate::parse(request).map_err(to_status)?;
        let credential = credentials::update_credential(&self.deps, id, update)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::credential(&credential)))
    }

    async fn delete_credential(
        &self,
        request: Request<proto::DeleteCredentialRequest>,
    ) -> Result<Response<proto::Credential>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let force = request.get_ref().force;
        let credential =
            credentials::delete_credential(&self.deps, self.orders.as_ref(), id, force)
                .await
                .map_err(to_status)?;
        Ok(Response::new(convert::credential(&credential)))
    }

    async fn report_permission_denied(
        &self,
        request: Request<proto::ReportPermissionDeniedRequest>,
    ) -> Result<Response<proto::Credential>, Status> {
        let id = parse_id("credential_id", &request.get_ref().credential_id)?;
        let credential =
            credentials::report_permission_denied(&self.deps, id, &request.get_ref().action)
                .await
                .map_err(to_status)?;
        Ok(Response::new(convert::credential(&credential)))
    }

    // NOTE: every caller that reaches the gRPC port may resolve a credential. Limiting it to
    // order-manager needs caller identity (mTLS), which the server does not check yet.
    async fn resolve_credential(
        &self,
        request: Request<proto::ResolveCredentialRequest>,
    ) -> Result<Response<proto::ResolvedCredential>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let resolved = credentials::resolve(&self.deps.pool, &self.deps.keyring, id)
            .await
            .map_err(to_status)?;
        tracing::info!(credential.id = %id, "handed out credential {id}");
        Ok(Response::new(convert::resolved(&resolved)))
    }

    async fn sync_catalog(
        &self,
        request: Request<proto::SyncCatalogRequest>,
    ) -> Result<Response<proto::SyncRun>, Status> {
        let credential_id = parse_id("credential_id", &request.get_ref().credential_id)?;
        let kinds = KindSet::parse(&request.get_ref().kinds).map_err(to_status)?;
        self.require_credential(credential_id).await?;
        let run = self
            .syncs
            .start(credential_id, Trigger::OnDemand, kinds)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::sync_run(&run)))
    }

    async fn sync_all_catalogs(
        &self,
        request: Request<proto::SyncAllCatalogsRequest>,
    ) -> Result<Response<proto::SyncAllCatalogsResponse>, Status> {
        let kinds = KindSet::parse(&request.get_ref().kinds).map_err(to_status)?;
        let runs = self
            .syncs
            .start_all(Trigger::OnDemand, &kinds)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::SyncAllCatalogsResponse {
            sync_runs: runs.iter().map(convert::sync_run).collect(),
        }))
    }

    async fn get_sync_run(
        &self,
        request: Request<proto::GetSyncRunRequest>,
    ) -> Result<Response<proto::SyncRun>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let run = self.syncs.get(id).await.map_err(to_status)?;
        Ok(Response::new(convert::sync_run(&run)))
    }

    async fn list_sync_runs(
        &self,
        request: Request<proto::ListSyncRunsRequest>,
    ) -> Result<Response<proto::ListSyncRunsResponse>, Status> {
        let request = request.into_inner();
        let credential_id = parse_id("credential_id", &request.credential_id)?;
        self.require_credential(credential_id).await?;
        let (runs, next_page_token) = self
            .syncs
            .list(credential_id, request.page_size, &request.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListSyncRunsResponse {
            sync_runs: runs.iter().map(convert::sync_run).collect(),
            next_page_token,
        }))
    }

    async fn list_organizations(
        &self,
        request: Request<proto::CatalogRequest>,
    ) -> Result<Response<proto::ListOrganizationsResponse>, Status> {
        let query = self.catalog_query(request.into_inner()).await?;
        let page = catalog::list_organizations(&self.deps.pool, &query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListOrganizationsResponse {
            organizations: page
                .entries
                .into_iter()
                .map(convert::organization)
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_domains(
        &self,
        request: Request<proto::CatalogRequest>,
    ) -> Result<Response<proto::ListDomainsResponse>, Status> {
        let query = self.catalog_query(request.into_inner()).await?;
        let page = catalog::list_domains(&self.deps.pool, &query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListDomainsResponse {
            domains: page.entries.into_iter().map(convert::domain).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_ordering_catalog(
        &self,
        request: Request<proto::GetOrderingCatalogRequest>,
    ) -> Result<Response<proto::OrderingCatalog>, Status> {
        let request = request.into_inner();
        let credential_id = parse_id("credential_id", &request.credential_id)?;
        self.require_credential(credential_id).await?;
        let organization = Some(request.organization.trim().to_owned())
            .filter(|organization| !organization.is_empty());
        let query = OrderingQuery {
            credential_id,
            dns_names: request.dns_names,
            organization,
            product_type: request.product_type,
        };
        let found = catalog::ordering_catalog(&self.deps.pool, &query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::OrderingCatalog {
            domains: found.domains.into_iter().map(convert::domain).collect(),
            organizations: found
                .organizations
                .into_iter()
                .map(convert::organization)
                .collect(),
            products: found.products.into_iter().map(convert::product).collect(),
            synced_at: found.synced_at.map(convert::rfc3339).unwrap_or_default(),
        }))
    }

    async fn list_products(
        &self,
        request: Request<proto::CatalogRequest>,
    ) -> Result<Response<proto::ListProductsResponse>, Status> {
        let query = self.catalog_query(request.into_inner()).await?;
        let page = catalog::list_products(&self.deps.pool, &query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ListProductsResponse {
            products: page.entries.into_iter().map(convert::product).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}
