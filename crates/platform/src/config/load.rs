//! Parsing a service's config struct from environment variables and command-line flags, and
//! turning clap's errors into ones that name the environment variable.
//!
//! Both entry points work the same way: each variable of a setting is turned into its
//! `--flag=value` and parsed with clap's own environment lookup switched off. So the variables
//! a test passes are the only ones read, and a flag on the command line wins over its variable.
//! Settings of the top-level command and of one level of subcommands are supported.

use std::collections::{HashMap, HashSet};
use std::error::Error as _;
use std::ffi::OsString;

use clap::builder::Resettable;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, Parser};

/// Parses `T` from the process's command line and environment.
///
/// An empty variable counts as unset. `--help` and `--version` print their text and exit the
/// process, as `clap::Parser::parse` does.
pub fn load<T: Parser>() -> Result<T, ConfigError> {
    match load_from(std::env::args_os(), std::env::vars_os()) {
        Err(ConfigError::HelpRequested(output)) => output.exit(),
        result => result,
    }
}

/// Parses `T` from the given variables only, ignoring the process's command line and
/// environment. An empty variable counts as unset.
pub fn load_from_vars<T, K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<T, ConfigError>
where
    T: Parser,
    K: Into<OsString>,
    V: Into<OsString>,
{
    load_from([T::command().get_name().to_owned()], vars)
}

/// Parses `T` from the given command line (program name first) and variables, ignoring the
/// process's environment. A flag on the command line wins over its variable; an empty variable
/// counts as unset. `--help` and `--version` return [`ConfigError::HelpRequested`].
pub fn load_from<T, A, K, V>(
    args: impl IntoIterator<Item = A>,
    vars: impl IntoIterator<Item = (K, V)>,
) -> Result<T, ConfigError>
where
    T: Parser,
    A: Into<OsString>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    let documented = T::command();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let vars: HashMap<OsString, OsString> = vars
        .into_iter()
        .map(|(name, value)| (name.into(), value.into()))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    let mut settings = Setting::all(&documented);
    for subcommand in documented.get_subcommands() {
        settings.extend(Setting::all(subcommand));
    }

    let argv = merge_vars_into_args(&documented, &args, &vars);
    let matches = without_env_lookup(documented)
        .try_get_matches_from(argv)
        .map_err(|error| translate::<T>(error, &settings, &args))?;
    T::from_arg_matches(&matches).map_err(|error| translate::<T>(error, &settings, &args))
}

/// Switches off clap's reading of the process environment, for the command and its
/// subcommands: the variables are already in the argument list.
fn without_env_lookup(command: Command) -> Command {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|subcommand| subcommand.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| arg.env(Resettable::Reset));
    for name in subcommands {
        command = command.mut_subcommand(name, |subcommand| {
            subcommand.mut_args(|arg| arg.env(Resettable::Reset))
        });
    }
    command
}

/// A setting's flag and environment variable.
struct Setting {
    long: String,
    env: Option<String>,
    takes_value: bool,
    /// The value may hold a secret, so errors and `--help` leave it out.
    secret: bool,
}

impl Setting {
    fn all(command: &Command) -> Vec<Setting> {
        command
            .get_arguments()
            .filter_map(|arg| {
                Some(Setting {
                    long: arg.get_long()?.to_owned(),
                    env: arg.get_env().map(|env| env.to_string_lossy().into_owned()),
                    takes_value: arg.get_action().takes_values(),
                    secret: arg.is_hide_env_values_set(),
                })
            })
            .collect()
    }

    /// Returns the name errors use: the variable, or the flag for a setting without one.
    fn name(&self) -> String {
        self.env
            .clone()
            .unwrap_or_else(|| format!("--{}", self.long))
    }
}

/// Builds the argument list: the program name, one `--flag=value` per variable whose flag is
/// not on the command line, then the command line. When the command line names a subcommand
/// (one level, as in `certitude inventory`), the subcommand's variables follow its name.
fn merge_vars_into_args(
    command: &Command,
    args: &[OsString],
    vars: &HashMap<OsString, OsString>,
) -> Vec<OsString> {
    let program = args
        .first()
        .cloned()
        .unwrap_or_else(|| command.get_name().into());
    let cli = args.get(1..).unwrap_or_default();
    let on_command_line: HashSet<String> = cli
        .iter()
        .filter_map(|arg| arg.to_str()?.strip_prefix("--"))
        .map(|flag| flag.split('=').next().unwrap_or(flag).to_owned())
        .collect();
    let subcommand = cli.iter().enumerate().find_map(|(index, arg)| {
        let name = arg.to_str().filter(|name| !name.starts_with('-'))?;
        Some((index, command.find_subcommand(name)?))
    });

    let mut argv = vec![program];
    argv.extend(flags_from_vars(command, vars, &on_command_line));
    match subcommand {
        Some((index, subcommand)) => {
            argv.extend(cli[..=index].iter().cloned());
            argv.extend(flags_from_vars(subcommand, vars, &on_command_line));
            argv.extend(cli[index + 1..].iter().cloned());
        }
        None => argv.extend(cli.iter().cloned()),
    }
    argv
}

