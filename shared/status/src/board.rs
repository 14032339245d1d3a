//! Writing and reading the status board. Every method is idempotent and safe to call in
//! any order (see the crate header for how).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cratedigger_domain::{JobError, JobId, JobKind, JobState, Stage, StageState};
use cratedigger_kv::{KeyValue, KvError};

use crate::JobStatus;
use crate::record::{field, raw_percent};

/// How long a completion claim waits for its announcement to be confirmed: shorter than
/// any subscription's ack deadline, so a crashed claimer's message, redelivered after the
/// deadline, finds the claim gone.
const CLAIM_TTL: Duration = Duration::from_secs(10);
/// The completion flag's values.
const CLAIMED: &str = "claimed";
const ANNOUNCED: &str = "announced";

/// Returned to exactly one caller when the last chunk of a stage is done; that caller
/// publishes StageCompleted and confirms with `completion_announced`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageCompletion {
    pub total: u32,
    pub failed: u32,
}

/// Where a stage's completion stands after a chunk or the plan was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Chunks are still missing (or the plan is).
    Incomplete,
    /// This caller claimed it: it publishes StageCompleted, then confirms with
    /// `completion_announced` (or releases with `completion_not_announced`).
    Claimed(StageCompletion),
    /// Another caller claimed it and has not confirmed yet. The caller must not take its
    /// message as handled: if the claimer died, this message may be the last one that can
    /// announce the stage, once the claim lapses. Retry it later.
    Pending,
    /// Announced already: nothing more to do.
    Announced,
}

