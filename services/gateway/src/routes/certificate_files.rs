//! Routes that import certificate files into the inventory and export a certificate as a file.
//!
//! `POST /v1/certificates/import` reads `multipart/form-data`: one or more `file` parts and an
//! optional `password` part. `GET /v1/certificates/{id}/export` writes PEM; the private key part
//! needs `admin`. `POST /v1/certificates/{id}/export` writes PKCS#12 with the password from a
//! JSON body, so that the password never appears in a URL, and needs `admin`. The inventory
//! records each key export with the token's name as the actor.

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::DefaultBodyLimit, routing::MethodRouter};
use certitude_proto::inventory::v1 as proto;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{IdPath, enum_schema};
use crate::problem::{GrpcResultExt, Problem, from_status};
use crate::routes::parse_id;
use crate::tokens::Role;

/// Maximum number of files in one import; the inventory enforces the same limit.
pub const MAX_IMPORT_FILES: usize = 1_000;

/// Maximum file content of one import, in bytes (64 MiB) summed over its files; the inventory
/// enforces the same limit.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Body limit of the import route: the file content plus 1 MiB for the multipart headers of
/// up to [`MAX_IMPORT_FILES`] parts and the password.
const IMPORT_BODY_BYTES: usize = MAX_IMPORT_BYTES + 1024 * 1024;

/// Wraps the import handler with its own body limit, larger than the API's 1 MiB.
pub fn import_route(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.layer(DefaultBodyLimit::max(IMPORT_BODY_BYTES))
}

/// The result of `POST /v1/certificates/import`: one result per file, and the sums.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// One result per file, in request order.
    files: Vec<FileResult>,
    certificates_added: u32,
    duplicates: u32,
    waiting: u32,
    keys_stored: u32,
    /// Files with an `error`.
    files_failed: u32,
}

/// The result of one imported file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    /// The part's file name, or `file N` when it has none.
    name: String,
    /// Format detected from the content; absent when the content matches none.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(value_type = FileFormat)]
    format: String,
    certificates_added: u32,
    duplicates: u32,
    waiting: u32,
    keys_stored: u32,
    /// Reason nothing of the file was imported, such as a wrong PKCS#12 password.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    /// Parts of the file that were skipped and keys that were not stored, with the reason.
    warnings: Vec<String>,
    certificates: Vec<ImportedCertificate>,
}

/// One certificate found in an imported file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedCertificate {
    /// The stored certificate; for a duplicate, the certificate stored before.
    #[schema(format = Uuid)]
    id: String,
    subject: String,
    serial_number: String,
    #[schema(pattern = "^[0-9A-F]{64}$")]
    sha256_fingerprint: String,
    /// `added`, `waiting` (beyond the licensed count) or `duplicate`.
    #[schema(value_type = ImportOutcome)]
    outcome: String,
    /// The private key linked to the certificate; absent when it has none.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(format = Uuid)]
    key_id: String,
}

/// The `multipart/form-data` body of `POST /v1/certificates/import`, for the API document.
pub struct ImportForm;

impl PartialSchema for ImportForm {
    fn schema() -> RefOr<Schema> {
        let file = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream");
        let files = ArrayBuilder::new()
            .items(file)
            .min_items(Some(1))
            .max_items(Some(MAX_IMPORT_FILES))
            .description(Some(format!(
                "One part per certificate file: PEM, DER, PKCS#7 or PKCS#12, detected from the \
                 content. At most {MAX_IMPORT_FILES} files and 64 MiB of content per request."
            )));
        let password = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(1024))
            .description(Some(
                "Password of every PKCS#12 file and encrypted PKCS#8 key of the request.",
            ));
        ObjectBuilder::new()
            .property("file", files)
            .required("file")
            .property("password", password)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for ImportForm {}

impl From<proto::ImportCertificateFilesResponse> for ImportResult {
    fn from(response: proto::ImportCertificateFilesResponse) -> Self {
        Self {
            files: response.files.into_iter().map(FileResult::from).collect(),
            certificates_added: response.certificates_added,
            duplicates: response.duplicates,
            waiting: response.waiting,
            keys_stored: response.keys_stored,
            files_failed: response.files_failed,
        }
    }
}

impl From<proto::FileImportResult> for FileResult {
    fn from(result: proto::FileImportResult) -> Self {
        Self {
            name: result.name,
            format: result.format,
            certificates_added: result.certificates_added,
            duplicates: result.duplicates,
            waiting: result.waiting,
            keys_stored: result.keys_stored,
            error: result.error,
            warnings: result.warnings,
            certificates: result
                .certificates
                .into_iter()
                .map(|certificate| ImportedCertificate {
                    id: certificate.certificate_id,
                    subject: certificate.subject,
                    serial_number: certificate.serial_number,
                    sha256_fingerprint: certificate.sha256_fingerprint,
                    outcome: certificate.outcome,
                    key_id: certificate.key_id,
                })
                .collect(),
        }
    }
}

/// `POST /v1/certificates/import`: imports the files of a multipart body.
#[utoipa::path(
    post,
    path = "/v1/certificates/import",
    tag = "certificates",
    operation_id = "importCertificateFiles",
    summary = "Import certificate files with their private keys",
    description = "Every certificate found is stored as certificates of orders are: counted \
                   against the license, never twice. A file that cannot be read gets an `error` \
                   and the other files import. Needs the operator role.",
    request_body(content = inline(ImportForm), content_type = "multipart/form-data"),
    responses((status = 200, description = "One result per file, in request order.",
               body = ImportResult)),
)]
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<ImportResult>, Problem> {
    principal.require(Role::Operator)?;
    let multipart = multipart.map_err(|_| {
        Problem::malformed_body(
            "send the files as multipart/form-data: one `file` part per file and an optional \
             `password` part",
        )
    })?;
    let request = read_import(multipart).await?;
    let request = proto::ImportCertificateFilesRequest {
        actor: principal.token_name.clone(),
        ..request
    };
    let response = state
        .clients
        .inventory
        .clone()
        .import_certificate_files(request)
        .await
        .or_problem()?;
    Ok(Json(response.into()))
}

