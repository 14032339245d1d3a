//! The market stage against today's Discogs: the simulator's web pages sit behind a
//! managed challenge that only a real browser passes. Plain HTTP is blocked on every
//! release and the job says so, with what to do; the browser source reads the same
//! listings a permissive simulator serves, and the job says which source served them.
//! The marketplace stats pre-check (an open API call) spares the page loads of releases
//! with nothing for sale. The inventory source finds, through the open API, what the
//! sellers a buyer names (and then those seen before) hold of the candidates. Pages the
//! buyer saved and uploads are stored whole or not at all, and a carts job runs on them.

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cratedigger_discogs::{ListingSource, PageRequest};
use cratedigger_discogs_sim::SimSettings;
use cratedigger_domain::{CartSet, JobState, ListingId, ReleaseId, SourceCoverage, Username};
use cratedigger_market::SourceKind;
use cratedigger_results::Collection;
use cratedigger_status::CandidateRecords;
use serde_json::{Value, json};
use support::carts::carts_body;
use support::carts::sell_release_pages;
use support::{Mesh, Sim, discogs_client, embedded_settings};

const WANTS: usize = 8;

async fn sim(challenge: bool) -> Sim {
    let mut settings = SimSettings {
        web_challenge: challenge,
        ..SimSettings::default()
    };
    settings.rate_limit.authenticated = None;
    settings.rate_limit.unauthenticated = None;
    Sim::start_with(settings).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_plain_http_the_challenge_blocks_every_release_and_the_job_says_what_to_do() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = sim(true).await;
    let user = "blockeddigger";
    sim.create_user(user, WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &sim), |bus| bus).await;

    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(status.state, JobState::Failed, "{status:?}");
    let error = status.error.expect("a failed job says why");
    assert_eq!(error.code, "market_unavailable");
    assert!(
        error.message.contains("http: 0 read, 8 blocked"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("bot challenge") && error.message.contains("browser source"),
        "{}",
        error.message
    );
    let stats = sim.stats().await;
    assert!(stats["challenged"].as_u64().unwrap() >= 1, "{stats}");
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_browser_source_reads_through_the_challenge_what_a_permissive_simulator_serves() {
    cratedigger_kit::telemetry::init_for_tests();
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let (challenging, permissive) = (sim(true).await, sim(false).await);
    let user = "browserdigger";
    challenging.create_user(user, WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &challenging);
    settings.market.sources = vec![SourceKind::Browser, SourceKind::Http];
    settings.market.browser.executable = Some(chromium);
    let mesh = Mesh::start(settings, |bus| bus).await;

    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(120)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert!(!status.partial, "{status:?}");

    let stored = mesh
        .backends
        .results
        .get(Collection::Carts, job.as_str())
        .await
        .unwrap()
        .expect("carts stored");
    let carts: CartSet = serde_json::from_value(stored).unwrap();
    assert_eq!(
        (carts.market.fetched, carts.market.failed),
        (WANTS as u32, 0)
    );
    let served = SourceCoverage {
        source: "browser".into(),
        served: WANTS as u32,
        blocked: 0,
        failed: 0,
    };
    assert_eq!(
        carts.market.sources,
        vec![served],
        "the browser served every release, plain http was never needed"
    );

    assert_same_listings(&mesh, &job, &permissive).await;
    mesh.stop().await;
}

/// Runs one carts job for `user` on a fresh mesh; returns its coverage and the pages read.
async fn carts_job_pages(sim: &Sim, user: &str, stats_precheck: bool) -> (CartSet, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), sim);
    settings.market.stats_precheck = stats_precheck;
    let mesh = Mesh::start(settings, |bus| bus).await;
    sim.reset_stats().await;
    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    let pages = sell_release_pages(&sim.stats().await);
    let stored = mesh
        .backends
        .results
        .get(Collection::Carts, job.as_str())
        .await
        .unwrap()
        .expect("carts stored");
    mesh.stop().await;
    (serde_json::from_value(stored).unwrap(), pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stats_pre_check_loads_no_page_for_releases_with_nothing_for_sale() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = sim(false).await;
    // A wantlist of 20 releases, 12 of them (60 %) with nothing for sale.
    let http = reqwest::Client::new();
    let world: Value = http
        .get(format!("{}/_sim/releases?per_page=2000", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let releases = world["releases"].as_array().unwrap();
    let for_sale = |r: &&Value| r["num_for_sale"].as_u64().unwrap_or(0);
    let unsold: Vec<u64> = releases
        .iter()
        .filter(|r| for_sale(r) == 0)
        .take(12)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    let sold: Vec<u64> = releases
        .iter()
        .filter(|r| (1..=30).contains(&for_sale(r)))
        .take(8)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!((unsold.len(), sold.len()), (12, 8));
    let user = "precheckdigger";
    sim.create_user(user, 0).await;
    for id in unsold.iter().chain(&sold) {
        let url = format!("{}/_sim/users/{user}/wants", sim.base);
        http.post(url)
            .json(&json!({ "release_id": id }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    let (without, pages_without) = carts_job_pages(&sim, user, false).await;
    let (with, pages_with) = carts_job_pages(&sim, user, true).await;
    assert_eq!(
        pages_without, 20,
        "one page per release without the pre-check"
    );
    assert_eq!(
        pages_with, 8,
        "no page for the 12 releases with nothing for sale"
    );
    let row = |source: &str, served| SourceCoverage {
        source: source.into(),
        served,
        blocked: 0,
        failed: 0,
    };
    assert_eq!(with.market.sources, vec![row("http", 8), row("stats", 12)]);
    assert_eq!((with.market.fetched, with.market.failed), (20, 0));
    assert_eq!(with.plan, without.plan, "the same carts either way");
    let ratio = pages_with as f64 / pages_without as f64;
    println!(
        "{}",
        json!({ "benchmark": "stats pre-check", "releases": 20, "nothing_for_sale": 12, "pages_without": pages_without, "pages_with": pages_with, "ratio": ratio })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_inventory_source_finds_the_candidates_that_named_sellers_hold() {
    cratedigger_kit::telemetry::init_for_tests();
    let (challenging, permissive) = (sim(true).await, sim(false).await);
    let user = "inventorydigger";
    challenging.create_user(user, WANTS).await;
    // Who sells the wanted releases, from the pages of the same world without the
    // challenge: the two sellers holding the most of them are the ones the buyer names.
    let wants = discogs_client(&challenging.base)
        .wantlist_page(&Username::parse(user).unwrap(), PageRequest::first())
        .await
        .unwrap();
    let wanted: Vec<ReleaseId> = wants.items.iter().map(|w| w.release_id).collect();
    let direct = discogs_client(&permissive.base);
    let mut offered = Vec::new();
    for &release in &wanted {
        let page = direct.release_listings(release, 1, 250).await.unwrap();
        offered.extend(page.listings.into_iter().map(|l| {
            let seller = l.seller.unwrap().name.as_str().to_owned();
            (release, l.id, seller)
        }));
    }
    let mut holding: BTreeMap<&str, BTreeSet<ReleaseId>> = BTreeMap::new();
    for (release, _, seller) in &offered {
        holding.entry(seller).or_default().insert(*release);
    }
    let mut sellers: Vec<(&str, usize)> = holding.iter().map(|(s, r)| (*s, r.len())).collect();
    sellers.sort_by_key(|(name, held)| (std::cmp::Reverse(*held), *name));
    let named: Vec<&str> = sellers.iter().take(2).map(|(name, _)| *name).collect();
    let expected: BTreeSet<ListingId> = offered
        .iter()
        .filter(|(_, _, seller)| named.contains(&seller.as_str()))
        .map(|(_, id, _)| *id)
        .collect();
    assert!(
        !expected.is_empty(),
        "the named sellers hold some candidates"
    );
    assert!(
        expected.len() < offered.len(),
        "other sellers hold some too, which the inventories cannot show"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &challenging);
    // Whole pages first: plain HTTP meets the challenge, and the inventories step in.
    settings.market.sources = vec![SourceKind::Http, SourceKind::Inventory];
    settings.market.inventory.max_pages = 100;
    let mesh = Mesh::start(settings, |bus| bus).await;
    let api = mesh.api();
    let stored_ids = || async {
        let stored = mesh
            .backends
            .catalog
            .listings(&wanted, false)
            .await
            .unwrap();
        stored.iter().map(|l| l.id).collect::<BTreeSet<_>>()
    };
    let coverage = |job: cratedigger_domain::JobId| {
        let results = mesh.backends.results.clone();
        async move {
            let stored = results.get(Collection::Carts, job.as_str()).await.unwrap();
            let carts: CartSet = serde_json::from_value(stored.expect("carts stored")).unwrap();
            carts
        }
    };

    let mut body = carts_body(user, 3);
    body["criteria"]["sellers"] = json!(named);
    let job = api.post_job(body).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(
        stored_ids().await,
        expected,
        "exactly the named sellers' listings"
    );
    let carts = coverage(job).await;
    let by_inventory = SourceCoverage {
        source: "inventory".into(),
        served: WANTS as u32,
        blocked: 0,
        failed: 0,
    };
    let served_by = |carts: &CartSet| {
        let http = carts.market.sources.iter().find(|s| s.source == "http");
        assert!(
            http.is_some_and(|h| h.served == 0 && h.blocked >= 1),
            "plain HTTP met the challenge: {:?}",
            carts.market.sources
        );
        carts
            .market
            .sources
            .iter()
            .find(|s| s.source == "inventory")
            .cloned()
    };
    assert_eq!(served_by(&carts), Some(by_inventory.clone()));
    assert!(
        carts
            .notes
            .iter()
            .any(|n| n.contains("searched only in the inventories")),
        "{:?}",
        carts.notes
    );
    let stats = challenging.stats().await;
    let inventory_pages = stats["by_endpoint"]["inventory"].as_u64().unwrap();
    assert!(inventory_pages >= 2, "{stats}");
    assert_eq!(
        sell_release_pages(&stats),
        1,
        "one page over plain HTTP met the challenge; the chunk asked it no more"
    );

    // The next job names no one: the sellers seen before are asked, from the cache.
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(stored_ids().await, expected);
    assert_eq!(served_by(&coverage(job).await), Some(by_inventory));
    let stats = challenging.stats().await;
    assert_eq!(
        stats["by_endpoint"]["inventory"].as_u64().unwrap(),
        inventory_pages,
        "each inventory is read once within the cache's lifetime"
    );
    mesh.stop().await;
}

/// A marketplace page as a browser saves it: the page, marked with where it came from.
fn saved(release: ReleaseId, html: &str) -> String {
    let url = format!("https://www.discogs.com/sell/release/{release}?limit=250");
    format!("<!-- saved from url=({:04}){url} -->\n{html}", url.len())
}

async fn page_html(sim: &Sim, release: ReleaseId) -> String {
    reqwest::get(format!("{}/sell/release/{release}?limit=250", sim.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn zip_of(entries: &[(String, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploaded_saved_pages_are_stored_whole_or_not_at_all_and_a_carts_job_runs_on_them() {
    cratedigger_kit::telemetry::init_for_tests();
    let (challenging, permissive) = (sim(true).await, sim(false).await);
    let user = "uploaddigger";
    challenging.create_user(user, WANTS).await;
    let wants = discogs_client(&challenging.base)
        .wantlist_page(&Username::parse(user).unwrap(), PageRequest::first())
        .await
        .unwrap();
    let wanted: Vec<ReleaseId> = wants.items.iter().map(|w| w.release_id).collect();
    // Another release with listings, whose saved page has a row that cannot be read.
    let world: Value = reqwest::get(format!("{}/_sim/releases?per_page=2000", permissive.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let damaged = world["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (2..=30).contains(&r["num_for_sale"].as_u64().unwrap_or(0)))
        .map(|r| ReleaseId(r["id"].as_u64().unwrap()))
        .find(|r| !wanted.contains(r))
        .unwrap();
    let mut broken = saved(damaged, &page_html(&permissive, damaged).await);
    let row = broken.find("shortcut_navigable").unwrap();
    let end = row + broken[row..].find("</tr>").unwrap();
    let damaged_row = broken[row..end].replace(r#"class="price""#, r#"class="lost""#);
    broken.replace_range(row..end, &damaged_row);
    // What a browser shows before the challenge clears, saved by mistake.
    let challenge = page_html(&challenging, wanted[0]).await;
    assert!(challenge.contains("Just a moment"));

    let mut pages = Vec::new();
    for &release in &wanted {
        pages.push(saved(release, &page_html(&permissive, release).await));
    }
    let mut entries: Vec<(String, &[u8])> = pages[3..]
        .iter()
        .enumerate()
        .map(|(i, html)| (format!("saved/release {i}.html"), html.as_bytes()))
        .collect();
    entries.push(("saved/release 0_files/app.js".into(), b"void 0;"));
    let archive = zip_of(&entries);
    let mut form = reqwest::multipart::Form::new();
    for (i, html) in pages[..3].iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(html.clone().into_bytes())
            .file_name(format!("page {i}.html"));
        form = form.part("files", part);
    }
    form = form
        .part(
            "files",
            reqwest::multipart::Part::bytes(archive).file_name("more.zip"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(broken.into_bytes()).file_name("broken.html"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(challenge.into_bytes()).file_name("challenge.html"),
        );

    let dir = tempfile::tempdir().unwrap();
    let mesh = Mesh::start(embedded_settings(dir.path(), &challenging), |bus| bus).await;
    let api = mesh.api();
    let uploads = format!("{}/api/v1/listings/uploads", api.base);
    // A file that is no page is refused at once, by name.
    let refused = api
        .http
        .post(format!("{uploads}?name=scan.pdf"))
        .header("content-type", "text/html")
        .body("%PDF-1.7")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["field"], "files[0]", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("scan.pdf: ")
    );

    let created = api
        .http
        .post(&uploads)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 202);
    let created: Value = created.json().await.unwrap();
    let status = api
        .wait_upload(
            created["status_url"].as_str().unwrap(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(status["state"], "partial", "{status}");
    let files = status["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    let pages_of = |i: usize| files[i]["outcome"]["pages"].as_array().unwrap().clone();
    for (i, want) in wanted.iter().enumerate().take(3) {
        let page = &pages_of(i)[0];
        assert!(
            page["error"].is_null() && page["complete"] == true,
            "{page}"
        );
        assert_eq!(page["release"], want.0);
    }
    assert_eq!(
        pages_of(3).len(),
        WANTS - 3,
        "the zip's pages, not its script"
    );
    assert!(pages_of(3).iter().all(|p| p["error"].is_null()));
    let error = |i: usize| {
        let page = &pages_of(i)[0];
        page["error"]
            .as_str()
            .unwrap_or_else(|| panic!("file {i} stored: {page}"))
            .to_owned()
    };
    assert!(
        error(4).starts_with("broken.html: ") && error(4).contains("cannot be read"),
        "{}",
        error(4)
    );
    assert!(
        error(5).starts_with("challenge.html: ") && error(5).contains("bot challenge"),
        "{}",
        error(5)
    );
    let catalog = &mesh.backends.catalog;
    assert!(
        catalog.listings(&[damaged], true).await.unwrap().is_empty(),
        "nothing of the damaged page is stored"
    );
    let stored = catalog.listings(&wanted, false).await.unwrap().len();
    assert_eq!(status["listings"].as_u64().unwrap() as usize, stored);

    // The same page uploaded again stores nothing new.
    let history = |listings: Vec<cratedigger_catalog::Listing>| async move {
        let mut points = Vec::new();
        for listing in &listings {
            points.push(catalog.price_history(listing.id).await.unwrap());
        }
        (listings, points)
    };
    let before = history(catalog.listings(&[wanted[0]], true).await.unwrap()).await;
    let again = api
        .http
        .post(format!("{uploads}?name=again.html"))
        .header("content-type", "text/html")
        .body(pages[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    let again = api
        .wait_upload(
            again["status_url"].as_str().unwrap(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(again["state"], "succeeded", "{again}");
    let after = history(catalog.listings(&[wanted[0]], true).await.unwrap()).await;
    assert_eq!(
        (
            after.0.iter().map(|l| (l.id, l.price)).collect::<Vec<_>>(),
            &after.1
        ),
        (
            before.0.iter().map(|l| (l.id, l.price)).collect::<Vec<_>>(),
            &before.1
        ),
        "the same listings at the same prices, no new price point"
    );

    // A carts job over plain HTTP, which the challenge blocks, runs on the uploaded pages.
    let job = api.post_job(carts_body(user, 3)).await;
    let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert!(!status.partial, "{status:?}");
    let carts: CartSet = serde_json::from_value(
        mesh.backends
            .results
            .get(Collection::Carts, job.as_str())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (carts.market.cached, carts.market.failed),
        (WANTS as u32, 0),
        "every release was current from the upload"
    );
    assert_eq!(
        catalog.listings(&wanted, false).await.unwrap().len(),
        stored
    );
    assert_same_listings(&mesh, &job, &permissive).await;
    mesh.stop().await;
}

/// Every listing stored for the job's candidates is the one the same world serves to a
/// plain client without the challenge, and none is missing or extra.
async fn assert_same_listings(mesh: &Mesh, job: &cratedigger_domain::JobId, permissive: &Sim) {
    let candidates = CandidateRecords::new(mesh.backends.kv.clone())
        .load(job)
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<ReleaseId> = candidates.releases.iter().map(|c| c.release_id).collect();
    let direct = discogs_client(&permissive.base);
    let stored = mesh.backends.catalog.listings(&ids, false).await.unwrap();
    let mut total = 0;
    for &release in &ids {
        let page = direct.release_listings(release, 1, 250).await.unwrap();
        let mut expected: Vec<_> = page.listings.iter().map(|l| (l.id, l.price)).collect();
        let mut got: Vec<_> = stored
            .iter()
            .filter(|l| l.release_id == release)
            .map(|l| (l.id, l.price))
            .collect();
        expected.sort_by_key(|(id, _)| *id);
        got.sort_by_key(|(id, _)| *id);
        assert_eq!(got, expected, "release {release}");
        total += got.len();
    }
    assert!(total > 0, "the candidates have listings");
}

/// The Chromium processes this test process launched (the browser source's), by pid.
fn our_chromiums() -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let comm = &stat[open + 1..close];
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok());
            ppid == Some(me) && comm.contains("chrom")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_killed_mid_chunk_is_restarted_and_no_listing_is_lost_or_doubled() {
    cratedigger_kit::telemetry::init_for_tests();
    let Some(chromium) = cratedigger_testkit::chromium() else {
        return;
    };
    let (challenging, permissive) = (sim(true).await, sim(false).await);
    let user = "crashdigger";
    challenging.create_user(user, 12).await;
    // Slow pages, so the chunk is still being read when the browser goes.
    challenging
        .fault(json!({"kind": "latency", "ms": 250, "path_prefix": "/sell/"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &challenging);
    settings.market.sources = vec![SourceKind::Browser];
    settings.market.browser.executable = Some(chromium);
    let mesh = Mesh::start(settings, |bus| bus).await;

    let api = mesh.api();
    let job = api.post_job(carts_body(user, 3)).await;
    // Once a few pages are in, SIGKILL the browser.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let killed = loop {
        let pages = sell_release_pages(&challenging.stats().await);
        let browsers = our_chromiums();
        if pages >= 4 && browsers.len() == 1 {
            let pid = browsers[0];
            let status = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pages read ({pages}) or no browser ({browsers:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, _) = api.wait(&job, Duration::from_secs(120)).await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert!(
        !status.partial,
        "the retried chunk read everything: {status:?}"
    );
    let restarted = our_chromiums();
    assert!(
        !restarted.is_empty() && !restarted.contains(&killed),
        "a new browser read the rest: {restarted:?}"
    );

    let stored = mesh
        .backends
        .results
        .get(Collection::Carts, job.as_str())
        .await
        .unwrap()
        .expect("carts stored");
    let carts: CartSet = serde_json::from_value(stored).unwrap();
    assert_eq!((carts.market.fetched, carts.market.failed), (12, 0));
    assert_eq!(
        carts.market.sources,
        vec![SourceCoverage {
            source: "browser".into(),
            served: 12,
            blocked: 0,
            failed: 0
        }]
    );
    assert_same_listings(&mesh, &job, &permissive).await;
    mesh.stop().await;
}

/// A marketplace page cut inside its listings table (a dropped connection) once stored
/// half of a release's listings as all of them: the job succeeded, not partial, and the
/// rest were marked gone. A page holding fewer rows than its own range promises is now
/// read again; one that stays short keeps what was read, marks nothing gone, and the
/// release counts as unread, so the job is partial and the next job reads it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_cut_short_is_read_again_and_never_taken_for_the_whole_release() {
    cratedigger_kit::telemetry::init_for_tests();
    let sim = sim(false).await;
    let user = "cutshortdigger";
    sim.create_user(user, WANTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded_settings(dir.path(), &sim);
    settings.market.sources = vec![SourceKind::Http];
    settings.market.stats_precheck = false;
    settings.listings.ttl_seconds = 1;
    let mesh = Mesh::start(settings, |bus| bus).await;
    let api = mesh.api();
    let catalog = &mesh.backends.catalog;
    // Each job asks for a different number of carts per seller: an identical request
    // would be handed the earlier job.
    let (sim, api) = (&sim, &api);
    let carts_job = |per_seller: u32| async move {
        sim.reset_stats().await;
        let job = api.post_job(carts_body(user, per_seller)).await;
        let (status, _) = api.wait(&job, Duration::from_secs(90)).await;
        assert_eq!(status.state, JobState::Succeeded, "{status:?}");
        let pages = sell_release_pages(&sim.stats().await);
        // Past the listing cache's lifetime, so the next job reads every page again.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        (status, pages)
    };

    let (whole, pages) = carts_job(1).await;
    assert!(!whole.partial, "{whole:?}");
    let wants: Vec<ReleaseId> = sim.owned(user).await.into_iter().map(ReleaseId).collect();
    let live = catalog.listings(&wants, false).await.unwrap();
    let mut per_release: BTreeMap<ReleaseId, usize> = BTreeMap::new();
    for listing in &live {
        *per_release.entry(listing.release_id).or_default() += 1;
    }
    let (&cut, &count) = per_release.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(
        count >= 4,
        "a release with listings enough to cut: {per_release:?}"
    );
    let cut_path = format!("/sell/release/{}", cut.0);

    // Cut on every read: read three times, then kept as far as it goes, nothing gone.
    sim.fault(json!({"kind": "truncated_body", "path_prefix": cut_path, "times": 3}))
        .await;
    let (short, short_pages) = carts_job(2).await;
    assert!(short.partial, "{short:?}");
    assert_eq!(short_pages, pages + 2, "the cut page was read three times");
    let stored = mesh
        .backends
        .results
        .get(Collection::Carts, &short.job_id)
        .await
        .unwrap()
        .expect("carts stored");
    let carts: CartSet = serde_json::from_value(stored).unwrap();
    assert_eq!(
        (carts.market.fetched, carts.market.failed),
        (WANTS as u32 - 1, 1),
        "the cut release counts as unread"
    );
    let after = catalog.listings(&[cut], false).await.unwrap();
    assert_eq!(
        after.len(),
        count,
        "no listing of the cut release was marked gone"
    );

    // Cut once: the second read is whole, and so is the job.
    sim.fault(json!({"kind": "truncated_body", "path_prefix": cut_path, "times": 1}))
        .await;
    let (again, again_pages) = carts_job(3).await;
    assert!(!again.partial, "{again:?}");
    assert_eq!(again_pages, pages + 1);
    assert_eq!(
        catalog.listings(&wants, false).await.unwrap().len(),
        live.len()
    );
    mesh.stop().await;
}
