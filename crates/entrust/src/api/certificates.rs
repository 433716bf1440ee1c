//! The `/certificates` resource: placing an order, fetching one, and listing them.

use futures::TryStreamExt;
use futures::stream::BoxStream;
use reqwest::Method;

use super::bodies::{SIGNING_ALGORITHM, invalid, non_empty, to_json, tracking};
use super::query::list_query;
use crate::client::{EntrustClient, decode};
use crate::error::Error;
use crate::model::{
    MAX_PAGE_SIZE, NewOrder, OrderDetail, OrderOutcome, OrderPage, OrderQuery, OrderSummary,
    SerialNumber, TrackingId,
};
use crate::paging::{Page, walk};
use crate::transport::{Call, Repeatable, Success};
use crate::wire::certificates::{
    CertificateList, CertificateRecord, CertificateResponse, NewCertificateRequest,
};
use crate::wire::convert;

const NEW_ORDER: &str = "POST /certificates";
const LIST: &str = "GET /certificates";
const GET_ONE: &str = "GET /certificates/{trackingId}";
const GET_BY_THUMBPRINT: &str = "GET /certificates/thumbprints/{thumbprint}";

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
    let tracking = tracking(order.tracking_marker.as_deref(), &order.requester, &[])?;

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
        tracking,
    };
    to_json("order", &body)
}

/// Reads the response to a call that may create an order: a new order, a renewal or a
/// reissue. Every success status means Entrust may hold an order, so a response that does not
/// identify it is [`Error::OutcomeUnknown`], never a decode error.
pub(crate) fn order_outcome(
    endpoint: &'static str,
    validate_only: bool,
    success: &Success,
) -> Result<OrderOutcome, Error> {
    let unknown = || Error::OutcomeUnknown {
        endpoint,
        status: Some(success.status),
        source: None,
    };
    if validate_only && success.status == 200 {
        return Ok(OrderOutcome::Validated);
    }
    let response: CertificateResponse = match decode(endpoint, success) {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(
                entrust.endpoint = endpoint,
                http.response.status_code = success.status,
                error = %error,
                "Entrust accepted an order but its response could not be decoded"
            );
            return Err(unknown());
        }
    };
    let Some(tracking_id) = response.tracking_id.map(TrackingId::new) else {
        tracing::warn!(
            entrust.endpoint = endpoint,
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

/// Identifies a listed order for the walk's duplicate detection. Records of certificates not
/// ordered through ECS all have tracking id 0, so their serial number distinguishes them.
fn order_key(order: &OrderSummary) -> (TrackingId, Option<SerialNumber>) {
    let serial = (order.tracking_id.get() == 0)
        .then(|| order.serial_number.clone())
        .flatten();
    (order.tracking_id, serial)
}

/// Normalizes a certificate thumbprint to upper-case hexadecimal without separators.
fn normalize_thumbprint(thumbprint: &str) -> Result<String, Error> {
    let digits: String = thumbprint
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(
            "thumbprint",
            format!(
                "{thumbprint:?} is not hexadecimal: give the SHA-1 fingerprint of the \
                 certificate's DER, for example 3A7F...C2"
            ),
        ));
    }
    Ok(digits)
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
        order_outcome(NEW_ORDER, order.validate_only, &success)
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

    /// Fetches a certificate the account has on record by its SHA-1 thumbprint
    /// (`GET /certificates/thumbprints/{thumbprint}`), as for records with tracking id 0 that
    /// were not ordered through ECS. Their status is usually `UNKNOWN`.
    ///
    /// The thumbprint may be written in either case and with `:` separators.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a thumbprint that is not hexadecimal; [`Error::NotFound`]
    /// for an unknown one.
    pub async fn order_by_thumbprint(&self, thumbprint: &str) -> Result<OrderDetail, Error> {
        let thumbprint = normalize_thumbprint(thumbprint)?;
        let record: CertificateRecord = self
            .get_json(Call::get(
                GET_BY_THUMBPRINT,
                format!("/certificates/thumbprints/{thumbprint}"),
            ))
            .await?;
        Ok(convert::order_detail(record, TrackingId::new(0)))
    }

    /// Fetches one page of orders (`GET /certificates`) starting at item `offset`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before sending, for a filter the CA cannot express.
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
    /// walk and always ends. A filter the CA cannot express yields one
    /// [`Error::InvalidInput`] and nothing is sent.
    pub fn order_stream(&self, query: OrderQuery) -> BoxStream<'_, Result<OrderSummary, Error>> {
        let limit = query.page_size.clamp(1, MAX_PAGE_SIZE);
        walk(LIST, limit, order_key, move |offset, limit| {
            let query = query.clone();
            async move {
                let (page, _) = self.fetch_order_page(&query, offset, limit).await?;
                Ok(page)
            }
        })
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
        call.query = list_query(query, offset, limit)?;
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
