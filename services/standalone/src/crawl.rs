//! Crawling: syncing many users' profiles through the pipeline (one sync job each) so
//! the trainer has a corpus, and waiting until every job has ended.

use std::time::Duration;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use cratedigger_backends::Backends;
use cratedigger_domain::{JobId, JobKind, JobSpec, JobState, Username};
use cratedigger_kit::Publisher;
use cratedigger_proto::convert::job_to_pb;
use cratedigger_proto::events;
use cratedigger_status::StatusBoard;
use indicatif::{ProgressBar, ProgressStyle};

/// How the crawl ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrawlOutcome {
    pub succeeded: usize,
    pub failed: usize,
}

/// Starts one sync job per user and waits (up to `timeout`) until all have ended.
pub async fn crawl(
    backends: &Backends,
    users: &[Username],
    timeout: Duration,
    show: bool,
) -> anyhow::Result<CrawlOutcome> {
    let publisher = Publisher::new(backends.bus.clone());
    let mut jobs = Vec::with_capacity(users.len());
    for username in users {
        let spec = JobSpec {
            id: JobId::generate(),
            kind: JobKind::Sync,
            username: username.clone(),
            criteria: None,
            limit: 0,
            wantlist_share: 0.0,
            seed: 0,
            requested_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        publisher
            .publish(&events::JobRequested {
                job: Some(job_to_pb(&spec)),
            })
            .await
            .context("starting a sync job")?;
        jobs.push(spec.id);
    }
    let bar = progress(show, jobs.len() as u64, "syncing profiles");
    let board = StatusBoard::new(backends.kv.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut outcome = CrawlOutcome::default();
    let mut open = jobs;
    while !open.is_empty() {
        let mut still_open = Vec::with_capacity(open.len());
        for job in open {
            match board.read(&job, Utc::now()).await?.map(|s| s.state) {
                Some(JobState::Succeeded) => outcome.succeeded += 1,
                Some(state) if state.is_final() => outcome.failed += 1,
                _ => still_open.push(job),
            }
        }
        open = still_open;
        bar.set_position((outcome.succeeded + outcome.failed) as u64);
        if open.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bar.abandon();
            anyhow::bail!("{} sync jobs still running after {timeout:?}", open.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish();
    Ok(outcome)
}

/// Usernames from a file: one per line, blank lines and `#` comments ignored.
pub fn users_from_file(path: &std::path::Path) -> anyhow::Result<Vec<Username>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            Username::parse(l).with_context(|| format!("{}: bad username {l:?}", path.display()))
        })
        .collect()
}

/// The first `limit` users of a Discogs simulator.
pub async fn users_from_simulator(base: &str, limit: usize) -> anyhow::Result<Vec<Username>> {
    #[derive(serde::Deserialize)]
    struct Listing {
        users: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        username: String,
    }
    let url = format!("{}/_sim/users?limit={limit}", base.trim_end_matches('/'));
    let listing: Listing = reqwest::get(&url)
        .await?
        .error_for_status()?
        .json()
        .await
        .context("reading the simulator's users")?;
    listing
        .users
        .iter()
        .map(|u| Username::parse(&u.username).map_err(anyhow::Error::from))
        .collect()
}

pub fn progress(show: bool, total: u64, message: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}
