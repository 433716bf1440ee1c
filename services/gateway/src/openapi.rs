//! The OpenAPI 3.1 document of the REST API, served at `GET /v1/openapi.json`.
//!
//! Each handler's `#[utoipa::path]` annotation describes its route, parameters, body and success
//! responses, and [`crate::routes::v1`] registers the routes from the same annotations, so the
//! router and the document cannot list different routes. [`document`] then adds what every
//! route shares: the bearer token, the problem details error responses, the `Location` header
//! of created resources and started jobs, and the least role that may call each route.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Object, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, OpenApi as _, ToSchema};
use uuid::Uuid;

use crate::auth::Principal;
use crate::problem::{InvalidParam, PROBLEM_JSON, Problem};
use crate::tokens::Role;

/// Path of the document.
pub const DOCUMENT_PATH: &str = "/v1/openapi.json";

/// Name of the bearer token scheme in `components.securitySchemes`.
const BEARER_SCHEME: &str = "bearer";

/// The error responses every operation can return, by status: the name of the shared response
/// in `components.responses` and its description.
pub const ERROR_RESPONSES: [(u16, &str, &str); 12] = [
    (
        400,
        "BadRequest",
        "Malformed or invalid input; `invalid_params` names each invalid field with its fix.",
    ),
    (
        401,
        "Unauthorized",
        "Missing, unknown, expired or revoked token.",
    ),
    (
        403,
        "Forbidden",
        "The token's role is too low for the route, or no Entrust administrator credential may \
         carry out an order operation.",
    ),
    (404, "NotFound", "Unknown resource."),
    (
        409,
        "Conflict",
        "Conflict with the current state, such as a name already in use, or a resource that \
         another request is changing at the moment (retry shortly).",
    ),
    (
        413,
        "PayloadTooLarge",
        "The request body is over its size limit.",
    ),
    (
        415,
        "UnsupportedMediaType",
        "The request body's `Content-Type` is not the one the route reads.",
    ),
    (
        422,
        "Unprocessable",
        "Well-formed, but it cannot be carried out, for example because Entrust rejected it or \
         the resource's state does not allow it.",
    ),
    (
        429,
        "TooManyRequests",
        "The token sent more requests than its rate allows; retry after `Retry-After` seconds.",
    ),
    (
        500,
        "InternalError",
        "The request failed inside Certitude; the cause was logged, not returned.",
    ),
    (
        503,
        "Unavailable",
        "A service, the database or Entrust is unreachable; retry later.",
    ),
    (
        504,
        "Timeout",
        "The request did not finish within the gateway's deadline; a change may still have been \
         made, so read the resource before retrying.",
    ),
];

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Certitude API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Certitude manages the lifecycle of TLS certificates ordered from Entrust: \
                       it keeps Entrust credentials and their catalog, places, approves, renews, \
                       reissues and revokes orders, keeps every certificate with its private key \
                       in an inventory, renews certificates on schedule and records where each \
                       is deployed. Every route needs a bearer token whose role (viewer, \
                       operator or admin) allows it, and every error is an RFC 9457 problem \
                       details document.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/")),
    components(schemas(Problem, InvalidParam)),
    tags(
        (name = "credentials", description = "Entrust credentials and their synced catalog"),
        (name = "syncs", description = "Catalog sync jobs"),
        (name = "imports", description = "Imports of a credential's existing Entrust orders"),
        (name = "orders", description = "Orders and the administrator operations on them"),
        (name = "certificates", description = "The certificate inventory, with file import and \
                                               export"),
        (name = "deployments", description = "Where each certificate is deployed"),
        (name = "license", description = "How many certificates the inventory may hold"),
        (name = "renewals", description = "Auto-renewal policies, forecast and audit"),
        (name = "tokens", description = "API tokens"),
        (name = "audit", description = "The audit trail of changes made through the API"),
        (name = "openapi", description = "This document"),
    ),
)]
struct ApiDoc;

/// Returns the shared part of the document: info, servers, tags and the problem schemas. The
/// routes add their paths to it.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// Returns the whole document, built once from the routes' annotations.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, mut openapi) = crate::routes::api().split_for_parts();
        complete(&mut openapi);
        openapi
    })
}

/// Adds the bearer scheme, the error responses, the `Location` header and the required role to
/// every operation.
fn complete(openapi: &mut OpenApi) {
    openapi.security = Some(vec![SecurityRequirement::new(
        BEARER_SCHEME,
        Vec::<String>::new(),
    )]);
    let components = openapi.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER_SCHEME.to_owned(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token as `Authorization: Bearer <token>`; an admin creates tokens \
                     with `POST /v1/tokens`.",
                ))
                .build(),
        )),
    );
    for (status, name, description) in ERROR_RESPONSES {
        components.responses.insert(
            name.to_owned(),
            RefOr::T(error_response(status, description)),
        );
    }
    reference_list_items(&mut components.schemas);
    for path_item in openapi.paths.paths.values_mut() {
        for operation in operations(path_item) {
            add_error_responses(operation);
            describe_location_headers(operation);
        }
    }
    for (path, path_item) in &mut openapi.paths.paths {
        name_required_roles(path, path_item);
    }
}

