//! Entrust clients kept per credential between syncs. Building a client loads the platform's
//! trusted root certificates (about 3 ms in the catalog benchmark) and starts without open
//! connections. A kept client skips both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use entrust::{EntrustClient, Error};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::entrust_api::EntrustTarget;

/// Time after which a kept client is built again, even when its credential did not change.
const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Maximum number of kept clients; past it, the oldest half is dropped.
const MAX_CLIENTS: usize = 1024;

/// Clients by credential, each valid while the credential's URL, user name, API key and client
/// certificate stay the same.
#[derive(Debug, Clone, Default)]
pub struct ClientCache {
    clients: Arc<Mutex<HashMap<Uuid, KeptClient>>>,
}

#[derive(Debug)]
struct KeptClient {
    target: EntrustTarget,
    built_at: Instant,
    client: EntrustClient,
}

impl ClientCache {
    /// Returns the kept client of `credential_id` for `target`, or builds one with `build` and
    /// keeps it.
    pub fn get_or_build(
        &self,
        credential_id: Uuid,
        target: &EntrustTarget,
        build: impl FnOnce() -> Result<EntrustClient, Error>,
    ) -> Result<EntrustClient, Error> {
        {
            let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(kept) = clients.get(&credential_id)
                && same_target(&kept.target, target)
                && kept.built_at.elapsed() < MAX_AGE
            {
                return Ok(kept.client.clone());
            }
        }
        let client = build()?;
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.len() >= MAX_CLIENTS {
            let mut ages: Vec<Instant> = clients.values().map(|kept| kept.built_at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            clients.retain(|_, kept| kept.built_at > cutoff);
        }
        clients.insert(
            credential_id,
            KeptClient {
                target: target.clone(),
                built_at: Instant::now(),
                client: client.clone(),
            },
        );
        Ok(client)
    }

    /// Drops the kept client of `credential_id`, for a credential that was deleted.
    pub fn forget(&self, credential_id: Uuid) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients.remove(&credential_id);
    }
}

/// Tells whether two targets call Entrust identically, secrets included.
fn same_target(kept: &EntrustTarget, current: &EntrustTarget) -> bool {
    let same_identity = match (&kept.client_identity, &current.client_identity) {
        (None, None) => true,
        (Some(kept), Some(current)) => {
            kept.certificate_pem == current.certificate_pem
                && kept.private_key_pem.expose_secret() == current.private_key_pem.expose_secret()
        }
        _ => false,
    };
    kept.api_base_url == current.api_base_url
        && kept.username == current.username
        && kept.api_key.expose_secret() == current.api_key.expose_secret()
        && same_identity
}

#[cfg(test)]
mod tests {
    use entrust::{EntrustConfig, SecretString};

    use super::*;

    fn target(api_key: &str) -> EntrustTarget {
        EntrustTarget {
            api_base_url: "https://entrust.invalid/enterprise/v2"
                .parse()
                .expect("the URL parses"),
            username: "user".to_owned(),
            api_key: SecretString::from(api_key),
            client_identity: None,
        }
    }

    fn build(builds: &mut u32, target: &EntrustTarget) -> Result<EntrustClient, Error> {
        *builds += 1;
        EntrustClient::new(EntrustConfig::new(
            target.api_base_url.clone(),
            target.username.clone(),
            target.api_key.clone(),
        ))
    }

    #[test]
    fn same_target_reuses_the_client() {
        let cache = ClientCache::default();
        let id = Uuid::new_v4();
        let old = target("key-1");
        let mut builds = 0;

        cache
            .get_or_build(id, &old, || build(&mut builds, &old))
            .expect("built");
        cache
            .get_or_build(id, &old, || build(&mut builds, &old))
            .expect("kept");

        assert_eq!(builds, 1);
    }

    #[test]
    fn rotated_key_or_forgotten_credential_builds_again() {
        let cache = ClientCache::default();
        let id = Uuid::new_v4();
        let old = target("key-1");
        let rotated = target("key-2");
        let mut builds = 0;

        cache
            .get_or_build(id, &old, || build(&mut builds, &old))
            .expect("built");
        cache
            .get_or_build(id, &rotated, || build(&mut builds, &rotated))
            .expect("built for the new key");
        cache.forget(id);
        cache
            .get_or_build(id, &rotated, || build(&mut builds, &rotated))
            .expect("built after forgetting");

        assert_eq!(builds, 3);
    }
}
