//! The gRPC edge: `certitude.order.v1.OrderService`. Handlers check the request, call the
//! service's operations and map their errors to statuses (see [`status`]).

mod convert;
mod count;
mod status;

use certitude_proto::order::v1::order_service_server::OrderService;
use certitude_proto::order::v1::{
    CountOrdersRequest, CountOrdersResponse, CreateOrderRequest, GetImportJobRequest,
    GetOrderRequest, ImportJob, ListOrdersRequest, ListOrdersResponse, Order, StartImportRequest,
};
use tonic::{Request, Response, Status};

use crate::core::Core;
use crate::error::OrderError;
use crate::import::Importer;
use crate::orders::{create, validate};
use crate::store::import_jobs;
use crate::store::orders::{self, ListPosition};
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
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = validate::validate(
            request.into_inner(),
            self.core.settings.default_validity_days,
        )
        .map_err(to_status)?;
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
        let order = orders::get(&self.core.pool, id)
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
            .start(credential_id)
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
}
