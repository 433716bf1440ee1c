//! Malformed input, generated from the OpenAPI document, sent to every documented route of a
//! running system: every response is a 4xx problem, never a 5xx and never a hang.
//!
//! For each operation the test builds a well-formed request from the document (ids, required
//! properties and parameters filled by their schemas), then sends variants that each break one
//! thing. The broken parts are the path id, an unknown id, each query parameter, the body as a
//! whole (not JSON, an array, null, an empty object, the wrong media type) and each body
//! property (replaced by values of every other JSON type, a 20,000-character string, a NUL
//! byte). A variant that contradicts the document must get a 4xx, and every variant must get a
//! response below 500 within the deadline.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use certitude_system_tests::System;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Maximum time one request may take before the test counts it as a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// One request to send and the status class its response must have.
struct Case {
    description: String,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    /// Body bytes and media type.
    body: Option<(Vec<u8>, String)>,
    /// Whether the document marks this request as invalid, so the response must be a 4xx.
    invalid: bool,
    /// Whether the request names an id that does not exist, so the response must be 404.
    unknown_id: bool,
}

/// Returns the schema `schema` refers to, following `$ref` into `components`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(document, document.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => schema,
    }
}

/// Returns the JSON types a schema allows, empty when it allows any.
fn types(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    match schema.get("type") {
        Some(Value::String(name)) => vec![name.clone()],
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => {
            // oneOf/anyOf of simple schemas, such as a nullable reference.
            let alternatives = schema
                .get("oneOf")
                .or_else(|| schema.get("anyOf"))
                .and_then(Value::as_array);
            match alternatives {
                Some(alternatives) => {
                    let mut all = Vec::new();
                    for alternative in alternatives {
                        let inner = types(document, alternative);
                        if inner.is_empty() {
                            return Vec::new();
                        }
                        all.extend(inner);
                    }
                    all
                }
                None => Vec::new(),
            }
        }
    }
}

/// Tells whether `value` has one of the JSON types `allowed` (empty allows any).
fn has_type(value: &Value, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    allowed.iter().any(|name| match name.as_str() {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    })
}

/// Builds a value the schema accepts, as far as the test can tell, to fill the parts of a
/// request the test does not break.
fn example(document: &Value, schema: &Value) -> Value {
    let schema = resolve(document, schema);
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return first.clone();
    }
    if let Some(alternatives) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        let chosen = alternatives
            .iter()
            .find(|alternative| !types(document, alternative).contains(&"null".to_owned()))
            .or_else(|| alternatives.first());
        return chosen.map_or(Value::Null, |alternative| example(document, alternative));
    }
    let kinds = types(document, schema);
    let kind = kinds
        .iter()
        .find(|kind| kind.as_str() != "null")
        .map_or("object", String::as_str);
    match kind {
        "boolean" => json!(false),
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => json!(Uuid::new_v4().to_string()),
            Some("date-time") => json!("2030-01-01T00:00:00Z"),
            Some("date") => json!("2030-01-01"),
            _ => json!("generated"),
        },
        "array" => json!([]),
        _ => {
            let mut object = Map::new();
            let required = schema
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for name in required.iter().filter_map(Value::as_str) {
                    if let Some(property) = properties.get(name) {
                        object.insert(name.to_owned(), example(document, property));
                    }
                }
            }
            Value::Object(object)
        }
    }
}

/// Values of every JSON type and the awkward strings, to put where the document expects
/// something else.
fn malformed_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(1.5),
        json!(18_446_744_073_709_551_615_u64),
        json!("x".repeat(20_000)),
        json!("nul\u{0}byte"),
        json!([1, "two"]),
        json!({"nested": {"deeper": []}}),
    ]
}

