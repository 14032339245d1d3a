//! The deployment files agree with the code: docker-compose.yml (with .env.example) and
//! the Kubernetes manifests as `kubectl kustomize` renders deploy/base and every overlay.
//!
//! - Every service of the roster is deployed: a Deployment running `serve <service>` (the
//!   trainer, which only retrains on a schedule, as a CronJob running `train`), a compose
//!   service running `serve <service>`, and every subscription its tasks consume in the
//!   plan of `cratedigger pubsub provision`.
//! - Every setting a service requires in a mesh of separate processes is set, in compose
//!   and in every rendering of the manifests: each service's environment is loaded into
//!   the settings exactly as the binary loads it, and must name shared servers (Pub/Sub,
//!   Redis, PostgreSQL, MongoDB, the Redis rate limiter), a start-up wait, health and gRPC
//!   ports on every interface and on the ports the probes use, the recommender's address
//!   for the gateway, a drain shorter than the grace period. Compose and the manifests set
//!   the same `APP_*` keys, and every compose variable has its line in .env.example.
//! - Topic and subscription names agree: every process of a deployment uses the same
//!   Pub/Sub project and name prefix as the provisioning, KEDA watches subscriptions the
//!   plan creates for the Deployment it scales (the scraper and market at least), and
//!   every `cratedigger.<event>.v1` name in the files is a topic of the contract.
//!
//! Why a service added without deployment files fails here: the services are the
//! variants of `Service` as clap derives them from the enum (`value_variants`), checked
//! equal to `Service::ALL`, so a new variant is iterated whether or not anyone lists it.
//! For it the tests look up a Deployment (or CronJob) named `Service::name()` running it,
//! a compose service of that name running it, and its tasks' subscriptions in the
//! provisioning plan; each lookup that finds nothing fails, naming the service. Once it
//! has them, its environment on both sides must pass the mesh checks above, and a setting
//! of its own set on one side only fails the comparison of keys.
//!
//! Needs `kubectl` (`kubectl kustomize` renders offline), as `.ci/checks/deploy.sh` does:
//! without it the tests say so and skip, unless `CRATEDIGGER_REQUIRE_SERVERS` is set (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use clap::ValueEnum;
use cratedigger::provision::{self, ProvisionPlan};
use cratedigger::settings::AppSettings;
use cratedigger::{Service, services};
use cratedigger_backends::{
    BackendSettings, Backends, BusSettings, CatalogSettings, KvSettings, LimiterKind,
    ResultsSettings,
};
use cratedigger_kit::Health;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// Keys one side sets and the other need not, with the reason.
const ONE_SIDED_KEYS: &[(&str, &str)] = &[
    (
        "APP_BUS__EMULATOR_HOST",
        "compose runs the emulator; on Kubernetes component pubsub-emulator sets it",
    ),
    (
        "APP_TRAINER__INTERVAL_SECONDS",
        "compose's trainer retrains on its own; on Kubernetes a CronJob runs `train`",
    ),
];

/// Services run as a CronJob on Kubernetes instead of a Deployment, with the command.
const SCHEDULED: &[(Service, &str)] = &[(Service::Trainer, "train")];

/// Services KEDA scales on their subscription backlog (component keda-autoscaling).
const SCALED_ON_BACKLOG: &[Service] = &[Service::Scraper, Service::Market];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn services() -> Vec<Service> {
    let derived: Vec<Service> = Service::value_variants().to_vec();
    let listed: BTreeSet<&str> = Service::ALL.iter().map(|s| s.name()).collect();
    let every: BTreeSet<&str> = derived.iter().map(|s| s.name()).collect();
    assert_eq!(
        every, listed,
        "Service::ALL must list every variant of Service"
    );
    derived
}

// --- compose ------------------------------------------------------------------------

struct Compose {
    services: BTreeMap<String, Value>,
    /// The variables docker-compose.yml reads, with whether they have a default.
    variables: BTreeMap<String, bool>,
    env_example: BTreeMap<String, String>,
}

fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!(".env.example: {line:?} is not KEY=VALUE"));
            (key.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

/// Compose's interpolation: `$$`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`.
fn interpolate(
    text: &str,
    env: &BTreeMap<String, String>,
    seen: &mut BTreeMap<String, bool>,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {text:?}"));
            let expression = &after[..end];
            let (name, default, empty_is_unset) =
                match (expression.split_once(":-"), expression.split_once('-')) {
                    (Some((name, default)), _) => (name, Some(default), true),
                    (None, Some((name, default))) => (name, Some(default), false),
                    (None, None) => (expression, None, false),
                };
            seen.insert(name.to_owned(), default.is_some());
            let value = match (env.get(name), default) {
                (Some(value), Some(default)) if value.is_empty() && empty_is_unset => {
                    default.to_owned()
                }
                (Some(value), _) => value.clone(),
                (None, default) => default.unwrap_or_default().to_owned(),
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn interpolate_all(
    value: &mut Value,
    env: &BTreeMap<String, String>,
    seen: &mut BTreeMap<String, bool>,
) {
    match value {
        Value::String(text) => *text = interpolate(text, env, seen),
        Value::Sequence(items) => items
            .iter_mut()
            .for_each(|item| interpolate_all(item, env, seen)),
        Value::Mapping(map) => map
            .values_mut()
            .for_each(|item| interpolate_all(item, env, seen)),
        _ => {}
    }
}

/// docker-compose.yml with .env.example as its `.env`, anchors and merge keys resolved.
fn compose() -> &'static Compose {
    static COMPOSE: OnceLock<Compose> = OnceLock::new();
    COMPOSE.get_or_init(|| {
        let env_example = env_file(&std::fs::read_to_string(root().join(".env.example")).unwrap());
        let mut document: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(root().join("docker-compose.yml")).unwrap(),
        )
        .unwrap();
        // A merged mapping may bring a merge key of its own (`<<: *service` holds
        // `<<: *cratedigger`): merge until none is left.
        while has_merge_key(&document) {
            document.apply_merge().unwrap();
        }
        let mut variables = BTreeMap::new();
        interpolate_all(&mut document, &env_example, &mut variables);
        let services = document["services"]
            .as_mapping()
            .expect("docker-compose.yml has services")
            .iter()
            .map(|(name, service)| (name.as_str().unwrap().to_owned(), service.clone()))
            .collect();
        Compose {
            services,
            variables,
            env_example,
        }
    })
}

fn has_merge_key(value: &Value) -> bool {
    match value {
        Value::Mapping(map) => map.contains_key("<<") || map.values().any(has_merge_key),
        Value::Sequence(items) => items.iter().any(has_merge_key),
        _ => false,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| items.iter().map(scalar).collect())
        .unwrap_or_default()
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn compose_environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Mapping(map) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// `30s`, `1m30s`, `45` (seconds).
fn compose_duration(text: &str) -> Duration {
    let mut total = 0.0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600.0,
                    'm' => 60.0,
                    _ => 1.0,
                };
                total += number.parse::<f64>().unwrap() * unit;
                number.clear();
            }
            other => panic!("unexpected {other:?} in the duration {text:?}"),
        }
    }
    if !number.is_empty() {
        total += number.parse::<f64>().unwrap();
    }
    Duration::from_secs_f64(total)
}

/// The port of `http://host:PORT/path`.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    )
}

// --- Kubernetes -----------------------------------------------------------------------

/// One rendering of the manifests.
struct Rendering {
    name: String,
    documents: Vec<Value>,
}

fn render(dir: &str) -> Rendering {
    let output = std::process::Command::new("kubectl")
        .args(["kustomize", &root().join(dir).display().to_string()])
        .output()
        .unwrap_or_else(|e| {
            panic!("running `kubectl kustomize {dir}` ({e}); kubectl ships with google-cloud-cli")
        });
    assert!(
        output.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let documents = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|document| !document.is_null())
        .collect();
    Rendering {
        name: dir.to_owned(),
        documents,
    }
}

/// Whether `kubectl` can render; without it the tests skip, unless they must run.
fn kubectl_available() -> bool {
    let found = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os(cratedigger_testkit::REQUIRE_SERVERS).is_none(),
            "kubectl is not installed but {} is set (kubectl ships with google-cloud-cli)",
            cratedigger_testkit::REQUIRE_SERVERS
        );
        eprintln!("skipping: kubectl is not installed (`kubectl kustomize` renders the manifests)");
    }
    found
}

