//! The production Kustomize overlay, rendered by `kubectl kustomize`: replicas, probes,
//! resources, disruption budgets, autoscalers, secrets and the provision Job.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_norway::Value;

use crate::{SERVICES, assert_variables_accepted, parse_yaml, repository_root, string_list};

const PRODUCTION_OVERLAY: &str = "deploy/k8s/overlays/production";

/// Variables whose values are secrets: they must come from a Kubernetes Secret, never be written
/// into the manifests.
const SECRET_VARIABLES: [&str; 4] = [
    "DATABASE_URL",
    "CERTITUDE_ADMIN_DATABASE_URL",
    "CERTITUDE_MASTER_KEYS",
    "CERTITUDE_BOOTSTRAP_ADMIN_TOKEN",
];

/// Renders the production overlay once per test process with `kubectl kustomize`.
fn production_objects() -> &'static [Value] {
    static OBJECTS: OnceLock<Vec<Value>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(repository_root().join(PRODUCTION_OVERLAY))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "running kubectl failed ({error}); install it, as .ci/run does: \
                     apt-get install -y kubernetes-client"
                )
            });
        assert!(
            output.status.success(),
            "kubectl kustomize {PRODUCTION_OVERLAY} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).expect("kubectl prints UTF-8");
        text.split("\n---\n")
            .map(|document| parse_yaml(document, "the output of kubectl kustomize"))
            .filter(|object| !object.is_null())
            .collect()
    })
}

fn objects_of_kind(kind: &str) -> Vec<&'static Value> {
    production_objects()
        .iter()
        .filter(|object| object["kind"].as_str() == Some(kind))
        .collect()
}

fn object_name(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .expect("every object has a name")
}

/// Returns the containers of a Deployment's or Job's pod template.
fn containers(object: &Value) -> &[Value] {
    object["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Returns the port number of the container port named `name`.
fn container_port(container: &Value, name: &str) -> Option<u64> {
    container["ports"]
        .as_sequence()?
        .iter()
        .find(|port| port["name"].as_str() == Some(name))
        .and_then(|port| port["containerPort"].as_u64())
}

/// Returns the value of a plain `env` entry.
fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|entry| entry["name"].as_str() == Some(name))
        .and_then(|entry| entry["value"].as_str())
}

/// Returns the names of every variable a container gets: `env` and the keys of each ConfigMap
/// in `envFrom`.
fn container_variables(container: &Value) -> Vec<String> {
    let mut names: Vec<String> = container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect();
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        let config_map = source["configMapRef"]["name"]
            .as_str()
            .expect("envFrom names a ConfigMap");
        let object = objects_of_kind("ConfigMap")
            .into_iter()
            .find(|object| object_name(object) == config_map)
            .unwrap_or_else(|| panic!("envFrom names ConfigMap {config_map}, which is missing"));
        let data = object["data"].as_mapping().expect("the ConfigMap has data");
        names.extend(data.keys().filter_map(Value::as_str).map(str::to_owned));
    }
    names
}

fn deployment(name: &str) -> &'static Value {
    objects_of_kind("Deployment")
        .into_iter()
        .find(|object| object_name(object) == name)
        .unwrap_or_else(|| panic!("the production overlay has no Deployment {name}"))
}

#[test]
fn production_renders_deployment_per_service() {
    let names: BTreeSet<&str> = objects_of_kind("Deployment")
        .into_iter()
        .map(object_name)
        .collect();

    assert_eq!(names, SERVICES.into_iter().collect());
}

#[test]
fn production_deployments_run_two_or_more_replicas() {
    for name in SERVICES {
        let replicas = deployment(name)["spec"]["replicas"].as_u64();

        assert!(
            replicas >= Some(2),
            "Deployment {name} runs {replicas:?} replicas"
        );
    }
}

#[test]
fn production_containers_run_accepted_subcommands() {
    for object in objects_of_kind("Deployment")
        .into_iter()
        .chain(objects_of_kind("Job"))
    {
        for container in containers(object) {
            let args = string_list(&container["args"]);
            let subcommand = args
                .first()
                .unwrap_or_else(|| panic!("{} runs no subcommand", object_name(object)));
            let variables = container_variables(container);
            assert_variables_accepted(
                subcommand,
                variables.iter().map(String::as_str),
                &format!(
                    "{} {}",
                    object["kind"].as_str().unwrap_or("object"),
                    object_name(object)
                ),
            );
        }
    }
}

