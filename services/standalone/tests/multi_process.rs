//! Both pipelines with one OS process per service (`cratedigger serve ...`), after
//! `cratedigger pubsub provision`, talking through the Pub/Sub emulator, Redis, PostgreSQL
//! and MongoDB, against the Discogs simulator. Also: SIGTERM drains a service mid-chunk
//! and nothing is lost.
//!
//! Needs the servers (`.ci/run` starts them): PUBSUB_EMULATOR_HOST, TEST_REDIS_URL,
//! TEST_DATABASE_URL, MONGODB_URI. Skipped locally when one is missing.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use cratedigger_carts::CartPlan;
use cratedigger_catalog::{PostgresCatalog, PostgresCatalogSettings};
use cratedigger_domain::CartSet;
use cratedigger_domain::{JobState, RecommendationSet};
use cratedigger_kv::RedisKeyValue;
use cratedigger_results::{Collection, MongoResultsStore, MongoSettings, ResultsStore};
use cratedigger_status::CandidateRecords;
use serde_json::json;
use support::carts::{
    carts_body, check_best_cart, check_succeeded, optimise_again, sell_release_pages,
};
use support::deployment::{Deployment, Servers, all_logs, with};
use support::{Api, Process, Sim, free_port, job_body, wait_ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recommendations_job_runs_with_one_process_per_service() {
    let Some(servers) = Servers::from_env() else {
        return;
    };
    let sim = Sim::start().await;
    let deployment = Deployment::start(&servers, &sim, &[]).await;
    let (env, name, logs) = (
        deployment.env.clone(),
        deployment.name.clone(),
        deployment.dir.path().to_owned(),
    );
    let health: Vec<String> = deployment
        .services
        .iter()
        .map(|s| s.health.clone())
        .collect();
    let gateway_port = deployment.gateway_port;
    let mut processes: Vec<Process> = deployment.services.into_iter().map(|s| s.process).collect();
    let _dir = deployment.dir;
    let logs = logs.as_path();

    // Every service exposes Prometheus metrics.
    let metrics = reqwest::get(health[3].replace("/readyz", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cratedigger_events_published_total")
            || metrics.is_empty()
            || metrics.contains('#'),
        "{metrics}"
    );

    // A corpus and a model, as an operator would make them.
    Process::spawn(
        "crawl",
        &["crawl", "--sim-users", "30", "--timeout", "120"],
        &env,
        logs,
    )
    .wait_success(Duration::from_secs(180));
    Process::spawn("train", &["train"], &env, logs).wait_success(Duration::from_secs(120));

    let api = Api::new(&format!("http://127.0.0.1:{gateway_port}"));
    let user = "digger0600";
    // The recommender picks the new model up (ModelTrained, or its refresh schedule).
    let mut status = None;
    for _ in 0..20 {
        let job = api.post_job(job_body("recommendations", user, 10)).await;
        let (done, _) = api.wait(&job, Duration::from_secs(90)).await;
        if done.error.as_ref().is_some_and(|e| e.code == "no_model") {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        status = Some(done);
        break;
    }
    let status = status.expect("the recommender never loaded a model");
    assert_eq!(
        status.state,
        JobState::Succeeded,
        "{status:?}\n{}",
        all_logs(&processes.iter().collect::<Vec<_>>())
    );
    assert!(
        status.stages[0].total.unwrap_or(0) >= 1
            && status.stages[0].done == status.stages[0].total.unwrap()
    );

    // Stored in MongoDB, nothing the user owns or wants.
    let mongo =
        MongoResultsStore::connect(&MongoSettings::new(servers.mongo.clone(), name.clone()))
            .await
            .unwrap();
    let set: RecommendationSet = serde_json::from_value(
        mongo
            .get(Collection::Recommendations, user)
            .await
            .unwrap()
            .expect("stored"),
    )
    .unwrap();
    let owned = sim.owned(user).await;
    assert_eq!(set.releases.len(), 10);
    let overlap: BTreeSet<u64> = set
        .releases
        .iter()
        .map(|r| r.release_id.0)
        .filter(|id| owned.contains(id))
        .collect();
    assert!(overlap.is_empty(), "{overlap:?}");

    // The same user again: nothing but the profile check reaches Discogs.
    sim.reset_stats().await;
    let again = api.post_job(job_body("recommendations", user, 9)).await;
    let (status, _) = api.wait(&again, Duration::from_secs(60)).await;
    assert_eq!(status.state, JobState::Succeeded);
    assert_eq!(status.stages[0].total, Some(0));
    let stats = sim.stats().await;
    assert!(stats["total"].as_u64().unwrap() <= 3, "{stats}");

    // Logs carry the job id as a field.
    let scraper_log = processes
        .iter()
        .find(|p| p.name == "scraper")
        .unwrap()
        .output();
    assert!(
        scraper_log.contains("\"job_id\""),
        "scraper log has no job_id field"
    );

    // SIGTERM mid-chunk: the scraper drains, nacks what it could not finish, and a new
    // scraper process finishes the job: nothing is lost.
    let slow_user = "digger0601";
    sim.fault(json!({ "kind": "latency", "ms": 3000, "path_prefix": format!("/users/{slow_user}/wants") })).await;
    let job = api
        .post_job(job_body("recommendations", slow_user, 5))
        .await;
    // Once the chunks are planned, the scraper is waiting on a slow wantlist page.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api
        .status(&job)
        .await
        .stages
        .first()
        .and_then(|s| s.total)
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sync was never planned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // As in a rolling update, the replacement is up before the old one stops.
    let port = free_port();
    let replacement = Process::spawn(
        "scraper-2",
        &["serve", "scraper"],
        &with(&env, &[("APP_HEALTH__PORT", port.to_string())]),
        logs,
    );
    wait_ready(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(60),
        &[&replacement],
    )
    .await;
    let scraper = processes.iter_mut().find(|p| p.name == "scraper").unwrap();
    assert!(
        scraper.terminate(Duration::from_secs(20)),
        "the scraper did not stop cleanly:\n{}",
        scraper.output()
    );
    assert!(
        scraper.output().contains("worker stopped"),
        "{}",
        scraper.output()
    );
    assert!(
        scraper.output().contains("nacking unfinished delivery"),
        "the chunk was not in flight:\n{}",
        scraper.output()
    );
    sim.clear_faults().await;
    // The old scraper ends its pull before it nacks, so the chunk usually reaches the
    // replacement at once; on the emulator it is sometimes redelivered to the closing
    // pull first and then waits out one ack deadline (30 s). The bound allows for that.
    let finished = tokio::time::timeout(
        Duration::from_secs(120),
        api.wait(&job, Duration::from_secs(120)),
    )
    .await;
    let Ok((status, _)) = finished else {
        panic!(
            "status {:?}\nreplacement:\n{}\nold scraper:\n{}",
            api.status(&job).await,
            replacement.output(),
            processes
                .iter()
                .find(|p| p.name == "scraper")
                .unwrap()
                .output()
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    assert_eq!(
        status.state,
        JobState::Succeeded,
        "{status:?}\n{}\n{}",
        all_logs(&processes.iter().collect::<Vec<_>>()),
        replacement.output()
    );
    let stored = mongo
        .get(Collection::Recommendations, slow_user)
        .await
        .unwrap();
    assert!(stored.is_some());

    for mut process in processes {
        process.terminate(Duration::from_secs(20));
    }
    mongo.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_carts_job_runs_with_one_process_per_service() {
    let Some(servers) = Servers::from_env() else {
        return;
    };
    let sim = Sim::start().await;
    let user = "cartdigger10";
    sim.create_user(user, 24).await;
    // A short listing cache, to see it expire (long enough for two jobs on a busy machine).
    const TTL_SECONDS: u64 = 20;
    let deployment = Deployment::start(
        &servers,
        &sim,
        &[("APP_LISTINGS__TTL_SECONDS", TTL_SECONDS.to_string())],
    )
    .await;
    let api = deployment.api();
    let name = deployment.name.clone();
    let mongo =
        MongoResultsStore::connect(&MongoSettings::new(servers.mongo.clone(), name.clone()))
            .await
            .unwrap();
    let catalog = PostgresCatalog::connect(
        PostgresCatalogSettings::new(servers.postgres.clone()).with_schema(name.clone()),
    )
    .await
    .unwrap();
    let kv = RedisKeyValue::connect(&servers.redis, format!("{name}:"), Duration::from_secs(5))
        .await
        .unwrap();
    let candidates_of = CandidateRecords::new(std::sync::Arc::new(kv));

    let job = api.post_job(carts_body(user, 3)).await;
    let (status, snapshots) = api.wait(&job, Duration::from_secs(120)).await;
    let fetched_by = std::time::Instant::now();
    assert_eq!(
        status.state,
        JobState::Succeeded,
        "{status:?}\n{}",
        deployment.logs()
    );
    check_succeeded(&job, &status, &snapshots);
    assert_eq!(sell_release_pages(&sim.stats().await), 24);
    let carts: CartSet = serde_json::from_value(
        mongo
            .get(Collection::Carts, job.as_str())
            .await
            .unwrap()
            .expect("stored"),
    )
    .unwrap();
    let candidates = candidates_of
        .load(&job)
        .await
        .unwrap()
        .expect("candidates kept");
    let plan: CartPlan = serde_json::from_value(carts.plan.clone()).unwrap();
    assert_eq!(
        plan,
        optimise_again(&catalog, &carts.criteria, &candidates).await,
        "the stored plan is the optimiser's"
    );
    check_best_cart(&catalog, &carts, &plan).await;

    // Within the cache's lifetime: no marketplace page; after it: every page again.
    sim.reset_stats().await;
    let again = api.post_job(carts_body(user, 4)).await;
    let (status, snapshots) = api.wait(&again, Duration::from_secs(120)).await;
    check_succeeded(&again, &status, &snapshots);
    assert!(
        fetched_by.elapsed() < Duration::from_secs(TTL_SECONDS),
        "the second job outlasted the cache; nothing shown"
    );
    assert_eq!(sell_release_pages(&sim.stats().await), 0);
    tokio::time::sleep(Duration::from_secs(TTL_SECONDS).saturating_sub(fetched_by.elapsed())).await;
    sim.reset_stats().await;
    let later = api.post_job(carts_body(user, 5)).await;
    let (status, snapshots) = api.wait(&later, Duration::from_secs(120)).await;
    check_succeeded(&later, &status, &snapshots);
    assert_eq!(sell_release_pages(&sim.stats().await), 24);

    deployment.stop();
    mongo.drop_database().await.unwrap();
}

/// Benchmark (on demand, with the servers: `cargo test --release -p cratedigger --test
/// multi_process -- --ignored --nocapture`): a 5,000-item wantlist synced with one process
/// per service, the rate limit shared through Redis, against the floor the limit sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn benchmark_a_5000_item_wantlist_at_the_rate_limit_across_processes() {
    const WANTS: usize = 5_000;
    const PER_MINUTE: u32 = 300;
    let Some(servers) = Servers::from_env() else {
        return;
    };
    let sim = support::rate_limited_sim(PER_MINUTE).await;
    sim.create_user("bigwantlist", WANTS).await;
    let deployment = Deployment::start(
        &servers,
        &sim,
        &[("APP_DISCOGS__REQUESTS_PER_MINUTE", PER_MINUTE.to_string())],
    )
    .await;
    sim.reset_stats().await;
    let started = std::time::Instant::now();
    let job = deployment
        .api()
        .post_job(job_body("sync", "bigwantlist", 1))
        .await;
    let (status, _) = deployment.api().wait(&job, Duration::from_secs(600)).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    support::report_sync(
        "one process per service, Pub/Sub, Redis, PostgreSQL",
        WANTS,
        PER_MINUTE,
        &sim.stats().await,
        seconds,
    );
    deployment.stop();
}
