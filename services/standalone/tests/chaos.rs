//! The chaos suite: one process per service on the real servers (the Pub/Sub emulator,
//! Redis, PostgreSQL, MongoDB) while recommendations and carts jobs run, and:
//! - every event is published twice, the copy up to 1.5 s later (out of order);
//! - a 429 storm from Discogs;
//! - each service in turn is killed with SIGKILL mid-job and started again;
//! - Redis is paused (connections held open, nothing answered) for 40 s;
//! - PostgreSQL is restarted (every connection dropped, none accepted for 5 s);
//! - the tracker is killed every 2 to 6 s for 30 s while 8 syncs run.
//!
//! Afterwards every job must have succeeded, whole: each user's wantlist in the catalog is
//! exactly the simulator's, each recommendation list is complete, each carts job stored
//! exactly the listings the marketplace shows (none lost, none doubled) and the plan the
//! optimiser makes from them.
//!
//! Redis and PostgreSQL are reached through [`FaultyLink`] relays, so pausing and
//! restarting them affects this deployment only, not the other tests sharing the servers.
//!
//! CI runs one round. The long run is `scripts/chaos.sh` (see the README): more rounds,
//! more users, and a summary of the figures. Settings, from the environment:
//! `CHAOS_ROUNDS` (1), `CHAOS_USERS` (users per fault and round, 2),
//! `CHAOS_REDIS_PAUSE_SECONDS` (40), `CHAOS_POSTGRES_DOWN_SECONDS` (5),
//! `CHAOS_TRACKER_STORM_SECONDS` (30), `CHAOS_STORM_SYNCS` (8).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cratedigger_carts::CartPlan;
use cratedigger_catalog::{Catalog, PostgresCatalog, PostgresCatalogSettings};
use cratedigger_discogs::ListingSource;
use cratedigger_domain::{
    CartSet, JobId, JobState, ListingId, Money, RecommendationSet, ReleaseId, StageState,
};
use cratedigger_kv::RedisKeyValue;
use cratedigger_results::{Collection, MongoResultsStore, MongoSettings, ResultsStore};
use cratedigger_status::{CandidateRecords, JobStatus};
use cratedigger_testkit::unique_name;
use rand::Rng;
use serde_json::{Value, json};
use support::carts::{carts_body, check_best_cart, optimise_again};
use support::deployment::{Deployment, SERVICES, Servers, deployment_env, pubsub_project};
use support::faults::{Doubler, FaultyLink, LinkState};
use support::{Process, Sim, discogs_client, job_body, wait_ready};

/// How hard and how long to shake the mesh.
struct Plan {
    rounds: usize,
    users: usize,
    redis_pause: Duration,
    postgres_down: Duration,
    /// How long the tracker is killed again and again (every 2 to 6 s) while syncs run.
    tracker_storm: Duration,
    /// The syncs that run through it.
    storm_syncs: usize,
}

impl Plan {
    fn from_env() -> Self {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            rounds: number("CHAOS_ROUNDS", 1) as usize,
            users: number("CHAOS_USERS", 2) as usize,
            redis_pause: Duration::from_secs(number("CHAOS_REDIS_PAUSE_SECONDS", 40)),
            postgres_down: Duration::from_secs(number("CHAOS_POSTGRES_DOWN_SECONDS", 5)),
            tracker_storm: Duration::from_secs(number("CHAOS_TRACKER_STORM_SECONDS", 30)),
            storm_syncs: number("CHAOS_STORM_SYNCS", 8) as usize,
        }
    }
}

/// A job the suite started, and for whom.
struct Started {
    job: JobId,
    user: String,
    kind: &'static str,
    fault: &'static str,
    at: Instant,
}

/// What the run did, for the summary.
#[derive(Default)]
struct Figures {
    kills: usize,
    tracker_kills: usize,
}

