//! ImportCertificateFiles and ExportCertificate: request checks, and conversion of the results
//! of [`crate::files`].

use certitude_certfile::Pkcs12Encryption;
use certitude_proto::inventory::v1 as proto;
use secrecy::SecretString;
use tonic::Status;

use crate::files::{
    self, ExportError, ExportRequest, ExportedFile, Exporter, FileImporter, FileReport,
    ImportError, ImportOutcome, MAX_FILE_NAME_CHARS, MAX_IMPORT_BYTES, MAX_IMPORT_FILES,
    MAX_PASSWORD_CHARS, PemSelection, UploadedFile,
};
use crate::grpc::certificates::{non_empty, parse_certificate_id};
use crate::grpc::status::{internal, invalid, unavailable};

/// Largest ImportCertificateFiles message the server decodes: [`MAX_IMPORT_BYTES`] of content
/// plus 1 MiB for file names, the password and protobuf framing. A larger message fails with
/// OUT_OF_RANGE before it reaches the checks here.
pub const MAX_REQUEST_BYTES: usize = MAX_IMPORT_BYTES + 1024 * 1024;

/// Imports the request's files and returns one result per file.
pub async fn import(
    importer: &FileImporter,
    request: proto::ImportCertificateFilesRequest,
) -> Result<proto::ImportCertificateFilesResponse, Status> {
    let (files, password) = validate_import(request.files, request.password)?;
    let actor = non_empty(&request.actor).unwrap_or("unnamed caller");
    let reports = importer
        .import(files, password, actor)
        .await
        .map_err(import_status)?;
    Ok(import_response(reports))
}

/// Checks the limits and converts the files; an empty password means none.
pub fn validate_import(
    files: Vec<proto::CertificateFile>,
    password: String,
) -> Result<(Vec<UploadedFile>, Option<SecretString>), Status> {
    if files.is_empty() {
        return Err(invalid("files", "is empty: send at least one file"));
    }
    if files.len() > MAX_IMPORT_FILES {
        return Err(invalid(
            "files",
            format!(
                "{} files exceed the limit of {MAX_IMPORT_FILES} per request: split them into \
                 several requests",
                files.len()
            ),
        ));
    }
    let total: usize = files.iter().map(|file| file.content.len()).sum();
    if total > MAX_IMPORT_BYTES {
        return Err(invalid(
            "files",
            format!(
                "{total} bytes of file content exceed the limit of {MAX_IMPORT_BYTES} bytes \
                 (64 MiB) per request: split the files into several requests"
            ),
        ));
    }
    for (index, file) in files.iter().enumerate() {
        if file.name.chars().count() > MAX_FILE_NAME_CHARS {
            return Err(invalid(
                &format!("files[{index}].name"),
                format!("is longer than {MAX_FILE_NAME_CHARS} characters: shorten it"),
            ));
        }
    }
    let password = checked_password("password", password)?;
    let files = files
        .into_iter()
        .map(|file| UploadedFile {
            name: file.name,
            content: file.content,
        })
        .collect();
    Ok((files, password))
}

