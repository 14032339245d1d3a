//! The recommendations pipeline end to end in one process, on embedded backends, against
//! the Discogs simulator: a corpus is crawled and a model trained, then a job for a user
//! the catalog has never seen runs through every stage; then the same again with every
//! event delivered twice and out of order, which must change nothing.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cratedigger::crawl::crawl;
use cratedigger::train::train;
use cratedigger_domain::{JobState, RecommendationSet, Stage, StageState, Username};
use cratedigger_proto::Event;
use cratedigger_proto::events::StageCompleted;
use cratedigger_results::Collection;
use support::{Api, Chaos, Mesh, ShrinkWhenPlanned, Sim, embedded_settings, job_body};

/// What a run produced, to compare a clean run with a chaotic one.
#[derive(Debug, PartialEq)]
struct Observed {
    recommended: Vec<u64>,
    interactions: usize,
    profile_done: u32,
    profile_total: Option<u32>,
}

/// Crawls a corpus, trains, and runs a recommendations job for `user`; checks what every
/// run must satisfy and returns what it saw.
async fn run_pipeline(sim: &Sim, mesh: &Mesh, user: &str) -> (Observed, cratedigger_domain::JobId) {
    let corpus = sim.users(40).await;
    let outcome = crawl(&mesh.backends, &corpus, Duration::from_secs(120), false)
        .await
        .unwrap();
    assert_eq!((outcome.succeeded, outcome.failed), (40, 0));
    train(&mesh.backends, &mesh.settings.trainer, false)
        .await
        .unwrap();

    let api: Api = mesh.api();
    let job = api.post_job(job_body("recommendations", user, 10)).await;
    let (status, snapshots) = api.wait(&job, Duration::from_secs(60)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(status.percent, 100);
    assert_eq!(
        status.result.as_deref(),
        Some(format!("recommendations/{user}").as_str())
    );

    // The stages went through in order: the profile finished before recommend started,
    // and no snapshot ever showed recommend ahead of the profile.
    let profile = &status.stages[0];
    let recommend = &status.stages[1];
    assert_eq!(
        (profile.name, recommend.name),
        (Stage::Profile, Stage::Recommend)
    );
    assert!(
        profile.finished_at.as_deref() <= recommend.started_at.as_deref(),
        "{status:?}"
    );
    for snapshot in &snapshots {
        if let [(_, profile_state), (_, recommend_state)] = snapshot.as_slice() {
            assert!(
                recommend_state == "pending" || profile_state == "succeeded",
                "{snapshots:?}"
            );
        }
    }
    // A user the catalog had never seen: the profile was fetched in chunks, each counted once.
    assert!(profile.total.unwrap_or(0) >= 1, "{profile:?}");
    assert_eq!(profile.done, profile.total.unwrap_or(0));
    assert_eq!(profile.state, StageState::Succeeded);

    // The stored recommendations exclude everything the user owns or wants.
    let stored = mesh
        .backends
        .results
        .get(Collection::Recommendations, user)
        .await
        .unwrap()
        .expect("stored");
    let set: RecommendationSet = serde_json::from_value(stored).unwrap();
    let owned = sim.owned(user).await;
    let recommended: Vec<u64> = set.releases.iter().map(|r| r.release_id.0).collect();
    assert_eq!(recommended.len(), 10);
    let overlap: BTreeSet<_> = recommended.iter().filter(|id| owned.contains(id)).collect();
    assert!(
        overlap.is_empty(),
        "recommended releases the user has: {overlap:?}"
    );
    assert!(
        set.releases
            .iter()
            .all(|r| !r.because.is_empty() && !r.title.is_empty())
    );

    let username = Username::parse(user).unwrap();
    let interactions = mesh
        .backends
        .catalog
        .interactions(&username)
        .await
        .unwrap()
        .len();
    assert_eq!(interactions, owned.len(), "every want and have stored once");
    let observed = Observed {
        recommended,
        interactions,
        profile_done: profile.done,
        profile_total: profile.total,
    };
    (observed, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recommendations_job_runs_end_to_end_in_one_process() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;
    let user = "digger0500";
    run_pipeline(&sim, &mesh, user).await;

    // A second job for the same, unchanged user fetches nothing but the profile check.
    sim.reset_stats().await;
    let api = mesh.api();
    let again = api.post_job(job_body("recommendations", user, 9)).await;
    let (status, _) = api.wait(&again, Duration::from_secs(30)).await;
    assert_eq!(status.state, JobState::Succeeded);
    assert_eq!(
        status.stages[0].total,
        Some(0),
        "no chunks planned: {status:?}"
    );
    let stats = sim.stats().await;
    let by = &stats["by_endpoint"];
    assert_eq!(by["profile"], 1, "{stats}");
    // One newest-first look at each list, and no page of either list.
    assert!(
        by["wants"].as_u64().unwrap() <= 1 && by["collection"].as_u64().unwrap() <= 1,
        "{stats}"
    );
    assert_eq!(
        stats["total"].as_u64().unwrap(),
        1 + by["wants"].as_u64().unwrap() + by["collection"].as_u64().unwrap()
    );

    // Similar releases come from the model the recommender holds: a newly trained one is
    // answered as soon as ModelTrained is handled, long before any refresh timer (60 s).
    similar_releases_follow_a_retrained_model(&mesh, &api).await;
    mesh.stop().await;
}

/// Asks for releases similar to a recommended one, retrains, and waits for the answer to
/// come from the new model.
async fn similar_releases_follow_a_retrained_model(mesh: &Mesh, api: &Api) {
    let stored = mesh
        .backends
        .results
        .get(Collection::Recommendations, "digger0500")
        .await
        .unwrap()
        .expect("stored");
    let set: RecommendationSet = serde_json::from_value(stored).unwrap();
    let release = set.releases[0].release_id.0;
    let similar = |api: &Api| {
        let url = format!("{}/api/v1/releases/{release}/similar?limit=5", api.base);
        let http = api.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let before = similar(api).await;
    assert_eq!(
        before["releases"].as_array().map(Vec::len),
        Some(5),
        "{before}"
    );
    let retrained = train(&mesh.backends, &mesh.settings.trainer, false)
        .await
        .unwrap();
    assert_ne!(
        before["model_version"].as_str(),
        Some(retrained.version.as_str())
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = similar(api).await;
        if now["model_version"].as_str() == Some(retrained.version.as_str()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still answering from {} after retraining",
            now["model_version"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_delivered_twice_and_out_of_order_changes_nothing() {
    cratedigger_kit::telemetry::init_for_tests();
    let user = "digger0501";
    let sim = Sim::start().await;

    let clean_dir = tempfile::tempdir().unwrap();
    let clean = Mesh::start(embedded_settings(clean_dir.path(), &sim), |bus| bus).await;
    let (expected, _) = run_pipeline(&sim, &clean, user).await;
    clean.stop().await;

    let chaos_dir = tempfile::tempdir().unwrap();
    let mut chaos = None;
    let mesh = Mesh::start(embedded_settings(chaos_dir.path(), &sim), |bus| {
        let wrapped = Chaos::wrap(bus);
        chaos = Some(wrapped.clone());
        wrapped
    })
    .await;
    let chaos: Arc<Chaos> = chaos.unwrap();
    let (observed, job) = run_pipeline(&sim, &mesh, user).await;
    // Same catalog, same model, same recommendations; counters exact, not doubled.
    assert_eq!(observed, expected);
    // The tracker announced the profile's completion once, whatever it received.
    assert_eq!(chaos.published(StageCompleted::TOPIC, job.as_str()), 1);
    mesh.stop().await;
}

/// Benchmark (run on demand: `cargo test --release -p cratedigger --test one_process --
/// --ignored --nocapture`): a 5,000-item wantlist synced through the embedded pipeline
/// against a simulator enforcing the rate limit, against the floor the limit sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn benchmark_a_5000_item_wantlist_at_the_rate_limit() {
    const WANTS: usize = 5_000;
    const PER_MINUTE: u32 = 300;
    let sim = support::rate_limited_sim(PER_MINUTE).await;
    sim.create_user("bigwantlist", WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.backends.discogs.requests_per_minute = Some(PER_MINUTE);
    let mesh = Mesh::start(settings, |bus| bus).await;
    sim.reset_stats().await;
    let started = std::time::Instant::now();
    let job = mesh
        .api()
        .post_job(job_body("sync", "bigwantlist", 1))
        .await;
    let (status, _) = mesh.api().wait(&job, Duration::from_secs(600)).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    let stored = mesh
        .backends
        .catalog
        .interactions(&Username::parse("bigwantlist").unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), WANTS);
    support::report_sync(
        "one process, embedded backends",
        WANTS,
        PER_MINUTE,
        &sim.stats().await,
        seconds,
    );
    mesh.stop().await;
}

/// One `Retry-After: 86000` (a day) once froze every Discogs request of the process: the
/// request slept it out and the shared limiter paused everyone for it. Now the request
/// fails retryably (its job tries again through the bus) and the others wait the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_long_retry_after_holds_back_neither_its_job_nor_anyone_elses() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.backends.discogs.max_retry_after_seconds = 2;
    let mesh = Mesh::start(settings, |bus| bus).await;
    let api = Api::new(&mesh.gateway);
    sim.fault(serde_json::json!({
        "kind": "rate_limited", "retry_after_secs": 86_000,
        "path_prefix": "/users/digger0521", "times": 1,
    }))
    .await;
    let throttled = api
        .post_job(serde_json::json!({"kind": "sync", "username": "digger0521"}))
        .await;
    let other = api
        .post_job(serde_json::json!({"kind": "sync", "username": "digger0522"}))
        .await;
    for job in [&other, &throttled] {
        let (status, _) = api.wait(job, Duration::from_secs(90)).await;
        assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    }
    mesh.stop().await;
}

/// Discogs names are case-insensitive, and `DIGGER0531` once became a second catalog user
/// beside `digger0531`. The profile stage now takes Discogs' own spelling from its answer:
/// the sync stores one user under it, with every want and have once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_written_in_another_case_is_stored_as_the_one_discogs_user() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;
    let api = Api::new(&mesh.gateway);
    let job = api
        .post_job(serde_json::json!({"kind": "sync", "username": "DIGGER0531"}))
        .await;
    let (status, _) = api.wait(&job, Duration::from_secs(60)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(status.result.as_deref(), Some("profiles/digger0531"));

    let catalog = &mesh.backends.catalog;
    let (canonical, shouted) = (
        Username::parse("digger0531").unwrap(),
        Username::parse("DIGGER0531").unwrap(),
    );
    let stored = catalog.user(&canonical).await.unwrap().expect("stored");
    assert_eq!(stored.username, canonical);
    assert!(catalog.user(&shouted).await.unwrap().is_none());
    let owned = sim.owned("digger0531").await;
    assert_eq!(
        catalog.interactions(&canonical).await.unwrap().len(),
        owned.len()
    );
    assert!(catalog.interactions(&shouted).await.unwrap().is_empty());
    mesh.stop().await;
}

/// A wantlist that shrinks while it is synced once failed the job as `wantlist_private`
/// and stored nothing: the pages planned past the new end answer 404 ("Page 9 is outside
/// of valid range [1, 4]."). Such a page now ends the list, and the sync stores what the
/// list still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wantlist_that_shrinks_while_it_is_synced_ends_where_it_now_ends() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "shrinking-list";
    sim.create_user(user, 230).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    // 23 pages in 12 chunks; after the shrink, 4 pages.
    settings.profile.per_page = 10;
    settings.profile.pages_per_chunk = 2;
    let mesh = Mesh::start(settings, |bus| ShrinkWhenPlanned::wrap(bus, &sim, user, 40)).await;
    let api = Api::new(&mesh.gateway);
    let job = api
        .post_job(serde_json::json!({"kind": "sync", "username": user}))
        .await;
    let (status, _) = api.wait(&job, Duration::from_secs(60)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    let owned = sim.owned(user).await;
    assert_eq!(owned.len(), 40);
    let stored = mesh
        .backends
        .catalog
        .interactions(&Username::parse(user).unwrap())
        .await
        .unwrap();
    let stored: BTreeSet<u64> = stored.iter().map(|i| i.release_id.0).collect();
    assert_eq!(stored, owned);
    mesh.stop().await;
}

/// There was no job deadline: a stage that never finishes (here Discogs takes a minute
/// to answer the profile) left the job `running` for good. The reaper now fails it at the
/// stage's deadline, saying which stage and why, and an identical request starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_that_never_finishes_fails_its_job_at_the_deadline() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.tracker.deadlines.profile_seconds = 2;
    settings.tracker.reap_every_seconds = 1;
    let mesh = Mesh::start(settings, |bus| bus).await;
    let api = Api::new(&mesh.gateway);
    sim.fault(serde_json::json!({
        "kind": "latency", "ms": 60_000, "path_prefix": "/users/digger0541", "times": 1,
    }))
    .await;
    let body = serde_json::json!({"kind": "sync", "username": "digger0541"});
    let job = api.post_job(body.clone()).await;
    let (status, _) = api.wait(&job, Duration::from_secs(30)).await;
    assert_eq!(status.state, JobState::Failed, "{status:?}");
    let error = status.error.expect("a failed job says why");
    assert_eq!(error.code, "stage_deadline");
    assert_eq!(error.stage, Some(Stage::Profile));
    assert!(
        error.message.contains("did not finish within 1 minute"),
        "{error:?}"
    );
    let again = api.post_job(body).await;
    assert_ne!(again, job, "a failed job is not handed out again");
    mesh.stop().await;
}

/// A recommendations job sent while no model exists (`up` still warming up) once failed
/// with `no_model`. It now waits for the first model, its stage saying so, and is
/// answered as soon as one is trained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recommendations_job_sent_before_any_model_waits_for_the_first_one() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;
    let api = mesh.api();
    let user = "digger0561";
    let job = api.post_job(job_body("recommendations", user, 10)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        let status = api.status(&job).await;
        assert!(!status.state.is_final(), "{status:?}");
        if status.message.as_deref() == Some(cratedigger_recommender::WAITING_MESSAGE) {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let recommend = waiting.stages.get(1).expect("the recommend stage");
    assert_eq!(recommend.name, Stage::Recommend);
    assert_eq!(recommend.state, StageState::Running, "{waiting:?}");

    let corpus = sim.users(40).await;
    crawl(&mesh.backends, &corpus, Duration::from_secs(120), false)
        .await
        .unwrap();
    train(&mesh.backends, &mesh.settings.trainer, false)
        .await
        .unwrap();
    let (status, _) = api.wait(&job, Duration::from_secs(30)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    let stored = mesh
        .backends
        .results
        .get(Collection::Recommendations, user)
        .await
        .unwrap()
        .expect("stored");
    let set: RecommendationSet = serde_json::from_value(stored).unwrap();
    assert_eq!(set.releases.len(), 10);
    mesh.stop().await;
}

/// Two jobs for one user at once once synced the user twice, each pruning the rows the
/// other wrote. Now the second waits for the first's sync and then finds the profile
/// current: the lists are read once, and every want is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_jobs_for_one_user_at_once_sync_it_once() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "two-at-once";
    sim.create_user(user, 120).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    // 12 pages in 6 chunks, each page a little slow, so the second job arrives mid-sync.
    settings.profile.per_page = 10;
    settings.profile.pages_per_chunk = 2;
    let mesh = Mesh::start(settings, |bus| bus).await;
    sim.fault(serde_json::json!({
        "kind": "latency", "ms": 200, "path_prefix": format!("/users/{user}/wants"),
    }))
    .await;
    sim.reset_stats().await;
    let api = Api::new(&mesh.gateway);
    let first = api.post_job(job_body("sync", user, 10)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = api.status(&first).await;
        // The record may not name its stages yet (the tracker has not heard of the job).
        if let Some(profile) = status.stages.first()
            && profile.total == Some(6)
        {
            assert!(
                profile.done < 6,
                "the first sync ended too soon: {status:?}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another request for the same user (another limit: not the same job).
    let second = api.post_job(job_body("sync", user, 11)).await;
    assert_ne!(first, second);
    for job in [&first, &second] {
        let (status, _) = api.wait(job, Duration::from_secs(60)).await;
        assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    }
    let second_status = api.status(&second).await;
    assert_eq!(second_status.stages[0].total, Some(0), "{second_status:?}");
    let stats = sim.stats().await;
    // The sync's 12 pages and each job's one newest-first look; two syncs read 25.
    assert_eq!(stats["by_endpoint"]["wants"], 14, "{stats}");
    let stored = mesh
        .backends
        .catalog
        .interactions(&Username::parse(user).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 120);
    mesh.stop().await;
}

/// A job that waited for another job's sync of its user, when the reaper ended that job
/// at its deadline, once waited out its own deadline and failed too. The reaper now
/// publishes the failure, the profile stage hands the waiting job back, and it syncs the
/// user itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_waiting_on_a_sync_the_reaper_ended_syncs_the_user_itself() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "reaped-leader";
    sim.create_user(user, 16).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.tracker.deadlines.profile_seconds = 4;
    settings.tracker.reap_every_seconds = 1;
    let mesh = Mesh::start(settings, |bus| bus).await;
    let api = mesh.api();
    // The first job's look at the user hangs: it holds the user's sync lease meanwhile.
    sim.fault(serde_json::json!({
        "kind": "latency", "ms": 60_000, "path_prefix": format!("/users/{user}"), "times": 1,
    }))
    .await;
    let leader = api.post_job(job_body("sync", user, 10)).await;
    // Late enough that its own deadline comes 3 s after the first job's.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let follower = api.post_job(job_body("sync", user, 11)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = api.status(&follower).await;
        if status
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("waiting for a sync"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ended, _) = api.wait(&leader, Duration::from_secs(30)).await;
    assert_eq!(
        ended.error.map(|e| e.code).as_deref(),
        Some("stage_deadline")
    );
    let (status, _) = api.wait(&follower, Duration::from_secs(30)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    let stored = mesh
        .backends
        .catalog
        .interactions(&Username::parse(user).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 16);
    mesh.stop().await;
}