const WANTS: usize = 16;
const RECOMMENDATIONS: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_job_ends_whole_under_kills_pauses_restarts_duplicates_and_429s() {
    cratedigger_kit::telemetry::init_for_tests();
    let Some(real) = Servers::from_env() else {
        return;
    };
    let plan = Plan::from_env();
    let began = Instant::now();
    let sim = Sim::start().await;
    let (redis, redis_url) = FaultyLink::for_url(&real.redis).await;
    let (postgres, postgres_url) = FaultyLink::for_url(&real.postgres).await;
    let servers = Servers {
        redis: redis_url,
        postgres: postgres_url,
        ..real.clone()
    };

    let name = unique_name("chaos");
    let dir = tempfile::tempdir().unwrap();
    let env = deployment_env(&servers, &sim, &name, &dir.path().join("blobs"));
    Process::spawn("provision", &["pubsub", "provision"], &env, dir.path())
        .wait_success(Duration::from_secs(60));
    // Subscribed before any service runs, so it sees every event.
    let doubler = Doubler::start(
        &real.pubsub,
        &pubsub_project(),
        &format!("{name}."),
        Duration::from_millis(1_500),
    )
    .await;
    let mut deployment = Deployment::start_provisioned(env.clone(), name.clone(), dir).await;
    let logs = deployment.dir.path().to_owned();
    // A corpus and a model, as an operator would make them.
    Process::spawn(
        "crawl",
        &["crawl", "--sim-users", "20", "--timeout", "120"],
        &env,
        &logs,
    )
    .wait_success(Duration::from_secs(180));
    Process::spawn("train", &["train"], &env, &logs).wait_success(Duration::from_secs(120));

    let api = Client::new(deployment.gateway_port);
    let mut started: Vec<Started> = Vec::new();
    let mut figures = Figures::default();
    let mut next_user = 0;
    let mut users = |n: usize| {
        let names: Vec<String> = (0..n)
            .map(|_| {
                next_user += 1;
                format!("chaosdigger{next_user:03}")
            })
            .collect();
        names
    };
    let mut durations = Vec::new();
    for _ in 0..plan.rounds {
        let mut round: Vec<Started> = Vec::new();
        // Each service killed in turn while its work is in flight, under a 429 storm.
        let group = users(plan.users);
        round.extend(start_jobs(&sim, &api, &group, "kill -9 and 429s").await);
        sim.fault(json!({ "kind": "rate_limited", "retry_after_secs": 1, "times": 60 }))
            .await;
        for service in SERVICES {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            deployment.kill(service);
            figures.kills += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
            deployment.restart(service);
        }
        wait_ready(
            &deployment.service_mut("gateway").health.clone(),
            Duration::from_secs(60),
            &[],
        )
        .await;

        // Redis answers nothing for a while; then PostgreSQL restarts.
        for (link, state, outage, fault) in [
            (&redis, LinkState::Paused, plan.redis_pause, "redis paused"),
            (
                &postgres,
                LinkState::Down,
                plan.postgres_down,
                "postgres restarted",
            ),
        ] {
            let group = users(plan.users);
            round.extend(start_jobs(&sim, &api, &group, fault).await);
            tokio::time::sleep(Duration::from_secs(1)).await;
            link.set(state);
            tokio::time::sleep(outage).await;
            link.set(LinkState::Open);
        }

        // The tracker killed every 2 to 6 s while syncs run (once, 2 of 8 such syncs
        // stayed at profile 0 of 1 for ever).
        let group = users(plan.storm_syncs);
        round.extend(start_syncs(&sim, &api, &group, "tracker killed again and again").await);
        let storm_ends = Instant::now() + plan.tracker_storm;
        while Instant::now() < storm_ends {
            let pause = Duration::from_millis(rand::rng().random_range(2_000..6_000));
            tokio::time::sleep(pause).await;
            deployment.kill("tracker");
            figures.kills += 1;
            figures.tracker_kills += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            deployment.restart("tracker");
        }

        // Every job of the round ends, and well, before the next round's faults.
        let deadline = Instant::now() + Duration::from_secs(600);
        for start in &round {
            durations.push(ended_whole(&api, &deployment, start, deadline).await);
        }
        started.extend(round);
    }
    check_stored(&real, &name, &sim, &started).await;

    durations.sort();
    let longest = durations.last().copied().unwrap_or_default();
    let median = durations
        .get(durations.len() / 2)
        .copied()
        .unwrap_or_default();
    let stats = sim.stats().await;
    println!(
        "chaos: {} rounds, {} jobs, all succeeded whole; services killed {} times ({} of them the tracker, in {} s of storm), Redis paused {} s, PostgreSQL down {} s, {} events published twice, {} Discogs answers 429; jobs took {:.0} s (median), {:.0} s (longest); run {:.0} s",
        plan.rounds,
        started.len(),
        figures.kills,
        figures.tracker_kills,
        plan.tracker_storm.as_secs() * plan.rounds as u64,
        plan.redis_pause.as_secs() * plan.rounds as u64,
        plan.postgres_down.as_secs() * plan.rounds as u64,
        doubler.copies(),
        stats["faults_injected"].as_u64().unwrap_or(0),
        median.as_secs_f64(),
        longest.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    deployment.stop();
    drop((redis, postgres));
}

/// Waits for the job to end and checks that it succeeded whole; how long it took, from
/// its request to its last update.
async fn ended_whole(
    api: &Client,
    deployment: &Deployment,
    start: &Started,
    deadline: Instant,
) -> Duration {
    let Some(status) = api.wait_final(&start.job, deadline).await else {
        panic!(
            "{} job {} for {} ({}) never ended: {:?}\n{}",
            start.kind,
            start.job,
            start.user,
            start.fault,
            api.status(&start.job).await,
            deployment.warnings(40)
        );
    };
    assert!(
        status.state == JobState::Succeeded && !status.partial,
        "{} job for {} ({}): {status:?}\n{}",
        start.kind,
        start.user,
        start.fault,
        deployment.warnings(40)
    );
    for stage in &status.stages {
        assert!(
            stage.state == StageState::Succeeded
                && stage.failed == 0
                && stage.total.is_none_or(|total| total == stage.done),
            "{} job for {} ({}): {stage:?}",
            start.kind,
            start.user,
            start.fault,
        );
    }
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    match (at(&status.created_at), at(&status.updated_at)) {
        (Some(created), Some(updated)) => (updated - created).to_std().unwrap_or_default(),
        _ => start.at.elapsed(),
    }
}

/// A recommendations job and a carts job for each user (created in the simulator with
/// `WANTS` wants), started together so they share one sync.
async fn start_jobs(
    sim: &Sim,
    api: &Client,
    users: &[String],
    fault: &'static str,
) -> Vec<Started> {
    let mut started = Vec::new();
    for user in users {
        sim.create_user(user, WANTS).await;
        for (kind, body) in [
            (
                "recommendations",
                job_body("recommendations", user, RECOMMENDATIONS),
            ),
            ("carts", carts_body(user, 2)),
        ] {
            started.push(Started {
                job: api.post_job(&body).await,
                user: user.clone(),
                kind,
                fault,
                at: Instant::now(),
            });
        }
    }
    started
}

/// A sync job for each user (created in the simulator with `WANTS` wants).
async fn start_syncs(
    sim: &Sim,
    api: &Client,
    users: &[String],
    fault: &'static str,
) -> Vec<Started> {
    let mut started = Vec::new();
    for user in users {
        sim.create_user(user, WANTS).await;
        started.push(Started {
            job: api.post_job(&job_body("sync", user, 1)).await,
            user: user.clone(),
            kind: "sync",
            fault,
            at: Instant::now(),
        });
    }
    started
}

/// What the jobs stored, read straight from the servers (not through the relays).
async fn check_stored(real: &Servers, name: &str, sim: &Sim, started: &[Started]) {
    let mongo = MongoResultsStore::connect(&MongoSettings::new(real.mongo.clone(), name))
        .await
        .unwrap();
    let catalog = PostgresCatalog::connect(
        PostgresCatalogSettings::new(real.postgres.clone()).with_schema(name.to_owned()),
    )
    .await
    .unwrap();
    let kv = RedisKeyValue::connect(&real.redis, format!("{name}:"), Duration::from_secs(5))
        .await
        .unwrap();
    let candidates_of = CandidateRecords::new(std::sync::Arc::new(kv));
    let direct = discogs_client(&sim.base);
    for start in started {
        let owned = sim.owned(&start.user).await;
        let username = start.user.parse().unwrap();
        let stored: BTreeSet<u64> = catalog
            .interactions(&username)
            .await
            .unwrap()
            .iter()
            .map(|i| i.release_id.0)
            .collect();
        assert_eq!(stored, owned, "{}'s wantlist ({})", start.user, start.fault);
        match start.kind {
            "recommendations" => {
                let set: RecommendationSet = serde_json::from_value(
                    mongo
                        .get(Collection::Recommendations, &start.user)
                        .await
                        .unwrap()
                        .expect("recommendations stored"),
                )
                .unwrap();
                assert_eq!(set.releases.len(), RECOMMENDATIONS as usize);
                assert!(
                    set.releases
                        .iter()
                        .all(|r| !owned.contains(&r.release_id.0)),
                    "{set:?}"
                );
            }
            "sync" => {}
            _ => {
                let carts: CartSet = serde_json::from_value(
                    mongo
                        .get(Collection::Carts, start.job.as_str())
                        .await
                        .unwrap()
                        .expect("carts stored"),
                )
                .unwrap();
                assert_eq!(carts.market.failed, 0, "{:?}", carts.market);
                let candidates = candidates_of
                    .load(&start.job)
                    .await
                    .unwrap()
                    .expect("candidates kept");
                let ids: Vec<ReleaseId> =
                    candidates.releases.iter().map(|c| c.release_id).collect();
                let listings = catalog.listings(&ids, false).await.unwrap();
                for &release in &ids {
                    let expected = every_listing(&direct, release).await;
                    let got: BTreeMap<_, _> = listings
                        .iter()
                        .filter(|l| l.release_id == release)
                        .map(|l| (l.id, l.price))
                        .collect();
                    let missing: Vec<_> =
                        expected.iter().filter(|l| !got.contains_key(l.0)).collect();
                    let extra: Vec<_> =
                        got.iter().filter(|l| !expected.contains_key(l.0)).collect();
                    assert!(
                        missing.is_empty() && extra.is_empty() && got == expected,
                        "listings of release {release} ({}): {} on the marketplace, {} stored; missing {missing:?}, extra {extra:?}",
                        start.fault,
                        expected.len(),
                        got.len()
                    );
                }
                let plan: CartPlan = serde_json::from_value(carts.plan.clone()).unwrap();
                assert_eq!(
                    plan,
                    optimise_again(&catalog, &carts.criteria, &candidates).await,
                    "the stored plan is the optimiser's ({})",
                    start.fault
                );
                check_best_cart(&catalog, &carts, &plan).await;
            }
        }
    }
    mongo.drop_database().await.unwrap();
}

/// Every listing of the release on the marketplace now, page by page.
async fn every_listing(
    direct: &cratedigger_discogs::DiscogsClient,
    release: ReleaseId,
) -> BTreeMap<ListingId, Money> {
    let mut all = BTreeMap::new();
    for page in 1.. {
        let read = direct.release_listings(release, page, 250).await.unwrap();
        let count = read.listings.len();
        all.extend(read.listings.into_iter().map(|l| (l.id, l.price)));
        let more = read.range.is_some_and(|r| r.last < r.total);
        if !more || count == 0 {
            break;
        }
    }
    all
}

/// The gateway's API for a client that keeps trying while the gateway restarts or its
/// servers stall: every call has a timeout and is repeated until it is answered.
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    /// Starts a job; identical requests get the same job, so repeating is safe.
    async fn post_job(&self, body: &Value) -> JobId {
        for _ in 0..120 {
            let answer = self
                .http
                .post(format!("{}/api/v1/jobs", self.base))
                .json(body)
                .send()
                .await;
            if let Ok(response) = answer
                && response.status() == 202
                && let Ok(created) = response.json::<Value>().await
            {
                return created["job_id"].as_str().unwrap().parse().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the gateway never took {body}");
    }

    async fn status(&self, job: &JobId) -> Option<JobStatus> {
        let response = self
            .http
            .get(format!("{}/api/v1/jobs/{job}", self.base))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// The job's status once final; None if it is not final by `deadline`.
    async fn wait_final(&self, job: &JobId, deadline: Instant) -> Option<JobStatus> {
        while Instant::now() < deadline {
            if let Some(status) = self.status(job).await
                && status.state.is_final()
            {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }
}
