//! Errors of certctl and how they read on the terminal.

use std::fmt;

use serde::Deserialize;

/// Exit code of a failed command: an API error, an unreachable gateway, a failed job, a
/// configuration or file error.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of an invalid command line, as clap uses it.
pub const EXIT_USAGE: u8 = 2;

/// An RFC 9457 problem details body, as the gateway returns it for every error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Problem {
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub invalid_params: Vec<InvalidParam>,
}

/// One invalid field of a request and what to do about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct InvalidParam {
    pub name: String,
    pub reason: String,
}

/// An error response of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The problem details, when the body was one.
    pub problem: Option<Problem>,
    /// The start of a body that was not problem details.
    pub body: String,
    /// Source of the token, such as `CERTITUDE_TOKEN`, which the hint of a 401 names.
    pub token_source: String,
}

#[derive(Debug)]
pub enum Error {
    /// A command line that parses but cannot run, such as a missing API key.
    Usage(String),
    /// A missing token, an invalid URL or an invalid config file.
    Config {
        message: String,
        hint: Option<String>,
    },
    Api(Box<ApiError>),
    /// The connection to the gateway was refused or could not be made.
    Unreachable {
        url: String,
    },
    /// Any other failure of an HTTP request, such as a timeout.
    Transport {
        url: String,
        message: String,
    },
    /// A failure of certctl's own work: a failed job, an unreadable file.
    Failed(String),
    /// Writing to stdout or stderr failed, for example because the reader closed the pipe.
    Write(std::io::Error),
}

impl Error {
    /// Returns the process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

impl fmt::Display for Error {
    /// Writes the error as the lines certctl prints: `error: ...`, then any detail and hint
    /// lines, without a final newline.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Failed(message) => write!(formatter, "error: {message}"),
            Error::Config { message, hint } => {
                write!(formatter, "error: {message}")?;
                if let Some(hint) = hint {
                    write!(formatter, "\nhint: {hint}")?;
                }
                Ok(())
            }
            Error::Api(error) => write!(formatter, "{error}"),
            Error::Unreachable { url } => write!(
                formatter,
                "error: cannot reach the gateway at {url}: is it running? (make run)"
            ),
            Error::Transport { url, message } => {
                write!(formatter, "error: the request to {url} failed: {message}")
            }
            Error::Write(error) => write!(formatter, "error: cannot write the output: {error}"),
        }
    }
}

/// Request fields of the REST API whose certctl option has another name, with that option.
const FIELD_OPTIONS: [(&str, &str); 14] = [
    ("admin_credential_id", "--admin-credential"),
    ("api_key", "--api-key-file, ENTRUST_API_KEY or --api-key"),
    ("client_certificate_pem", "--client-certificate"),
    ("client_key_pem", "--client-key"),
    ("credential_id", "--credential"),
    ("csr_pem", "--csr"),
    ("dns_names", "--dns-name"),
    ("is_administrator", "--administrator or --no-administrator"),
    ("maintenance_window.days", "--window-days"),
    ("maintenance_window.end_hour", "--window-end"),
    ("maintenance_window.start_hour", "--window-start"),
    ("password", "--password-file or CERTCTL_PKCS12_PASSWORD"),
    ("renew_at_lifetime_percent", "--lifetime-percent"),
    ("renew_days_before_expiry", "--days-before-expiry"),
];

/// Returns the certctl option that sets the request field `name`, such as `dns_names[2]`,
/// when its name differs from the field's.
fn option_of_field(name: &str) -> Option<&'static str> {
    let field = name.split('[').next().unwrap_or(name);
    FIELD_OPTIONS
        .iter()
        .find(|(known, _)| *known == field)
        .map(|(_, option)| *option)
}

