//! The gRPC edge: `certitude.order.v1.OrderService`. Handlers check the request, call the
//! service's operations and map their errors to statuses (see [`status`]).

mod admin;
mod convert;
mod count;
mod status;

use certitude_proto::order::v1::order_service_server::OrderService;
use certitude_proto::order::v1::{
    ApproveOrderRequest, CountOrdersRequest, CountOrdersResponse, CreateOrderRequest,
    DeclineOrderRequest, DeleteOrderRequest, GetImportJobRequest, GetOrderHistoryRequest,
    GetOrderHistoryResponse, GetOrderRequest, ImportJob, ListOrdersRequest, ListOrdersResponse,
    Order, ReissueOrderRequest, RenewOrderRequest, ResumeOrderRequest, RevokeOrderRequest,
    StartImportRequest, SuspendOrderRequest,
};
use tonic::{Request, Response, Status};

use crate::admin::lifecycle::{self, OperationRequest};
use crate::admin::{actor_name, delete, replace};
use crate::core::Core;
use crate::error::OrderError;
use crate::import::Importer;
use crate::orders::{create, validate, validate_only, validity};
use crate::renewal_policies;
use crate::store::orders::{self, ListPosition};
use crate::store::{history, import_jobs};
use status::to_status;

/// Orders per page when the request names no page size.
const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a request may ask for.
const MAX_PAGE_SIZE: u32 = 500;

/// The handlers of `OrderService`.
#[derive(Debug, Clone)]
pub(crate) struct OrderApi {
    core: Core,
    importer: Importer,
}

impl OrderApi {
    pub fn new(core: Core, importer: Importer) -> Self {
        Self { core, importer }
    }

    async fn list(&self, request: ListOrdersRequest) -> Result<ListOrdersResponse, OrderError> {
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size <= MAX_PAGE_SIZE => size,
            size => {
                return Err(OrderError::invalid(
                    "page_size",
                    format!(
                        "{size} is too large; use 1 to {MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}"
                    ),
                ));
            }
        };
        let after = convert::parse_page_token(&request.page_token)?;
        let credential_id = Some(request.credential_id.trim()).filter(|id| !id.is_empty());

        // One row beyond the page shows whether another page follows.
        let mut rows = orders::list(&self.core.pool, credential_id, after, page_size + 1).await?;
        let next_page_token = if rows.len() > page_size as usize {
            rows.truncate(page_size as usize);
            rows.last()
                .map(|last| {
                    convert::page_token(ListPosition {
                        created_at: last.created_at,
                        id: last.id,
                    })
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListOrdersResponse {
            orders: rows.into_iter().map(convert::order).collect(),
            next_page_token,
        })
    }

    /// Runs a checked approve, decline, suspend, resume or revoke request.
    async fn operate(
        &self,
        request: Result<OperationRequest, OrderError>,
    ) -> Result<Response<Order>, Status> {
        let request = request.map_err(to_status)?;
        let order = lifecycle::run(&self.core, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::order(order)))
    }
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let order_date = self.core.now().to_offset(time::UtcOffset::UTC).date();
        let default_validity_days = self
            .core
            .settings
            .default_validity_days
            .min(validity::public_maximum_days(order_date));
        let request =
            validate::validate(request.into_inner(), default_validity_days).map_err(to_status)?;
        if request.validate_only {
            validate_only::validate_at_entrust(&self.core, &request)
                .await
                .map_err(to_status)?;
            return Ok(Response::new(convert::validated_order(&request)));
        }
        let order = create::create_order(&self.core, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::order(order)))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let id = convert::parse_id("id", &request.get_ref().id).map_err(to_status)?;
        let order = orders::get_visible(&self.core.pool, id)
            .await
            .map_err(|error| to_status(error.into()))?
            .ok_or_else(|| Status::not_found(format!("order {id} not found")))?;
        Ok(Response::new(convert::order(order)))
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let response = self.list(request.into_inner()).await.map_err(to_status)?;
        Ok(Response::new(response))
    }

    async fn start_import(
        &self,
        request: Request<StartImportRequest>,
    ) -> Result<Response<ImportJob>, Status> {
        let credential_id = request.get_ref().credential_id.trim();
        if credential_id.is_empty() {
            return Err(to_status(OrderError::invalid(
                "credential_id",
                "is empty; name the credential whose orders to import",
            )));
        }
        let job = self
            .importer
            .start(credential_id, request.get_ref().restore_deleted)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::import_job(job)))
    }

    async fn get_import_job(
        &self,
        request: Request<GetImportJobRequest>,
    ) -> Result<Response<ImportJob>, Status> {
        let id = convert::parse_id("id", &request.get_ref().id).map_err(to_status)?;
        let job = import_jobs::get(&self.core.pool, id)
            .await
            .map_err(|error| to_status(error.into()))?
            .ok_or_else(|| Status::not_found(format!("import job {id} not found")))?;
        Ok(Response::new(convert::import_job(job)))
    }

    async fn count_orders(
        &self,
        request: Request<CountOrdersRequest>,
    ) -> Result<Response<CountOrdersResponse>, Status> {
        let response = count::count_orders(&self.core.pool, request.get_ref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(response))
    }

    async fn approve_order(
        &self,
        request: Request<ApproveOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.operate(admin::approve(request.get_ref())).await
    }

    async fn decline_order(
        &self,
        request: Request<DeclineOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.operate(admin::decline(request.get_ref())).await
    }

    async fn suspend_order(
        &self,
        request: Request<SuspendOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.operate(admin::suspend(request.get_ref())).await
    }

    async fn resume_order(
        &self,
        request: Request<ResumeOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.operate(admin::resume(request.get_ref())).await
    }

    async fn revoke_order(
        &self,
        request: Request<RevokeOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.operate(admin::revoke(request.get_ref())).await
    }

    async fn renew_order(
        &self,
        request: Request<RenewOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let policy_id = request.get_ref().renewal_policy_id.clone();
        let request = admin::renew(request.get_ref()).map_err(to_status)?;
        renewal_policies::check_manual_renewal(&self.core.pool, request.order_id, &policy_id)
            .await
            .map_err(to_status)?;
        let order = replace::replace(&self.core, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::order(order)))
    }

    async fn reissue_order(
        &self,
        request: Request<ReissueOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = admin::reissue(request.get_ref()).map_err(to_status)?;
        let order = replace::replace(&self.core, &request)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::order(order)))
    }

    async fn delete_order(
        &self,
        request: Request<DeleteOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = request.get_ref();
        let id = convert::parse_id("id", &request.id).map_err(to_status)?;
        let order = delete::delete_order(&self.core, id, &actor_name(&request.actor))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::order(order)))
    }

    async fn get_order_history(
        &self,
        request: Request<GetOrderHistoryRequest>,
    ) -> Result<Response<GetOrderHistoryResponse>, Status> {
        let id = convert::parse_id("id", &request.get_ref().id).map_err(to_status)?;
        let known = orders::get(&self.core.pool, id)
            .await
            .map_err(|error| to_status(error.into()))?;
        if known.is_none() {
            return Err(Status::not_found(format!("order {id} not found")));
        }
        let entries = history::list(&self.core.pool, id)
            .await
            .map_err(|error| to_status(error.into()))?;
        Ok(Response::new(GetOrderHistoryResponse {
            entries: entries.into_iter().map(convert::history_entry).collect(),
        }))
    }
}
