//! The `/certificates` resource: placing an order, fetching one, and listing them.

use futures::TryStreamExt;
use futures::stream::BoxStream;
use reqwest::Method;

use crate::client::{EntrustClient, decode};
use crate::error::Error;
use crate::model::{
    FieldSelection, MAX_PAGE_SIZE, NewOrder, OrderDetail, OrderOutcome, OrderPage, OrderQuery,
    OrderSummary, TRACKING_MARKER_MAX_LEN, TrackingId,
};
use crate::paging::{Page, walk};
use crate::transport::{Call, Repeatable, Success};
use crate::wire::certificates::{
    CertificateList, CertificateRecord, CertificateResponse, NewCertificateRequest, TrackingRequest,
};
use crate::wire::convert;

const NEW_ORDER: &str = "POST /certificates";
const LIST: &str = "GET /certificates";
const GET_ONE: &str = "GET /certificates/{trackingId}";

/// ECS applies `signingAlg` only when the account lets the requester choose, and has issued
/// SHA-2 for every public product since 2016.
const SIGNING_ALGORITHM: &str = "SHA-2";

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field,
        reason: reason.into(),
    }
}

fn non_empty(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Checks an order locally and builds its JSON body.
pub(crate) fn new_order_body(order: &NewOrder) -> Result<Vec<u8>, Error> {
    if order.product.trim().is_empty() {
        return Err(invalid(
            "product",
            "is empty: name a product code such as STANDARD_SSL",
        ));
    }
    if order.csr_pem.trim().is_empty() {
        return Err(invalid(
            "csr_pem",
            "is empty: provide a PKCS#10 request in PEM",
        ));
    }
    if let Some(marker) = &order.tracking_marker
        && marker.chars().count() > TRACKING_MARKER_MAX_LEN
    {
        return Err(invalid(
            "tracking_marker",
            format!(
                "is {} characters long; Entrust stores at most {TRACKING_MARKER_MAX_LEN}",
                marker.chars().count()
            ),
        ));
    }

    let requester = &order.requester;
    let tracking = TrackingRequest {
        tracking_info: order.tracking_marker.as_deref().and_then(non_empty),
        requester_name: non_empty(&requester.name),
        requester_email: non_empty(&requester.email),
        requester_phone: non_empty(&requester.phone),
    };
    let has_tracking = tracking.tracking_info.is_some()
        || tracking.requester_name.is_some()
        || tracking.requester_email.is_some()
        || tracking.requester_phone.is_some();

    let body = NewCertificateRequest {
        cert_type: order.product.trim(),
        csr: order.csr_pem.trim(),
        subject_alt_name: &order.dns_names,
        client_id: order.client_id,
        org: order.organization.as_deref().and_then(non_empty),
        cert_expiry_date: convert::format_expiry_date(order.expires_on),
        cert_lifetime: order.lifetime.map(|lifetime| lifetime.as_iso8601()),
        signing_alg: SIGNING_ALGORITHM,
        eku: order.eku.map(|eku| eku.as_str()),
        queue_for_approval: order.queue_for_approval,
        validate_only: order.validate_only,
        tracking: has_tracking.then_some(tracking),
    };
    serde_json::to_vec(&body).map_err(|source| {
        invalid(
            "order",
            format!("could not be serialized to JSON: {source}"),
        )
    })
}

/// Reads the response to a new order. Every success status means Entrust may hold an order, so
/// a response that does not identify it is [`Error::OutcomeUnknown`], never a decode error.
fn order_outcome(validate_only: bool, success: &Success) -> Result<OrderOutcome, Error> {
    let unknown = || Error::OutcomeUnknown {
        endpoint: NEW_ORDER,
        status: Some(success.status),
        source: None,
    };
    if validate_only && success.status == 200 {
        return Ok(OrderOutcome::Validated);
    }
    let response: CertificateResponse = match decode(NEW_ORDER, success) {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(
                http.response.status_code = success.status,
                error = %error,
                "Entrust accepted an order but its response could not be decoded"
            );
            return Err(unknown());
        }
    };
    let Some(tracking_id) = response.tracking_id.map(TrackingId::new) else {
        tracing::warn!(
            http.response.status_code = success.status,
            "Entrust accepted an order but its response has no tracking id"
        );
        return Err(unknown());
    };
    match convert::issued_certificate(response) {
        Some(issued) => Ok(OrderOutcome::Issued(issued)),
        None => Ok(OrderOutcome::Pending { tracking_id }),
    }
}