impl Completion {
    /// The completion, if this caller is to announce it.
    pub fn claimed(self) -> Option<StageCompletion> {
        match self {
            Self::Claimed(done) => Some(done),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct StatusBoard {
    kv: Arc<dyn KeyValue>,
    /// Records expire this long after their last write.
    ttl: Duration,
    /// A record is stale when nothing moved for this long.
    stale_after: chrono::Duration,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusBoard")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// The jobs not yet final, for the reaper ([`StatusBoard::overdue`]).
const ACTIVE: &str = "jobs:active";

/// A running job whose current stage has been at it longer than its deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overdue {
    pub job: JobId,
    pub stage: Stage,
    /// How long the stage has been current.
    pub running_for: Duration,
}

fn job_key(job: &JobId) -> String {
    format!("job:{job}")
}

fn chunk_set(job: &JobId, stage: Stage, which: &str) -> String {
    format!("job:{job}:{}:{which}", stage.as_str())
}

impl StatusBoard {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self {
            kv,
            ttl: Self::DEFAULT_TTL,
            stale_after: chrono::Duration::seconds(60),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn with_stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = chrono::Duration::from_std(stale_after).unwrap_or(self.stale_after);
        self
    }

    /// The job was accepted: it is running, its first stage has started.
    pub async fn job_requested(
        &self,
        job: &JobId,
        kind: JobKind,
        username: &str,
        requested_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        self.kv
            .hash_set_if_absent(&key, field::KIND, kind.as_str())
            .await?;
        self.kv
            .hash_set_if_absent(&key, field::USERNAME, username)
            .await?;
        self.kv
            .hash_set_if_absent(
                &key,
                field::CREATED_MS,
                &requested_at.timestamp_millis().to_string(),
            )
            .await?;
        self.kv.hash_set_max(&key, field::STATE_RANK, 1).await?;
        self.stage_started(job, kind.stages()[0], now).await?;
        // Indexed last, so the reaper never meets a job without a record; a job that ended
        // meanwhile (events out of order) leaves the index at the reaper's next look.
        self.kv.set_add(ACTIVE, job.as_str()).await?;
        Ok(())
    }

    pub async fn stage_started(
        &self,
        job: &JobId,
        stage: Stage,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        self.kv.hash_set_max(&key, field::STATE_RANK, 1).await?;
        self.kv
            .hash_set_max(&key, &field::stage(stage, "rank"), 1)
            .await?;
        self.kv
            .hash_set_if_absent(
                &key,
                &field::stage(stage, "started_ms"),
                &now.timestamp_millis().to_string(),
            )
            .await?;
        self.touched(job, now).await
    }

    /// The stage has `total` chunks. Claims the completion if every chunk was already
    /// done (they can arrive first).
    pub async fn chunks_planned(
        &self,
        job: &JobId,
        stage: Stage,
        total: u32,
        now: DateTime<Utc>,
    ) -> Result<Completion, KvError> {
        self.stage_started(job, stage, now).await?;
        self.kv
            .hash_set_if_absent(
                &job_key(job),
                &field::stage(stage, "total"),
                &total.to_string(),
            )
            .await?;
        self.claim_completion(job, stage, now).await
    }

    /// Chunk `chunk` of the stage finished (or failed for good). Claims the completion
    /// for exactly one caller at a time, when the stage is complete (see [`Completion`]).
    pub async fn chunk_done(
        &self,
        job: &JobId,
        stage: Stage,
        chunk: u32,
        failed: bool,
        now: DateTime<Utc>,
    ) -> Result<Completion, KvError> {
        let key = job_key(job);
        let member = chunk.to_string();
        let (done_set, failed_set) = (
            chunk_set(job, stage, "done"),
            chunk_set(job, stage, "failed"),
        );
        if failed {
            self.kv.set_add(&failed_set, &member).await?;
            self.kv.expire(&failed_set, self.ttl).await?;
        }
        self.kv.set_add(&done_set, &member).await?;
        self.kv.expire(&done_set, self.ttl).await?;
        let done = self.kv.set_len(&done_set).await?;
        let failed_count = self.kv.set_len(&failed_set).await?;
        self.kv
            .hash_set_max(&key, &field::stage(stage, "done"), done as i64)
            .await?;
        self.kv
            .hash_set_max(&key, &field::stage(stage, "failed"), failed_count as i64)
            .await?;
        self.stage_started(job, stage, now).await?;
        self.claim_completion(job, stage, now).await
    }

    async fn claim_completion(
        &self,
        job: &JobId,
        stage: Stage,
        now: DateTime<Utc>,
    ) -> Result<Completion, KvError> {
        let fields = self.kv.hash_get_all(&job_key(job)).await?;
        let Some(total) = fields
            .get(&field::stage(stage, "total"))
            .and_then(|t| t.parse::<u32>().ok())
        else {
            self.update_percent(job, now).await?;
            return Ok(Completion::Incomplete);
        };
        let done = self.kv.set_len(&chunk_set(job, stage, "done")).await?;
        self.update_percent(job, now).await?;
        if done < u64::from(total) {
            return Ok(Completion::Incomplete);
        }
        // The claim is provisional until `completion_announced`: if the announcement is
        // never confirmed (the process died, or failed between claim and publish), the
        // claim lapses, and a message that found it held and was retried claims again.
        let flag = chunk_set(job, stage, "complete");
        if !self
            .kv
            .set_if_absent(&flag, CLAIMED, Some(CLAIM_TTL))
            .await?
        {
            return Ok(match self.kv.get(&flag).await?.as_deref() {
                Some(ANNOUNCED) => Completion::Announced,
                _ => Completion::Pending,
            });
        }
        let failed = self.kv.set_len(&chunk_set(job, stage, "failed")).await? as u32;
        Ok(Completion::Claimed(StageCompletion { total, failed }))
    }

    /// The StageCompleted of a claimed completion was published: the claim is final.
    pub async fn completion_announced(&self, job: &JobId, stage: Stage) -> Result<(), KvError> {
        self.kv
            .set(
                &chunk_set(job, stage, "complete"),
                ANNOUNCED,
                Some(self.ttl),
            )
            .await
    }

    /// Publishing the StageCompleted of a claimed completion failed: release the claim so
    /// the retry can claim it again.
    pub async fn completion_not_announced(&self, job: &JobId, stage: Stage) -> Result<(), KvError> {
        self.kv
            .delete(&chunk_set(job, stage, "complete"))
            .await
            .map(|_| ())
    }

    /// Progress of a stage that is not split into chunks.
    pub async fn stage_progress(
        &self,
        job: &JobId,
        stage: Stage,
        done: u32,
        total: u32,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        self.stage_started(job, stage, now).await?;
        self.kv
            .hash_set_if_absent(&key, &field::stage(stage, "total"), &total.to_string())
            .await?;
        self.kv
            .hash_set_max(&key, &field::stage(stage, "done"), i64::from(done))
            .await?;
        if let Some(message) = message {
            self.kv.hash_set(&key, &[(field::MESSAGE, message)]).await?;
        }
        self.update_percent(job, now).await
    }

    pub async fn stage_finished(
        &self,
        job: &JobId,
        stage: Stage,
        outcome: StageState,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        self.kv
            .hash_set_if_absent(
                &key,
                &field::stage(stage, "started_ms"),
                &now.timestamp_millis().to_string(),
            )
            .await?;
        self.kv
            .hash_set_if_absent(&key, &field::stage(stage, "outcome"), outcome.as_str())
            .await?;
        self.kv
            .hash_set_max(&key, &field::stage(stage, "rank"), 2)
            .await?;
        self.kv
            .hash_set_if_absent(
                &key,
                &field::stage(stage, "finished_ms"),
                &now.timestamp_millis().to_string(),
            )
            .await?;
        self.update_percent(job, now).await
    }

    /// Work of `stage` has begun, so the stages of `kind` before it are over (a stage
    /// that is not split into chunks says nothing when it ends; the next one starting
    /// says it for it).
    pub async fn earlier_stages_finished(
        &self,
        job: &JobId,
        kind: JobKind,
        stage: Stage,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        for &earlier in kind.stages().iter().take_while(|&&s| s != stage) {
            self.stage_finished(job, earlier, StageState::Succeeded, now)
                .await?;
        }
        Ok(())
    }

    /// The job produced its result at `result`. Every stage of its kind is finished.
    pub async fn job_succeeded(
        &self,
        job: &JobId,
        kind: JobKind,
        result: &str,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        for &stage in kind.stages() {
            self.stage_finished(job, stage, StageState::Succeeded, now)
                .await?;
        }
        self.kv
            .hash_set_if_absent(&key, field::RESULT, result)
            .await?;
        if let Some(message) = message {
            self.kv.hash_set(&key, &[(field::MESSAGE, message)]).await?;
        }
        self.finish(job, JobState::Succeeded, now).await?;
        self.kv.hash_set_max(&key, field::PERCENT, 100).await?;
        Ok(())
    }

    /// The job failed; the first failure reported is the one kept.
    pub async fn job_failed(
        &self,
        job: &JobId,
        error: &JobError,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        if let Some(stage) = error.stage {
            self.stage_finished(job, stage, StageState::Failed, now)
                .await?;
        }
        let json = serde_json::to_string(error).unwrap_or_default();
        self.kv
            .hash_set_if_absent(&key, field::ERROR, &json)
            .await?;
        self.finish(job, JobState::Failed, now).await
    }

    pub async fn job_cancelled(&self, job: &JobId, now: DateTime<Utc>) -> Result<(), KvError> {
        self.finish(job, JobState::Cancelled, now).await
    }

    async fn finish(
        &self,
        job: &JobId,
        state: JobState,
        now: DateTime<Utc>,
    ) -> Result<(), KvError> {
        let key = job_key(job);
        self.kv
            .hash_set_if_absent(&key, field::FINAL, state.as_str())
            .await?;
        self.kv.hash_set_max(&key, field::STATE_RANK, 2).await?;
        self.touched(job, now).await?;
        self.kv.set_remove(ACTIVE, job.as_str()).await?;
        Ok(())
    }

    /// The running jobs whose current stage (the first not finished) has been current for
    /// longer than `deadline` of it: since it started, or since the stage before it
    /// finished. Jobs that ended, or whose records expired, leave the index on the way.
    pub async fn overdue(
        &self,
        now: DateTime<Utc>,
        deadline: impl Fn(Stage) -> Duration,
    ) -> Result<Vec<Overdue>, KvError> {
        let mut overdue = Vec::new();
        for member in self.kv.set_members(ACTIVE).await? {
            let Ok(job) = member.parse::<JobId>() else {
                self.kv.set_remove(ACTIVE, &member).await?;
                continue;
            };
            let Some(status) = self.read(&job, now).await? else {
                self.kv.set_remove(ACTIVE, &member).await?;
                continue;
            };
            if status.state.is_final() {
                self.kv.set_remove(ACTIVE, &member).await?;
                continue;
            }
            let Some((stage, since)) = current_stage(&status) else {
                continue;
            };
            let running_for = (now - since).to_std().unwrap_or_default();
            if running_for > deadline(stage) {
                overdue.push(Overdue {
                    job,
                    stage,
                    running_for,
                });
            }
        }
        Ok(overdue)
    }

    /// Raises the stored percentage to what the stages now stand for (capped at 99 until
    /// the job succeeds).
    async fn update_percent(&self, job: &JobId, now: DateTime<Utc>) -> Result<(), KvError> {
        let key = job_key(job);
        let fields = self.kv.hash_get_all(&key).await?;
        if let Some(status) = JobStatus::from_fields(job.as_str(), &fields, now, self.stale_after) {
            let percent = raw_percent(status.kind, &status.stages).min(99);
            self.kv
                .hash_set_max(&key, field::PERCENT, i64::from(percent))
                .await?;
        }
        self.touched(job, now).await
    }

    async fn touched(&self, job: &JobId, now: DateTime<Utc>) -> Result<(), KvError> {
        let key = job_key(job);
        self.kv
            .hash_set_max(&key, field::UPDATED_MS, now.timestamp_millis())
            .await?;
        self.kv.expire(&key, self.ttl).await?;
        Ok(())
    }

    /// The job's record; None if the board has never heard of it (or it expired).
    pub async fn read(
        &self,
        job: &JobId,
        now: DateTime<Utc>,
    ) -> Result<Option<JobStatus>, KvError> {
        let fields = self.kv.hash_get_all(&job_key(job)).await?;
        Ok(JobStatus::from_fields(
            job.as_str(),
            &fields,
            now,
            self.stale_after,
        ))
    }
}

/// The first stage not finished and since when it has been the current one: its start,
/// else the end of the stage before it, else the job's creation.
fn current_stage(status: &JobStatus) -> Option<(Stage, DateTime<Utc>)> {
    let parse = |at: Option<&str>| {
        at.and_then(|a| DateTime::parse_from_rfc3339(a).ok())
            .map(|a| a.with_timezone(&Utc))
    };
    let mut previous_end = parse(status.created_at.as_deref());
    for stage in &status.stages {
        match stage.state {
            StageState::Succeeded | StageState::Failed => {
                previous_end = parse(stage.finished_at.as_deref()).or(previous_end);
            }
            StageState::Running | StageState::Pending => {
                let since = parse(stage.started_at.as_deref()).or(previous_end)?;
                return Some((stage.name, since));
            }
        }
    }
    None
}