fn checked_password(field: &str, password: String) -> Result<Option<SecretString>, Status> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid(
            field,
            format!("is longer than {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok((!password.is_empty()).then(|| SecretString::from(password)))
}

fn import_status(error: ImportError) -> Status {
    if error.is_unavailable() {
        unavailable(&error)
    } else {
        internal(&error)
    }
}

fn import_response(reports: Vec<FileReport>) -> proto::ImportCertificateFilesResponse {
    let mut response = proto::ImportCertificateFilesResponse::default();
    for report in reports {
        let result = file_result(report);
        response.certificates_added += result.certificates_added;
        response.duplicates += result.duplicates;
        response.waiting += result.waiting;
        response.keys_stored += result.keys_stored;
        response.files_failed += u32::from(!result.error.is_empty());
        response.files.push(result);
    }
    response
}

fn file_result(report: FileReport) -> proto::FileImportResult {
    proto::FileImportResult {
        certificates_added: report.count(ImportOutcome::Added),
        duplicates: report.count(ImportOutcome::Duplicate),
        waiting: report.count(ImportOutcome::Waiting),
        keys_stored: report.keys_stored,
        format: report
            .format
            .map(files::format_name)
            .unwrap_or_default()
            .to_owned(),
        error: report.error.unwrap_or_default(),
        warnings: report.warnings,
        certificates: report
            .certificates
            .into_iter()
            .map(|certificate| proto::ImportedCertificate {
                certificate_id: certificate.certificate_id.to_string(),
                subject: certificate.subject,
                serial_number: certificate.serial_number,
                sha256_fingerprint: certificate.sha256_fingerprint,
                outcome: certificate.outcome.as_str().to_owned(),
                key_id: certificate
                    .key_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        name: report.name,
    }
}

/// Exports a certificate, or its key for a caller that names itself in `actor`.
pub async fn export(
    exporter: &Exporter,
    request: proto::ExportCertificateRequest,
) -> Result<proto::ExportedCertificate, Status> {
    let id = parse_certificate_id("id", &request.id)?;
    let actor = non_empty(&request.actor).map(str::to_owned);
    let export_request = validate_export(request)?;
    let actor = match actor {
        Some(actor) => actor,
        None if export_request.includes_key() => {
            return Err(invalid(
                "actor",
                "is required for a private key export: name who exports the key, for the audit \
                 record",
            ));
        }
        None => String::new(),
    };
    let exported = exporter
        .export(id, export_request, &actor)
        .await
        .map_err(export_status)?;
    Ok(exported_to_proto(exported))
}

/// Checks the format, part and password of an export request.
pub fn validate_export(request: proto::ExportCertificateRequest) -> Result<ExportRequest, Status> {
    let format =
        proto::ExportFormat::try_from(request.format).unwrap_or(proto::ExportFormat::Unspecified);
    let part = proto::PemPart::try_from(request.part).unwrap_or(proto::PemPart::Unspecified);
    match format {
        proto::ExportFormat::Pem => {
            if !request.password.is_empty() || request.legacy {
                return Err(invalid(
                    "password",
                    "applies to PKCS#12 only: leave password and legacy unset for PEM",
                ));
            }
            let selection = match part {
                proto::PemPart::Leaf => PemSelection::Leaf,
                proto::PemPart::Chain => PemSelection::Chain,
                proto::PemPart::Fullchain => PemSelection::FullChain,
                proto::PemPart::Key => PemSelection::Key,
                proto::PemPart::Unspecified => {
                    return Err(invalid(
                        "part",
                        "is required for PEM: use LEAF, CHAIN, FULLCHAIN or KEY",
                    ));
                }
            };
            Ok(ExportRequest::Pem(selection))
        }
        proto::ExportFormat::Pkcs12 => {
            if part != proto::PemPart::Unspecified {
                return Err(invalid(
                    "part",
                    "applies to PEM only: a PKCS#12 file holds the certificate, its issuers and \
                     its key",
                ));
            }
            // A PKCS#12 password is a BMPString, which can contain U+0000 to U+FFFE only.
            if request
                .password
                .chars()
                .any(|character| u32::from(character) >= 0xFFFF)
            {
                return Err(invalid(
                    "password",
                    "contains a character above U+FFFE, which a PKCS#12 password cannot hold: \
                     use letters, digits and symbols of the Basic Multilingual Plane",
                ));
            }
            let password = checked_password("password", request.password)?.ok_or_else(|| {
                invalid(
                    "password",
                    "is required for PKCS#12: give the password that protects the file",
                )
            })?;
            let encryption = if request.legacy {
                Pkcs12Encryption::Legacy3Des
            } else {
                Pkcs12Encryption::Aes256
            };
            Ok(ExportRequest::Pkcs12 {
                password,
                encryption,
            })
        }
        proto::ExportFormat::Unspecified => {
            Err(invalid("format", "is required: use PEM or PKCS12"))
        }
    }
}

fn export_status(error: ExportError) -> Status {
    match &error {
        ExportError::NotFound(_) => Status::not_found(error.to_string()),
        ExportError::NoKey(_) => Status::failed_precondition(error.to_string()),
        ExportError::Db(db) if db.is_unavailable() => unavailable(&error),
        _ => internal(&error),
    }
}

fn exported_to_proto(exported: ExportedFile) -> proto::ExportedCertificate {
    proto::ExportedCertificate {
        content: exported.content,
        media_type: exported.media_type.to_owned(),
        file_name: exported.file_name,
        key_id: exported.key_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: usize) -> proto::CertificateFile {
        proto::CertificateFile {
            name: name.to_owned(),
            content: vec![b'x'; size],
        }
    }

    fn field_of(status: &Status) -> &str {
        status
            .message()
            .split_once(": ")
            .map_or("", |(field, _)| field)
    }

    #[test]
    fn import_limits_name_the_limit() {
        let too_many = (0..=MAX_IMPORT_FILES).map(|_| file("a.pem", 1)).collect();
        let error = validate_import(too_many, String::new()).unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(
            error.message().contains("limit of 1000"),
            "{}",
            error.message()
        );

        let too_large = vec![file("a.pem", MAX_IMPORT_BYTES), file("b.pem", 1)];
        let error = validate_import(too_large, String::new()).unwrap_err();
        assert!(error.message().contains("64 MiB"), "{}", error.message());

        let error = validate_import(Vec::new(), String::new()).unwrap_err();
        assert_eq!(field_of(&error), "files");
    }

    #[test]
    fn long_file_name_is_named_by_index() {
        let files = vec![file("a.pem", 1), file(&"n".repeat(256), 1)];
        let error = validate_import(files, String::new()).unwrap_err();
        assert_eq!(field_of(&error), "files[1].name");
    }

    #[test]
    fn empty_password_means_none() {
        let (_, password) = validate_import(vec![file("a.pem", 1)], String::new()).unwrap();
        assert!(password.is_none());
    }

    #[test]
    fn export_requests_are_checked() {
        let request = |format: proto::ExportFormat, part: proto::PemPart, password: &str| {
            proto::ExportCertificateRequest {
                format: format.into(),
                part: part.into(),
                password: password.to_owned(),
                ..proto::ExportCertificateRequest::default()
            }
        };
        let cases = [
            (
                request(proto::ExportFormat::Unspecified, proto::PemPart::Leaf, ""),
                "format",
            ),
            (
                request(proto::ExportFormat::Pem, proto::PemPart::Unspecified, ""),
                "part",
            ),
            (
                request(proto::ExportFormat::Pem, proto::PemPart::Leaf, "secret"),
                "password",
            ),
            (
                request(proto::ExportFormat::Pkcs12, proto::PemPart::Unspecified, ""),
                "password",
            ),
            (
                request(proto::ExportFormat::Pkcs12, proto::PemPart::Key, "secret"),
                "part",
            ),
            (
                request(
                    proto::ExportFormat::Pkcs12,
                    proto::PemPart::Unspecified,
                    "key-\u{1F511}",
                ),
                "password",
            ),
        ];
        for (request, field) in cases {
            let error = validate_export(request).unwrap_err();
            assert_eq!(field_of(&error), field, "{}", error.message());
        }
    }

    #[test]
    fn key_exports_are_recognized() {
        let key = proto::ExportCertificateRequest {
            format: proto::ExportFormat::Pem.into(),
            part: proto::PemPart::Key.into(),
            ..proto::ExportCertificateRequest::default()
        };
        let leaf = proto::ExportCertificateRequest {
            part: proto::PemPart::Leaf.into(),
            ..key.clone()
        };
        let pkcs12 = proto::ExportCertificateRequest {
            format: proto::ExportFormat::Pkcs12.into(),
            part: proto::PemPart::Unspecified.into(),
            password: "secret".to_owned(),
            ..key.clone()
        };

        assert!(validate_export(key).unwrap().includes_key());
        assert!(!validate_export(leaf).unwrap().includes_key());
        assert!(validate_export(pkcs12).unwrap().includes_key());
    }
}
