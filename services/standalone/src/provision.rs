//! `cratedigger pubsub provision`: creates, before any service starts, every Pub/Sub
//! resource the mesh uses: every topic of the contract, every subscription a service of
//! the roster consumes (with its ack deadline and dead-letter policy), and one
//! subscription on each dead-letter topic, so a message given up on is kept for an
//! operator instead of vanishing (Pub/Sub keeps a topic's messages only for existing
//! subscriptions). Creating is idempotent: what exists is left as it is.
//!
//! The subscriptions are read from the roster itself (`services::tasks`), never listed
//! by hand, so a new service or a new consumed event is provisioned without an edit here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cratedigger_backends::{Backends, BusSettings, KvSettings};
use cratedigger_bus::{BusError, EventBus, MemoryBus, PubSubBus, PubSubSettings, SubscriptionSpec};
use cratedigger_catalog::SqliteCatalog;
use cratedigger_kit::Health;
use cratedigger_kv::MemoryKeyValue;
use cratedigger_results::EmbeddedResultsStore;

use crate::services::{self, Service};
use crate::settings::AppSettings;

/// What a dead-letter subscription's name starts with: `dead-letters.<source topic>`.
pub const DEAD_LETTERS_PREFIX: &str = "dead-letters.";

/// A dead-letter subscription holds a message until an operator looks at it; a longer
/// deadline than a worker's leaves time to read one before it is offered again.
const DEAD_LETTER_ACK_DEADLINE: Duration = Duration::from_secs(60);

/// How long one admin call of the command keeps retrying by itself.
const PROBE_TIME_LIMIT: Duration = Duration::from_secs(10);

/// One try's patience while waiting for the bus at start-up: short, so the wait loop can
/// say what it waits for; a deadline nearly reached still gets `MIN_ATTEMPT_TIME`.
const ATTEMPT_TIME_LIMIT: Duration = Duration::from_secs(3);
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(500);

/// Every Pub/Sub resource of the mesh, in the order it is created.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvisionPlan {
    /// Every topic: the contract's, and the dead-letter topics the subscriptions name.
    pub topics: Vec<String>,
    /// The subscriptions the services consume, with the service that consumes each.
    pub subscriptions: Vec<(Service, SubscriptionSpec)>,
    /// One subscription per dead-letter topic, keeping what lands there.
    pub dead_letter_subscriptions: Vec<SubscriptionSpec>,
}

impl ProvisionPlan {
    /// The plan for `roster` (the subscriptions of every service) and `contract_topics`.
    pub fn new(contract_topics: &[&str], roster: Vec<(Service, SubscriptionSpec)>) -> Self {
        // Several subscriptions of one topic share its dead-letter topic: one keeper each.
        let mut dead_letter_sources: BTreeMap<String, String> = BTreeMap::new();
        for (_, spec) in &roster {
            if let Some(dead_letter_topic) = &spec.dead_letter_topic {
                dead_letter_sources
                    .entry(dead_letter_topic.clone())
                    .or_insert_with(|| spec.topic.clone());
            }
        }
        let mut topics: BTreeSet<String> =
            contract_topics.iter().map(|t| (*t).to_owned()).collect();
        topics.extend(roster.iter().map(|(_, spec)| spec.topic.clone()));
        topics.extend(dead_letter_sources.keys().cloned());
        let dead_letter_subscriptions = dead_letter_sources
            .iter()
            .map(|(dead_letter_topic, source)| SubscriptionSpec {
                ack_deadline: DEAD_LETTER_ACK_DEADLINE,
                dead_letter_topic: None,
                ..SubscriptionSpec::new(
                    dead_letter_subscription_name(source),
                    dead_letter_topic.clone(),
                )
            })
            .collect();
        let mut subscriptions = roster;
        subscriptions.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        subscriptions.dedup_by(|a, b| a.1.name == b.1.name);
        Self {
            topics: topics.into_iter().collect(),
            subscriptions,
            dead_letter_subscriptions,
        }
    }

    /// The names of every subscription, the dead-letter keepers included.
    pub fn subscription_names(&self) -> BTreeSet<String> {
        self.subscriptions
            .iter()
            .map(|(_, spec)| spec.name.clone())
            .chain(
                self.dead_letter_subscriptions
                    .iter()
                    .map(|spec| spec.name.clone()),
            )
            .collect()
    }
}

/// The subscription keeping the dead letters of `source_topic`.
pub fn dead_letter_subscription_name(source_topic: &str) -> String {
    format!("{DEAD_LETTERS_PREFIX}{source_topic}")
}