/// Returns `--flag=value` for each argument of `command` whose variable is set and whose flag
/// is not on the command line.
fn flags_from_vars(
    command: &Command,
    vars: &HashMap<OsString, OsString>,
    on_command_line: &HashSet<String>,
) -> Vec<OsString> {
    let mut flags = Vec::new();
    for setting in Setting::all(command) {
        let Some(env) = &setting.env else { continue };
        let Some(value) = vars.get(&OsString::from(env)) else {
            continue;
        };
        if on_command_line.contains(&setting.long) {
            continue;
        }
        let mut flag = OsString::from(format!("--{}", setting.long));
        if setting.takes_value {
            flag.push("=");
            flag.push(value);
        } else if !is_truthy(value) {
            continue;
        }
        flags.push(flag);
    }
    flags
}

/// Returns whether a variable turns on a flag that takes no value, as clap reads it.
fn is_truthy(value: &OsString) -> bool {
    let value = value.to_string_lossy().to_ascii_lowercase();
    !matches!(
        value.as_str(),
        "" | "0" | "false" | "no" | "off" | "n" | "f"
    )
}

/// Rewrites clap's error so that it names the setting's environment variable and hides the
/// values of secret settings.
fn translate<T: Parser>(
    error: clap::Error,
    settings: &[Setting],
    args: &[OsString],
) -> ConfigError {
    let setting_of = |rendered: &str| {
        let long = rendered
            .trim_start_matches("--")
            .split([' ', '='])
            .next()
            .unwrap_or_default();
        settings.iter().find(|setting| setting.long == long)
    };
    let name_of =
        |rendered: &str| setting_of(rendered).map_or_else(|| rendered.to_owned(), Setting::name);

    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Rendered again from a command that still lists each setting's variable.
            let documented = T::command().try_get_matches_from(args).err();
            ConfigError::HelpRequested(documented.unwrap_or(error))
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let rendered = context_string(&error, ContextKind::InvalidArg);
            let secret = setting_of(&rendered).is_none_or(|setting| setting.secret);
            let reason = match error.source() {
                Some(source) => source.to_string(),
                None => expected_one_of(&error),
            };
            ConfigError::InvalidValue {
                variable: name_of(&rendered),
                value: (!secret).then(|| context_string(&error, ContextKind::InvalidValue)),
                reason,
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let variables = match error.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(args)) => args.iter().map(|arg| name_of(arg)).collect(),
                _ => Vec::new(),
            };
            ConfigError::Missing { variables }
        }
        ErrorKind::ArgumentConflict => ConfigError::Conflict {
            first: name_of(&context_string(&error, ContextKind::InvalidArg)),
            second: name_of(&context_string(&error, ContextKind::PriorArg)),
        },
        _ => ConfigError::CommandLine(error),
    }
}

fn context_string(error: &clap::Error, kind: ContextKind) -> String {
    match error.get(kind) {
        Some(ContextValue::String(value)) => value.clone(),
        Some(ContextValue::Strings(values)) => values.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn expected_one_of(error: &clap::Error) -> String {
    match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(values)) => format!("expected one of: {}", values.join(", ")),
        _ => "expected a valid value".to_owned(),
    }
}

/// Errors in loading the configuration. Messages never contain the value of a setting that
/// may hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value its parser rejects.
    #[error("invalid value {} for {variable}: {reason}", shown(value))]
    InvalidValue {
        /// Environment variable (or flag) of the setting.
        variable: String,
        /// The rejected value; `None` for settings that may hold a secret.
        value: Option<String>,
        /// Description of a valid value.
        reason: String,
    },
    /// Required settings are unset.
    #[error("missing required setting {}: set the environment variable", variables.join(", "))]
    Missing {
        /// Environment variables (or flags) of the missing settings.
        variables: Vec<String>,
    },
    /// Two settings that exclude each other are both set.
    #[error("{first} and {second} are both set: set only one of them")]
    Conflict {
        /// One of the settings.
        first: String,
        /// The other.
        second: String,
    },
    /// A service that seals secrets found no master key.
    #[error("no master key configured: set CERTITUDE_MASTER_KEYS or CERTITUDE_MASTER_KEY_FILE")]
    NoMasterKey,
    /// `--help` or `--version` was given. The error contains the text to print.
    #[error("help or version requested")]
    HelpRequested(#[source] clap::Error),
    /// The command line is invalid in another way, such as an unknown flag.
    #[error(transparent)]
    CommandLine(clap::Error),
}

fn shown(value: &Option<String>) -> String {
    match value {
        Some(value) => format!("{value:?}"),
        None => "(hidden: the setting may hold a secret)".to_owned(),
    }
}