/// Adds `x-required-role` to each operation: the least role of the role matrix
/// ([`crate::access::ROUTE_ROLES`]) that may call it.
fn name_required_roles(path: &str, path_item: &mut utoipa::openapi::PathItem) {
    let methods = [
        (axum::http::Method::GET, path_item.get.as_mut()),
        (axum::http::Method::PUT, path_item.put.as_mut()),
        (axum::http::Method::POST, path_item.post.as_mut()),
        (axum::http::Method::DELETE, path_item.delete.as_mut()),
        (axum::http::Method::PATCH, path_item.patch.as_mut()),
    ];
    for (method, operation) in methods {
        let (Some(operation), Some(role)) =
            (operation, crate::access::required_role(&method, path))
        else {
            continue;
        };
        operation
            .extensions
            .get_or_insert_with(Default::default)
            .insert("x-required-role".to_owned(), role.as_str().into());
    }
}

/// Replaces each inlined schema of a list's `items` with a reference to the same schema in
/// `components.schemas`: utoipa inlines the argument of a generic schema such as `Page<T>`.
fn reference_list_items(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    let named: Vec<(String, RefOr<Schema>)> = schemas
        .iter()
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    for schema in schemas.values_mut() {
        let RefOr::T(Schema::Object(list)) = schema else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(items))) = list.properties.get_mut("items") else {
            continue;
        };
        let ArrayItems::RefOrSchema(item) = &mut items.items else {
            continue;
        };
        if let Some((name, _)) = named.iter().find(|(_, named)| named == item.as_ref()) {
            **item = RefOr::Ref(Ref::from_schema_name(name));
        }
    }
}

fn operations(path_item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        path_item.get.as_mut(),
        path_item.put.as_mut(),
        path_item.post.as_mut(),
        path_item.delete.as_mut(),
        path_item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_error_responses(operation: &mut Operation) {
    for (status, name, _) in ERROR_RESPONSES {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
    }
}

/// Replaces the bare `Location` header that the annotations name with its full description.
fn describe_location_headers(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response
            && let Some(header) = response.headers.get_mut("Location")
        {
            *header = location_header();
        }
    }
}

fn location_header() -> RefOr<Header> {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uri-reference".to_owned())));
    RefOr::T(required_header(
        schema,
        "Path of the created resource or started job.",
    ))
}

/// Builds a response header that every such response carries.
fn required_header(schema: ObjectBuilder, description: &str) -> Header {
    let mut header = HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build();
    // NOTE: utoipa 6's `Header` has no `required` field, so it goes in as an extension, which
    // is serialized flat among the header's fields.
    header
        .extensions
        .get_or_insert_with(Extensions::default)
        .insert("required".to_owned(), serde_json::Value::Bool(true));
    header
}

fn error_response(status: u16, description: &str) -> Response {
    let problem = RefOr::Ref(Ref::from_schema_name("Problem"));
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(problem)));
    if status == 401 {
        let schema = ObjectBuilder::new().schema_type(Type::String);
        response = response.header(
            "WWW-Authenticate",
            required_header(schema, "`Bearer realm=\"certitude\"`"),
        );
    }
    if status == 429 {
        let schema = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0));
        response = response.header(
            "Retry-After",
            required_header(schema, "Seconds to wait before the token's next request."),
        );
    }
    response.build()
}

/// Returns a string schema that allows only `values`.
pub fn string_enum(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Defines a unit struct whose schema is a string that allows only the given values, for a
/// field or parameter that the code restricts to them: `#[schema(value_type = Name)]` on a
/// field, `#[param(value_type = Name, inline)]` on a parameter. Its doc comment becomes the
/// schema's description.
macro_rules! enum_schema {
    ($(#[doc = $doc:literal])+ $name:ident = $values:expr) => {
        $(#[doc = $doc])+
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let mut schema = $crate::openapi::string_enum($values);
                schema.description = Some(concat!($($doc),+).trim().to_owned());
                schema.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use enum_schema;

/// The `{id}` path parameter of a resource.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The resource's id.
    pub id: Uuid,
}

/// The path parameters of one deployment location of a certificate.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeploymentPath {
    /// The certificate's id.
    pub id: Uuid,
    /// The deployment location's id.
    pub deployment_id: Uuid,
}

/// The `Idempotency-Key` header of order creation, renewal and reissue.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// A unique value per order, such as a UUID, sent again unchanged when the request is
    /// retried: a repeated key returns the first order instead of placing another.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 200,
        pattern = "^[!-~]([ -~]*[!-~])?$"
    )]
    pub key: String,
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "openapi",
    operation_id = "getOpenApiDocument",
    summary = "Get the OpenAPI 3.1 document of this API",
    description = "Needs a token of any role.",
    responses(
        (status = 200, description = "The OpenAPI document.", body = inline(OpenApiDocument)),
    ),
)]
pub async fn serve(principal: Principal) -> Result<impl IntoResponse, Problem> {
    principal.require(Role::Viewer)?;
    let body = serde_json::to_vec(document()).map_err(|error| {
        tracing::error!(error = %error, "serializing the OpenAPI document failed");
        Problem::internal()
    })?;
    Ok(([(CONTENT_TYPE, "application/json")], body))
}

/// An OpenAPI document, for the document's own entry.
pub struct OpenApiDocument;

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "openapi",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^3\.1\.\d+$")),
            )
            .required("openapi")
            .description(Some(
                "An OpenAPI 3.1 document: https://spec.openapis.org/oas/v3.1",
            ))
            .into()
    }
}

impl ToSchema for OpenApiDocument {}
