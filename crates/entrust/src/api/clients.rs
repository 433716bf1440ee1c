//! Sub-accounts: `GET /clients`, `GET /clients/{clientId}` and
//! `GET /clients/{clientId}/organizations`.

use crate::client::EntrustClient;
use crate::error::Error;
use crate::model::{AccountClient, AccountClientDetail, Organization};
use crate::transport::Call;
use crate::wire::account::OrganizationList;
use crate::wire::clients::{ClientDetailRecord, ClientList};
use crate::wire::{convert, convert_account};

impl EntrustClient {
    /// Lists the sub-accounts (ECS clients) of the account (`GET /clients`).
    pub async fn clients(&self) -> Result<Vec<AccountClient>, Error> {
        let response: ClientList = self.get_json(Call::get("GET /clients", "/clients")).await?;
        Ok(response
            .clients
            .into_iter()
            .filter_map(convert_account::account_client)
            .collect())
    }

    /// Fetches one sub-account with its address and organizations
    /// (`GET /clients/{clientId}`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown client.
    pub async fn client(&self, client_id: u32) -> Result<AccountClientDetail, Error> {
        let record: ClientDetailRecord = self
            .get_json(Call::get(
                "GET /clients/{clientId}",
                format!("/clients/{client_id}"),
            ))
            .await?;
        Ok(convert_account::account_client_detail(record, client_id))
    }

    /// Lists the organizations of one sub-account
    /// (`GET /clients/{clientId}/organizations`); each carries `client_id`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown client.
    pub async fn client_organizations(&self, client_id: u32) -> Result<Vec<Organization>, Error> {
        let response: OrganizationList = self
            .get_json(Call::get(
                "GET /clients/{clientId}/organizations",
                format!("/clients/{client_id}/organizations"),
            ))
            .await?;
        Ok(response
            .organizations
            .into_iter()
            .filter_map(convert::organization)
            .map(|mut organization| {
                organization.client_id.get_or_insert(client_id);
                organization
            })
            .collect())
    }
}