#[test]
fn production_deployment_names_match_subcommands() {
    for name in SERVICES {
        let container = &containers(deployment(name))[0];

        assert_eq!(string_list(&container["args"]), vec![name.to_owned()]);
    }
}

#[test]
fn production_probes_use_health_routes_on_http_port() {
    for name in SERVICES {
        let container = &containers(deployment(name))[0];
        let listen = env_value(container, "CERTITUDE_HTTP_LISTEN")
            .unwrap_or_else(|| panic!("Deployment {name} does not set CERTITUDE_HTTP_LISTEN"));
        let http_port = container_port(container, "http")
            .unwrap_or_else(|| panic!("Deployment {name} has no container port named http"));
        assert_eq!(
            listen.rsplit_once(':').map(|(_, port)| port),
            Some(http_port.to_string().as_str()),
            "Deployment {name} serves health on {listen} but names port {http_port} http"
        );

        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"].as_str(), Some(path), "{name} {probe} path");
            assert_eq!(get["port"].as_str(), Some("http"), "{name} {probe} port");
        }
    }
}

#[test]
fn production_containers_set_requests_and_limits() {
    for object in objects_of_kind("Deployment")
        .into_iter()
        .chain(objects_of_kind("Job"))
    {
        for container in containers(object) {
            for (section, resource) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "cpu"),
                ("limits", "memory"),
            ] {
                assert!(
                    !container["resources"][section][resource].is_null(),
                    "{} sets no {section}.{resource}",
                    object_name(object)
                );
            }
        }
    }
}

