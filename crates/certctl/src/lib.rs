//! certctl, the command-line client of Certitude's REST API: a command for each operation of
//! the gateway's `/v1` API (docs/api.md), with tables or JSON output, progress for long jobs,
//! and errors in plain words.
//!
//! [`run`] executes one command line against an [`Environment`] and writes to an [`Io`], so
//! that tests run commands in-process; `main.rs` passes the real process environment.

pub mod cli;
mod client;
mod commands;
pub mod config;
pub mod error;
pub mod json;
pub mod output;
mod wait;

use std::ffi::OsString;
use std::io::ErrorKind;

use clap::{CommandFactory, Parser};

pub use commands::fetch_list;
pub use config::Environment;
pub use output::{Format, Io};

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::commands::Context;
use crate::error::Error;
use crate::output::Output;

/// Exit code of a command that succeeded.
pub const EXIT_SUCCESS: u8 = 0;

/// Runs one command line (`args` includes the program name) and returns the exit code: 0 on
/// success, 1 when the command failed, 2 for an invalid command line.
pub fn run<I, T>(args: I, env: &Environment, io: &mut Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.render().to_string();
            let written = if error.use_stderr() {
                io.stderr.write_all(text.as_bytes())
            } else {
                io.stdout.write_all(text.as_bytes())
            };
            // Help and version exit with 0, usage errors with 2, as clap's own exit would.
            let code = u8::try_from(error.exit_code()).unwrap_or(error::EXIT_USAGE);
            return if written.is_err() {
                error::EXIT_FAILURE
            } else {
                code
            };
        }
    };
    match execute(cli, env, io) {
        Ok(()) => EXIT_SUCCESS,
        // The reader went away, as with `certctl ... | head`: nothing is left to report.
        Err(Error::Write(error)) if error.kind() == ErrorKind::BrokenPipe => EXIT_SUCCESS,
        Err(error) => {
            let _ = writeln!(io.stderr, "{error}");
            error.exit_code()
        }
    }
}

fn execute(cli: Cli, env: &Environment, io: &mut Io<'_>) -> Result<(), Error> {
    let Cli { global, command } = cli;
    if let Command::Completion { shell } = command {
        // Generated into memory first: clap_complete panics when its writer fails.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "certctl", &mut script);
        return io.stdout.write_all(&script).map_err(Error::Write);
    }
    let flags = config::Flags {
        url: global.url,
        token: global.token,
        config: global.config,
    };
    let settings = config::resolve(&flags, env)?;
    let client = Client::new(&settings)?;
    let mut context = Context {
        client,
        output: Output {
            io,
            format: global.output,
            field: global.field,
        },
        env,
    };
    commands::dispatch(&mut context, command)
}