/// Every subscription the roster consumes, service by service, as `services::tasks`
/// builds them for `settings`.
pub async fn roster_subscriptions(
    settings: &AppSettings,
) -> anyhow::Result<Vec<(Service, SubscriptionSpec)>> {
    let backends = inert_backends().await?;
    let health = Health::new("provision");
    let mut roster = Vec::new();
    for service in Service::ALL {
        let tasks = services::tasks(service, &backends, settings, &health);
        roster.extend(
            tasks
                .iter()
                .filter_map(|task| task.subscription())
                .map(|spec| (service, spec)),
        );
    }
    Ok(roster)
}

/// What the command provisions for `settings`: every topic of the contract and every
/// subscription of the roster.
pub async fn plan(settings: &AppSettings) -> anyhow::Result<ProvisionPlan> {
    Ok(ProvisionPlan::new(
        cratedigger_proto::ALL_TOPICS,
        roster_subscriptions(settings).await?,
    ))
}

/// In-process stand-ins for every port: enough to build the services' tasks and read
/// their subscriptions, which never run and never touch a server.
async fn inert_backends() -> anyhow::Result<Backends> {
    let discogs = cratedigger_backends::discogs_client(
        &Default::default(),
        &KvSettings::Memory,
        Instant::now(),
    )
    .await?;
    Ok(Backends {
        bus: Arc::new(MemoryBus::new()),
        kv: Arc::new(MemoryKeyValue::new()),
        catalog: Arc::new(SqliteCatalog::in_memory().await?),
        results: Arc::new(EmbeddedResultsStore::in_memory().await?),
        blobs: cratedigger_blobs::open("memory://")?,
        discogs,
        memory_bus: None,
    })
}

/// One resource made sure of, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provisioned {
    Topic(String),
    Subscription {
        name: String,
        topic: String,
        ack_deadline_seconds: u64,
        attempts: u32,
        dead_letter_topic: Option<String>,
    },
}

impl std::fmt::Display for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Topic(name) => write!(f, "topic         {name}"),
            Self::Subscription {
                name,
                topic,
                ack_deadline_seconds,
                attempts,
                dead_letter_topic,
            } => {
                write!(
                    f,
                    "subscription  {name} <- {topic} (ack deadline {ack_deadline_seconds} s"
                )?;
                match dead_letter_topic {
                    Some(dead_letters) => write!(f, ", {attempts} attempts, then {dead_letters})"),
                    None => write!(f, ", kept until acked)"),
                }
            }
        }
    }
}

/// Creates everything in `plan` that `bus` lacks, calling `report` after each resource.
pub async fn apply(
    bus: &dyn EventBus,
    plan: &ProvisionPlan,
    mut report: impl FnMut(Provisioned),
) -> Result<(), BusError> {
    for topic in &plan.topics {
        bus.ensure_topic(topic).await?;
        report(Provisioned::Topic(topic.clone()));
    }
    let specs = plan
        .subscriptions
        .iter()
        .map(|(_, spec)| spec)
        .chain(&plan.dead_letter_subscriptions);
    for spec in specs {
        bus.ensure_subscription(spec).await?;
        report(Provisioned::Subscription {
            name: spec.name.clone(),
            topic: spec.topic.clone(),
            ack_deadline_seconds: spec.effective_ack_deadline().as_secs(),
            attempts: spec.effective_max_delivery_attempts(),
            dead_letter_topic: spec.dead_letter_topic.clone(),
        });
    }
    Ok(())
}

/// The command: connects to the configured Pub/Sub (waiting for it up to
/// `wait_for_backends_seconds`), provisions the whole plan and prints each resource.
pub async fn provision_pubsub(settings: &AppSettings) -> anyhow::Result<ProvisionPlan> {
    let BusSettings::Pubsub {
        project,
        emulator_host,
        prefix,
    } = &settings.backends.bus
    else {
        anyhow::bail!(
            "pubsub provision needs bus.kind = \"pubsub\" (APP_BUS__KIND=pubsub); the in-process bus needs no provisioning"
        );
    };
    let mut pubsub = PubSubSettings::new(project)
        .with_name_prefix(prefix.clone())
        .with_request_time_limit(PROBE_TIME_LIMIT);
    pubsub = match emulator_host {
        Some(host) => pubsub.with_emulator_host(host.clone()),
        None => pubsub.with_emulator_host_from_env(),
    };
    let target = pubsub.emulator_host.clone().map_or_else(
        || format!("project {project}"),
        |host| format!("project {project} on the emulator at {host}"),
    );
    let bus = PubSubBus::connect(pubsub)
        .await
        .context("building the pub/sub clients")?;
    let plan = plan(settings).await?;
    let wait = Duration::from_secs(settings.wait_for_backends_seconds);
    wait_for_pubsub(&bus, &plan, wait).await?;
    println!("provisioning pub/sub: {target}, name prefix {prefix:?}");
    apply(&bus, &plan, |done| println!("{done}"))
        .await
        .context("provisioning pub/sub")?;
    println!(
        "pub/sub provisioned: {} topics, {} subscriptions, {} dead-letter subscriptions",
        plan.topics.len(),
        plan.subscriptions.len(),
        plan.dead_letter_subscriptions.len()
    );
    Ok(plan)
}

