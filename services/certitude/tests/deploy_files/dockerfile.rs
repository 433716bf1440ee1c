//! The Dockerfile: its build command, stages, users, health checks and the absence of secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::{read_repository_file, repository_root, run_certitude};

pub(crate) const DOCKERFILE: &str = "deploy/docker/Dockerfile";
pub(crate) const HEALTHCHECK_SCRIPT: &str = "deploy/docker/healthcheck.sh";

/// One instruction of a Dockerfile, with its continuation lines joined.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    arguments: String,
}

/// One build stage: `FROM <base> AS <name>` and the instructions up to the next `FROM`.
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) name: String,
    base: String,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .filter(move |instruction| instruction.keyword == keyword)
    }

    fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.all(keyword).last()
    }
}

/// Parses a Dockerfile into its stages, dropping comments and joining lines that end in `\`.
pub(crate) fn parse_dockerfile(text: &str) -> Vec<Stage> {
    let mut logical_lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical_lines.push(std::mem::take(&mut current));
            }
        }
    }

    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines {
        let (keyword, arguments) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            arguments: arguments.trim().to_owned(),
        };
        if instruction.keyword == "FROM" {
            let words: Vec<&str> = instruction.arguments.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => (*name).to_owned(),
                _ => panic!(
                    "every stage of {DOCKERFILE} is named: FROM {}",
                    instruction.arguments
                ),
            };
            stages.push(Stage {
                name,
                base: words[0].to_owned(),
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(instruction);
        }
    }
    stages
}

pub(crate) fn dockerfile_stages() -> Vec<Stage> {
    parse_dockerfile(&read_repository_file(DOCKERFILE))
}

/// Returns the stages that produce an image to run: those with an ENTRYPOINT of their own.
pub(crate) fn image_targets(stages: &[Stage]) -> Vec<&Stage> {
    stages
        .iter()
        .filter(|stage| stage.last("ENTRYPOINT").is_some())
        .collect()
}

/// Returns the stage named `name` and the stages it builds on, the stage itself first.
fn stage_chain<'a>(stages: &'a [Stage], name: &str) -> Vec<&'a Stage> {
    let mut chain = Vec::new();
    let mut next = Some(name.to_owned());
    while let Some(name) = next {
        let Some(stage) = stages.iter().find(|stage| stage.name == name) else {
            break;
        };
        if chain.iter().any(|seen: &&Stage| seen.name == stage.name) {
            break;
        }
        chain.push(stage);
        next = Some(stage.base.clone());
    }
    chain
}

/// Parses the JSON array form of an instruction (`["a", "b"]`): the whole arguments, or for
/// HEALTHCHECK the part after `CMD`.
fn exec_form(instruction: &Instruction) -> Vec<String> {
    let arguments = instruction
        .arguments
        .strip_prefix("CMD")
        .unwrap_or(&instruction.arguments)
        .trim();
    let arguments = arguments
        .rsplit_once(" CMD ")
        .map_or(arguments, |(_, command)| command)
        .trim();
    serde_json::from_str(arguments).unwrap_or_else(|error| {
        panic!(
            "{} {} is not in exec form (a JSON array): {error}",
            instruction.keyword, instruction.arguments
        )
    })
}

/// Workspace packages with the names of their binaries, from `cargo metadata`.
fn workspace_binaries() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(repository_root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("a package has a name");
            let targets = package["targets"]
                .as_array()
                .expect("a package has targets");
            let binaries = targets
                .iter()
                .filter(|target| {
                    target["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.contains(&"bin".into()))
                })
                .filter_map(|target| target["name"].as_str().map(str::to_owned))
                .collect();
            (name.to_owned(), binaries)
        })
        .collect()
}

/// Returns the `cargo build` command of the builder stage, split into words.
fn cargo_build_words(stages: &[Stage]) -> Vec<String> {
    let runs: Vec<&Instruction> = stages
        .iter()
        .flat_map(|stage| stage.all("RUN"))
        .filter(|run| run.arguments.contains("cargo build"))
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "{DOCKERFILE} runs cargo build once: {runs:?}"
    );
    let command = runs[0]
        .arguments
        .split("&&")
        .find(|part| part.contains("cargo build"));
    let command = command.expect("the RUN instruction contains cargo build");
    let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    let start = words
        .iter()
        .position(|word| word == "cargo")
        .expect("the command starts with cargo");
    words[start..].to_vec()
}

/// Returns the values that follow each `-p` or `--package` in `words`.
fn built_packages(words: &[String]) -> Vec<String> {
    words
        .windows(2)
        .filter(|pair| pair[0] == "-p" || pair[0] == "--package")
        .map(|pair| pair[1].clone())
        .collect()
}

#[test]
fn dockerfile_builds_release_with_locked_dependencies() {
    let words = cargo_build_words(&dockerfile_stages());

    assert!(
        words.contains(&"--release".to_owned()),
        "cargo build lacks --release: {words:?}"
    );
    assert!(
        words.contains(&"--locked".to_owned()),
        "cargo build lacks --locked: {words:?}"
    );
}

#[test]
fn dockerfile_builds_workspace_packages() {
    let workspace = workspace_binaries();
    let packages = built_packages(&cargo_build_words(&dockerfile_stages()));

    assert!(
        packages.contains(&env!("CARGO_PKG_NAME").to_owned()),
        "{DOCKERFILE} does not build the {} package: {packages:?}",
        env!("CARGO_PKG_NAME")
    );
    for package in &packages {
        assert!(
            workspace.contains_key(package),
            "{DOCKERFILE} builds package {package}, which is not in the workspace"
        );
    }
}

