//! The carts pipeline end to end in one process, on embedded backends, against the
//! Discogs simulator: profile, candidates, market (with its listing cache), carts. The
//! stored carts are checked against the optimiser run again on the stored listings, and
//! every line of the best cart against the catalog's own rows.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cratedigger_carts::CartPlan;
use cratedigger_domain::{CandidateSet, CartSet, Currency, JobId, Money};
use cratedigger_proto::Event;
use cratedigger_proto::events::{ChunkDone, StageCompleted};
use cratedigger_results::Collection;
use cratedigger_status::CandidateRecords;
use serde_json::json;
use support::carts::{
    carts_body, check_best_cart, check_succeeded, optimise_again, sell_release_pages,
};
use support::{Api, Chaos, Mesh, Sim, embedded_settings};

const WANTS: usize = 24;

async fn stored_carts(mesh: &Mesh, job: &JobId) -> CartSet {
    let stored = mesh
        .backends
        .results
        .get(Collection::Carts, job.as_str())
        .await
        .unwrap()
        .expect("carts stored");
    serde_json::from_value(stored).unwrap()
}

/// Runs a carts job to the end and checks what every successful one must satisfy.
async fn run_job(mesh: &Mesh, user: &str, carts_per_seller: u32) -> (JobId, CartSet, CandidateSet) {
    let api: Api = mesh.api();
    let job = api.post_job(carts_body(user, carts_per_seller)).await;
    let (status, snapshots) = api.wait(&job, Duration::from_secs(90)).await;
    check_succeeded(&job, &status, &snapshots);
    // 100% only once the carts are stored: the record that says so is read after them.
    let carts = stored_carts(mesh, &job).await;
    let candidates = CandidateRecords::new(mesh.backends.kv.clone())
        .load(&job)
        .await
        .unwrap()
        .expect("candidates kept");
    assert_eq!(
        candidates.releases.len(),
        WANTS,
        "every wantlist item is a candidate"
    );
    (job, carts, candidates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_carts_job_runs_end_to_end_and_reuses_fresh_listings() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "cartdigger01";
    sim.create_user(user, WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;

    let (job, carts, candidates) = run_job(&mesh, user, 3).await;
    assert_eq!(
        sell_release_pages(&sim.stats().await),
        WANTS as u64,
        "one marketplace page per release"
    );
    let stored: CartPlan = serde_json::from_value(carts.plan.clone()).unwrap();
    assert_eq!(
        stored,
        optimise_again(mesh.backends.catalog.as_ref(), &carts.criteria, &candidates).await,
        "the stored plan is the optimiser's"
    );
    check_best_cart(mesh.backends.catalog.as_ref(), &carts, &stored).await;
    assert_eq!(
        (
            carts.market.releases,
            carts.market.fetched,
            carts.market.failed
        ),
        (WANTS as u32, WANTS as u32, 0)
    );
    assert_eq!(carts.job_id, job.as_str());

    // Within the listing cache's lifetime a second job reads no marketplace page.
    sim.reset_stats().await;
    let (_, again, _) = run_job(&mesh, user, 4).await;
    assert_eq!(sell_release_pages(&sim.stats().await), 0);
    assert_eq!(
        (again.market.fetched, again.market.cached),
        (0, WANTS as u32)
    );
    let first: CartPlan = serde_json::from_value(again.plan.clone()).unwrap();
    assert_eq!(
        first.scenarios, stored.scenarios,
        "same listings, same criteria: same scenario carts"
    );
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_listing_ttl_listings_are_fetched_again_and_price_changes_are_kept() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "cartdigger02";
    sim.create_user(user, WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.listings.ttl_seconds = 2;
    let mesh = Mesh::start(settings, |bus| bus).await;

    let (_, carts, _) = run_job(&mesh, user, 3).await;
    let plan: CartPlan = serde_json::from_value(carts.plan.clone()).unwrap();
    let line = plan
        .scenarios
        .iter()
        .find_map(|s| s.cart.as_ref())
        .expect("a cart")
        .lines[0]
        .clone();
    let before = mesh
        .backends
        .catalog
        .price_history(line.listing)
        .await
        .unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    let asked = line.asking_price.unwrap_or(line.price);
    let raised = Money::new(asked.minor + 250, asked.currency);
    let body = json!({ "price": raised.to_string().split(' ').next().unwrap_or_default() });
    let response = reqwest::Client::new()
        .put(format!(
            "{}/_sim/listings/{}/price",
            sim.base, line.listing.0
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    sim.reset_stats().await;
    let (_, again, _) = run_job(&mesh, user, 4).await;
    assert_eq!(
        sell_release_pages(&sim.stats().await),
        WANTS as u64,
        "expired: every release fetched again"
    );
    assert_eq!(again.market.fetched, WANTS as u32);
    let history = mesh
        .backends
        .catalog
        .price_history(line.listing)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        history.last().unwrap().price.minor,
        raised.minor,
        "{history:?}"
    );
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicated_and_reordered_market_events_change_nothing() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "cartdigger03";
    sim.create_user(user, WANTS).await;

    let clean_dir = tempfile::tempdir().unwrap();
    let clean = Mesh::start(embedded_settings(clean_dir.path(), &sim), |bus| bus).await;
    let (_, expected, _) = run_job(&clean, user, 3).await;
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
    let (job, observed, candidates) = run_job(&mesh, user, 3).await;
    let (expected_plan, observed_plan): (CartPlan, CartPlan) = (
        serde_json::from_value(expected.plan).unwrap(),
        serde_json::from_value(observed.plan).unwrap(),
    );
    assert_eq!(
        observed_plan, expected_plan,
        "every event twice, in any order: the same carts"
    );
    assert_eq!(
        (observed.market.releases, observed.market.failed),
        (WANTS as u32, 0)
    );
    // Each listing stored once, with one price each.
    let ids: Vec<_> = candidates.releases.iter().map(|c| c.release_id).collect();
    let listings = mesh.backends.catalog.listings(&ids, false).await.unwrap();
    let distinct: BTreeSet<_> = listings.iter().map(|l| l.id).collect();
    assert_eq!(distinct.len(), listings.len());
    for listing in listings.iter().take(20) {
        assert_eq!(
            mesh.backends
                .catalog
                .price_history(listing.id)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    // The tracker announced each chunked stage's completion (profile, market) once,
    // however many ChunkDone it got.
    assert!(chaos.published(ChunkDone::TOPIC, job.as_str()) >= 2);
    let completions = chaos.published(StageCompleted::TOPIC, job.as_str());
    assert_eq!(
        completions, 2,
        "StageCompleted published {completions} times"
    );
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_with_nothing_to_buy_fails_with_the_reason_whatever_the_deliveries() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "cartdigger04";
    sim.create_user(user, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut chaos = None;
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| {
        let wrapped = Chaos::wrap(bus);
        chaos = Some(wrapped.clone());
        wrapped
    })
    .await;
    let chaos: Arc<Chaos> = chaos.unwrap();
    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(60)).await;
    assert_eq!(
        status.state,
        cratedigger_domain::JobState::Failed,
        "{status:?}"
    );
    let error = status.error.expect("a reason");
    assert_eq!(
        (error.code.as_str(), error.stage),
        (
            "too_few_candidates",
            Some(cratedigger_domain::Stage::Candidates)
        )
    );
    // Every delivery of ProfileSynced reached the same outcome: no market work at all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        chaos.published(
            cratedigger_proto::events::MarketChunkRequested::TOPIC,
            job.as_str()
        ),
        0
    );
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_marketplace_page_makes_the_job_partial_and_the_next_job_fetches_only_what_was_missed()
 {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = Sim::start().await;
    let user = "cartdigger05";
    sim.create_user(user, WANTS).await;
    let wanted: Vec<String> = sim.owned(user).await.iter().map(u64::to_string).collect();
    // A release whose id is no other's prefix, so the fault's path prefix hits it alone.
    let blocked = wanted
        .iter()
        .find(|id| {
            !wanted
                .iter()
                .any(|other| other != *id && other.starts_with(id.as_str()))
        })
        .unwrap();
    sim.fault(json!({ "kind": "challenge", "path_prefix": format!("/sell/release/{blocked}") }))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;

    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(
        status.state,
        cratedigger_domain::JobState::Succeeded,
        "{status:?}"
    );
    assert!(status.partial, "{status:?}");
    let market = &status.stages[2];
    let chunks = market.total.expect("market chunks counted");
    assert_eq!(market.failed, 1, "{market:?}");
    let coverage = status.coverage.expect("the fraction covered");
    assert!(
        (coverage - f64::from(chunks - 1) / f64::from(chunks)).abs() < 1e-9,
        "{status:?}"
    );
    // The carts are built on what was read: the blocked release and the rest of its chunk
    // are failed, every other release fetched, and nothing failed is in a cart.
    let carts = stored_carts(&mesh, &job).await;
    let failed = carts.market.failed;
    assert!(
        failed >= 1 && carts.market.fetched + failed == WANTS as u32,
        "{:?}",
        carts.market
    );
    let plan: CartPlan = serde_json::from_value(carts.plan.clone()).unwrap();
    let blocked_id: u64 = blocked.parse().unwrap();
    for cart in plan.scenarios.iter().filter_map(|s| s.cart.as_ref()) {
        assert!(
            cart.lines.iter().all(|l| l.release.0 != blocked_id),
            "{cart:?}"
        );
    }

    // Unblocked, the same request again is a new job (a partial one is not handed out
    // again), and it reads only the pages the first could not.
    sim.clear_faults().await;
    sim.reset_stats().await;
    let (retried, again, _) = run_job(&mesh, user, 3).await;
    assert_ne!(retried, job, "the partial job was handed out again");
    assert_eq!(sell_release_pages(&sim.stats().await), u64::from(failed));
    assert_eq!(
        (
            again.market.fetched,
            again.market.cached,
            again.market.failed
        ),
        (failed, WANTS as u32 - failed, 0)
    );
    mesh.stop().await;
}

/// `cratedigger fx import`, as a newcomer runs it (embedded backends under `var/`): the
/// ECB's daily file is stored, conversions use it instead of the built-in rates, importing
/// it twice changes nothing, and a broken file is refused with its line before anything is
/// stored.
#[tokio::test]
async fn fx_import_stores_the_rates_conversions_use() {
    use cratedigger_catalog::{Catalog, FxTable, SqliteCatalog};
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cratedigger"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("CRATEDIGGER_CONFIG")
            .output()
            .unwrap()
    };
    let daily = dir.path().join("eurofxref.csv");
    std::fs::write(
        &daily,
        "Date, USD, JPY, GBP, \n21 November 2025, 1.1512, 181.25, 0.8785, \n",
    )
    .unwrap();
    let broken = dir.path().join("broken.csv");
    std::fs::write(
        &broken,
        "Date, USD\n22 November 2025, 1.2\n23 November 2025, lots\n",
    )
    .unwrap();

    let refused = run(&["fx", "import", broken.to_str().unwrap()]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("line 3") && said.contains("lots"), "{said}");

    for _ in 0..2 {
        let output = run(&["fx", "import", daily.to_str().unwrap()]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            said.contains("3 rates stored for 3 currencies, 2025-11-21 to 2025-11-21"),
            "{said}"
        );
    }
    let catalog = SqliteCatalog::open(dir.path().join("var/catalog.db"))
        .await
        .unwrap();
    let stored = catalog.latest_fx_rates().await.unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
    let converted = FxTable::new(&stored)
        .convert(Money::new(11_512, Currency::USD), Currency::EUR)
        .unwrap();
    assert!(!converted.built_in);
    assert_eq!(
        (converted.amount.minor, converted.date.to_string().as_str()),
        (10_000, "2025-11-21")
    );
}

/// Benchmark (on demand: `cargo test --release -p cratedigger --test carts -- --ignored
/// --nocapture`): a carts job over 1,000 candidate releases against a simulator enforcing
/// the rate limit, time by stage, against the floor the limit sets on the requests made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn benchmark_a_1000_candidate_carts_job_at_the_rate_limit() {
    const CANDIDATES: usize = 1_000;
    const PER_MINUTE: u32 = 600;
    let sim = support::rate_limited_sim(PER_MINUTE).await;
    let user = "bigcarts";
    sim.create_user(user, CANDIDATES).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.backends.discogs.requests_per_minute = Some(PER_MINUTE);
    let mesh = Mesh::start(settings, |bus| bus).await;
    sim.reset_stats().await;

    // Straight onto the bus: the gateway caps what one request may ask for below this.
    let mut criteria: cratedigger_domain::CartCriteria =
        serde_json::from_value(support::carts::criteria(3)).unwrap();
    criteria.budget = Money::new(50_000, cratedigger_domain::Currency::EUR);
    let spec = cratedigger_domain::JobSpec {
        id: JobId::generate(),
        kind: cratedigger_domain::JobKind::Carts,
        username: cratedigger_domain::Username::parse(user).unwrap(),
        criteria: Some(criteria),
        limit: CANDIDATES as u32,
        wantlist_share: 1.0,
        seed: 7,
        requested_at: chrono::Utc::now().to_rfc3339(),
    };
    let started = std::time::Instant::now();
    let request = cratedigger_proto::events::JobRequested {
        job: Some(cratedigger_proto::convert::job_to_pb(&spec)),
    };
    cratedigger_kit::Publisher::new(mesh.backends.bus.clone())
        .publish(&request)
        .await
        .unwrap();
    let board = cratedigger_status::StatusBoard::new(mesh.backends.kv.clone());
    let status = support::wait_on_board(&board, &spec.id, Duration::from_secs(1_800)).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        status.state,
        cratedigger_domain::JobState::Succeeded,
        "{status:?}"
    );
    let carts = stored_carts(&mesh, &spec.id).await;
    assert_eq!(carts.market.releases as usize, CANDIDATES);

    let stats = sim.stats().await;
    let requests = stats["total"].as_u64().unwrap_or(0);
    let floor = requests.saturating_sub(1) as f64 * 60.0 / f64::from(PER_MINUTE);
    let millis = |at: &Option<String>| {
        at.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    };
    let stages: serde_json::Map<String, serde_json::Value> = status
        .stages
        .iter()
        .map(|s| {
            let took = millis(&s.finished_at)
                .zip(millis(&s.started_at))
                .map(|(f, b)| (f - b) as f64 / 1000.0);
            (s.name.as_str().to_owned(), json!(took))
        })
        .collect();
    let line = json!({
        "benchmark": "carts job over 1,000 candidate releases",
        "rate_per_minute": PER_MINUTE,
        "requests": requests,
        "marketplace_pages": sell_release_pages(&stats),
        "answered_429": stats["rate_limited"],
        "seconds": seconds,
        "seconds_by_stage": stages,
        "floor_seconds": floor,
        "ratio_to_floor": seconds / floor,
        "scenarios": serde_json::from_value::<CartPlan>(carts.plan.clone()).unwrap().scenarios.iter()
            .map(|s| json!({ "max_sellers": s.max_sellers, "optimality": s.optimality, "items": s.cart.as_ref().map(|c| c.item_count) }))
            .collect::<Vec<_>>(),
    });
    println!("{line}");
    mesh.stop().await;
}