#[test]
fn production_pods_run_as_non_root() {
    for object in objects_of_kind("Deployment")
        .into_iter()
        .chain(objects_of_kind("Job"))
    {
        let security = &object["spec"]["template"]["spec"]["securityContext"];

        assert_eq!(
            security["runAsNonRoot"].as_bool(),
            Some(true),
            "{}",
            object_name(object)
        );
        for container in containers(object) {
            let context = &container["securityContext"];
            assert_eq!(
                context["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{} allows privilege escalation",
                object_name(object)
            );
        }
    }
}

#[test]
fn production_has_disruption_budget_per_service() {
    let budgets = objects_of_kind("PodDisruptionBudget");

    for name in SERVICES {
        let pod_labels = &deployment(name)["spec"]["template"]["metadata"]["labels"];
        let budget = budgets
            .iter()
            .find(|budget| object_name(budget) == name)
            .unwrap_or_else(|| panic!("no PodDisruptionBudget for {name}"));
        let selector = budget["spec"]["selector"]["matchLabels"]
            .as_mapping()
            .unwrap_or_else(|| panic!("PodDisruptionBudget {name} has no matchLabels"));
        assert_eq!(budget["apiVersion"].as_str(), Some("policy/v1"));
        for (key, value) in selector {
            assert_eq!(
                &pod_labels[key.as_str().expect("label keys are strings")],
                value,
                "PodDisruptionBudget {name} selects label {key:?}, which its pods lack"
            );
        }
    }
}

#[test]
fn production_autoscales_gateway_and_order_manager() {
    let autoscalers = objects_of_kind("HorizontalPodAutoscaler");
    let names: BTreeSet<&str> = autoscalers
        .iter()
        .map(|object| object_name(object))
        .collect();

    assert_eq!(names, BTreeSet::from(["gateway", "order-manager"]));
    for autoscaler in autoscalers {
        let name = object_name(autoscaler);
        let spec = &autoscaler["spec"];
        let replicas = deployment(name)["spec"]["replicas"].as_u64();
        assert_eq!(
            autoscaler["apiVersion"].as_str(),
            Some("autoscaling/v2"),
            "{name}"
        );
        assert_eq!(
            spec["scaleTargetRef"]["kind"].as_str(),
            Some("Deployment"),
            "{name}"
        );
        assert_eq!(
            spec["scaleTargetRef"]["name"].as_str(),
            Some(name),
            "{name}"
        );
        assert!(
            spec["minReplicas"].as_u64() >= Some(2),
            "{name} minReplicas"
        );
        assert!(
            spec["maxReplicas"].as_u64() > spec["minReplicas"].as_u64(),
            "{name} range"
        );
        assert_eq!(
            replicas,
            spec["minReplicas"].as_u64(),
            "Deployment {name} replicas differ from the autoscaler's minimum, so each apply \
             resizes it"
        );
        let cpu = spec["metrics"][0]["resource"]["name"].as_str();
        assert_eq!(cpu, Some("cpu"), "{name} scales on CPU");
        let request = &containers(deployment(name))[0]["resources"]["requests"]["cpu"];
        assert!(
            !request.is_null(),
            "{name} needs a CPU request for a CPU target"
        );
    }
}

#[test]
fn production_has_no_plain_text_secret() {
    let secrets = objects_of_kind("Secret");

    for secret in secrets {
        assert!(
            secret["data"].is_null() && secret["stringData"].is_null(),
            "Secret {} carries its values in the manifests",
            object_name(secret)
        );
    }
}

#[test]
fn production_takes_secrets_from_secret_refs() {
    let mut referenced = BTreeSet::new();

    for object in objects_of_kind("Deployment")
        .into_iter()
        .chain(objects_of_kind("Job"))
    {
        for container in containers(object) {
            for entry in container["env"].as_sequence().into_iter().flatten() {
                let name = entry["name"].as_str().expect("an env entry has a name");
                if !SECRET_VARIABLES.contains(&name) {
                    continue;
                }
                assert!(
                    entry["value"].is_null(),
                    "{} sets {name} in plain text",
                    object_name(object)
                );
                let secret = &entry["valueFrom"]["secretKeyRef"];
                assert!(
                    secret["name"].as_str().is_some() && secret["key"].as_str().is_some(),
                    "{} takes {name} from no secretKeyRef",
                    object_name(object)
                );
                referenced.insert(format!("{}/{name}", object_name(object)));
            }
        }
    }

    for expected in [
        "credential-sync/CERTITUDE_MASTER_KEYS",
        "inventory/CERTITUDE_MASTER_KEYS",
        "certitude-provision/CERTITUDE_ADMIN_DATABASE_URL",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(SERVICES.map(|service| format!("{service}/DATABASE_URL")))
    {
        assert!(
            referenced.contains(&expected),
            "no secretKeyRef for {expected}"
        );
    }
}

#[test]
fn production_config_has_no_secret_variable() {
    for config_map in objects_of_kind("ConfigMap") {
        let data = config_map["data"].as_mapping().into_iter().flatten();
        for (key, _) in data {
            let key = key.as_str().unwrap_or_default();
            assert!(
                !SECRET_VARIABLES.contains(&key),
                "ConfigMap {} carries secret {key}",
                object_name(config_map)
            );
        }
    }
}

#[test]
fn production_streams_keep_three_replicas() {
    let config = objects_of_kind("ConfigMap")
        .into_iter()
        .find(|object| object_name(object) == "certitude-config")
        .expect("the production overlay has ConfigMap certitude-config");

    assert_eq!(
        config["data"]["CERTITUDE_EVENT_STREAM_REPLICAS"].as_str(),
        Some("3")
    );
}

#[test]
fn production_provisions_before_services_migrate() {
    let jobs = objects_of_kind("Job");
    let provision = jobs
        .iter()
        .find(|job| object_name(job) == "certitude-provision")
        .expect("the production overlay has the certitude-provision Job");

    assert_eq!(
        string_list(&containers(provision)[0]["args"]),
        vec!["provision".to_owned()]
    );
    for name in SERVICES {
        let container = &containers(deployment(name))[0];
        assert_ne!(
            env_value(container, "CERTITUDE_RUN_MIGRATIONS"),
            Some("false"),
            "Deployment {name} turns migrations off, and nothing else applies them"
        );
    }
}

#[test]
fn production_service_urls_name_rendered_services() {
    let services = objects_of_kind("Service");

    for object in objects_of_kind("Deployment") {
        let container = &containers(object)[0];
        for entry in container["env"].as_sequence().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default();
            let Some(url) = entry["value"].as_str() else {
                continue;
            };
            if !(name.starts_with("CERTITUDE_") && name.ends_with("_URL")) {
                continue;
            }
            let authority = url.strip_prefix("http://").unwrap_or_else(|| {
                panic!("{name} of {} is not http://: {url}", object_name(object))
            });
            let (host, port) = authority.split_once(':').unwrap_or_else(|| {
                panic!("{name} of {} names no port: {url}", object_name(object))
            });
            let port: u64 = port.parse().expect("the port is a number");
            let target = services
                .iter()
                .find(|service| object_name(service) == host)
                .unwrap_or_else(|| {
                    panic!(
                        "{name} of {} names Service {host}, which is missing",
                        object_name(object)
                    )
                });
            let ports = target["spec"]["ports"].as_sequence().into_iter().flatten();
            let exposes_port = ports
                .map(|entry| entry["port"].as_u64())
                .any(|exposed| exposed == Some(port));
            assert!(
                exposes_port,
                "Service {host} does not expose port {port} for {name}"
            );
        }
    }
}