#[test]
fn dockerfile_copies_binaries_of_built_packages() {
    let stages = dockerfile_stages();
    let workspace = workspace_binaries();
    let packages = built_packages(&cargo_build_words(&stages));
    let built: BTreeSet<&String> = packages
        .iter()
        .filter_map(|package| workspace.get(package))
        .flatten()
        .collect();

    let copied: Vec<&str> = stages
        .iter()
        .flat_map(|stage| stage.all("RUN"))
        .flat_map(|run| run.arguments.split_whitespace())
        .filter_map(|word| word.strip_prefix("target/release/"))
        .collect();

    assert!(
        !copied.is_empty(),
        "{DOCKERFILE} copies no binary out of target/release"
    );
    for binary in copied {
        assert!(
            built.contains(&binary.to_owned()),
            "{DOCKERFILE} copies target/release/{binary}, which no built package has as a binary"
        );
    }
}

#[test]
fn dockerfile_entrypoints_run_copied_binaries() {
    let stages = dockerfile_stages();
    let targets = image_targets(&stages);

    assert!(
        targets.iter().any(|stage| stage.name == "certitude"),
        "{DOCKERFILE} has no target named certitude"
    );
    for stage in targets {
        let entrypoint = exec_form(
            stage
                .last("ENTRYPOINT")
                .expect("a target has an ENTRYPOINT"),
        );
        let program = &entrypoint[0];
        let copies_it = stage.all("COPY").any(|copy| {
            copy.arguments
                .ends_with(&format!("/usr/local/bin/{program}"))
        });
        assert!(
            copies_it,
            "target {} runs {program}, which it does not copy to /usr/local/bin",
            stage.name
        );
    }
}

#[test]
fn dockerfile_default_command_is_accepted() {
    let stages = dockerfile_stages();
    let certitude = stages
        .iter()
        .find(|stage| stage.name == "certitude")
        .expect("the certitude target exists");
    let command = exec_form(
        certitude
            .last("CMD")
            .expect("the certitude target has a CMD"),
    );
    let args: Vec<&str> = command.iter().map(String::as_str).collect();

    let output = run_certitude(&args);

    assert!(
        output.status.success(),
        "certitude {} failed: {}",
        command.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn dockerfile_images_run_as_unprivileged_user() {
    let stages = dockerfile_stages();

    for target in image_targets(&stages) {
        let user = stage_chain(&stages, &target.name)
            .iter()
            .find_map(|stage| stage.last("USER"))
            .map(|user| user.arguments.clone());
        let user = user.unwrap_or_else(|| panic!("target {} sets no USER", target.name));
        let name = user.split(':').next().unwrap_or_default();
        assert!(
            name != "root" && name != "0",
            "target {} runs as {user}",
            target.name
        );
    }
}

#[test]
fn dockerfile_images_check_health_routes() {
    let stages = dockerfile_stages();
    let script = read_repository_file(HEALTHCHECK_SCRIPT);

    assert!(
        script.starts_with("#!/usr/bin/env bash"),
        "{HEALTHCHECK_SCRIPT} is a bash script"
    );
    for target in image_targets(&stages) {
        let chain = stage_chain(&stages, &target.name);
        let healthcheck = target
            .last("HEALTHCHECK")
            .unwrap_or_else(|| panic!("target {} has no HEALTHCHECK", target.name));
        let command = exec_form(healthcheck);
        let installs_script = chain
            .iter()
            .flat_map(|stage| stage.all("COPY"))
            .any(|copy| {
                copy.arguments.contains(HEALTHCHECK_SCRIPT)
                    && copy
                        .arguments
                        .ends_with(&format!("/usr/local/bin/{}", command[0]))
            });
        assert!(
            installs_script,
            "target {} runs {} for its health check, which no COPY of {HEALTHCHECK_SCRIPT} installs",
            target.name, command[0]
        );
        if target.name == "certitude" {
            assert_eq!(command[1], "/readyz", "the services' readiness route");
        }
    }
}

#[test]
fn dockerfile_sets_no_secret() {
    let stages = dockerfile_stages();
    let secret_words = ["KEY", "TOKEN", "PASSWORD", "SECRET", "DATABASE_URL"];

    for instruction in stages
        .iter()
        .flat_map(|stage| stage.all("ENV").chain(stage.all("ARG")))
    {
        let name = instruction
            .arguments
            .split(['=', ' '])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        for word in secret_words {
            assert!(
                !name.contains(word),
                "{DOCKERFILE} sets {name} with {}: secrets come from the environment at run time",
                instruction.keyword
            );
        }
    }
}

#[test]
fn dockerignore_leaves_out_build_output() {
    let ignore = read_repository_file(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();

    for expected in ["**/target", ".git", ".run"] {
        assert!(
            patterns.contains(&expected),
            ".dockerignore lacks {expected}"
        );
    }
    for needed in [
        "Cargo.lock",
        "crates",
        "services",
        "proto",
        "deploy",
        "tests",
    ] {
        assert!(
            !patterns
                .iter()
                .any(|pattern| pattern.trim_start_matches('/') == needed),
            ".dockerignore leaves out {needed}, which the build needs"
        );
    }
}
