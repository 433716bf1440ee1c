//! certctl against every Certitude service, the real Postgres and NATS, and the Entrust
//! simulator. The test reads the README's "First steps with certctl" section and runs its
//! commands one by one, in-process, so the README and this test cannot drift apart: a changed
//! README command is a changed test. It then checks the JSON output, more commands, and the
//! errors certctl prints.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use certctl::{Environment, Io};
use certitude_system_tests::{ADMIN_TOKEN, System};
use entrust_sim::Scenario;
use secrecy::ExposeSecret;
use serde_json::Value;

/// Simulator URL that the README uses; the test's simulator listens on another port.
const README_SIM_URL: &str = "http://127.0.0.1:8443/enterprise/v2";

/// What one certctl command line returned.
#[derive(Debug, Clone)]
struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

/// Runs certctl with `args` in-process, on a blocking thread because its HTTP client blocks.
async fn certctl<S: AsRef<str>>(env: &Environment, args: &[S]) -> Run {
    let env = env.clone();
    let args: Vec<String> = std::iter::once("certctl".to_owned())
        .chain(args.iter().map(|arg| arg.as_ref().to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let code = certctl::run(
            args,
            &env,
            &mut Io {
                stdout: &mut stdout,
                stderr: &mut stderr,
                interactive: false,
            },
        );
        Run {
            code,
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Runs certctl and fails the test unless it exits with 0.
async fn certctl_ok<S: AsRef<str>>(env: &Environment, args: &[S]) -> Run {
    let run = certctl(env, args).await;
    let line: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    assert_eq!(
        run.code,
        0,
        "certctl {} failed:\n{}{}",
        line.join(" "),
        run.stdout,
        run.stderr
    );
    run
}

/// One command of the README section: `[NAME=$(][VAR=value ...] certctl ARGS[)]`.
#[derive(Debug)]
struct Step {
    line: String,
    capture: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

/// Reads the commands of the README's "First steps with certctl" section. Lines continued with
/// a backslash are joined; `export` lines set up the shell, which the test does through
/// [`Environment`], and are returned separately.
fn readme_steps() -> (Vec<String>, Vec<Step>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find("### First steps with certctl")
        .expect("README.md has the section \"First steps with certctl\"");
    let section = &readme[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];

    let mut exports = Vec::new();
    let mut steps = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start.trim());
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{}", line.trim());
        pending.clear();
        if full.is_empty() || full.starts_with('#') {
            continue;
        }
        if full.starts_with("export ") {
            exports.push(full);
            continue;
        }
        steps.push(parse_step(&full));
    }
    (exports, steps)
}

fn parse_step(line: &str) -> Step {
    let (capture, command) = match line.split_once("=$(") {
        Some((name, rest)) if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') => (
            Some(name.to_owned()),
            rest.strip_suffix(')')
                .unwrap_or_else(|| panic!("the capture must end the line: {line}")),
        ),
        _ => (None, line),
    };
    let mut env = Vec::new();
    let mut args = Vec::new();
    for word in command.split_whitespace() {
        assert!(
            !word.contains(['"', '\'', '`', ';', '|', '&', '<', '>', '(', ')']),
            "the test runs plain words only; quote or redirect found in: {line}"
        );
        if args.is_empty() && word != "certctl" {
            let (name, value) = word
                .split_once('=')
                .unwrap_or_else(|| panic!("only VAR=value may precede certctl: {line}"));
            env.push((name.to_owned(), value.to_owned()));
            continue;
        }
        args.push(word.to_owned());
    }
    assert_eq!(args.first().map(String::as_str), Some("certctl"), "{line}");
    args.remove(0);
    Step {
        line: line.to_owned(),
        capture,
        env,
        args,
    }
}

/// Replaces `$NAME` with the captured variables and the README's simulator URL with the
/// test's.
fn substitute(word: &str, vars: &HashMap<String, String>, sim_url: &str) -> String {
    let mut word = word.replace(README_SIM_URL, sim_url);
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    for name in names {
        word = word.replace(&format!("${name}"), &vars[name]);
    }
    assert!(!word.contains('$'), "unknown variable in {word}");
    word
}

/// Returns the run of the README command whose line contains `needle`.
fn step_run<'a>(runs: &'a [(String, Run)], needle: &str) -> &'a Run {
    &runs
        .iter()
        .find(|(line, _)| line.contains(needle))
        .unwrap_or_else(|| panic!("the README runs no command with {needle:?}"))
        .1
}

