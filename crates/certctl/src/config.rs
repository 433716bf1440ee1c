//! Settings resolution: the gateway URL and the API token come from a flag, an environment
//! variable or the config file, in that order of precedence.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::Error;

/// Gateway URL when no flag, variable or config file names one: `make run`'s gateway.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000";
/// Environment variable with the gateway URL.
pub const URL_VAR: &str = "CERTITUDE_URL";
/// Environment variable with the API token.
pub const TOKEN_VAR: &str = "CERTITUDE_TOKEN";
/// Environment variable with the config file's path.
pub const CONFIG_VAR: &str = "CERTCTL_CONFIG";

/// The process environment that certctl reads: its variables and working directory. Tests
/// build one by hand, because changing the real environment affects every thread.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    current_dir: PathBuf,
}

impl Environment {
    /// Returns an environment without variables, resolving relative paths against
    /// `current_dir`.
    pub fn new(current_dir: impl Into<PathBuf>) -> Self {
        Self {
            vars: BTreeMap::new(),
            current_dir: current_dir.into(),
        }
    }

    /// Reads the variables (those that are valid UTF-8) and working directory of this process.
    ///
    /// # Errors
    /// When the working directory cannot be read, for example because it was deleted.
    pub fn from_process() -> std::io::Result<Self> {
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Ok(Self {
            vars,
            current_dir: std::env::current_dir()?,
        })
    }

    /// Returns the environment with the variable `name` set to `value`.
    #[must_use]
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Returns the environment without the variable `name`.
    #[must_use]
    pub fn without_var(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// Returns the variable `name`; an empty variable counts as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Returns `path` made absolute against the working directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.current_dir.join(path)
    }

    /// Returns the default config file: `$XDG_CONFIG_HOME/certctl/config.toml`, or
    /// `$HOME/.config/certctl/config.toml` when `XDG_CONFIG_HOME` is unset or relative.
    pub fn default_config_path(&self) -> Option<PathBuf> {
        let xdg = self
            .var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute());
        let base = xdg.or_else(|| self.var("HOME").map(|home| Path::new(home).join(".config")))?;
        Some(base.join("certctl").join("config.toml"))
    }
}

/// The configuration flags of the command line.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub url: Option<String>,
    pub token: Option<String>,
    pub config: Option<PathBuf>,
}

/// The origin of a setting. Messages show it instead of the value, so that a message never
/// contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Variable(&'static str),
    File(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(formatter, "{flag}"),
            Source::Variable(name) => write!(formatter, "{name}"),
            Source::File(path) => write!(formatter, "the config file {}", path.display()),
            Source::Default => write!(formatter, "the default"),
        }
    }
}

/// The contents of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    url: Option<String>,
    token: Option<String>,
    /// File holding the token; relative paths are read from the config file's directory.
    token_file: Option<PathBuf>,
}

/// The resolved gateway URL and API token.
#[derive(Debug)]
pub struct Settings {
    /// Gateway URL without a trailing slash or `/v1`, such as `http://127.0.0.1:8000`.
    pub url: String,
    pub url_source: Source,
    token: Option<(SecretString, Source)>,
    /// The config file that was read or would have been read; named in the missing-token
    /// message.
    config_path: Option<PathBuf>,
}

impl Settings {
    /// Returns the API token and where it came from.
    ///
    /// # Errors
    /// A configuration error naming the three ways to give a token when none is configured.
    pub fn token(&self) -> Result<(&SecretString, &Source), Error> {
        match &self.token {
            Some((token, source)) => Ok((token, source)),
            None => Err(missing_token(self.config_path.as_deref())),
        }
    }
}