/// deploy/base and every overlay, rendered once.
fn renderings() -> &'static [Rendering] {
    static RENDERINGS: OnceLock<Vec<Rendering>> = OnceLock::new();
    RENDERINGS.get_or_init(|| {
        let mut dirs = vec!["deploy/base".to_owned()];
        let mut overlays: Vec<String> = std::fs::read_dir(root().join("deploy/overlays"))
            .unwrap()
            .map(|entry| {
                format!(
                    "deploy/overlays/{}",
                    entry.unwrap().file_name().to_string_lossy()
                )
            })
            .collect();
        overlays.sort();
        assert!(!overlays.is_empty(), "no overlays under deploy/overlays");
        dirs.extend(overlays);
        dirs.iter().map(|dir| render(dir)).collect()
    })
}

impl Rendering {
    fn of_kind(&self, kind: &'static str) -> impl Iterator<Item = &Value> {
        self.documents
            .iter()
            .filter(move |d| d["kind"].as_str() == Some(kind))
    }

    fn named(&self, kind: &'static str, name: &str) -> Option<&Value> {
        self.of_kind(kind)
            .find(|d| d["metadata"]["name"].as_str() == Some(name))
    }

    /// The data of a ConfigMap or Secret (Secret values are not decoded: a placeholder).
    fn data(&self, kind: &'static str, name: &str) -> Option<BTreeMap<String, String>> {
        let document = self.named(kind, name)?;
        let data = document["data"].as_mapping().cloned().unwrap_or_default();
        Some(
            data.iter()
                .map(|(k, v)| {
                    let key = scalar(k);
                    let value = if kind == "Secret" {
                        format!("secret-{name}-{key}")
                    } else {
                        scalar(v)
                    };
                    (key, value)
                })
                .collect(),
        )
    }

    /// The pod spec of the workload running `service`.
    fn pod_of(&self, service: Service) -> Option<&Value> {
        match SCHEDULED
            .iter()
            .find(|(scheduled, _)| *scheduled == service)
        {
            Some(_) => self
                .named("CronJob", service.name())
                .map(|job| &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
            None => self
                .named("Deployment", service.name())
                .map(|deployment| &deployment["spec"]["template"]["spec"]),
        }
    }

    /// The container of a Job that runs `pubsub provision`.
    fn provisioning(&self) -> Option<&Value> {
        self.of_kind("Job")
            .flat_map(|job| {
                job["spec"]["template"]["spec"]["containers"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
            })
            .find(|container| strings(&container["args"]) == ["pubsub", "provision"])
    }

    /// The environment a container gets, as the kubelet builds it; secrets as placeholders.
    fn environment(&self, container: &Value) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            let (kind, reference) = match (&source["configMapRef"], &source["secretRef"]) {
                (Value::Mapping(_), _) => ("ConfigMap", &source["configMapRef"]),
                (_, Value::Mapping(_)) => ("Secret", &source["secretRef"]),
                _ => panic!("{}: unknown envFrom {source:?}", self.name),
            };
            let name = reference["name"].as_str().unwrap();
            let data = self.data(kind, name);
            let optional = reference["optional"].as_bool().unwrap_or(false);
            match data {
                Some(data) => env.extend(data),
                None if kind == "Secret" || optional => {}
                None => panic!("{}: ConfigMap {name} is not in the rendering", self.name),
            }
        }
        for variable in container["env"].as_sequence().into_iter().flatten() {
            let name = scalar(&variable["name"]);
            let from = &variable["valueFrom"];
            let value = if let Value::Mapping(_) = &from["configMapKeyRef"] {
                let (map, key) = (
                    scalar(&from["configMapKeyRef"]["name"]),
                    scalar(&from["configMapKeyRef"]["key"]),
                );
                self.data("ConfigMap", &map)
                    .and_then(|data| data.get(&key).cloned())
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: {name} names the missing ConfigMap key {map}/{key}",
                            self.name
                        )
                    })
            } else if let Value::Mapping(_) = &from["secretKeyRef"] {
                format!(
                    "secret-{}-{}",
                    scalar(&from["secretKeyRef"]["name"]),
                    scalar(&from["secretKeyRef"]["key"])
                )
            } else {
                scalar(&variable["value"])
            };
            env.insert(name, value);
        }
        env
    }

    /// A container's port given by name or number.
    fn port(container: &Value, port: &Value) -> Option<u16> {
        match port {
            Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(name) => container["ports"]
                .as_sequence()?
                .iter()
                .find(|p| p["name"].as_str() == Some(name))
                .and_then(|p| p["containerPort"].as_u64())
                .and_then(|n| u16::try_from(n).ok()),
            _ => None,
        }
    }
}

