//! `Debug` for the generated messages that carry secrets: every field but the secrets is shown.

use std::fmt;

use crate::credential::v1::{AddCredentialRequest, ResolvedCredential, UpdateCredentialRequest};
use crate::inventory::v1::{
    CertificateFile, ExportCertificateRequest, ExportedCertificate, ImportCertificateFilesRequest,
};

const REDACTED: &str = "[REDACTED]";

impl fmt::Debug for AddCredentialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddCredentialRequest")
            .field("name", &self.name)
            .field("api_base_url", &self.api_base_url)
            .field("username", &self.username)
            .field("api_key", &REDACTED)
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &REDACTED)
            .field("is_administrator", &self.is_administrator)
            .finish()
    }
}

impl fmt::Debug for UpdateCredentialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| REDACTED);
        f.debug_struct("UpdateCredentialRequest")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("api_key", &redacted(&self.api_key))
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &redacted(&self.client_key_pem))
            .field("remove_client_certificate", &self.remove_client_certificate)
            .field("is_administrator", &self.is_administrator)
            .finish()
    }
}

impl fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("credential", &self.credential)
            .field("api_key", &REDACTED)
            .field("client_certificate_pem", &self.client_certificate_pem)
            .field("client_key_pem", &REDACTED)
            .finish()
    }
}

/// Shows the length of file content, which may contain a private key, in place of the bytes.
struct ContentLength(usize);

impl fmt::Debug for ContentLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} bytes]", self.0)
    }
}

impl fmt::Debug for CertificateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateFile")
            .field("name", &self.name)
            .field("content", &ContentLength(self.content.len()))
            .finish()
    }
}

impl fmt::Debug for ImportCertificateFilesRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportCertificateFilesRequest")
            .field("files", &self.files)
            .field("password", &REDACTED)
            .field("actor", &self.actor)
            .finish()
    }
}

impl fmt::Debug for ExportCertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportCertificateRequest")
            .field("id", &self.id)
            .field("format", &self.format)
            .field("part", &self.part)
            .field("password", &REDACTED)
            .field("legacy", &self.legacy)
            .field("actor", &self.actor)
            .finish()
    }
}

impl fmt::Debug for ExportedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedCertificate")
            .field("content", &ContentLength(self.content.len()))
            .field("media_type", &self.media_type)
            .field("file_name", &self.file_name)
            .field("key_id", &self.key_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_api_key_and_client_key() {
        let request = AddCredentialRequest {
            name: "demo".into(),
            api_key: "key-that-must-not-show".into(),
            client_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
            ..Default::default()
        };
        let resolved = ResolvedCredential {
            api_key: "key-that-must-not-show".into(),
            client_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
            ..Default::default()
        };

        let update = UpdateCredentialRequest {
            api_key: Some("key-that-must-not-show".into()),
            client_key_pem: Some("-----BEGIN PRIVATE KEY-----".into()),
            ..Default::default()
        };

        for debug in [
            format!("{request:?}"),
            format!("{resolved:?}"),
            format!("{update:?}"),
        ] {
            assert!(!debug.contains("must-not-show"), "{debug}");
            assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        }
    }

    #[test]
    fn debug_hides_file_content_and_passwords() {
        let key = b"-----BEGIN PRIVATE KEY-----".to_vec();
        let import = ImportCertificateFilesRequest {
            files: vec![CertificateFile {
                name: "server.pem".into(),
                content: key.clone(),
            }],
            password: "password-that-must-not-show".into(),
            actor: "admin".into(),
        };
        let export = ExportCertificateRequest {
            password: "password-that-must-not-show".into(),
            ..Default::default()
        };
        let exported = ExportedCertificate {
            content: key,
            ..Default::default()
        };

        for debug in [
            format!("{import:?}"),
            format!("{export:?}"),
            format!("{exported:?}"),
        ] {
            assert!(!debug.contains("must-not-show"), "{debug}");
            assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        }
        assert!(format!("{import:?}").contains("server.pem"));
        assert!(format!("{exported:?}").contains("[27 bytes]"));
    }
}
