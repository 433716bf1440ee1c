//! The compose file of the laptop stack: its images, NATS cluster, subcommands and secrets.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;

use crate::dockerfile::{DOCKERFILE, dockerfile_stages, image_targets};
use crate::{SERVICES, assert_variables_accepted, parse_yaml, read_repository_file, string_list};

const COMPOSE_FILE: &str = "deploy/compose/compose.yaml";

/// Repositories of the third-party images the compose file may use, always with a pinned tag.
const THIRD_PARTY_IMAGES: [&str; 4] = [
    "postgres",
    "nats",
    "otel/opentelemetry-collector-contrib",
    "grafana/grafana",
];

fn compose_services() -> Vec<(String, Value)> {
    let compose = parse_yaml(&read_repository_file(COMPOSE_FILE), COMPOSE_FILE);
    let services = compose["services"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{COMPOSE_FILE} has no services"));
    services
        .iter()
        .map(|(name, service)| {
            let name = name.as_str().expect("service names are strings").to_owned();
            (name, service.clone())
        })
        .collect()
}

/// Returns a service's `environment` as (name, value) pairs, from the map or list form.
fn compose_environment(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(name, value)| {
                let name = name
                    .as_str()
                    .expect("variable names are strings")
                    .to_owned();
                let value = match value {
                    Value::String(text) => text.clone(),
                    other => serde_norway::to_string(other)
                        .expect("a scalar prints")
                        .trim()
                        .to_owned(),
                };
                (name, value)
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| {
                let (name, value) = item.split_once('=').unwrap_or((item, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Splits `repository:tag` at the tag's colon (not a registry port's).
fn split_image(image: &str) -> (&str, Option<&str>) {
    match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
        _ => (image, None),
    }
}

#[test]
fn compose_builds_only_dockerfile_targets() {
    let stages = dockerfile_stages();
    let targets: Vec<&str> = image_targets(&stages)
        .iter()
        .map(|stage| stage.name.as_str())
        .collect();
    let mut image_of_target: BTreeMap<String, String> = BTreeMap::new();

    for (name, service) in compose_services() {
        let build = &service["build"];
        if build.is_null() {
            continue;
        }
        let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
        let target = build["target"]
            .as_str()
            .unwrap_or_else(|| panic!("service {name} builds without a target"));
        let image = service["image"]
            .as_str()
            .unwrap_or_else(|| panic!("service {name} builds an image without naming it"));
        assert_eq!(
            dockerfile, DOCKERFILE,
            "service {name} builds from another Dockerfile"
        );
        assert_eq!(
            build["context"].as_str(),
            Some("../.."),
            "service {name} builds from a context other than the repository root"
        );
        assert!(
            targets.contains(&target),
            "service {name} builds target {target}, which {DOCKERFILE} lacks: {targets:?}"
        );
        let first = image_of_target
            .entry(target.to_owned())
            .or_insert(image.to_owned());
        assert_eq!(
            first, image,
            "target {target} is tagged with two image names"
        );
    }
    assert!(
        image_of_target.contains_key("certitude"),
        "no compose service builds the certitude target"
    );
}

#[test]
fn compose_pulls_only_pinned_third_party_images() {
    let services = compose_services();
    let built: BTreeSet<String> = services
        .iter()
        .filter(|(_, service)| !service["build"].is_null())
        .filter_map(|(_, service)| service["image"].as_str().map(str::to_owned))
        .collect();

    for (name, service) in &services {
        let image = service["image"]
            .as_str()
            .unwrap_or_else(|| panic!("service {name} names no image"));
        if built.contains(image) {
            continue;
        }
        let (repository, tag) = split_image(image);
        assert!(
            THIRD_PARTY_IMAGES.contains(&repository),
            "service {name} uses image {image}, which is neither built by {DOCKERFILE} nor one \
             of {THIRD_PARTY_IMAGES:?}"
        );
        let tag = tag.unwrap_or_else(|| panic!("service {name} uses {image} without a tag"));
        assert!(
            tag.starts_with(|c: char| c.is_ascii_digit()) && tag.contains('.'),
            "service {name} uses {image}: pin a version tag such as 1.2.3"
        );
    }
}

#[test]
fn compose_has_three_nats_nodes_with_jetstream() {
    let services = compose_services();
    let nats: Vec<&(String, Value)> = services
        .iter()
        .filter(|(_, service)| {
            service["image"]
                .as_str()
                .is_some_and(|image| split_image(image).0 == "nats")
        })
        .collect();

    assert_eq!(nats.len(), 3, "the compose file runs a 3-node NATS cluster");
    for (name, service) in nats {
        let command = string_list(&service["command"]);
        assert!(
            command.contains(&"--jetstream".to_owned()),
            "{name} runs without JetStream"
        );
        assert!(
            command.iter().any(|arg| arg.starts_with("--routes=")),
            "{name} has no cluster routes"
        );
    }
}

#[test]
fn compose_services_run_accepted_subcommands_and_settings() {
    let services = compose_services();
    let mut seen = BTreeSet::new();

    for (name, service) in &services {
        if service["build"]["target"].as_str() != Some("certitude") {
            continue;
        }
        let command = string_list(&service["command"]);
        let subcommand = command
            .first()
            .unwrap_or_else(|| panic!("service {name} runs no subcommand"));
        let environment = compose_environment(service);
        assert_variables_accepted(
            subcommand,
            environment.iter().map(|(variable, _)| variable.as_str()),
            &format!("{COMPOSE_FILE} service {name}"),
        );
        seen.insert(subcommand.clone());
    }
    for service in SERVICES.iter().chain(&["provision"]) {
        assert!(
            seen.contains(*service),
            "{COMPOSE_FILE} does not run certitude {service}"
        );
    }
}

#[test]
fn compose_takes_secrets_from_environment() {
    for (name, service) in compose_services() {
        for (variable, value) in compose_environment(&service) {
            let is_secret = ["CERTITUDE_MASTER_KEYS", "CERTITUDE_BOOTSTRAP_ADMIN_TOKEN"]
                .contains(&variable.as_str());
            if is_secret {
                assert!(
                    value.starts_with(&format!("${{{variable}:?")),
                    "service {name} sets {variable} in the file instead of requiring it from \
                     the environment (${{{variable}:?message}})"
                );
            }
        }
    }
}