fn missing_token(config_path: Option<&Path>) -> Error {
    let file = config_path.map_or_else(
        || "a config file given with --config or CERTCTL_CONFIG".to_owned(),
        |path| path.display().to_string(),
    );
    Error::Config {
        message: "no API token is configured".to_owned(),
        hint: Some(format!(
            "give one with --token TOKEN, the environment variable {TOKEN_VAR}, or `token = \
             \"...\"` (or `token_file = \"PATH\"`) in {file}; `make run` writes an admin token \
             to .run/admin.token: export {TOKEN_VAR}=$(cat .run/admin.token)"
        )),
    }
}

/// Resolves the settings from the flags, the environment and the config file.
///
/// The config file is `--config`, else `CERTCTL_CONFIG`, else the default path. A file named by
/// the flag or variable must exist, but the default one may be missing.
///
/// # Errors
/// A configuration error for a missing or invalid config file, an invalid URL or an unreadable
/// token file. A missing token is reported only by [`Settings::token`], because some commands
/// need none.
pub fn resolve(flags: &Flags, env: &Environment) -> Result<Settings, Error> {
    let explicit_path = flags
        .config
        .clone()
        .or_else(|| env.var(CONFIG_VAR).map(PathBuf::from))
        .map(|path| env.resolve(&path));
    let config_path = explicit_path.clone().or_else(|| env.default_config_path());

    let url_given = flags.url.is_some() || env.var(URL_VAR).is_some();
    let token_given = flags.token.is_some() || env.var(TOKEN_VAR).is_some();
    let file = match (&explicit_path, &config_path) {
        (Some(path), _) => Some(read_config(path)?),
        (None, Some(path)) if !(url_given && token_given) && path.exists() => {
            Some(read_config(path)?)
        }
        _ => None,
    };
    let file_source = || Source::File(config_path.clone().unwrap_or_default());

    let (url, url_source) = if let Some(url) = &flags.url {
        (url.clone(), Source::Flag("--url"))
    } else if let Some(url) = env.var(URL_VAR) {
        (url.to_owned(), Source::Variable(URL_VAR))
    } else if let Some(url) = file.as_ref().and_then(|file| file.url.clone()) {
        (url, file_source())
    } else {
        (DEFAULT_URL.to_owned(), Source::Default)
    };
    let url = normalize_url(&url, &url_source)?;

    let token = if let Some(token) = &flags.token {
        Some((
            checked_token(token, &Source::Flag("--token"))?,
            Source::Flag("--token"),
        ))
    } else if let Some(token) = env.var(TOKEN_VAR) {
        let source = Source::Variable(TOKEN_VAR);
        Some((checked_token(token, &source)?, source))
    } else if let Some(file) = &file {
        file_token(file, config_path.as_deref().unwrap_or(Path::new("")))?
    } else {
        None
    };

    Ok(Settings {
        url,
        url_source,
        token,
        config_path,
    })
}

fn read_config(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Config {
        message: format!("cannot read the config file {}: {error}", path.display()),
        hint: Some("create it, or point --config or CERTCTL_CONFIG at an existing file".to_owned()),
    })?;
    toml::from_str(&text).map_err(|error| {
        // Where the parser stopped, as line and column counted from 1.
        let position = error.span().map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!(" at line {line}, column {column}")
        });
        Error::Config {
            message: format!(
                "the config file {} is invalid{position}: {}",
                path.display(),
                error.message()
            ),
            hint: Some("it takes the keys url, token and token_file".to_owned()),
        }
    })
}

/// Reads the token of the config file: `token`, or the contents of `token_file`.
fn file_token(
    file: &FileConfig,
    config_path: &Path,
) -> Result<Option<(SecretString, Source)>, Error> {
    let source = Source::File(config_path.to_path_buf());
    match (&file.token, &file.token_file) {
        (Some(_), Some(_)) => Err(Error::Config {
            message: format!(
                "the config file {} sets both token and token_file: keep one of them",
                config_path.display()
            ),
            hint: None,
        }),
        (Some(token), None) => Ok(Some((checked_token(token, &source)?, source))),
        (None, Some(token_file)) => {
            let directory = config_path.parent().unwrap_or(Path::new(""));
            let token_path = directory.join(token_file);
            let token = std::fs::read_to_string(&token_path).map_err(|error| Error::Config {
                message: format!(
                    "cannot read the token file {} named in {}: {error}",
                    token_path.display(),
                    config_path.display()
                ),
                hint: None,
            })?;
            let source = Source::File(token_path);
            Ok(Some((checked_token(&token, &source)?, source)))
        }
        (None, None) => Ok(None),
    }
}

