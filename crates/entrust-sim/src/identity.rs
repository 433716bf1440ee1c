//! TLS identities from the simulator's CA: the HTTPS server certificate, and the client
//! certificates bound to API users for mutual TLS.
//!
//! An API user is bound to a certificate by `clientCertificatePem` (a certificate the test
//! brings, whose key it holds) or by `generateClientCertificate` (the simulator issues one at
//! start and hands out its key through [`crate::RunningSimulator::client_identity`]). A bound
//! user's requests must arrive over TLS with exactly that certificate; the TLS handshake proves
//! the client has its key.
//!
//! TLS clients check these certificates against the operating system's time, not the
//! simulator's clock, so they are valid from a day before the earlier of the two until a year
//! after the later.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};
use x509_parser::pem::parse_x509_pem;

use crate::ca::{CaError, LeafRequest, TestCa};
use crate::model::{Eku, KeyType};
use crate::scenario::ApiUser;

/// A client certificate and its private key, for a test to present over mutual TLS.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificate in PEM.
    pub certificate_pem: String,
    /// The PKCS#8 private key in PEM; redacted in `Debug`.
    pub private_key_pem: SecretString,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificate_pem", &self.certificate_pem)
            .field("private_key_pem", &"[redacted]")
            .finish()
    }
}

/// A server certificate chain and key in the DER forms rustls takes.
pub struct ServerIdentity {
    /// The server certificate, then the intermediate.
    pub chain_der: Vec<Vec<u8>>,
    /// The PKCS#8 private key.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("certificates", &self.chain_der.len())
            .finish_non_exhaustive()
    }
}

/// Errors making identities.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The CA or key generation failed.
    #[error("failed to issue the {purpose} certificate")]
    Issue {
        /// The certificate's purpose.
        purpose: String,
        /// The CA failure.
        #[source]
        source: CaError,
    },
    /// Generating a key failed.
    #[error("failed to generate a key for the {purpose} certificate")]
    Key {
        /// The key's purpose.
        purpose: String,
        /// The rcgen failure.
        #[source]
        source: rcgen::Error,
    },
    /// A bound certificate could not be decoded.
    #[error("the client certificate of API user {user} is not a PEM certificate")]
    BoundCertificate {
        /// The API user.
        user: String,
    },
}

/// The client certificates bound to API users.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// DER of the certificate each bound user must present, by user name.
    bound: HashMap<String, Vec<u8>>,
    /// Identities the simulator generated, by user name.
    generated: HashMap<String, ClientIdentity>,
}

impl Bindings {
    /// Issues the generated client certificates of `users` and decodes the brought ones.
    pub fn new(users: &[ApiUser], ca: &TestCa, now: OffsetDateTime) -> Result<Self, IdentityError> {
        let mut bindings = Bindings::default();
        for user in users {
            if user.generate_client_certificate {
                let (identity, der) = issue_client(ca, &user.user_name, now)?;
                bindings.bound.insert(user.user_name.clone(), der);
                bindings.generated.insert(user.user_name.clone(), identity);
            } else if let Some(pem) = &user.client_certificate_pem {
                let der = parse_x509_pem(pem.as_bytes())
                    .map(|(_, pem)| pem.contents)
                    .map_err(|_| IdentityError::BoundCertificate {
                        user: user.user_name.clone(),
                    })?;
                bindings.bound.insert(user.user_name.clone(), der);
            }
        }
        Ok(bindings)
    }

    /// Returns the DER certificate `user` must present, if one is bound.
    pub fn bound(&self, user: &str) -> Option<&[u8]> {
        self.bound.get(user).map(Vec::as_slice)
    }

    /// Returns the identity the simulator generated for `user`.
    pub fn generated(&self, user: &str) -> Option<&ClientIdentity> {
        self.generated.get(user)
    }
}

/// Issues the HTTPS server certificate for `localhost`, 127.0.0.1, ::1 and `listen_ip` (when
/// it is a specific address).
pub fn issue_server(
    ca: &TestCa,
    listen_ip: IpAddr,
    now: OffsetDateTime,
) -> Result<ServerIdentity, IdentityError> {
    let purpose = "HTTPS server";
    let key = generate_key(purpose)?;
    let mut ip_addresses = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !listen_ip.is_unspecified() && !ip_addresses.contains(&listen_ip) {
        ip_addresses.push(listen_ip);
    }
    let issued = issue_leaf(ca, &key, "localhost", ip_addresses, Eku::ServerAuth, now)
        .map_err(|source| issue_error(purpose, source))?;
    let chain_der = [issued.as_str(), ca.intermediate_pem()]
        .iter()
        .filter_map(|pem| parse_x509_pem(pem.as_bytes()).ok())
        .map(|(_, pem)| pem.contents)
        .collect();
    Ok(ServerIdentity {
        chain_der,
        key_der: key.serialize_der(),
    })
}

fn issue_client(
    ca: &TestCa,
    user: &str,
    now: OffsetDateTime,
) -> Result<(ClientIdentity, Vec<u8>), IdentityError> {
    let purpose = format!("client certificate of API user {user}");
    let key = generate_key(&purpose)?;
    let pem = issue_leaf(ca, &key, user, Vec::new(), Eku::ClientAuth, now)
        .map_err(|source| issue_error(&purpose, source))?;
    let der = parse_x509_pem(pem.as_bytes())
        .map(|(_, parsed)| parsed.contents)
        .map_err(|_| IdentityError::BoundCertificate {
            user: user.to_owned(),
        })?;
    let identity = ClientIdentity {
        certificate_pem: pem,
        private_key_pem: SecretString::from(key.serialize_pem()),
    };
    Ok((identity, der))
}

fn generate_key(purpose: &str) -> Result<KeyPair, IdentityError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| IdentityError::Key {
        purpose: purpose.to_owned(),
        source,
    })
}

fn issue_error(purpose: &str, source: CaError) -> IdentityError {
    IdentityError::Issue {
        purpose: purpose.to_owned(),
        source,
    }
}

/// Issues a TLS leaf for `key` and returns its PEM.
fn issue_leaf(
    ca: &TestCa,
    key: &KeyPair,
    common_name: &str,
    ip_addresses: Vec<IpAddr>,
    eku: Eku,
    now: OffsetDateTime,
) -> Result<String, CaError> {
    let system_now = OffsetDateTime::now_utc();
    let dns_names = if eku == Eku::ServerAuth {
        vec![common_name.to_owned()]
    } else {
        Vec::new()
    };
    let issued = ca.issue(&LeafRequest {
        spki_der: key.subject_public_key_info(),
        key_type: KeyType::Ec,
        common_name: common_name.to_owned(),
        organizational_units: Vec::new(),
        organization: None,
        dns_names,
        ip_addresses,
        serial: None,
        not_before: now.min(system_now) - Duration::days(1),
        not_after: now.max(system_now) + Duration::days(365),
        eku,
    })?;
    Ok(issued.pem)
}
