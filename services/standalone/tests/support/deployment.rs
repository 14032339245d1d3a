//! One OS process per service (`cratedigger serve ...`), after `cratedigger pubsub
//! provision`, on the real servers: the Pub/Sub emulator, Redis, PostgreSQL and MongoDB.
//! A service can be killed and started again on the same ports, as a crashed pod would be.

use std::time::Duration;

use cratedigger_testkit::{server_url, unique_name};

use super::{Api, Process, Sim, free_port, wait_ready};

/// Where the servers are; each is skipped locally when its variable is missing.
#[derive(Clone, Debug)]
pub struct Servers {
    pub pubsub: String,
    pub redis: String,
    pub postgres: String,
    pub mongo: String,
}

impl Servers {
    /// From PUBSUB_EMULATOR_HOST, TEST_REDIS_URL, TEST_DATABASE_URL and MONGODB_URI.
    pub fn from_env() -> Option<Self> {
        Some(Self {
            pubsub: server_url("PUBSUB_EMULATOR_HOST")?,
            redis: server_url("TEST_REDIS_URL")?,
            postgres: server_url("TEST_DATABASE_URL")?,
            mongo: server_url("MONGODB_URI")?,
        })
    }
}

/// The services, in the order they are started (the gateway last).
pub const SERVICES: [&str; 8] = [
    "profile",
    "scraper",
    "tracker",
    "recommender",
    "candidates",
    "market",
    "carts",
    "gateway",
];

