//! Account resources: application version, organizations, domains and inventory.

use futures::TryStreamExt;
use futures::stream::BoxStream;

use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{Domain, Organization, Product};
use crate::paging::{Page, walk};
use crate::transport::Call;
use crate::wire::account::{DomainList, InventoryResponse, OrganizationList, VersionResponse};
use crate::wire::convert;

/// Domains requested per page. Smaller than the certificate page because ECS may cap domain
/// lists lower than 1000 (one production client falls back to 100 after an error at 1000).
const DOMAIN_PAGE_SIZE: u32 = 250;

fn domain_key(domain: &Domain) -> (String, Option<u32>) {
    (domain.name.clone(), domain.client_id)
}

impl EntrustClient {
    /// Reads the API's build version (`GET /application/version`), the cheapest authenticated
    /// call: use it to check a credential. Returns an empty string when the body has no
    /// version.
    pub async fn version(&self) -> Result<String, Error> {
        let response: VersionResponse = self
            .get_json(Call::get(
                "GET /application/version",
                "/application/version",
            ))
            .await?;
        Ok(response.version.unwrap_or_default())
    }

    /// Lists the organizations of every client of the account (`GET /organizations`).
    pub async fn organizations(&self) -> Result<Vec<Organization>, Error> {
        let response: OrganizationList = self
            .get_json(Call::get("GET /organizations", "/organizations"))
            .await?;
        Ok(response
            .organizations
            .into_iter()
            .filter_map(convert::organization)
            .collect())
    }

    /// Lists the products the account can order with their inventory (`GET /inventories`).
    pub async fn products(&self) -> Result<Vec<Product>, Error> {
        let response: InventoryResponse = self
            .get_json(Call::get("GET /inventories", "/inventories"))
            .await?;
        Ok(response
            .into_items()
            .into_iter()
            .filter_map(convert::product)
            .collect())
    }

    /// Streams the domains of every client of the account (`GET /domains`, all pages).
    pub fn domain_stream(&self) -> BoxStream<'_, Result<Domain, Error>> {
        self.domain_walk("GET /domains", "/domains".to_owned())
    }

    /// Lists the domains of every client of the account (`GET /domains`, all pages).
    pub async fn domains(&self) -> Result<Vec<Domain>, Error> {
        self.domain_stream().try_collect().await
    }

    /// Lists the domains of one client (`GET /clients/{clientId}/domains`, all pages).
    ///
    /// Domains without a `clientId` in the response get `client_id`.
    pub async fn client_domains(&self, client_id: u32) -> Result<Vec<Domain>, Error> {
        self.client_domain_stream(client_id).try_collect().await
    }

    pub(super) fn domain_walk(
        &self,
        endpoint: &'static str,
        path: String,
    ) -> BoxStream<'_, Result<Domain, Error>> {
        walk(
            endpoint,
            DOMAIN_PAGE_SIZE,
            domain_key,
            move |offset, limit| {
                let mut call = Call::get(endpoint, path.clone());
                call.query = vec![
                    ("offset".to_owned(), offset.to_string()),
                    ("limit".to_owned(), limit.to_string()),
                ];
                async move {
                    let response: DomainList = self.get_json(call).await?;
                    let received = response.domains.len() as u64;
                    Ok(Page {
                        received,
                        total: response.summary.and_then(|summary| summary.total),
                        items: response
                            .domains
                            .into_iter()
                            .filter_map(convert::domain)
                            .collect(),
                    })
                }
            },
        )
    }
}