/// Builds the query of `GET /certificates` for one page.
pub(crate) fn list_query(
    query: &OrderQuery,
    offset: u64,
    limit: u32,
) -> Vec<(&'static str, String)> {
    let mut params = vec![("offset", offset.to_string()), ("limit", limit.to_string())];
    match &query.fields {
        FieldSelection::All => params.push(("fields", "*".to_owned())),
        FieldSelection::CaDefault => {}
        FieldSelection::Only(fields) => params.push(("fields", fields.join(","))),
    }
    if let Some(sort) = &query.sort {
        params.push(("sort", sort.clone()));
    }
    match query.statuses.as_slice() {
        [] => {}
        [status] => params.push(("status", status.as_str().to_owned())),
        statuses => {
            let values: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
            params.push(("status", format!("in:{}", values.join(","))));
        }
    }
    if let Some(marker) = &query.tracking_marker {
        params.push(("tracking.trackingInfo", equals_filter(marker)));
    }
    if let Some(serial) = &query.serial_number {
        params.push(("serialNumber", serial.as_str().to_owned()));
    }
    params
}

/// Writes an exact-match filter value. ECS filters read `op:value`, so a value containing `:`
/// gets an explicit `eq:` prefix to keep its own colon from being read as an operator.
fn equals_filter(value: &str) -> String {
    if value.contains(':') {
        format!("eq:{value}")
    } else {
        value.to_owned()
    }
}

impl EntrustClient {
    /// Places a new order (`POST /certificates`).
    ///
    /// The call is sent once and never retried: an order costs inventory. When its outcome
    /// cannot be known (timeout, broken connection, 5xx, or a response that does not identify
    /// the order), the error is [`Error::OutcomeUnknown`]; look the order up by its tracking
    /// marker before placing it again.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidInput`] before sending, when the product or CSR is empty or the
    ///   tracking marker is too long.
    /// - [`Error::InvalidRequest`] when Entrust rejects the order, with the fields it names.
    /// - The credential, permission, rate-limit and availability errors of every call.
    pub async fn place_order(&self, order: &NewOrder) -> Result<OrderOutcome, Error> {
        let body = new_order_body(order)?;
        let call = Call {
            endpoint: NEW_ORDER,
            method: Method::POST,
            path: "/certificates".to_owned(),
            query: Vec::new(),
            body: Some(body),
            repeatable: Repeatable::No,
        };
        let success = self.transport.send(call).await?;
        order_outcome(order.validate_only, &success)
    }

    /// Fetches one order with its certificate and chain (`GET /certificates/{trackingId}`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown tracking id.
    pub async fn order(&self, tracking_id: TrackingId) -> Result<OrderDetail, Error> {
        let record: CertificateRecord = self
            .get_json(Call::get(GET_ONE, format!("/certificates/{tracking_id}")))
            .await?;
        Ok(convert::order_detail(record, tracking_id))
    }

    /// Fetches one page of orders (`GET /certificates`) starting at item `offset`.
    pub async fn order_page(&self, query: &OrderQuery, offset: u64) -> Result<OrderPage, Error> {
        let limit = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let (page, summary_offset) = self.fetch_order_page(query, offset, limit).await?;
        Ok(OrderPage {
            orders: page.items,
            offset: summary_offset.unwrap_or(offset),
            total: page.total,
        })
    }

    /// Streams every order matching `query`, page by page, each order once.
    ///
    /// The walk advances by the number of orders received, skips orders it already yielded,
    /// and ends on the reported total, on an empty or repeated page, or after twice the pages
    /// the first total needs plus a margin. So it survives a `total` that changes during the
    /// walk and always ends.
    pub fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
        let limit = query.page_size.clamp(1, MAX_PAGE_SIZE);
        walk(
            LIST,
            limit,
            |order: &OrderSummary| order.tracking_id,
            move |offset, limit| {
                let query = query.clone();
                async move {
                    let (page, _) = self.fetch_order_page(&query, offset, limit).await?;
                    Ok(page)
                }
            },
        )
    }

    /// Collects every order matching `query` into memory; see [`EntrustClient::order_stream`].
    pub async fn all_orders(&self, query: OrderQuery) -> Result<Vec<OrderSummary>, Error> {
        self.order_stream(query).try_collect().await
    }

    async fn fetch_order_page(
        &self,
        query: &OrderQuery,
        offset: u64,
        limit: u32,
    ) -> Result<(Page<OrderSummary>, Option<u64>), Error> {
        let mut call = Call::get(LIST, "/certificates");
        call.query = list_query(query, offset, limit);
        let response: CertificateList = self.get_json(call).await?;
        let received = response.certificates.len() as u64;
        let summary = response.summary.unwrap_or_default();
        let page = Page {
            received,
            total: summary.total,
            items: response
                .certificates
                .into_iter()
                .filter_map(convert::order_summary)
                .collect(),
        };
        Ok((page, summary.offset))
    }
}

#[cfg(test)]
#[path = "certificates_tests.rs"]
mod tests;