/// Reads the `file` and `password` parts, enforcing the file and size limits as it reads.
async fn read_import(
    mut multipart: Multipart,
) -> Result<proto::ImportCertificateFilesRequest, Problem> {
    let mut request = proto::ImportCertificateFilesRequest::default();
    let mut total_bytes = 0;
    let mut password_seen = false;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
        match field.name().unwrap_or_default() {
            "file" => {
                if request.files.len() == MAX_IMPORT_FILES {
                    return Err(Problem::payload_too_large(format!(
                        "more than {MAX_IMPORT_FILES} files: import at most {MAX_IMPORT_FILES} \
                         files per request"
                    )));
                }
                let name = field.file_name().map_or_else(
                    || format!("file {}", request.files.len() + 1),
                    str::to_owned,
                );
                let content = read_file(&mut field, &mut total_bytes).await?;
                request.files.push(proto::CertificateFile { name, content });
            }
            "password" => {
                if password_seen {
                    return Err(Problem::invalid_field(
                        "password",
                        "is given more than once: send one password part",
                    ));
                }
                password_seen = true;
                request.password = field.text().await.map_err(multipart_problem)?;
            }
            other => {
                return Err(Problem::invalid_field(
                    other,
                    "is not a part of this request: send `file` parts and an optional \
                     `password` part",
                ));
            }
        }
    }
    if request.files.is_empty() {
        return Err(Problem::invalid_field(
            "file",
            "is missing: send at least one `file` part",
        ));
    }
    Ok(request)
}

/// Reads one file part, adding its size to `total_bytes` and stopping at the limit.
async fn read_file(field: &mut Field<'_>, total_bytes: &mut usize) -> Result<Vec<u8>, Problem> {
    let mut content = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        *total_bytes += chunk.len();
        if *total_bytes > MAX_IMPORT_BYTES {
            return Err(import_too_large());
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content)
}

fn import_too_large() -> Problem {
    Problem::payload_too_large(format!(
        "the files exceed the limit of {MAX_IMPORT_BYTES} bytes (64 MiB) per request: split them \
         into several requests"
    ))
}

fn multipart_problem(error: MultipartError) -> Problem {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return import_too_large();
    }
    Problem::malformed_body(format!(
        "the multipart/form-data body cannot be read: {}",
        error.body_text()
    ))
}

/// Query parameters of `GET /v1/certificates/{id}/export`.
const EXPORT_PARAMETERS: &str = "format (pem) and part (leaf, chain, fullchain or key)";

/// Query parameters of `GET /v1/certificates/{id}/export`, for the API document. The handler
/// reads the pairs itself to reject unknown and repeated parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PemExportQuery {
    /// `pem`, the only format of this route; POST exports PKCS#12.
    #[param(value_type = Option<PemFormat>, inline)]
    pub format: Option<String>,
    /// `leaf`, `chain` (its issuers without a self-signed root), `fullchain` or `key` (the
    /// private key as unencrypted PKCS#8, for admins).
    #[param(value_type = PemPartName, inline)]
    pub part: String,
}

/// Query parameters of `POST /v1/certificates/{id}/export`, for the API document.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pkcs12ExportQuery {
    /// `pkcs12`, the only format of this route.
    #[param(value_type = Option<Pkcs12Format>, inline)]
    pub format: Option<String>,
}

