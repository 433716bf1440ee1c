//! `certctl::run` in-process for what needs no gateway: the command line, completion scripts,
//! configuration errors and an unreachable gateway. The system tests run every command
//! against the real services.

use certctl::{Environment, Io};

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

fn run(env: &Environment, args: &[&str]) -> Run {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let args = std::iter::once("certctl").chain(args.iter().copied());
    let code = certctl::run(
        args,
        env,
        &mut Io {
            stdout: &mut stdout,
            stderr: &mut stderr,
            interactive: false,
        },
    );
    Run {
        code,
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

fn empty_env() -> Environment {
    Environment::new(std::env::temp_dir())
}

#[test]
fn help_exits_with_zero() {
    let help = run(&empty_env(), &["--help"]);

    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Usage: certctl"), "{}", help.stdout);
    assert!(help.stdout.contains("credentials"), "{}", help.stdout);
}

#[test]
fn missing_argument_exits_with_two() {
    let usage = run(&empty_env(), &["orders", "revoke", "some-order"]);

    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("--reason"), "{}", usage.stderr);
    assert!(usage.stdout.is_empty());
}

#[test]
fn negative_number_names_the_range() {
    let usage = run(&empty_env(), &["orders", "list", "--limit", "-1"]);

    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.contains("-1 is not in 1..=500"),
        "{}",
        usage.stderr
    );
}

#[test]
fn unknown_output_format_exits_with_two() {
    let usage = run(&empty_env(), &["orders", "list", "--output", "yaml"]);

    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("yaml"), "{}", usage.stderr);
}

#[test]
fn completion_covers_every_shell() {
    for (shell, marker) in [
        ("bash", "_certctl()"),
        ("zsh", "#compdef certctl"),
        ("fish", "complete -c certctl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let completion = run(&empty_env(), &["completion", shell]);

        assert_eq!(completion.code, 0, "{shell}: {}", completion.stderr);
        assert!(completion.stdout.contains(marker), "{shell}");
        assert!(completion.stdout.contains("imports"), "{shell}");
    }
}

#[test]
fn missing_token_gives_the_configuration_hint() {
    let missing = run(&empty_env(), &["license", "get"]);

    assert_eq!(missing.code, 1);
    assert!(missing.stdout.is_empty());
    assert!(
        missing
            .stderr
            .starts_with("error: no API token is configured\nhint: give one with --token TOKEN"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("CERTITUDE_TOKEN"),
        "{}",
        missing.stderr
    );
}

#[test]
fn closed_port_reads_as_unreachable_gateway() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    drop(listener);
    let env = empty_env()
        .with_var("CERTITUDE_URL", &url)
        .with_var("CERTITUDE_TOKEN", "ctk_unit-test-token");

    let unreachable = run(&env, &["orders", "list"]);

    assert_eq!(unreachable.code, 1);
    assert_eq!(
        unreachable.stderr,
        format!("error: cannot reach the gateway at {url}: is it running? (make run)\n")
    );
    assert!(!unreachable.stderr.contains("ctk_unit-test-token"));
}

#[test]
fn gateway_url_may_end_in_v1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    drop(listener);
    let env = empty_env().with_var("CERTITUDE_TOKEN", "ctk_unit-test-token");

    let unreachable = run(&env, &["--url", &format!("{url}/v1/"), "orders", "list"]);

    assert!(
        unreachable.stderr.contains(&format!("gateway at {url}:")),
        "{}",
        unreachable.stderr
    );
}

#[test]
fn api_key_is_required_to_add_a_credential() {
    let env = empty_env().with_var("CERTITUDE_TOKEN", "ctk_unit-test-token");

    let missing = run(
        &env,
        &[
            "credentials",
            "add",
            "--name",
            "demo",
            "--username",
            "demo-admin",
        ],
    );

    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("ENTRUST_API_KEY"),
        "{}",
        missing.stderr
    );
}