/// Returns the DER of every `CERTIFICATE` block of a PEM text.
fn certificate_ders(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map(|block| block.unwrap())
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
        .collect()
}

fn uuid_of(text: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(text.trim()).unwrap_or_else(|_| panic!("{text:?} is not a UUID"))
}

/// Number of body rows of a table that certctl printed.
fn table_rows(table: &str) -> usize {
    // Rows start with │; the header is the first of them.
    table.lines().filter(|line| line.starts_with('│')).count() - 1
}

/// A directory for the files certctl writes, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("certctl-system-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readme_certctl_steps_work_end_to_end() {
    let scenario = Scenario::demo();
    let admin = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == "demo-admin")
        .expect("the demo scenario has demo-admin")
        .clone();
    let system = System::start().await.unwrap();
    let scratch = Scratch::new();
    // No HOME and no XDG_CONFIG_HOME: no config file of the machine is read.
    let env = Environment::new(&scratch.0)
        .with_var("CERTITUDE_URL", &system.gateway_url)
        .with_var("CERTITUDE_TOKEN", ADMIN_TOKEN);

    // The README's commands, in order.
    let (exports, steps) = readme_steps();
    assert_eq!(
        exports,
        ["export PATH=$PWD/target/debug:$PATH CERTITUDE_TOKEN=$(cat .run/admin.token)"],
        "the README sets up PATH and the token as run.sh provides them"
    );
    assert!(steps.len() >= 10, "README steps: {steps:?}");
    let sim_url = system.sim.base_url();
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut runs: Vec<(String, Run)> = Vec::new();
    for step in steps {
        let mut step_env = env.clone();
        for (name, value) in &step.env {
            step_env = step_env.with_var(name, value);
        }
        let args: Vec<String> = step
            .args
            .iter()
            .map(|arg| substitute(arg, &vars, &sim_url))
            .collect();
        let run = certctl(&step_env, &args).await;
        assert_eq!(
            run.code, 0,
            "README command `{}` failed:\n{}{}",
            step.line, run.stdout, run.stderr
        );
        if let Some(name) = &step.capture {
            vars.insert(name.clone(), run.stdout.trim().to_owned());
        }
        if step.env.iter().any(|(name, _)| name == "ENTRUST_API_KEY") {
            assert_eq!(
                step.env,
                [(
                    "ENTRUST_API_KEY".to_owned(),
                    admin.api_key.expose_secret().to_owned()
                )],
                "the README's API key is the demo administrator's"
            );
        }
        runs.push((step.line, run));
    }

    let credential_id = uuid_of(&vars["CREDENTIAL"]).to_string();
    let order_id = uuid_of(&vars["ORDER"]).to_string();
    let certificate_id = uuid_of(&vars["CERTIFICATE"]).to_string();

    // The credential and its synced catalog.
    let credential = step_run(&runs, "credentials get");
    assert!(credential.stdout.contains(&credential_id), "{credential:?}");
    assert!(credential.stdout.contains("demo-admin"), "{credential:?}");
    let sync = step_run(&runs, "credentials sync");
    assert!(
        sync.stdout.starts_with("sync ") && sync.stdout.contains(" succeeded: "),
        "{sync:?}"
    );
    let organizations = step_run(&runs, "credentials organizations");
    for organization in &scenario.organizations {
        assert!(
            organizations.stdout.contains(&organization.name),
            "organization {} missing:\n{}",
            organization.name,
            organizations.stdout
        );
    }
    let domains = step_run(&runs, "credentials domains");
    for domain in &scenario.domains {
        assert!(
            domains.stdout.contains(&domain.domain_name),
            "domain {} missing:\n{}",
            domain.domain_name,
            domains.stdout
        );
    }
    let products = step_run(&runs, "credentials products");
    for product in &scenario.inventory {
        assert!(
            products.stdout.contains(&product.product_type),
            "product {} missing:\n{}",
            product.product_type,
            products.stdout
        );
    }
    for (kind, expected) in [
        ("organizations", scenario.organizations.len()),
        ("domains", scenario.domains.len()),
        ("products", scenario.inventory.len()),
    ] {
        let run = certctl_ok(
            &env,
            &[
                "credentials",
                kind,
                &credential_id,
                "--all",
                "--output",
                "json",
            ],
        )
        .await;
        assert_eq!(
            run.json()["items"].as_array().unwrap().len(),
            expected,
            "{kind}"
        );
    }

    // The import's summary line counts every order of the scenario as imported.
    let import = step_run(&runs, "imports start");
    let summary = import.stdout.trim();
    assert!(summary.starts_with("import "), "{summary}");
    assert!(summary.contains(" succeeded: "), "{summary}");
    assert!(
        summary.contains(&format!("imported {},", scenario.orders.len())),
        "{summary}"
    );
    assert!(summary.ends_with("failed 0"), "{summary}");
    let newest = step_run(&runs, "orders list --limit 5");
    assert_eq!(table_rows(&newest.stdout), 5, "{}", newest.stdout);
    assert!(
        newest.stderr.contains("more results: add --cursor "),
        "{}",
        newest.stderr
    );

    // The order: an idempotency key was generated and printed, and the order is issued.
    let create = step_run(&runs, "orders create");
    assert!(
        create.stderr.contains("idempotency key: "),
        "{}",
        create.stderr
    );
    let order = certctl_ok(&env, &["orders", "get", &order_id, "--output", "json"])
        .await
        .json();
    assert_eq!(order["id"], order_id.as_str());
    assert_eq!(order["status"], "ISSUED");
    assert_eq!(order["product"], "STANDARD_SSL");
    assert_eq!(order["common_name"], "www.example.com");
    assert_eq!(order["key_algorithm"], "ECDSA_P256");
    assert_eq!(order["credential_id"], credential_id.as_str());
    assert_eq!(order["certificate_id"], certificate_id.as_str());
    assert_eq!(order["inventory_state"], "in_inventory");
    let dns_names: HashSet<&str> = order["dns_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(dns_names, HashSet::from(["www.example.com", "example.com"]));
    let raw = certctl_ok(&env, &["orders", "get", &order_id, "-o", "json"]).await;
    assert!(
        raw.stdout.starts_with("{\n  \"id\": "),
        "JSON keeps the API's member order:\n{}",
        raw.stdout
    );

    // The certificate: found by search, shown, exported.
    let search = step_run(&runs, "certificates list");
    // Newest first: the new certificate, then the scenario's own www.example.com order.
    let first_row = search
        .stdout
        .lines()
        .filter(|line| line.starts_with('│'))
        .nth(1)
        .unwrap_or_default();
    assert!(first_row.contains(&certificate_id), "{}", search.stdout);
    let certificate_table = step_run(&runs, "certificates get");
    assert!(
        certificate_table.stdout.contains(&certificate_id),
        "{}",
        certificate_table.stdout
    );
    assert!(
        certificate_table.stdout.contains("www.example.com"),
        "{}",
        certificate_table.stdout
    );
    let certificate = certctl_ok(
        &env,
        &["certificates", "get", &certificate_id, "--output", "json"],
    )
    .await
    .json();
    assert_eq!(certificate["id"], certificate_id.as_str());
    assert_eq!(certificate["order_id"], order_id.as_str());
    assert_eq!(certificate["key_type"], "EC");
    assert!(
        certificate["subject"]
            .as_str()
            .unwrap()
            .contains("CN=www.example.com"),
        "{certificate}"
    );
    let export = step_run(&runs, "certificates export");
    assert!(
        export.stdout.starts_with(&format!(
            "wrote fullchain of certificate {certificate_id} to www.example.com.pem"
        )),
        "{}",
        export.stdout
    );
    let fullchain = std::fs::read(scratch.0.join("www.example.com.pem")).unwrap();
    let exported = certificate_ders(&fullchain);
    let leaf = certificate_ders(certificate["certificate_pem"].as_str().unwrap().as_bytes());
    assert_eq!(
        exported.first(),
        leaf.first(),
        "the full chain starts with the leaf"
    );
    assert!(exported.len() >= 2, "the full chain holds the issuers too");

    // The renewal policy and the forecast.
    let policy = step_run(&runs, "renewals policy set");
    assert!(policy.stdout.contains(&order_id), "{}", policy.stdout);
    let policy_json = certctl_ok(
        &env,
        &["renewals", "policy", "get", &order_id, "--output", "json"],
    )
    .await
    .json();
    assert_eq!(policy_json["renew_days_before_expiry"], 30);
    assert_eq!(policy_json["enabled"], true);
    let forecast = step_run(&runs, "renewals forecast");
    assert!(forecast.stdout.contains(&order_id), "{}", forecast.stdout);

    check_more_commands(&env, &scratch, &credential_id, &order_id, &certificate_id).await;
    check_errors(&env, &scratch, &order_id).await;

    for (line, run) in &runs {
        assert!(
            !run.stdout.contains(ADMIN_TOKEN) && !run.stderr.contains(ADMIN_TOKEN),
            "`{line}` printed the token"
        );
    }
    system.stop().await.unwrap();
}