/// `GET /v1/certificates/{id}/export?format=pem&part=…`: the certificate, its issuers, both, or
/// (for `admin`) its private key, as PEM.
#[utoipa::path(
    get,
    path = "/v1/certificates/{id}/export",
    tag = "certificates",
    operation_id = "exportCertificatePem",
    summary = "Export a certificate, its issuers or its private key as PEM",
    description = "`part=key` needs the admin role and is recorded in the key export audit; a \
                   certificate without a stored key is then a 404.",
    params(IdPath, PemExportQuery),
    responses(
        (status = 200, description = "The PEM file: `application/x-pem-file` for `part=key`, \
                                      `application/pem-certificate-chain` otherwise.",
            content(
                (String = "application/pem-certificate-chain"),
                (String = "application/x-pem-file"),
            ),
            headers(
                ("Content-Disposition" = String,
                    description = "`attachment` with a file name such as `<id>.fullchain.pem`"),
                ("Cache-Control" = String, description = "`no-store` on a private key export"),
            ),
        ),
    ),
)]
pub async fn export_pem(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let part = pem_part(pairs)?;
    let needed = if part == proto::PemPart::Key {
        Role::Admin
    } else {
        Role::Viewer
    };
    principal.require(needed)?;
    let request = proto::ExportCertificateRequest {
        id: parse_id("id", &id)?,
        format: proto::ExportFormat::Pem.into(),
        part: part.into(),
        actor: principal.token_name.clone(),
        ..proto::ExportCertificateRequest::default()
    };
    call_export(&state, request).await
}

/// Reads `format` and `part`; `format` defaults to `pem`.
fn pem_part(pairs: Vec<(String, String)>) -> Result<proto::PemPart, Problem> {
    let mut part = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in pairs {
        if seen.contains(&name) {
            return Err(Problem::invalid_field(
                &name,
                "is given more than once: pass it once",
            ));
        }
        seen.push(name.clone());
        match name.as_str() {
            "format" => match value.as_str() {
                "pem" => {}
                "pkcs12" => {
                    return Err(Problem::invalid_field(
                        "format",
                        "pkcs12 needs a password: POST to this route with a JSON body \
                         {\"password\": \"...\"}",
                    ));
                }
                other => {
                    return Err(Problem::invalid_field(
                        "format",
                        format!("{other:?} is not a format: use pem, or POST for pkcs12"),
                    ));
                }
            },
            "part" => {
                part = Some(match value.as_str() {
                    "leaf" => proto::PemPart::Leaf,
                    "chain" => proto::PemPart::Chain,
                    "fullchain" => proto::PemPart::Fullchain,
                    "key" => proto::PemPart::Key,
                    other => {
                        return Err(Problem::invalid_field(
                            "part",
                            format!("{other:?} is not a part: use leaf, chain, fullchain or key"),
                        ));
                    }
                });
            }
            _ => {
                return Err(Problem::invalid_field(
                    &name,
                    format!("is not a parameter of this route: use {EXPORT_PARAMETERS}"),
                ));
            }
        }
    }
    part.ok_or_else(|| {
        Problem::invalid_field("part", "is required: use leaf, chain, fullchain or key")
    })
}

/// Body of `POST /v1/certificates/{id}/export`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pkcs12Export {
    /// Protects the file: characters U+0000 to U+FFFE only, which PKCS#12 can encode.
    #[schema(min_length = 1, max_length = 1024, write_only)]
    password: String,
    /// 3DES with an SHA-1 MAC for old readers, instead of AES-256.
    #[serde(default)]
    legacy: bool,
}

/// `POST /v1/certificates/{id}/export`: the certificate, its issuers and its private key as a
/// PKCS#12 file protected by the body's password.
#[utoipa::path(
    post,
    path = "/v1/certificates/{id}/export",
    tag = "certificates",
    operation_id = "exportCertificatePkcs12",
    summary = "Export a certificate with its issuers and private key as PKCS#12",
    description = "The password comes in the body so that it never appears in a URL. Needs the \
                   admin role and is recorded in the key export audit; a certificate without a \
                   stored key is a 404.",
    params(IdPath, Pkcs12ExportQuery),
    request_body = Pkcs12Export,
    responses(
        (status = 200, description = "The PKCS#12 file.",
            content(("application/pkcs12")),
            headers(
                ("Content-Disposition" = String,
                    description = "`attachment` with a file name such as `<id>.p12`"),
                ("Cache-Control" = String, description = "`no-store`"),
            ),
        ),
    ),
)]
pub async fn export_pkcs12(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(pairs): QueryParams<Vec<(String, String)>>,
    JsonBody(body): JsonBody<Pkcs12Export>,
) -> Result<Response, Problem> {
    principal.require(Role::Admin)?;
    for (name, value) in pairs {
        if name != "format" || value != "pkcs12" {
            return Err(Problem::invalid_field(
                &name,
                "is not a parameter of this route: POST exports PKCS#12 only (format=pkcs12 \
                 may be given)",
            ));
        }
    }
    if body.password.is_empty() {
        return Err(Problem::invalid_field(
            "password",
            "is empty: give the password that protects the PKCS#12 file",
        ));
    }
    if !is_bmp_password(&body.password) {
        return Err(Problem::invalid_field(
            "password",
            "contains a character above U+FFFE, which a PKCS#12 password (a BMPString) cannot \
             hold: use characters of the Basic Multilingual Plane only",
        ));
    }
    let request = proto::ExportCertificateRequest {
        id: parse_id("id", &id)?,
        format: proto::ExportFormat::Pkcs12.into(),
        password: body.password,
        legacy: body.legacy,
        actor: principal.token_name.clone(),
        ..proto::ExportCertificateRequest::default()
    };
    call_export(&state, request).await
}