/// The environment every process of a deployment named `name` shares.
pub fn deployment_env(
    servers: &Servers,
    sim: &Sim,
    name: &str,
    blobs: &std::path::Path,
) -> Vec<(String, String)> {
    [
        ("APP_BUS__KIND", "pubsub".to_owned()),
        ("APP_BUS__PROJECT", pubsub_project()),
        ("APP_BUS__EMULATOR_HOST", servers.pubsub.clone()),
        ("APP_BUS__PREFIX", format!("{name}.")),
        ("APP_KV__KIND", "redis".to_owned()),
        ("APP_KV__URL", servers.redis.clone()),
        ("APP_KV__PREFIX", format!("{name}:")),
        ("APP_CATALOG__KIND", "postgres".to_owned()),
        ("APP_CATALOG__URL", servers.postgres.clone()),
        ("APP_CATALOG__SCHEMA", name.to_owned()),
        ("APP_RESULTS__KIND", "mongodb".to_owned()),
        ("APP_RESULTS__URI", servers.mongo.clone()),
        ("APP_RESULTS__DATABASE", name.to_owned()),
        ("APP_BLOBS__LOCATION", blobs.display().to_string()),
        ("APP_DISCOGS__API_URL", sim.base.clone()),
        ("APP_DISCOGS__WEB_URL", sim.base.clone()),
        ("APP_MARKET__SOURCES", "http".to_owned()),
        ("APP_MARKET__STATS_PRECHECK", "false".to_owned()),
        ("APP_DISCOGS__TOKEN", "test-token".to_owned()),
        ("APP_DISCOGS__REQUESTS_PER_MINUTE", "60000".to_owned()),
        ("APP_DISCOGS__LIMITER", "redis".to_owned()),
        ("APP_TRAINER__ALS__FACTORS", "32".to_owned()),
        ("APP_TRAINER__ALS__ITERATIONS", "10".to_owned()),
        ("APP_RECOMMENDER__REFRESH_SECONDS", "1".to_owned()),
        ("APP_WORKERS__DRAIN_SECONDS", "1".to_owned()),
        ("APP_TELEMETRY__FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The Pub/Sub project the tests use.
pub fn pubsub_project() -> String {
    std::env::var("PUBSUB_PROJECT_ID").unwrap_or_else(|_| "cratedigger-test".into())
}

pub fn with(env: &[(String, String)], extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut all = env.to_vec();
    all.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    all
}

/// One service's process and what it takes to start it again as it was.
pub struct Service {
    pub name: &'static str,
    pub env: Vec<(String, String)>,
    pub health: String,
    pub process: Process,
    /// How many times it was started (the log of each start is kept apart).
    starts: usize,
}

/// Every service as its own process on the real servers, ready.
pub struct Deployment {
    pub services: Vec<Service>,
    pub env: Vec<(String, String)>,
    pub name: String,
    pub gateway_port: u16,
    pub dir: tempfile::TempDir,
}

impl Deployment {
    pub async fn start(servers: &Servers, sim: &Sim, extra: &[(&str, String)]) -> Self {
        let name = unique_name("mesh");
        let dir = tempfile::tempdir().unwrap();
        let env = with(
            &deployment_env(servers, sim, &name, &dir.path().join("blobs")),
            extra,
        );
        // As an operator would: topics, subscriptions and dead-letter topics first.
        Process::spawn("provision", &["pubsub", "provision"], &env, dir.path())
            .wait_success(Duration::from_secs(60));
        Self::start_provisioned(env, name, dir).await
    }

    /// The services of a deployment whose topics and subscriptions exist.
    pub async fn start_provisioned(
        env: Vec<(String, String)>,
        name: String,
        dir: tempfile::TempDir,
    ) -> Self {
        let gateway_port = free_port();
        let mut services = Vec::new();
        for name in SERVICES {
            let (port, extra) = if name == "gateway" {
                let health = free_port();
                (
                    gateway_port,
                    vec![
                        ("APP_GATEWAY__PORT", gateway_port.to_string()),
                        ("APP_HEALTH__PORT", health.to_string()),
                    ],
                )
            } else {
                let port = free_port();
                (
                    port,
                    vec![
                        ("APP_HEALTH__PORT", port.to_string()),
                        ("APP_GRPC__PORT", free_port().to_string()),
                    ],
                )
            };
            let env = with(&env, &extra);
            let process = Process::spawn(name, &["serve", name], &env, dir.path());
            services.push(Service {
                name,
                env,
                health: format!("http://127.0.0.1:{port}/readyz"),
                process,
                starts: 1,
            });
        }
        let deployment = Self {
            services,
            env,
            name,
            gateway_port,
            dir,
        };
        for service in &deployment.services {
            wait_ready(
                &service.health,
                Duration::from_secs(90),
                &deployment.processes(),
            )
            .await;
        }
        deployment
    }

    pub fn api(&self) -> Api {
        Api::new(&format!("http://127.0.0.1:{}", self.gateway_port))
    }

    pub fn processes(&self) -> Vec<&Process> {
        self.services.iter().map(|s| &s.process).collect()
    }

    pub fn service_mut(&mut self, name: &str) -> &mut Service {
        self.services
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    /// SIGKILL: the service gets no chance to drain or to settle what it holds.
    pub fn kill(&mut self, name: &str) {
        let service = self.service_mut(name);
        service.process.child.kill().unwrap();
        service.process.child.wait().unwrap();
    }

    /// Starts a killed service again, on the same ports, logging to a file of its own.
    pub fn restart(&mut self, name: &str) {
        let logs = self.dir.path().to_owned();
        let service = self.service_mut(name);
        service.starts += 1;
        let log_name = format!("{}-{}", service.name, service.starts);
        service.process = Process::spawn(&log_name, &["serve", service.name], &service.env, &logs);
    }

    /// Every log of the current processes, for a failure message.
    pub fn logs(&self) -> String {
        all_logs(&self.processes())
    }

    /// The warnings and errors every process logged (restarted ones included), the last
    /// `per_log` lines of each log, for a failure message.
    pub fn warnings(&self, per_log: usize) -> String {
        let mut logs: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        let mut out = String::new();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| {
                    l.contains("\"WARN\"") || l.contains("\"ERROR\"") || l.contains("panicked")
                })
                .collect();
            out.push_str(&format!("--- {}\n", log.display()));
            for line in &lines[lines.len().saturating_sub(per_log)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    pub fn stop(self) {
        for mut service in self.services {
            service.process.terminate(Duration::from_secs(20));
        }
    }
}

pub fn all_logs(processes: &[&Process]) -> String {
    processes
        .iter()
        .map(|p| format!("--- {}\n{}", p.name, p.output()))
        .collect::<Vec<_>>()
        .join("\n")
}