/// The cratedigger container of a pod spec.
fn cratedigger_container(pod: &Value) -> &Value {
    pod["containers"]
        .as_sequence()
        .and_then(|containers| {
            containers.iter().find(|c| {
                c["image"]
                    .as_str()
                    .is_some_and(|image| image.contains("cratedigger"))
            })
        })
        .expect("a cratedigger container")
}

fn load(env: &BTreeMap<String, String>) -> Result<AppSettings, String> {
    let vars = env.iter().map(|(k, v)| (k.clone(), v.clone()));
    cratedigger_kit::settings::load_from::<AppSettings>(None, vars).map_err(|e| e.to_string())
}

fn app_keys(env: &BTreeMap<String, String>) -> BTreeSet<String> {
    env.keys()
        .filter(|k| k.starts_with("APP_"))
        .cloned()
        .collect()
}

// --- what a service needs in a mesh --------------------------------------------------

/// Where one deployed service's probes look and how long it may take to stop.
struct Deployed {
    /// The port its readiness is checked on (HTTP), if any.
    http_probe_port: Option<u16>,
    /// The port its gRPC readiness is checked on, if any.
    grpc_probe_port: Option<u16>,
    grace: Option<Duration>,
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// What is wrong with `settings` for `service` running as its own process.
fn mesh_problems(
    service: Service,
    settings: &AppSettings,
    deployed: &Deployed,
    scheduled: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let backends = &settings.backends;
    match &backends.bus {
        BusSettings::Pubsub { project, .. } if !project.is_empty() => {}
        other => problems.push(format!(
            "bus must be pubsub with a project (APP_BUS__KIND, APP_BUS__PROJECT), not {other:?}"
        )),
    }
    if !matches!(&backends.kv, KvSettings::Redis { url, .. } if !url.is_empty()) {
        problems.push("kv must be redis with a url (APP_KV__KIND, APP_KV__URL)".into());
    }
    if !matches!(&backends.catalog, CatalogSettings::Postgres { url, .. } if !url.is_empty()) {
        problems.push(
            "catalog must be postgres with a url (APP_CATALOG__KIND, APP_CATALOG__URL)".into(),
        );
    }
    if !matches!(&backends.results, ResultsSettings::Mongodb { uri, database } if !uri.is_empty() && !database.is_empty())
    {
        problems.push("results must be mongodb with a uri and database (APP_RESULTS__*)".into());
    }
    if backends.discogs.limiter != LimiterKind::Redis {
        problems.push("replicas must share the Discogs budget (APP_DISCOGS__LIMITER=redis)".into());
    }
    if settings.wait_for_backends_seconds == 0 {
        problems.push("start-up must wait for the servers (APP_WAIT_FOR_BACKENDS_SECONDS)".into());
    }
    if scheduled {
        return problems;
    }
    let (listen_host, listen_port, what) = match service {
        Service::Gateway => (
            &settings.gateway.host,
            settings.gateway.port,
            "APP_GATEWAY__HOST/PORT",
        ),
        _ => (
            &settings.health.host,
            settings.health.port,
            "APP_HEALTH__HOST/PORT",
        ),
    };
    if loopback(listen_host) {
        problems.push(format!(
            "{what}: {listen_host} is unreachable for probes and peers"
        ));
    }
    if listen_port == 0 || deployed.http_probe_port != Some(listen_port) {
        problems.push(format!(
            "{what}: serves on port {listen_port}, probed on {:?}",
            deployed.http_probe_port
        ));
    }
    match service {
        Service::Gateway => match settings.gateway.recommender_url.as_deref() {
            Some(url) if url_host(url) == Some(Service::Recommender.name()) && url_port(url).is_some() => {}
            other => problems.push(format!("APP_GATEWAY__RECOMMENDER_URL must name the recommender's gRPC address, not {other:?}")),
        },
        Service::Recommender
            if loopback(&settings.grpc.host)
                || settings.grpc.port == 0
                || deployed.grpc_probe_port.is_some_and(|p| p != settings.grpc.port) =>
        {
            problems.push(format!("APP_GRPC__HOST/PORT: {}:{} (probed on {:?})", settings.grpc.host, settings.grpc.port, deployed.grpc_probe_port));
        }
        Service::Trainer if settings.trainer.interval_seconds == 0 => {
            problems.push("`serve trainer` needs a schedule (APP_TRAINER__INTERVAL_SECONDS)".into());
        }
        _ => {}
    }
    let drain = Duration::from_secs(settings.workers.drain_seconds);
    match deployed.grace {
        Some(grace) if grace > drain => {}
        grace => problems.push(format!("the grace period {grace:?} must exceed the drain (APP_WORKERS__DRAIN_SECONDS = {drain:?})")),
    }
    problems
}

/// The settings shared by a deployment's processes, which must agree across them.
fn shared_part(settings: &AppSettings) -> String {
    let b: &BackendSettings = &settings.backends;
    let bus = match &b.bus {
        BusSettings::Pubsub {
            project, prefix, ..
        } => format!("pubsub {project} prefix {prefix:?}"),
        BusSettings::Memory => "memory".into(),
    };
    let kv = match &b.kv {
        KvSettings::Redis { url, prefix } => format!("{url} {prefix}"),
        KvSettings::Memory => "memory".into(),
    };
    format!(
        "bus {bus}; kv {kv}; catalog {:?}; results {:?}; discogs {:?} {}; listings ttl {}",
        b.catalog,
        b.results,
        b.discogs,
        b.discogs.identity(),
        settings.listings.ttl_seconds
    )
}

/// The full name of `name` on the bus `settings` name (`<prefix><name>`).
fn on_bus(settings: &AppSettings, name: &str) -> String {
    match &settings.backends.bus {
        BusSettings::Pubsub { prefix, .. } => format!("{prefix}{name}"),
        BusSettings::Memory => name.to_owned(),
    }
}

/// Every subscription `service` consumes with `settings`, as its tasks are built.
async fn consumed(service: Service, settings: &AppSettings) -> BTreeSet<String> {
    static BACKENDS: tokio::sync::OnceCell<(Backends, tempfile::TempDir)> =
        tokio::sync::OnceCell::const_new();
    let (backends, _) = BACKENDS
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            let mut embedded = BackendSettings {
                catalog: CatalogSettings::Sqlite {
                    path: dir.path().join("catalog.db"),
                },
                results: ResultsSettings::Embedded {
                    path: dir.path().join("results.db"),
                },
                ..BackendSettings::default()
            };
            embedded.blobs.location = dir.path().join("blobs").display().to_string();
            (
                Backends::connect(&embedded, Duration::from_secs(5))
                    .await
                    .unwrap(),
                dir,
            )
        })
        .await;
    services::tasks(service, backends, settings, &Health::new("consistency"))
        .iter()
        .filter_map(|task| task.subscription())
        .map(|spec| spec.name)
        .collect()
}