impl fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Some(problem) => {
                let message = if !problem.detail.is_empty() {
                    &problem.detail
                } else if !problem.title.is_empty() {
                    &problem.title
                } else {
                    "the request failed"
                };
                write!(formatter, "error: {message}")?;
                // The detail of a single invalid field already reads "name: reason".
                for param in &problem.invalid_params {
                    let line = format!("{}: {}", param.name, param.reason);
                    if !message.contains(&line) {
                        write!(formatter, "\n  {line}")?;
                    }
                }
                // The gateway names its request fields, so name the option that sets each one.
                for param in &problem.invalid_params {
                    if let Some(option) = option_of_field(&param.name) {
                        write!(formatter, "\nhint: {} is set with {option}", param.name)?;
                    }
                }
            }
            None => {
                write!(
                    formatter,
                    "error: the gateway returned HTTP {}",
                    status_text(self.status)
                )?;
                if !self.body.is_empty() {
                    write!(formatter, ": {}", self.body)?;
                }
            }
        }
        if self.status == 401 {
            write!(
                formatter,
                "\nhint: the gateway rejected the token from {}: check that it is complete, \
                 not expired and not revoked, or give another with --token, CERTITUDE_TOKEN or \
                 the config file",
                self.token_source
            )?;
        }
        Ok(())
    }
}

/// Returns the status code with its reason phrase, such as `502 Bad Gateway`.
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, body: &str) -> ApiError {
        ApiError {
            status,
            problem: serde_json::from_str(body).ok(),
            body: String::new(),
            token_source: "CERTITUDE_TOKEN".to_owned(),
        }
    }

    #[test]
    fn problem_prints_its_detail() {
        let error = api_error(
            404,
            r#"{"type":"urn:certitude:problem:not-found","title":"Not found","status":404,
                "detail":"order 0193 not found"}"#,
        );

        assert_eq!(error.to_string(), "error: order 0193 not found");
    }

    #[test]
    fn field_with_another_option_name_gets_a_hint() {
        let error = api_error(
            400,
            r#"{"title":"Invalid request","status":400,
                "detail":"renew_days_before_expiry: 0 is out of range",
                "invalid_params":[{"name":"renew_days_before_expiry","reason":"0 is out of range"}]}"#,
        );

        assert_eq!(
            error.to_string(),
            "error: renew_days_before_expiry: 0 is out of range\n\
             hint: renew_days_before_expiry is set with --days-before-expiry"
        );
    }

    #[test]
    fn single_invalid_field_is_not_repeated() {
        let error = api_error(
            400,
            r#"{"title":"Invalid request","status":400,"detail":"id: \"x\" is not a UUID",
                "invalid_params":[{"name":"id","reason":"\"x\" is not a UUID"}]}"#,
        );

        assert_eq!(error.to_string(), "error: id: \"x\" is not a UUID");
    }

    #[test]
    fn further_invalid_fields_get_a_line_each() {
        let error = api_error(
            400,
            r#"{"title":"Invalid request","status":400,"detail":"the order is invalid",
                "invalid_params":[{"name":"dns_names[1]","reason":"is not a DNS name"},
                                  {"name":"product","reason":"is unknown"}]}"#,
        );

        assert_eq!(
            error.to_string(),
            "error: the order is invalid\n  dns_names[1]: is not a DNS name\n  product: is unknown\n\
             hint: dns_names[1] is set with --dns-name"
        );
    }

    #[test]
    fn problem_without_detail_prints_its_title() {
        let error = api_error(500, r#"{"title":"Internal error","status":500}"#);

        assert_eq!(error.to_string(), "error: Internal error");
    }

    #[test]
    fn unauthorized_adds_a_token_hint() {
        let error = api_error(
            401,
            r#"{"title":"Authentication required","status":401,"detail":"the token is unknown"}"#,
        );
        let text = error.to_string();

        assert!(
            text.starts_with("error: the token is unknown\nhint: "),
            "{text}"
        );
        assert!(text.contains("token from CERTITUDE_TOKEN"), "{text}");
    }

    #[test]
    fn body_without_problem_prints_the_status() {
        let error = ApiError {
            status: 502,
            problem: None,
            body: "upstream connect error".to_owned(),
            token_source: "--token".to_owned(),
        };

        assert_eq!(
            error.to_string(),
            "error: the gateway returned HTTP 502 Bad Gateway: upstream connect error"
        );
    }

    #[test]
    fn unreachable_gateway_says_how_to_start_it() {
        let error = Error::Unreachable {
            url: "http://127.0.0.1:8000".to_owned(),
        };

        assert_eq!(
            error.to_string(),
            "error: cannot reach the gateway at http://127.0.0.1:8000: is it running? (make run)"
        );
        assert_eq!(error.exit_code(), EXIT_FAILURE);
    }

    #[test]
    fn usage_error_exits_with_two() {
        assert_eq!(Error::Usage("x".to_owned()).exit_code(), EXIT_USAGE);
    }
}