/// Jobs, paging, the PKCS#12 round trip, order operations, deployments, license, tokens and
/// the audit trail.
async fn check_more_commands(
    env: &Environment,
    scratch: &Scratch,
    credential_id: &str,
    order_id: &str,
    certificate_id: &str,
) {
    // A second import with JSON output finds nothing new.
    let job = certctl_ok(
        env,
        &[
            "imports",
            "start",
            "--credential",
            credential_id,
            "--wait",
            "--output",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "order_import", "{job}");
    assert_eq!(job["progress"]["imported"], 0, "{job}");
    assert_eq!(job["progress"]["failed"], 0, "{job}");
    let job_id = job["id"].as_str().unwrap();
    let again = certctl_ok(env, &["imports", "get", job_id, "-o", "json"])
        .await
        .json();
    assert_eq!(again, job);

    // A sync of every credential, waited for.
    let syncs = certctl_ok(env, &["syncs", "start", "--kinds", "domains", "--wait"]).await;
    assert_eq!(syncs.stdout.lines().count(), 1, "{}", syncs.stdout);
    assert!(syncs.stdout.contains(" succeeded: "), "{}", syncs.stdout);

    // Paging: --all follows next_cursor to the same orders as one large page.
    let every = certctl_ok(env, &["orders", "list", "--limit", "500", "-o", "json"])
        .await
        .json();
    let every_ids: Vec<&Value> = every["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| &order["id"])
        .collect();
    let paged = certctl_ok(
        env,
        &["orders", "list", "--limit", "3", "--all", "-o", "json"],
    )
    .await
    .json();
    let paged_ids: Vec<&Value> = paged["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| &order["id"])
        .collect();
    assert_eq!(paged_ids, every_ids);
    assert!(paged.get("next_cursor").is_none(), "{paged}");
    let first_page = certctl_ok(env, &["orders", "list", "--limit", "3", "--field", "id"]).await;
    assert_eq!(
        first_page.stdout.lines().count(),
        3,
        "{}",
        first_page.stdout
    );
    assert!(first_page.stderr.is_empty(), "{}", first_page.stderr);
    let page_json = certctl_ok(env, &["orders", "list", "--limit", "3", "-o", "json"])
        .await
        .json();
    let cursor = page_json["next_cursor"].as_str().unwrap();
    let second_page = certctl_ok(
        env,
        &[
            "orders", "list", "--limit", "3", "--cursor", cursor, "--field", "id",
        ],
    )
    .await;
    let second_ids: Vec<&str> = second_page.stdout.lines().collect();
    let expected: Vec<&str> = every_ids[3..6]
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(second_ids, expected);

    // PKCS#12 export, and its import back finds the same certificate.
    let pkcs12_env = env
        .clone()
        .with_var("CERTCTL_PKCS12_PASSWORD", "changeit-system-test");
    let written = certctl_ok(
        &pkcs12_env,
        &[
            "certificates",
            "export",
            certificate_id,
            "--pkcs12",
            "--out",
            "www.example.com.p12",
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(written["part"], "pkcs12");
    let pkcs12 = std::fs::read(scratch.0.join("www.example.com.p12")).unwrap();
    assert_eq!(written["bytes"], pkcs12.len());
    assert_eq!(
        pkcs12.first(),
        Some(&0x30),
        "a PKCS#12 file is a DER SEQUENCE"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scratch.0.join("www.example.com.p12"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "a file with a private key is the owner's only"
        );
    }
    let imported = certctl_ok(
        &pkcs12_env,
        &[
            "certificates",
            "import",
            "www.example.com.p12",
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(imported["files"][0]["format"], "pkcs12", "{imported}");
    assert_eq!(imported["files_failed"], 0, "{imported}");
    let first = &imported["files"][0]["certificates"][0];
    assert_eq!(first["id"], certificate_id, "{imported}");
    assert_eq!(first["outcome"], "duplicate", "{imported}");
    let table = certctl_ok(
        &pkcs12_env,
        &["certificates", "import", "www.example.com.p12"],
    )
    .await;
    // The file contains the issuers too; the first import stored them, so now all are duplicates.
    let in_file = imported["files"][0]["certificates"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        table.stdout.contains(&format!(
            "certificates added 0, duplicates {in_file}, waiting for a license slot 0, keys \
             stored 0, files failed 0"
        )),
        "{}",
        table.stdout
    );

    // An order queued for approval, declined with a reason.
    let queued = certctl_ok(
        env,
        &[
            "orders",
            "create",
            "--credential",
            credential_id,
            "--product",
            "STANDARD_SSL",
            "--common-name",
            "queued.example.com",
            "--queue-for-approval",
            "--idempotency-key",
            "certctl-queued-order",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(
        queued.stderr.is_empty(),
        "a given key is not printed: {}",
        queued.stderr
    );
    let queued = queued.json();
    assert_eq!(queued["status"], "PENDING", "{queued}");
    let queued_id = queued["id"].as_str().unwrap();
    let repeated = certctl_ok(
        env,
        &[
            "orders",
            "create",
            "--credential",
            credential_id,
            "--product",
            "STANDARD_SSL",
            "--common-name",
            "queued.example.com",
            "--queue-for-approval",
            "--idempotency-key",
            "certctl-queued-order",
            "--field",
            "id",
        ],
    )
    .await;
    assert_eq!(
        repeated.stdout.trim(),
        queued_id,
        "the same key returns the first order"
    );
    let declined = certctl_ok(
        env,
        &[
            "orders",
            "decline",
            queued_id,
            "--reason",
            "not needed after all",
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(declined["status"], "DECLINED", "{declined}");
    let history = certctl_ok(env, &["orders", "history", queued_id, "-o", "json"])
        .await
        .json();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"decline"), "{history}");

    // Deployment locations: add, list, confirm, remove.
    let deployment = certctl_ok(
        env,
        &[
            "deployments",
            "add",
            certificate_id,
            "--host",
            "web-1.example.com",
            "--port",
            "443",
            "--needs-deployment",
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(deployment["needs_deployment"], true, "{deployment}");
    let deployment_id = deployment["id"].as_str().unwrap();
    let pending = certctl_ok(
        env,
        &[
            "deployments",
            "list",
            "--needs-deployment",
            "true",
            "--field",
            "id",
        ],
    )
    .await;
    assert_eq!(pending.stdout.trim(), deployment_id);
    let confirmed = certctl_ok(
        env,
        &[
            "deployments",
            "confirm",
            certificate_id,
            deployment_id,
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(confirmed["needs_deployment"], false, "{confirmed}");
    certctl_ok(
        env,
        &["deployments", "remove", certificate_id, deployment_id],
    )
    .await;
    let left = certctl_ok(
        env,
        &[
            "deployments",
            "list",
            "--certificate",
            certificate_id,
            "-o",
            "json",
        ],
    )
    .await
    .json();
    assert_eq!(left["items"], Value::Array(Vec::new()), "{left}");

    // License: set, read, lift.
    let license = certctl_ok(env, &["license", "set", "500", "-o", "json"])
        .await
        .json();
    assert_eq!(license["licensed"], 500, "{license}");
    let held_count = license["held"].as_u64().unwrap();
    assert_eq!(license["available"], 500 - held_count, "{license}");
    let lifted = certctl_ok(env, &["license", "set", "--unlimited", "-o", "json"])
        .await
        .json();
    assert_eq!(lifted["licensed"], Value::Null, "{lifted}");

    // The renewal policy, disabled again; the audit has no attempt yet.
    let disabled = certctl_ok(
        env,
        &["renewals", "policy", "delete", order_id, "-o", "json"],
    )
    .await
    .json();
    assert_eq!(disabled["enabled"], false, "{disabled}");
    let attempts = certctl_ok(
        env,
        &["renewals", "audit", "--order", order_id, "-o", "json"],
    )
    .await
    .json();
    assert_eq!(attempts["items"], Value::Array(Vec::new()), "{attempts}");

    // Tokens: a viewer may read but not set the license; the error names the role.
    let viewer = certctl_ok(
        env,
        &[
            "tokens",
            "create",
            "--name",
            "certctl-viewer",
            "--role",
            "viewer",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(
        viewer.stderr.contains("store token_secret now"),
        "{}",
        viewer.stderr
    );
    let viewer = viewer.json();
    let viewer_secret = viewer["token_secret"].as_str().unwrap();
    let viewer_id = viewer["id"].as_str().unwrap();
    let viewer_env = env.clone().with_var("CERTITUDE_TOKEN", viewer_secret);
    certctl_ok(&viewer_env, &["orders", "get", order_id]).await;
    let forbidden = certctl(&viewer_env, &["license", "set", "10"]).await;
    assert_eq!(forbidden.code, 1, "{forbidden:?}");
    assert!(
        forbidden
            .stderr
            .starts_with("error: this action needs the admin role"),
        "{}",
        forbidden.stderr
    );
    assert!(
        !forbidden.stderr.contains(viewer_secret),
        "{}",
        forbidden.stderr
    );
    let tokens = certctl_ok(env, &["tokens", "list", "--field", "name"]).await;
    assert!(
        tokens.stdout.lines().any(|name| name == "certctl-viewer"),
        "{}",
        tokens.stdout
    );
    let revoked = certctl_ok(env, &["tokens", "revoke", viewer_id, "-o", "json"])
        .await
        .json();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let rejected = certctl(&viewer_env, &["orders", "get", order_id]).await;
    assert_eq!(rejected.code, 1, "{rejected:?}");
    assert!(
        rejected
            .stderr
            .contains("\nhint: the gateway rejected the token from CERTITUDE_TOKEN"),
        "{}",
        rejected.stderr
    );

    // The audit trail recorded the changes; its head anchors the chain.
    let head = certctl_ok(env, &["audit", "head", "-o", "json"])
        .await
        .json();
    let sequence = head["sequence"].as_i64().unwrap();
    assert!(sequence > 10, "{head}");
    assert_eq!(
        head["anchor"],
        format!("{sequence}:{}", head["hash"].as_str().unwrap())
    );
    let latest = certctl_ok(
        env,
        &["audit", "list", "--limit", "1", "--field", "sequence"],
    )
    .await;
    assert_eq!(latest.stdout.trim(), sequence.to_string());

    // The OpenAPI document is JSON even in table format.
    let openapi = certctl_ok(env, &["openapi"]).await.json();
    assert!(
        openapi["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        openapi["openapi"]
    );
    assert!(openapi["paths"]["/v1/orders"].is_object());

    // Completion scripts need no gateway.
    let completion = certctl_ok(&Environment::new(&scratch.0), &["completion", "bash"]).await;
    assert!(completion.stdout.contains("_certctl"), "bash completion");
}

/// Errors read as plain words with exit code 1, usage errors exit with 2.
async fn check_errors(env: &Environment, scratch: &Scratch, order_id: &str) {
    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = certctl(env, &["orders", "get", &unknown]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert_eq!(missing.stdout, "");
    assert_eq!(
        missing.stderr,
        format!("error: order {unknown} not found\n")
    );

    let invalid = certctl(env, &["orders", "get", "not-a-uuid"]).await;
    assert_eq!(invalid.code, 1, "{invalid:?}");
    assert_eq!(invalid.stderr, "error: id: \"not-a-uuid\" is not a UUID\n");

    let no_token = certctl(
        &env.clone()
            .without_var("CERTITUDE_TOKEN")
            .with_var("HOME", scratch.0.to_str().unwrap()),
        &["orders", "list"],
    )
    .await;
    assert_eq!(no_token.code, 1, "{no_token:?}");
    assert!(
        no_token
            .stderr
            .starts_with("error: no API token is configured\nhint: "),
        "{}",
        no_token.stderr
    );
    for way in ["--token", "CERTITUDE_TOKEN", ".config/certctl/config.toml"] {
        assert!(no_token.stderr.contains(way), "{way}: {}", no_token.stderr);
    }

    let wrong_token = certctl(
        &env.clone()
            .with_var("CERTITUDE_TOKEN", "ctk_not-a-real-token"),
        &["orders", "list"],
    )
    .await;
    assert_eq!(wrong_token.code, 1, "{wrong_token:?}");
    assert!(
        wrong_token.stderr.contains("hint: "),
        "{}",
        wrong_token.stderr
    );
    assert!(
        !wrong_token.stderr.contains("ctk_not-a-real-token"),
        "the token is never printed"
    );

    let usage = certctl(env, &["orders", "revoke", order_id]).await;
    assert_eq!(usage.code, 2, "{usage:?}");
    assert!(usage.stderr.contains("--reason"), "{}", usage.stderr);

    let no_password = certctl(
        env,
        &[
            "certificates",
            "export",
            order_id,
            "--pkcs12",
            "--out",
            "never-written.p12",
        ],
    )
    .await;
    assert_eq!(no_password.code, 2, "{no_password:?}");
    assert!(
        no_password.stderr.contains("CERTCTL_PKCS12_PASSWORD"),
        "{}",
        no_password.stderr
    );
    assert!(!scratch.0.join("never-written.p12").exists());

    let certificate_id = certctl_ok(
        env,
        &["orders", "get", order_id, "--field", "certificate_id"],
    )
    .await
    .stdout
    .trim()
    .to_owned();
    let overwrite = certctl(
        env,
        &[
            "certificates",
            "export",
            &certificate_id,
            "--out",
            "www.example.com.pem",
        ],
    )
    .await;
    assert_eq!(overwrite.code, 1, "{overwrite:?}");
    assert!(
        overwrite.stderr.contains("pass --force"),
        "{}",
        overwrite.stderr
    );

    let unknown_field = certctl(env, &["orders", "get", order_id, "--field", "colour"]).await;
    assert_eq!(unknown_field.code, 1, "{unknown_field:?}");
    assert!(
        unknown_field
            .stderr
            .starts_with("error: the result has no field \"colour\""),
        "{}",
        unknown_field.stderr
    );

    // A gateway that is not listening: a port that was free a moment ago.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let unreachable = certctl(
        &env.clone().with_var("CERTITUDE_URL", &closed),
        &["orders", "list"],
    )
    .await;
    assert_eq!(unreachable.code, 1, "{unreachable:?}");
    assert_eq!(
        unreachable.stderr,
        format!("error: cannot reach the gateway at {closed}: is it running? (make run)\n")
    );
}