/// Trims the token and checks that it can be sent in an `Authorization` header.
fn checked_token(token: &str, source: &Source) -> Result<SecretString, Error> {
    let token = token.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::Config {
            message: format!(
                "the API token from {source} is empty or contains spaces or non-ASCII \
                 characters"
            ),
            hint: Some("copy the token again, without quotes or line breaks".to_owned()),
        });
    }
    Ok(SecretString::from(token.to_owned()))
}

/// Checks the gateway URL and removes a trailing slash and `/v1`, so that both
/// `http://host:8000` and `http://host:8000/v1` work.
fn normalize_url(url: &str, source: &Source) -> Result<String, Error> {
    let invalid = |reason: &str| Error::Config {
        message: format!("the gateway URL {url:?} from {source} is invalid: {reason}"),
        hint: Some(format!(
            "use an http:// or https:// URL such as {DEFAULT_URL}"
        )),
    };
    let parsed = url::Url::parse(url.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    let text = parsed.as_str().trim_end_matches('/');
    let text = text.strip_suffix("/v1").unwrap_or(text);
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// A scratch directory under the system temp directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("certctl-config-{name}-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).expect("create the scratch directory");
            Self(path)
        }

        fn write(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).expect("write a scratch file");
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn token_of(settings: &Settings) -> (String, Source) {
        let (token, source) = settings.token().expect("a token is configured");
        (token.expose_secret().to_owned(), source.clone())
    }

    #[test]
    fn flag_beats_variable_and_file() {
        let scratch = Scratch::new("flag");
        let config = scratch.write(
            "config.toml",
            "url = \"http://file.test:1\"\ntoken = \"file-token\"\n",
        );
        let env = Environment::new(&scratch.0)
            .with_var(URL_VAR, "http://env.test:2")
            .with_var(TOKEN_VAR, "env-token");
        let flags = Flags {
            url: Some("http://flag.test:3".to_owned()),
            token: Some("flag-token".to_owned()),
            config: Some(config),
        };

        let settings = resolve(&flags, &env).expect("valid settings");

        assert_eq!(settings.url, "http://flag.test:3");
        assert_eq!(settings.url_source, Source::Flag("--url"));
        assert_eq!(
            token_of(&settings),
            ("flag-token".to_owned(), Source::Flag("--token"))
        );
    }

    #[test]
    fn variable_beats_file() {
        let scratch = Scratch::new("variable");
        let config = scratch.write(
            "config.toml",
            "url = \"http://file.test:1\"\ntoken = \"file-token\"\n",
        );
        let env = Environment::new(&scratch.0)
            .with_var(URL_VAR, "http://env.test:2")
            .with_var(TOKEN_VAR, "env-token")
            .with_var(CONFIG_VAR, config.to_str().expect("UTF-8 path"));

        let settings = resolve(&Flags::default(), &env).expect("valid settings");

        assert_eq!(settings.url, "http://env.test:2");
        assert_eq!(
            token_of(&settings),
            ("env-token".to_owned(), Source::Variable(TOKEN_VAR))
        );
    }

    #[test]
    fn file_fills_what_flags_and_variables_leave() {
        let scratch = Scratch::new("file");
        let config_dir = scratch.0.join("certctl");
        std::fs::create_dir_all(&config_dir).expect("create the config directory");
        let config = scratch.write(
            "certctl/config.toml",
            "url = \"https://file.test/v1/\"\ntoken = \"file-token\"\n",
        );
        let env = Environment::new("/")
            .with_var("XDG_CONFIG_HOME", scratch.0.to_str().expect("UTF-8 path"));

        let settings = resolve(&Flags::default(), &env).expect("valid settings");

        assert_eq!(settings.url, "https://file.test");
        assert_eq!(settings.url_source, Source::File(config.clone()));
        assert_eq!(
            token_of(&settings),
            ("file-token".to_owned(), Source::File(config))
        );
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let scratch = Scratch::new("syntax");
        let config = scratch.write("config.toml", "url = \"http://a.test\"\ntoken = ctk\n");
        let flags = Flags {
            config: Some(config),
            ..Flags::default()
        };

        let error = resolve(&flags, &Environment::new("/")).expect_err("invalid TOML");

        assert!(
            error.to_string().contains("is invalid at line 2, column 9"),
            "{error}"
        );
    }

    #[test]
    fn token_file_is_read_beside_the_config() {
        let scratch = Scratch::new("token-file");
        scratch.write("admin.token", "ctk_from_file\n");
        let config = scratch.write("config.toml", "token_file = \"admin.token\"\n");
        let flags = Flags {
            config: Some(config),
            ..Flags::default()
        };

        let settings = resolve(&flags, &Environment::new("/")).expect("valid settings");

        assert_eq!(token_of(&settings).0, "ctk_from_file");
        assert_eq!(settings.url, DEFAULT_URL);
        assert_eq!(settings.url_source, Source::Default);
    }

    #[test]
    fn home_config_is_the_fallback() {
        let scratch = Scratch::new("home");
        std::fs::create_dir_all(scratch.0.join(".config/certctl")).expect("create directories");
        scratch.write(".config/certctl/config.toml", "token = \"home-token\"\n");
        let env = Environment::new("/").with_var("HOME", scratch.0.to_str().expect("UTF-8"));

        let settings = resolve(&Flags::default(), &env).expect("valid settings");

        assert_eq!(token_of(&settings).0, "home-token");
    }

    #[test]
    fn missing_token_names_every_way_to_give_one() {
        let scratch = Scratch::new("missing");
        let env = Environment::new("/").with_var("HOME", scratch.0.to_str().expect("UTF-8"));

        let settings = resolve(&Flags::default(), &env).expect("valid settings");
        let message = settings.token().expect_err("no token").to_string();

        assert!(message.contains("--token"), "{message}");
        assert!(message.contains(TOKEN_VAR), "{message}");
        assert!(message.contains(".config/certctl/config.toml"), "{message}");
    }

    #[test]
    fn explicit_config_must_exist() {
        let flags = Flags {
            config: Some(PathBuf::from("/nonexistent/certctl.toml")),
            ..Flags::default()
        };

        let error = resolve(&flags, &Environment::new("/")).expect_err("the file is missing");

        assert!(
            error.to_string().contains("/nonexistent/certctl.toml"),
            "{error}"
        );
    }

    #[test]
    fn unknown_config_key_is_rejected() {
        let scratch = Scratch::new("unknown-key");
        let config = scratch.write("config.toml", "tokn = \"typo\"\n");
        let flags = Flags {
            config: Some(config),
            ..Flags::default()
        };

        let error = resolve(&flags, &Environment::new("/")).expect_err("the key is unknown");

        assert!(error.to_string().contains("tokn"), "{error}");
    }

    #[test]
    fn invalid_url_is_rejected_with_its_source() {
        let env = Environment::new("/").with_var(URL_VAR, "ftp://gateway.test");

        let error = resolve(&Flags::default(), &env).expect_err("ftp is not allowed");

        assert!(error.to_string().contains(URL_VAR), "{error}");
    }

    #[test]
    fn token_never_appears_in_debug_output() {
        let env = Environment::new("/").with_var(TOKEN_VAR, "ctk_secret_value");

        let settings = resolve(&Flags::default(), &env).expect("valid settings");

        assert!(!format!("{settings:?}").contains("ctk_secret_value"));
    }
}