/// Returns whether PKCS#12 can encode `password`. Its key derivation takes the password as a
/// BMPString, which encodes only the characters U+0000 to U+FFFE (the `der` crate's
/// `BmpString` rejects the rest, and the inventory's export then fails).
fn is_bmp_password(password: &str) -> bool {
    password
        .chars()
        .all(|character| u32::from(character) < 0xFFFF)
}

/// Calls ExportCertificate and returns the file as the response. A certificate without a stored
/// key is a 404.
async fn call_export(
    state: &AppState,
    request: proto::ExportCertificateRequest,
) -> Result<Response, Problem> {
    let exported = state
        .clients
        .inventory
        .clone()
        .export_certificate(request)
        .await
        .map_err(|status| {
            if status.code() == tonic::Code::FailedPrecondition {
                Problem::not_found(status.message())
            } else {
                from_status(&status)
            }
        })?
        .into_inner();
    file_response(exported)
}

fn file_response(exported: proto::ExportedCertificate) -> Result<Response, Problem> {
    let header_value = |value: String| {
        HeaderValue::try_from(value).map_err(|error| {
            tracing::error!(error = %error, "the inventory returned an invalid export header");
            Problem::internal()
        })
    };
    let media_type = header_value(exported.media_type)?;
    let disposition = header_value(format!("attachment; filename=\"{}\"", exported.file_name))?;
    let key_export = !exported.key_id.is_empty();
    let mut response = (StatusCode::OK, Bytes::from(exported.content)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    if key_export {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

enum_schema!(
    /// Format of an imported file, detected from its content.
    FileFormat = &["pem", "der", "pkcs7", "pkcs12"]
);

enum_schema!(
    /// Outcome of importing one certificate.
    ImportOutcome = &["added", "waiting", "duplicate"]
);

enum_schema!(
    /// Format of `GET /v1/certificates/{id}/export`.
    PemFormat = &["pem"]
);

enum_schema!(
    /// Part of a certificate that a PEM export writes.
    PemPartName = &["leaf", "chain", "fullchain", "key"]
);

enum_schema!(
    /// Format of `POST /v1/certificates/{id}/export`.
    Pkcs12Format = &["pkcs12"]
);

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn parts_are_read() {
        let cases = [
            ("leaf", proto::PemPart::Leaf),
            ("chain", proto::PemPart::Chain),
            ("fullchain", proto::PemPart::Fullchain),
            ("key", proto::PemPart::Key),
        ];
        for (value, part) in cases {
            assert_eq!(pem_part(pairs(&[("part", value)])).unwrap(), part);
            assert_eq!(
                pem_part(pairs(&[("format", "pem"), ("part", value)])).unwrap(),
                part
            );
        }
    }

    #[test]
    fn invalid_export_parameters_are_named() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[], "part"),
            (&[("part", "cert")], "part"),
            (&[("format", "der"), ("part", "leaf")], "format"),
            (&[("format", "pkcs12")], "format"),
            (&[("part", "leaf"), ("part", "key")], "part"),
            (&[("part", "leaf"), ("password", "x")], "password"),
        ];
        for (query, name) in cases {
            let problem = pem_part(pairs(query)).unwrap_err();
            assert_eq!(problem.status, 400, "{query:?}");
            assert_eq!(problem.invalid_params[0].name, name, "{query:?}");
        }
    }

    #[test]
    fn password_outside_bmp_is_rejected() {
        assert!(is_bmp_password("pässwörd中\u{FFFD}"));
        assert!(!is_bmp_password("\u{FFFF}"));
        assert!(!is_bmp_password("key\u{1F600}"));
    }

    #[test]
    fn pkcs12_format_points_to_post() {
        let problem = pem_part(pairs(&[("format", "pkcs12")])).unwrap_err();
        assert!(problem.detail.contains("POST"), "{}", problem.detail);
    }
}
