//! A test certificate authority made with rcgen, which signs CSRs the way a CA would.

#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType,
    IsCa, KeyPair, SerialNumber,
};
use time::OffsetDateTime;

/// A self-signed CA certificate and its key.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// Creates a CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("a CA key generates");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("the CA certificate signs");
        Self { issuer }
    }

    /// Returns the CA certificate in PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Signs a CSR into a certificate with the given serial (big-endian bytes) and validity,
    /// returning its PEM.
    pub fn sign(
        &self,
        csr_pem: &str,
        serial: &[u8],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> String {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).expect("the CSR parses");
        csr.params.serial_number = Some(SerialNumber::from_slice(serial));
        csr.params.not_before = not_before;
        csr.params.not_after = not_after;
        csr.signed_by(&self.issuer)
            .expect("the CA signs the CSR")
            .pem()
    }

    /// Issues a certificate for `dns_name` with a fresh key that no inventory holds.
    pub fn issue_with_fresh_key(
        &self,
        dns_name: &str,
        serial: &[u8],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> String {
        let key = KeyPair::generate().expect("a key generates");
        let mut params =
            CertificateParams::new(vec![dns_name.to_owned()]).expect("the DNS name is valid");
        params.distinguished_name.push(DnType::CommonName, dns_name);
        params.serial_number = Some(SerialNumber::from_slice(serial));
        params.not_before = not_before;
        params.not_after = not_after;
        params
            .signed_by(&key, &self.issuer)
            .expect("the CA signs the certificate")
            .pem()
    }
}