// --- the tests ------------------------------------------------------------------------------

#[tokio::test]
async fn every_service_has_a_deployment_a_compose_service_and_its_subscriptions_provisioned() {
    if !kubectl_available() {
        return;
    }
    let compose = compose();
    let base = &renderings()[0];
    let mut problems = Vec::new();

    // What the provisioning computes, deployed as compose's one-shot and as the Job.
    let provision_env = compose_environment(
        compose
            .services
            .get("provision")
            .expect("a compose service `provision`"),
    );
    assert_eq!(
        strings(&compose.services["provision"]["command"]),
        ["pubsub", "provision"]
    );
    let compose_plan = provision::plan(&load(&provision_env).unwrap())
        .await
        .unwrap();
    let job_container = base
        .provisioning()
        .expect("deploy/base: no Job runs `pubsub provision`");
    let job_plan = provision::plan(&load(&base.environment(job_container)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        compose_plan, job_plan,
        "compose and Kubernetes provision different plans"
    );

    for service in services() {
        let name = service.name();
        let serve = vec!["serve".to_owned(), name.to_owned()];
        // Kubernetes.
        let scheduled = SCHEDULED
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, command)| *command);
        match (base.pod_of(service), scheduled) {
            (None, None) => problems.push(format!("{name}: no Deployment `{name}` in deploy/base")),
            (None, Some(_)) => problems.push(format!("{name}: no CronJob `{name}` in deploy/base")),
            (Some(pod), scheduled) => {
                let args = strings(&cratedigger_container(pod)["args"]);
                let expected =
                    scheduled.map_or_else(|| serve.clone(), |command| vec![command.to_owned()]);
                if args != expected {
                    problems.push(format!(
                        "{name}: the Kubernetes workload runs {args:?}, not {expected:?}"
                    ));
                }
            }
        }
        // Compose.
        match compose.services.get(name) {
            None => problems.push(format!("{name}: no service `{name}` in docker-compose.yml")),
            Some(definition) => {
                let command = strings(&definition["command"]);
                if command != serve {
                    problems.push(format!(
                        "{name}: the compose service runs {command:?}, not {serve:?}"
                    ));
                }
                // Its subscriptions, as it builds them with its own settings, are provisioned.
                let settings = load(&compose_environment(definition)).unwrap();
                let planned = compose_plan.subscription_names();
                for subscription in consumed(service, &settings).await {
                    if !planned.contains(&subscription) {
                        problems.push(format!("{name}: `pubsub provision` does not create its subscription {subscription}"));
                    }
                }
            }
        }
    }
    // Every subscription of the plan is someone's, and every service that consumes is in it.
    let consumers: BTreeSet<&str> = compose_plan
        .subscriptions
        .iter()
        .map(|(service, _)| service.name())
        .collect();
    for service in services() {
        let settings = load(&provision_env).unwrap();
        if !consumed(service, &settings).await.is_empty() && !consumers.contains(service.name()) {
            problems.push(format!(
                "{}: consumes events but the plan provisions nothing for it",
                service.name()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_setting_a_service_requires_is_set_in_compose_and_in_the_manifests() {
    if !kubectl_available() {
        return;
    }
    let compose = compose();
    let mut problems = Vec::new();

    // Compose: every variable it reads has its line in .env.example, and no line is stale.
    for (variable, has_default) in &compose.variables {
        if !compose.env_example.contains_key(variable) {
            problems.push(format!(
                ".env.example lacks {variable}, which docker-compose.yml reads"
            ));
        }
        if !has_default {
            problems.push(format!(
                "docker-compose.yml reads {variable} without a default"
            ));
        }
    }
    for variable in compose.env_example.keys() {
        if !compose.variables.contains_key(variable) {
            problems.push(format!(
                ".env.example sets {variable}, which docker-compose.yml never reads"
            ));
        }
    }

    // Compose: each service, loaded as `serve` loads it.
    let mut shared = BTreeMap::new();
    for service in services() {
        let Some(definition) = compose.services.get(service.name()) else {
            continue;
        };
        let env = compose_environment(definition);
        let settings = match load(&env) {
            Ok(settings) => settings,
            Err(e) => {
                problems.push(format!("compose {}: {e}", service.name()));
                continue;
            }
        };
        let probe = strings(&definition["healthcheck"]["test"]);
        let deployed = Deployed {
            http_probe_port: probe
                .iter()
                .find(|word| word.starts_with("http"))
                .and_then(|url| url_port(url)),
            grpc_probe_port: None,
            grace: definition["stop_grace_period"]
                .as_str()
                .map(compose_duration),
        };
        for problem in mesh_problems(service, &settings, &deployed, false) {
            problems.push(format!("compose {}: {problem}", service.name()));
        }
        shared.insert(
            format!("compose {}", service.name()),
            shared_part(&settings),
        );
    }
    let provision = load(&compose_environment(&compose.services["provision"])).unwrap();
    shared.insert("compose provision".into(), shared_part(&provision));
    disagreements(&shared, &mut problems);

    // Kubernetes, in every rendering.
    let compose_keys = compose
        .services
        .get(Service::Gateway.name())
        .map(|d| app_keys(&compose_environment(d)))
        .unwrap_or_default();
    for rendering in renderings() {
        let mut shared = BTreeMap::new();
        for service in services() {
            let Some(pod) = rendering.pod_of(service) else {
                continue;
            };
            let container = cratedigger_container(pod);
            let env = rendering.environment(container);
            let scheduled = SCHEDULED.iter().any(|(s, _)| *s == service);
            let where_ = format!("{} {}", rendering.name, service.name());
            let settings = match load(&env) {
                Ok(settings) => settings,
                Err(e) => {
                    problems.push(format!("{where_}: {e}"));
                    continue;
                }
            };
            let readiness = &container["readinessProbe"];
            let deployed = Deployed {
                http_probe_port: match service {
                    // The recommender is ready by gRPC health, alive by HTTP.
                    Service::Recommender => {
                        Rendering::port(container, &container["livenessProbe"]["httpGet"]["port"])
                    }
                    _ => Rendering::port(container, &readiness["httpGet"]["port"]),
                },
                grpc_probe_port: Rendering::port(container, &readiness["grpc"]["port"]),
                // A preStop pause is taken out of the grace period before SIGTERM.
                grace: pod["terminationGracePeriodSeconds"].as_u64().map(|grace| {
                    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                        .as_u64()
                        .unwrap_or(0);
                    Duration::from_secs(grace.saturating_sub(pause))
                }),
            };
            for problem in mesh_problems(service, &settings, &deployed, scheduled) {
                problems.push(format!("{where_}: {problem}"));
            }
            shared.insert(where_.clone(), shared_part(&settings));
            // The same keys as compose sets, but for the one-sided ones.
            let keys = app_keys(&env);
            for key in compose_keys.symmetric_difference(&keys) {
                if !ONE_SIDED_KEYS.iter().any(|(one_sided, _)| one_sided == key) {
                    let side = if keys.contains(key) {
                        "the manifests set it, compose does not"
                    } else {
                        "compose sets it, the manifests do not"
                    };
                    problems.push(format!("{where_}: {key}: {side}"));
                }
            }
            if !scheduled && !container["startupProbe"].is_mapping() {
                problems.push(format!(
                    "{where_}: no startup probe (start-up waits for the servers)"
                ));
            }
        }
        disagreements(&shared, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Records a problem for each process whose shared settings differ from the first one's.
fn disagreements(shared: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    let mut values = shared.iter();
    let Some((first, reference)) = values.next() else {
        return;
    };
    for (who, value) in values {
        if value != reference {
            problems.push(format!(
                "{who} and {first} disagree on shared settings:\n  {value}\n  {reference}"
            ));
        }
    }
}

#[tokio::test]
async fn topic_and_subscription_names_agree_between_code_compose_and_manifests() {
    if !kubectl_available() {
        return;
    }
    let mut problems = Vec::new();
    let compose_text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let env_text = std::fs::read_to_string(root().join(".env.example")).unwrap();
    let mut texts = vec![
        ("docker-compose.yml".to_owned(), compose_text),
        (".env.example".to_owned(), env_text),
    ];
    let mut saw_keda = BTreeSet::new();

    for rendering in renderings() {
        texts.push((
            rendering.name.clone(),
            rendering
                .documents
                .iter()
                .map(|d| serde_yaml_ng::to_string(d).unwrap())
                .collect(),
        ));
        let Some(container) = rendering.provisioning() else {
            problems.push(format!(
                "{}: no Job runs `pubsub provision`",
                rendering.name
            ));
            continue;
        };
        let settings = load(&rendering.environment(container)).unwrap();
        let plan: ProvisionPlan = provision::plan(&settings).await.unwrap();
        for scaled in rendering.of_kind("ScaledObject") {
            let target = scalar(&scaled["spec"]["scaleTargetRef"]["name"]);
            let Some(service) = services().into_iter().find(|s| s.name() == target) else {
                problems.push(format!(
                    "{}: KEDA scales {target}, which is no service",
                    rendering.name
                ));
                continue;
            };
            for trigger in scaled["spec"]["triggers"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                if trigger["type"].as_str() != Some("gcp-pubsub") {
                    continue;
                }
                let watched = scalar(&trigger["metadata"]["subscriptionName"]);
                let own: BTreeSet<String> = plan
                    .subscriptions
                    .iter()
                    .filter(|(consumer, _)| *consumer == service)
                    .map(|(_, spec)| on_bus(&settings, &spec.name))
                    .collect();
                if own.contains(&watched) {
                    saw_keda.insert(service.name());
                } else {
                    problems.push(format!("{}: KEDA scales {target} on {watched}, not one of its provisioned subscriptions {own:?}", rendering.name));
                }
            }
        }
    }
    for service in SCALED_ON_BACKLOG {
        if !saw_keda.contains(service.name()) {
            problems.push(format!(
                "{}: no KEDA ScaledObject scales it on its subscription backlog",
                service.name()
            ));
        }
    }

    // Every `cratedigger.<event>.v1` named anywhere is a topic of the contract (or its
    // dead-letter topic).
    let known: BTreeSet<String> = cratedigger_proto::ALL_TOPICS
        .iter()
        .flat_map(|topic| {
            [
                (*topic).to_owned(),
                cratedigger_bus::dead_letter_topic_name(topic),
            ]
        })
        .collect();
    // Likewise every gRPC service name (the recommender's readiness probe names one).
    let grpc_services = [cratedigger_proto::recommender::recommender_server::SERVICE_NAME];
    for (file, text) in &texts {
        let (topics, grpc) = qualified_names(text);
        for name in topics.difference(&known) {
            problems.push(format!("{file}: {name} is not a topic of the contract"));
        }
        for name in grpc
            .iter()
            .filter(|name| !grpc_services.contains(&name.as_str()))
        {
            problems.push(format!(
                "{file}: {name} is not a gRPC service of the contract"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `cratedigger.<kebab>.v<digits>[.dead-letter]` in `text` (a topic name), and
/// every `cratedigger.<package>.v<digits>.<Service>` (a gRPC service name).
fn qualified_names(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut topics, mut grpc) = (BTreeSet::new(), BTreeSet::new());
    for (at, _) in text.match_indices("cratedigger.") {
        let candidate: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let parts: Vec<&str> = candidate.trim_end_matches('.').split('.').collect();
        let versioned = parts.len() >= 3
            && parts[2]
                .strip_prefix('v')
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()));
        if !versioned {
            continue;
        }
        match parts.get(3) {
            Some(service) if service.starts_with(|c: char| c.is_ascii_uppercase()) => {
                grpc.insert(parts[..4].join("."));
            }
            Some(&"dead-letter") => {
                topics.insert(format!("{}.dead-letter", parts[..3].join(".")));
            }
            _ => {
                topics.insert(parts[..3].join("."));
            }
        }
    }
    (topics, grpc)
}

#[test]
fn the_helpers_read_what_compose_and_urls_say() {
    let env: BTreeMap<String, String> = [
        ("SET".to_owned(), "x".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]
    .into();
    let mut seen = BTreeMap::new();
    assert_eq!(
        interpolate(
            "a${SET}b ${EMPTY:-d} ${EMPTY-d} ${NONE:-n} $$X",
            &env,
            &mut seen
        ),
        "axb d  n $X"
    );
    assert_eq!(seen.get("NONE"), Some(&true));
    assert_eq!(seen.get("SET"), Some(&false));
    assert_eq!(compose_duration("1m30s"), Duration::from_secs(90));
    assert_eq!(compose_duration("45"), Duration::from_secs(45));
    assert_eq!(url_port("http://127.0.0.1:9090/readyz"), Some(9090));
    assert_eq!(url_host("http://recommender:50051"), Some("recommender"));
    let (topics, grpc) = qualified_names(
        "on cratedigger.chunk-done.v1, cratedigger.job-failed.v1.dead-letter, cratedigger.local, cratedigger.recommender.v1.Recommender",
    );
    assert_eq!(
        topics,
        [
            "cratedigger.chunk-done.v1",
            "cratedigger.job-failed.v1.dead-letter"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(
        grpc,
        ["cratedigger.recommender.v1.Recommender"]
            .map(String::from)
            .into()
    );
}

/// Every container that runs the cratedigger image, in compose and in every rendering,
/// asks for a command the binary accepts: a renamed subcommand or flag fails here, not in
/// a CronJob at night.
#[test]
fn every_command_the_deployments_run_is_one_the_binary_accepts() {
    use clap::Parser;
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut check = |place: String, args: Vec<String>| {
        checked += 1;
        let argv = std::iter::once("cratedigger".to_owned()).chain(args.iter().cloned());
        if let Err(e) = cratedigger::Cli::try_parse_from(argv) {
            problems.push(format!("{place}: `{}`: {}", args.join(" "), e.kind()));
        }
    };
    for (name, service) in &compose().services {
        if service["image"]
            .as_str()
            .is_some_and(|image| image.contains("cratedigger"))
        {
            check(format!("compose {name}"), strings(&service["command"]));
        }
    }
    if kubectl_available() {
        for rendering in renderings() {
            for document in &rendering.documents {
                let pod = match document["kind"].as_str() {
                    Some("Deployment" | "Job") => &document["spec"]["template"]["spec"],
                    Some("CronJob") => &document["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                    _ => continue,
                };
                let containers = ["initContainers", "containers"]
                    .into_iter()
                    .flat_map(|list| pod[list].as_sequence().into_iter().flatten());
                for container in containers.filter(|c| {
                    c["image"]
                        .as_str()
                        .is_some_and(|image| image.contains("cratedigger"))
                }) {
                    let workload = scalar(&document["metadata"]["name"]);
                    check(
                        format!(
                            "{} {workload}/{}",
                            rendering.name,
                            scalar(&container["name"])
                        ),
                        strings(&container["args"]),
                    );
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} commands found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
