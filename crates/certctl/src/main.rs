//! The `certctl` binary: runs [`certctl::run`] with the process's arguments, environment and
//! standard streams.

use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let env = match certctl::Environment::from_process() {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: cannot read the working directory: {error}");
            return ExitCode::from(certctl::error::EXIT_FAILURE);
        }
    };
    let mut stdout = std::io::stdout();
    // stderr stays unlocked: the progress bar's ticker thread writes to it too.
    let mut stderr = std::io::stderr();
    let interactive = stdout.is_terminal();
    let mut io = certctl::Io {
        stdout: &mut stdout,
        stderr: &mut stderr,
        interactive,
    };
    ExitCode::from(certctl::run(std::env::args_os(), &env, &mut io))
}
