//! The status record as clients read it, derived from the board's hash fields.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use cratedigger_domain::{JobError, JobKind, JobState, Stage, StageState};
use serde::{Deserialize, Serialize};

/// Hash field names, shared by the writer and the reader.
pub(crate) mod field {
    use cratedigger_domain::Stage;

    pub const KIND: &str = "kind";
    pub const USERNAME: &str = "username";
    pub const CREATED_MS: &str = "created_ms";
    pub const UPDATED_MS: &str = "updated_ms";
    /// 0 queued, 1 running, 2 final.
    pub const STATE_RANK: &str = "state_rank";
    pub const FINAL: &str = "final";
    pub const ERROR: &str = "error";
    pub const MESSAGE: &str = "message";
    pub const RESULT: &str = "result";
    pub const PERCENT: &str = "percent";

    /// `stage.<name>.<what>`; what: rank (0 pending, 1 running, 2 finished), outcome,
    /// total, done, failed, started_ms, finished_ms.
    pub fn stage(stage: Stage, what: &str) -> String {
        format!("stage.{}.{what}", stage.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageStatus {
    pub name: Stage,
    pub state: StageState,
    pub done: u32,
    pub failed: u32,
    /// None until the stage knows how much work it has.
    pub total: Option<u32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job_id: String,
    pub kind: Option<JobKind>,
    pub username: Option<String>,
    pub state: JobState,
    pub stages: Vec<StageStatus>,
    /// 0 to 100, never lower than a value reported before; 100 only once succeeded.
    pub percent: u8,
    /// Seconds left, when the current stage's pace gives an honest estimate; else None.
    pub eta_seconds: Option<u64>,
    pub message: Option<String>,
    pub error: Option<JobError>,
    /// Some chunks failed for good and the job went on without them.
    pub partial: bool,
    /// With `partial`: the fraction of the failing stage's chunks that succeeded.
    pub coverage: Option<f64>,
    /// Where the result is (`recommendations/<username>`, `carts/<job id>`).
    pub result: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Nothing moved for longer than the board's stale threshold while not finished.
    pub stale: bool,
    /// How long a client should wait before asking again; None once the job is final.
    pub poll_after_ms: Option<u64>,
}

/// How much of a job each stage stands for, in the percentage.
fn weight(kind: JobKind, stage: Stage) -> f64 {
    match (kind, stage) {
        (JobKind::Sync, Stage::Profile) => 1.0,
        (JobKind::Recommendations, Stage::Profile) => 0.9,
        (JobKind::Recommendations, Stage::Recommend) => 0.1,
        (JobKind::Carts, Stage::Profile) => 0.3,
        (JobKind::Carts, Stage::Candidates) => 0.05,
        (JobKind::Carts, Stage::Market) => 0.6,
        (JobKind::Carts, Stage::Carts) => 0.05,
        _ => 0.0,
    }
}

/// Stages that finish in moments once they start: they add nothing to an ETA.
fn is_quick(stage: Stage) -> bool {
    matches!(stage, Stage::Recommend | Stage::Candidates | Stage::Carts)
}

pub(crate) struct Fields<'a>(pub &'a HashMap<String, String>);

impl Fields<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(|v| v.parse().ok())
    }
    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
    fn time(&self, name: &str) -> Option<String> {
        self.int(name).and_then(rfc3339)
    }
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl JobStatus {
    /// Builds the record from the board's fields; None when the job is unknown.
    pub(crate) fn from_fields(
        job_id: &str,
        fields: &HashMap<String, String>,
        now: DateTime<Utc>,
        stale_after: chrono::Duration,
    ) -> Option<Self> {
        if fields.is_empty() {
            return None;
        }
        let f = Fields(fields);
        let kind: Option<JobKind> = f.text(field::KIND).and_then(|k| k.parse().ok());
        let final_state: Option<JobState> = f.text(field::FINAL).and_then(|s| s.parse().ok());
        let state = final_state.unwrap_or(if f.int(field::STATE_RANK).unwrap_or(0) >= 1 {
            JobState::Running
        } else {
            JobState::Queued
        });
        let stages: Vec<StageStatus> = kind
            .map(|k| k.stages().iter().map(|&s| stage_status(&f, s)).collect())
            .unwrap_or_default();
        let error = f
            .text(field::ERROR)
            .and_then(|e| serde_json::from_str(&e).ok());
        let partial_stage = stages.iter().find(|s| s.failed > 0);
        let coverage = partial_stage.and_then(|s| {
            s.total
                .filter(|t| *t > 0)
                .map(|t| f64::from(s.done.saturating_sub(s.failed)) / f64::from(t))
        });
        let partial = partial_stage.is_some();
        let updated_ms = f.int(field::UPDATED_MS);
        let stale = !state.is_final()
            && updated_ms
                .is_some_and(|ms| now.timestamp_millis() - ms > stale_after.num_milliseconds());
        let stored_percent = f.int(field::PERCENT).unwrap_or(0).clamp(0, 100) as u8;
        let percent = match state {
            JobState::Succeeded => 100,
            _ => stored_percent.max(raw_percent(kind, &stages)).min(99),
        };
        Some(Self {
            job_id: job_id.to_owned(),
            kind,
            username: f.text(field::USERNAME),
            eta_seconds: if state.is_final() {
                None
            } else {
                eta(&stages, now)
            },
            state,
            stages,
            percent,
            message: f.text(field::MESSAGE),
            error,
            partial,
            coverage,
            result: f.text(field::RESULT),
            created_at: f.time(field::CREATED_MS),
            updated_at: updated_ms.and_then(rfc3339),
            stale,
            poll_after_ms: if state.is_final() { None } else { Some(1_000) },
        })
    }
}

fn stage_status(f: &Fields<'_>, stage: Stage) -> StageStatus {
    let outcome: Option<StageState> = f
        .text(&field::stage(stage, "outcome"))
        .and_then(|o| o.parse().ok());
    let rank = f.int(&field::stage(stage, "rank")).unwrap_or(0);
    let state = outcome.unwrap_or(if rank >= 1 {
        StageState::Running
    } else {
        StageState::Pending
    });
    let count = |what| {
        f.int(&field::stage(stage, what))
            .and_then(|v| u32::try_from(v).ok())
    };
    let total = count("total");
    let mut done = count("done").unwrap_or(0);
    // A stage that succeeded has done all its work, whatever progress was last reported
    // (a stage that is not split into chunks may end without a last progress event).
    if state == StageState::Succeeded {
        done = done.max(total.unwrap_or(0));
    }
    StageStatus {
        name: stage,
        state,
        done,
        failed: count("failed").unwrap_or(0),
        total,
        started_at: f.time(&field::stage(stage, "started_ms")),
        finished_at: f.time(&field::stage(stage, "finished_ms")),
    }
}

/// The percentage the stages' progress stands for (before the never-backwards guard).
pub(crate) fn raw_percent(kind: Option<JobKind>, stages: &[StageStatus]) -> u8 {
    let Some(kind) = kind else { return 0 };
    let sum: f64 = stages
        .iter()
        .map(|s| {
            let fraction = match (s.state, s.total) {
                (StageState::Succeeded | StageState::Failed, _) => 1.0,
                (StageState::Running, Some(0)) => 1.0,
                (StageState::Running, Some(total)) => {
                    (f64::from(s.done) / f64::from(total)).min(1.0)
                }
                _ => 0.0,
            };
            weight(kind, s.name) * fraction
        })
        .sum();
    (sum * 100.0).floor().clamp(0.0, 100.0) as u8
}

/// Time left in the current stage at its pace so far, when every later stage is quick;
/// otherwise there is nothing honest to say.
fn eta(stages: &[StageStatus], now: DateTime<Utc>) -> Option<u64> {
    let current = stages
        .iter()
        .position(|s| !matches!(s.state, StageState::Succeeded | StageState::Failed))?;
    if !stages[current + 1..].iter().all(|s| is_quick(s.name)) {
        return None;
    }
    let stage = &stages[current];
    if is_quick(stage.name) {
        // One step with no pace to measure (the optimiser may take a while): unknown.
        return None;
    }
    let total = stage.total?;
    if stage.done == 0 || stage.done >= total {
        return None;
    }
    let started = DateTime::parse_from_rfc3339(stage.started_at.as_deref()?).ok()?;
    let elapsed = (now - started.with_timezone(&Utc))
        .num_milliseconds()
        .max(1) as f64;
    let remaining_ms = elapsed / f64::from(stage.done) * f64::from(total - stage.done);
    Some((remaining_ms / 1000.0).ceil() as u64)
}
