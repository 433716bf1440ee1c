//! Client domains, their verification values, and an index by client and name.
//!
//! While a domain awaits verification (INITIAL_VERIFICATION or RE_VERIFICATION), ECS shows the
//! values the owner must publish: a TXT record, a file for the web server, or the addresses the
//! verification mail went to. Each add or re-verify draws new random values, which become
//! visible only after the account's delay. Until then the previous values (if any) are shown,
//! so clients can tell when new values have arrived.

use std::collections::HashMap;

use rand::Rng;
use time::OffsetDateTime;

use crate::model::{DomainStatus, VerificationMethod};

/// The mailboxes ECS builds for email verification of a base domain.
pub const CONSTRUCTED_MAILBOXES: &[&str] = &[
    "admin",
    "administrator",
    "webmaster",
    "hostmaster",
    "postmaster",
];

/// The values of one verification attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The method the values are for.
    pub method: VerificationMethod,
    /// Random value of the TXT record and of the web-server file.
    pub token: String,
    /// Random name of the web-server file, without `.txt`.
    pub file_name: String,
    /// Addresses the verification mail went to (EMAIL).
    pub emails: Vec<String>,
    /// When the values become visible.
    pub available_at: OffsetDateTime,
}

impl Challenge {
    /// Draws new random values for `method`, visible from `available_at`.
    pub fn new(
        method: VerificationMethod,
        emails: Vec<String>,
        available_at: OffsetDateTime,
    ) -> Challenge {
        Challenge {
            method,
            token: random_hex(16),
            file_name: random_hex(8),
            emails,
            available_at,
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill(buffer.as_mut_slice());
    hex::encode(buffer)
}

/// A domain of a client.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Domain name, lower case.
    pub domain_name: String,
    /// The owning client.
    pub client_id: i64,
    /// Verification method.
    pub verification_method: VerificationMethod,
    /// Verification status.
    pub verification_status: DomainStatus,
    /// Whether OV certificates may use the domain.
    pub ov_eligible: bool,
    /// Expiry of the OV verification.
    pub ov_expiry: Option<OffsetDateTime>,
    /// Whether EV certificates may use the domain.
    pub ev_eligible: bool,
    /// Expiry of the EV verification.
    pub ev_expiry: Option<OffsetDateTime>,
    /// The latest verification values.
    pub challenge: Option<Challenge>,
    /// The values before the latest add or re-verify, shown until the latest become visible.
    pub previous_challenge: Option<Challenge>,
}

impl Domain {
    /// Returns the verification values to show at `now`: none unless the domain awaits
    /// verification, else the latest values once visible, else the previous ones.
    pub fn visible_challenge(&self, now: OffsetDateTime) -> Option<&Challenge> {
        let awaiting = matches!(
            self.verification_status,
            DomainStatus::InitialVerification | DomainStatus::ReVerification
        );
        if !awaiting {
            return None;
        }
        match &self.challenge {
            Some(challenge) if challenge.available_at <= now => Some(challenge),
            _ => self.previous_challenge.as_ref(),
        }
    }

    /// Starts a new verification attempt with `method`, keeping the current values as the
    /// previous ones.
    pub fn restart_verification(
        &mut self,
        method: VerificationMethod,
        emails: Vec<String>,
        available_at: OffsetDateTime,
    ) {
        self.verification_method = method;
        self.previous_challenge = self.challenge.take();
        self.challenge = Some(Challenge::new(method, emails, available_at));
    }
}

/// The domains of every client, in the order they were added, indexed by client and name.
#[derive(Debug, Clone, Default)]
pub struct Domains {
    list: Vec<Domain>,
    index: HashMap<(i64, String), usize>,
}

impl Domains {
    /// Builds the collection; a later duplicate of a client and name replaces the index entry.
    pub fn new(list: Vec<Domain>) -> Domains {
        let index = list
            .iter()
            .enumerate()
            .map(|(position, domain)| ((domain.client_id, domain.domain_name.clone()), position))
            .collect();
        Domains { list, index }
    }

    /// Returns every domain, in the order added.
    pub fn iter(&self) -> std::slice::Iter<'_, Domain> {
        self.list.iter()
    }

    /// Returns the domain `name` (lower case) of `client_id`.
    pub fn get(&self, client_id: i64, name: &str) -> Option<&Domain> {
        let position = self.index.get(&(client_id, name.to_owned()))?;
        self.list.get(*position)
    }

    /// Returns the domain `name` (lower case) of `client_id` for changing.
    pub fn get_mut(&mut self, client_id: i64, name: &str) -> Option<&mut Domain> {
        let position = self.index.get(&(client_id, name.to_owned()))?;
        self.list.get_mut(*position)
    }

    /// Adds a domain; the caller checks that the client does not have it yet.
    pub fn push(&mut self, domain: Domain) {
        self.index.insert(
            (domain.client_id, domain.domain_name.clone()),
            self.list.len(),
        );
        self.list.push(domain);
    }
}