/// Builds every case of one operation.
fn cases(document: &Value, path: &str, method: &str, operation: &Value) -> Vec<Case> {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let parameters: Vec<Value> = operation
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|parameter| resolve(document, parameter).clone())
        .collect();
    let filled_path = |broken: Option<(&str, &str)>| {
        let mut filled = path.to_owned();
        for parameter in parameters.iter().filter(|p| p["in"] == "path") {
            let name = parameter["name"].as_str().unwrap();
            let value = match broken {
                Some((target, value)) if target == name => value.to_owned(),
                _ => Uuid::new_v4().to_string(),
            };
            filled = filled.replace(&format!("{{{name}}}"), &value);
        }
        filled
    };
    let base_query: Vec<(String, String)> = parameters
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let value = example(document, &p["schema"]);
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            (p["name"].as_str().unwrap().to_owned(), text)
        })
        .collect();
    let base_headers: Vec<(String, String)> = parameters
        .iter()
        .filter(|p| p["in"] == "header" && p["required"] == true)
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                format!("malformed-{}", Uuid::new_v4()),
            )
        })
        .collect();
    let json_schema = operation
        .pointer("/requestBody/content/application~1json/schema")
        .map(|schema| resolve(document, schema).clone());
    let base_body = json_schema.as_ref().map(|schema| example(document, schema));
    let body_bytes = |value: &Value| {
        Some((
            serde_json::to_vec(value).unwrap(),
            "application/json".to_owned(),
        ))
    };
    let base = |description: String, invalid: bool| Case {
        description,
        method: method.clone(),
        path: filled_path(None),
        query: base_query.clone(),
        headers: base_headers.clone(),
        body: base_body.as_ref().and_then(body_bytes),
        invalid,
        unknown_id: false,
    };

    let mut cases = Vec::new();
    if parameters.iter().any(|parameter| parameter["in"] == "path") {
        let mut case = base("unknown id".to_owned(), true);
        case.unknown_id = true;
        cases.push(case);
    }
    for parameter in &parameters {
        let name = parameter["name"].as_str().unwrap();
        let schema = resolve(document, &parameter["schema"]);
        match parameter["in"].as_str() {
            Some("path") => {
                for value in ["not-a-uuid", "%00", &"9".repeat(300), "..%2F..%2Fetc"] {
                    let mut case = base(format!("path {name}={value:.20}"), true);
                    case.path = filled_path(Some((name, value)));
                    cases.push(case);
                }
            }
            Some("query") => {
                let mut values = vec!["%00".to_owned(), "x".repeat(10_000)];
                let kinds = types(document, schema);
                if kinds
                    .iter()
                    .any(|kind| kind == "integer" || kind == "number")
                {
                    values.extend(["-1", "abc", "1e400", "99999999999999999999"].map(String::from));
                }
                if kinds.iter().any(|kind| kind == "boolean") {
                    values.push("maybe".to_owned());
                }
                for value in values {
                    let mut case = base(format!("query {name}={value:.20}"), false);
                    case.query.retain(|(key, _)| key != name);
                    case.query.push((name.to_owned(), value));
                    cases.push(case);
                }
            }
            Some("header") if parameter["required"] == true => {
                let mut case = base(format!("without header {name}"), true);
                case.headers.retain(|(key, _)| key != name);
                cases.push(case);
                let mut case = base(format!("header {name} too long"), false);
                for header in &mut case.headers {
                    if header.0 == name {
                        header.1 = "k".repeat(5_000);
                    }
                }
                cases.push(case);
            }
            _ => {}
        }
    }
    if let Some(schema) = &json_schema {
        for (bytes, media_type, description) in [
            (
                b"{\"unterminated".to_vec(),
                "application/json",
                "body not JSON",
            ),
            (b"[]".to_vec(), "application/json", "body an array"),
            (b"null".to_vec(), "application/json", "body null"),
            (b"\"text\"".to_vec(), "application/json", "body a string"),
            (b"{}".to_vec(), "text/plain", "body as text/plain"),
        ] {
            let mut case = base(description.to_owned(), true);
            case.body = Some((bytes, media_type.to_owned()));
            cases.push(case);
        }
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if !required.is_empty() {
            let mut case = base("body {}".to_owned(), true);
            case.body = body_bytes(&json!({}));
            cases.push(case);
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let mut unknown = base_body.clone().unwrap_or_else(|| json!({}));
        if let Some(object) = unknown.as_object_mut() {
            object.insert("no_such_field".to_owned(), json!(1));
            let mut case = base("body with an unknown field".to_owned(), closed);
            case.body = body_bytes(&unknown);
            cases.push(case);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let allowed = types(document, property);
                for value in malformed_values() {
                    let mut body = base_body.clone().unwrap_or_else(|| json!({}));
                    let Some(object) = body.as_object_mut() else {
                        continue;
                    };
                    object.insert(name.clone(), value.clone());
                    let mut case = base(
                        format!("body {name}={:.30}", value.to_string()),
                        !has_type(&value, &allowed),
                    );
                    case.body = body_bytes(&body);
                    cases.push(case);
                }
            }
        }
    }
    cases
}

async fn send(
    client: &reqwest::Client,
    base_url: &str,
    token: &str,
    case: &Case,
) -> Result<(StatusCode, String), String> {
    let mut request = client
        .request(case.method.clone(), format!("{base_url}{}", case.path))
        .bearer_auth(token)
        .query(&case.query);
    for (name, value) in &case.headers {
        request = request.header(name, value);
    }
    if let Some((bytes, media_type)) = &case.body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(bytes.clone());
    }
    match tokio::time::timeout(DEADLINE, request.send()).await {
        Err(_) => Err(format!("no answer within {DEADLINE:?}")),
        Ok(Err(error)) => Err(format!("request failed: {error}")),
        Ok(Ok(response)) => {
            let status = response.status();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.text().await.unwrap_or_default();
            if status.is_client_error() && content_type != "application/problem+json" {
                return Err(format!(
                    "{status} as {content_type:?}, not a problem: {body:.200}"
                ));
            }
            Ok((status, body))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_input_to_every_route_gets_a_4xx() {
    let system = System::start().await.unwrap();
    let document = system.api().get("/v1/openapi.json").await.unwrap();
    let paths = document["paths"].as_object().unwrap();
    let client = reqwest::Client::new();
    let token = certitude_system_tests::ADMIN_TOKEN;

    let mut failures = Vec::new();
    let mut sent = 0;
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            for case in cases(&document, path, method, operation) {
                sent += 1;
                let label = format!("{} {path} [{}]", case.method, case.description);
                match send(&client, &system.gateway_url, token, &case).await {
                    Err(reason) => failures.push(format!("{label}: {reason}")),
                    Ok((status, body)) if status.is_server_error() => {
                        failures.push(format!("{label}: {status} {body:.300}"));
                    }
                    // A body the route rejects may be reported before the unknown id.
                    Ok((status, body))
                        if case.unknown_id
                            && status != StatusCode::NOT_FOUND
                            && !(case.body.is_some() && status == StatusCode::BAD_REQUEST) =>
                    {
                        failures.push(format!("{label}: expected 404, got {status} {body:.300}"));
                    }
                    Ok((status, body)) if case.invalid && !status.is_client_error() => {
                        failures.push(format!("{label}: expected a 4xx, got {status} {body:.300}"));
                    }
                    Ok(_) => {}
                }
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent > 500, "only {sent} requests were generated");
    assert_eq!(
        operations,
        certitude_gateway::access::ROUTE_ROLES.len(),
        "the document's operations and the gateway's routes differ in number"
    );
    system.stop().await.unwrap();
}