/// Creates `topic` until the bus answers or `wait` has passed, saying what it waits for
/// (at start-up an emulator, a proxy or a network may still be coming up). Each try gets
/// a few seconds: a client left to itself keeps retrying an unreachable server for its
/// whole request time limit, in silence. Creating a topic is idempotent, so a try cut
/// short changes nothing.
pub async fn wait_for_bus(bus: &dyn EventBus, topic: &str, wait: Duration) -> Result<(), BusError> {
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(500);
    loop {
        let limit = ATTEMPT_TIME_LIMIT
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(MIN_ATTEMPT_TIME);
        let attempt = match tokio::time::timeout(limit, bus.ensure_topic(topic)).await {
            Ok(answered) => answered,
            Err(_) => Err(BusError::Unavailable(format!(
                "no answer within {} ms (unreachable, or still starting)",
                limit.as_millis()
            ))),
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(BusError::Unavailable(reason)) if Instant::now() + delay < deadline => {
                tracing::warn!(backend = "pub/sub", error = %reason, retry_in_ms = delay.as_millis() as u64, "waiting for a backend");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The first topic of `plan`, once Pub/Sub answers.
async fn wait_for_pubsub(
    bus: &PubSubBus,
    plan: &ProvisionPlan,
    wait: Duration,
) -> anyhow::Result<()> {
    let Some(first) = plan.topics.first() else {
        return Ok(());
    };
    wait_for_bus(bus, first, wait)
        .await
        .context("connecting to pub/sub")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(name: &str, topic: &str) -> SubscriptionSpec {
        SubscriptionSpec::new(name, topic)
    }

    #[test]
    fn every_dead_letter_topic_gets_one_keeper() {
        let roster = vec![
            (
                Service::Profile,
                spec("profile.job-requested", "cratedigger.job-requested.v1"),
            ),
            (
                Service::Tracker,
                spec("tracker.job-requested", "cratedigger.job-requested.v1"),
            ),
            (
                Service::Tracker,
                spec("tracker.chunk-done", "cratedigger.chunk-done.v1"),
            ),
        ];
        let plan = ProvisionPlan::new(
            &[
                "cratedigger.job-requested.v1",
                "cratedigger.model-trained.v1",
            ],
            roster,
        );
        let keepers: Vec<(&str, &str)> = plan
            .dead_letter_subscriptions
            .iter()
            .map(|s| (s.name.as_str(), s.topic.as_str()))
            .collect();
        assert_eq!(
            keepers,
            [
                (
                    "dead-letters.cratedigger.chunk-done.v1",
                    "cratedigger.chunk-done.v1.dead-letter"
                ),
                (
                    "dead-letters.cratedigger.job-requested.v1",
                    "cratedigger.job-requested.v1.dead-letter"
                ),
            ]
        );
        assert!(
            plan.dead_letter_subscriptions
                .iter()
                .all(|s| s.dead_letter_topic.is_none())
        );
        assert_eq!(
            plan.topics,
            [
                "cratedigger.chunk-done.v1",
                "cratedigger.chunk-done.v1.dead-letter",
                "cratedigger.job-requested.v1",
                "cratedigger.job-requested.v1.dead-letter",
                "cratedigger.model-trained.v1",
            ]
        );
    }

    #[tokio::test]
    async fn the_roster_consumes_only_contract_topics_and_each_service_has_its_own_names() {
        let roster = roster_subscriptions(&AppSettings::default()).await.unwrap();
        assert!(!roster.is_empty());
        for (service, spec) in &roster {
            // A contract topic, or (the tracker's second look at what it gave up on) the
            // dead-letter topic of one, which sends nothing further.
            let dead_letters_of = cratedigger_proto::ALL_TOPICS
                .iter()
                .find(|t| cratedigger_bus::dead_letter_topic_name(t) == spec.topic);
            assert!(
                cratedigger_proto::ALL_TOPICS.contains(&spec.topic.as_str())
                    || dead_letters_of.is_some(),
                "{} consumes {}",
                spec.name,
                spec.topic
            );
            assert!(
                spec.name.starts_with(&format!("{}.", service.name())),
                "{} is not named after {}",
                spec.name,
                service.name()
            );
            assert!(
                spec.dead_letter_topic.is_some() || dead_letters_of.is_some(),
                "{} has no dead-letter topic",
                spec.name
            );
        }
    }

    #[tokio::test]
    async fn applying_twice_creates_nothing_new_and_fails_nothing() {
        let bus = MemoryBus::new();
        let plan = ProvisionPlan::new(
            cratedigger_proto::ALL_TOPICS,
            roster_subscriptions(&AppSettings::default()).await.unwrap(),
        );
        let mut first = Vec::new();
        apply(&bus, &plan, |p| first.push(p)).await.unwrap();
        let mut second = Vec::new();
        apply(&bus, &plan, |p| second.push(p)).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first.len(),
            plan.topics.len() + plan.subscription_names().len()
        );
    }

    /// On the emulator (skipped without `PUBSUB_EMULATOR_HOST`): provisioning twice
    /// changes nothing, and every subscription of the plan exists before anyone
    /// subscribes: a message published right after provisioning is kept for each of them
    /// (Pub/Sub keeps a topic's messages only for the subscriptions it has).
    #[tokio::test]
    async fn on_the_emulator_every_subscription_exists_before_anyone_subscribes() {
        let Some(host) = cratedigger_testkit::server_url("PUBSUB_EMULATOR_HOST") else {
            return;
        };
        let project =
            std::env::var("PUBSUB_PROJECT_ID").unwrap_or_else(|_| "cratedigger-test".into());
        let prefix = format!("{}.", cratedigger_testkit::unique_name("provision"));
        let mut settings = AppSettings::default();
        settings.backends.bus = BusSettings::Pubsub {
            project: project.clone(),
            emulator_host: Some(host.clone()),
            prefix: prefix.clone(),
        };
        settings.wait_for_backends_seconds = 10;
        let plan = provision_pubsub(&settings).await.unwrap();
        assert_eq!(
            provision_pubsub(&settings).await.unwrap(),
            plan,
            "a second run planned otherwise"
        );
        for service in [Service::Candidates, Service::Market, Service::Carts] {
            assert!(
                plan.subscriptions
                    .iter()
                    .any(|(consumer, _)| *consumer == service),
                "nothing provisioned for {}",
                service.name()
            );
        }

        let bus = PubSubBus::connect(
            PubSubSettings::new(project)
                .with_emulator_host(host)
                .with_name_prefix(prefix),
        )
        .await
        .unwrap();
        let specs: Vec<&SubscriptionSpec> = plan
            .subscriptions
            .iter()
            .map(|(_, spec)| spec)
            .chain(&plan.dead_letter_subscriptions)
            .collect();
        let topics: BTreeSet<&str> = specs.iter().map(|spec| spec.topic.as_str()).collect();
        for topic in &topics {
            bus.publish(
                topic,
                cratedigger_bus::OutgoingMessage::new(topic.as_bytes().to_vec()),
            )
            .await
            .unwrap();
        }
        for spec in specs {
            let mut subscription = bus.subscribe(spec).await.unwrap();
            let delivery = tokio::time::timeout(Duration::from_secs(20), subscription.next())
                .await
                .unwrap_or_else(|_| panic!("{} kept nothing of {}", spec.name, spec.topic))
                .unwrap()
                .unwrap();
            assert_eq!(delivery.data.as_ref(), spec.topic.as_bytes());
            delivery.ack().await.unwrap();
            subscription.close().await;
        }
    }

    #[test]
    fn the_report_names_the_policy() {
        let line = Provisioned::Subscription {
            name: "tracker.chunk-done".into(),
            topic: "cratedigger.chunk-done.v1".into(),
            ack_deadline_seconds: 30,
            attempts: 5,
            dead_letter_topic: Some("cratedigger.chunk-done.v1.dead-letter".into()),
        };
        assert_eq!(
            line.to_string(),
            "subscription  tracker.chunk-done <- cratedigger.chunk-done.v1 (ack deadline 30 s, 5 attempts, then cratedigger.chunk-done.v1.dead-letter)"
        );
    }
}
