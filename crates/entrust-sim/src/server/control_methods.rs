//! The control operations of [`RunningSimulator`], the in-process twins of the `/_sim` routes.

use anyhow::Context;
use time::{Duration, OffsetDateTime};

use super::RunningSimulator;
use crate::faults::{ArmedFault, Fault};
use crate::identity::ClientIdentity;
use crate::ordering::approve_order;
use crate::portal::{self, DomainUpdate, OrganizationUpdate};
use crate::request_log::LoggedRequest;
use crate::state::Revocation;

impl RunningSimulator {
    /// Returns the request log, oldest first; the same data as `GET /_sim/requests`.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.sim.log.snapshot()
    }

    /// Clears the request log; the same as `DELETE /_sim/requests`.
    pub fn clear_request_log(&self) {
        self.sim.log.clear();
    }

    /// Approves a PENDING order and issues its certificate; the same as
    /// `POST /_sim/certificates/{trackingId}/approve`.
    pub fn approve(&self, tracking_id: i64) -> anyhow::Result<()> {
        self.sim
            .with_state(|state, context| approve_order(state, context, tracking_id))
            .map(|_| ())
            .with_context(|| format!("failed to approve order {tracking_id}"))
    }

    /// Declines a PENDING order with an optional reason (at most 254 characters); the same as
    /// `POST /_sim/certificates/{trackingId}/decline`.
    pub fn decline(&self, tracking_id: i64, reason: Option<&str>) -> anyhow::Result<()> {
        let reason = reason.map(str::to_owned);
        self.sim
            .with_state(|state, context| portal::decline(state, context, tracking_id, reason))
            .with_context(|| format!("failed to decline order {tracking_id}"))
    }

    /// Suspends a READY or ACTIVE order, as if done in the Entrust portal; the same as
    /// `POST /_sim/certificates/{trackingId}/suspend`.
    pub fn suspend(&self, tracking_id: i64) -> anyhow::Result<()> {
        self.sim
            .with_state(|state, context| portal::suspend(state, context, tracking_id))
            .with_context(|| format!("failed to suspend order {tracking_id}"))
    }

    /// Revokes a certificate with CRL reason `reason`, as if done in the Entrust portal. Any
    /// name of the 2.1.0 specification or `unspecified` is accepted. The same as
    /// `POST /_sim/certificates/{trackingId}/revoke`.
    pub fn revoke(
        &self,
        tracking_id: i64,
        reason: &str,
        comment: Option<&str>,
    ) -> anyhow::Result<()> {
        let reason = serde_json::Value::String(reason.to_owned());
        let comment = comment.map(str::to_owned);
        self.sim
            .with_state(|state, context| {
                portal::revoke(state, context, tracking_id, Some(&reason), comment)
            })
            .with_context(|| format!("failed to revoke order {tracking_id}"))
    }

    /// Returns how the certificate of `tracking_id` was revoked, by a revocation or a reissue,
    /// or `None` while it is not revoked. ECS itself does not show this.
    pub fn revocation(&self, tracking_id: i64) -> anyhow::Result<Option<Revocation>> {
        let state = self.sim.state();
        let order = state
            .order(tracking_id)
            .with_context(|| format!("failed to read order {tracking_id}"))?;
        Ok(order.revocation.clone())
    }

    /// Changes domain `domain` of client `client_id` (status, method, eligibility, expiry); the
    /// same as `PATCH /_sim/clients/{clientId}/domains/{domain}`.
    pub fn update_domain(
        &self,
        client_id: i64,
        domain: &str,
        update: &DomainUpdate,
    ) -> anyhow::Result<()> {
        let now = self.sim.now();
        let mut state = self.sim.state();
        portal::update_domain(&mut state, now, client_id, domain, update)
            .with_context(|| format!("failed to update domain {domain} of client {client_id}"))
    }

    /// Sets the verification status of an organization; the same as
    /// `PATCH /_sim/organizations`.
    pub fn update_organization(&self, update: &OrganizationUpdate) -> anyhow::Result<()> {
        let mut state = self.sim.state();
        portal::update_organization(&mut state, update)
            .with_context(|| format!("failed to update organization {:?}", update.name))
    }

    /// Returns the simulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.sim.now()
    }

    /// Moves the manual clock forward by `by` (backward when negative); the same as
    /// `POST /_sim/clock/advance`. Fails unless the simulator runs on a manual clock.
    pub fn advance_clock(&self, by: Duration) -> anyhow::Result<()> {
        self.sim.manual_clock()?.advance(by);
        Ok(())
    }

    /// Moves the manual clock to `instant`; the same as `PUT /_sim/clock`. Fails unless the
    /// simulator runs on a manual clock.
    pub fn set_clock(&self, instant: OffsetDateTime) -> anyhow::Result<()> {
        self.sim.manual_clock()?.set(instant);
        Ok(())
    }

    /// Arms a fault and returns its id; the same as `POST /_sim/faults`.
    pub fn inject_fault(&self, fault: Fault) -> anyhow::Result<u64> {
        fault
            .check()
            .map_err(|message| anyhow::anyhow!("invalid fault: {message}"))?;
        Ok(self.sim.faults.arm(fault))
    }

    /// Returns the armed faults with their remaining counts; the same as `GET /_sim/faults`.
    pub fn armed_faults(&self) -> Vec<ArmedFault> {
        self.sim.faults.armed()
    }

    /// Disarms the fault `id`; reports whether it was armed. The same as
    /// `DELETE /_sim/faults/{id}`.
    pub fn disarm_fault(&self, id: u64) -> bool {
        self.sim.faults.disarm(id)
    }

    /// Disarms every fault; the same as `DELETE /_sim/faults`.
    pub fn clear_faults(&self) {
        self.sim.faults.clear();
    }

    /// Sets the requests each API user may send per 30-second window (`None`: no limit) and
    /// starts every window afresh; the same as `PUT /_sim/rate-limit`.
    pub fn set_rate_limit(&self, quota: Option<u32>) -> anyhow::Result<()> {
        if quota == Some(0) {
            anyhow::bail!("the rate-limit quota must be at least 1; use None for no limit");
        }
        self.sim.limiter.set_quota(quota);
        Ok(())
    }

    /// Returns the certificate and key the simulator generated for API user `user`
    /// (`generateClientCertificate`), for presenting over mutual TLS.
    pub fn client_identity(&self, user: &str) -> Option<ClientIdentity> {
        self.sim.bindings.generated(user).cloned()
    }

    /// Returns the account to the scenario's starting state and clears the request log, the
    /// faults and the rate-limit windows; the same as `POST /_sim/reset`. The clock, the CA and
    /// the client certificates stay.
    pub fn reset(&self) {
        self.sim.reset();
    }
}
