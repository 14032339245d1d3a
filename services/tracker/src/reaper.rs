//! The reaper: a job whose current stage has been at it past the stage's deadline is
//! failed, with the stage and a plain message, so that no job reads `running` for ever
//! (an event lost, a service that died without a word, a wait that never ends). Several
//! trackers may reap at once: failing a job is idempotent, and the first failure sticks.
//! The failure is also published (`JobFailed`) before the board says it, so that the
//! services holding something for the job hear of it (a sync lease others wait on); a
//! publish that fails leaves the job to the next turn.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cratedigger_domain::JobError;
use cratedigger_kit::{Publisher, Runnable, Shutdown, Task, job};
use cratedigger_kv::KvError;
use cratedigger_proto::convert::kind_to_pb;
use cratedigger_proto::events;
use cratedigger_status::StatusBoard;

use crate::settings::TrackerSettings;

/// The code of a job failed by its deadline.
pub const STAGE_DEADLINE: &str = "stage_deadline";

pub struct Reaper {
    board: StatusBoard,
    publisher: Publisher,
    settings: TrackerSettings,
}

impl Reaper {
    pub fn new(board: StatusBoard, publisher: Publisher, settings: TrackerSettings) -> Arc<Self> {
        Arc::new(Self {
            board,
            publisher,
            settings,
        })
    }

    /// Fails every job past its current stage's deadline at `now`; returns how many.
    pub async fn reap(&self, now: DateTime<Utc>) -> Result<usize, KvError> {
        let deadlines = &self.settings.deadlines;
        let overdue = self.board.overdue(now, |stage| deadlines.of(stage)).await?;
        for late in &overdue {
            let minutes = deadlines.of(late.stage).as_secs().div_ceil(60);
            let error = JobError {
                code: STAGE_DEADLINE.to_owned(),
                message: format!(
                    "the {} stage did not finish within {minutes} minute{}; try again later",
                    late.stage,
                    if minutes == 1 { "" } else { "s" }
                ),
                retryable: true,
                stage: Some(late.stage),
            };
            if let Some(status) = self.board.read(&late.job, now).await?
                && let (Some(kind), Some(username)) = (status.kind, status.username)
            {
                let failed = job::failed(
                    &events::Job {
                        id: late.job.to_string(),
                        kind: kind_to_pb(kind) as i32,
                        username,
                        ..Default::default()
                    },
                    late.stage,
                    &error.code,
                    error.message.clone(),
                    error.retryable,
                );
                if let Err(e) = self.publisher.publish(&failed).await {
                    tracing::warn!(job_id = %late.job, error = %e, "could not publish a job's failure at its deadline; trying again at the next turn");
                    continue;
                }
            }
            tracing::warn!(job_id = %late.job, stage = %late.stage, running_for_s = late.running_for.as_secs(), "stage past its deadline: job failed");
            self.board.job_failed(&late.job, &error, now).await?;
        }
        Ok(overdue.len())
    }

    /// Reaps every `reap_every` until shutdown; a board that cannot be read is tried
    /// again at the next turn.
    pub fn task(self: &Arc<Self>) -> Box<dyn Runnable> {
        let reaper = self.clone();
        Task::new("tracker.reaper", move |shutdown: Shutdown| async move {
            let every = reaper.settings.reap_every();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = shutdown.wait() => return Ok(()),
                }
                if let Err(e) = reaper.reap(Utc::now()).await {
                    tracing::warn!(error = %e, "reaper could not read the board; trying again later");
                }
            }
        })
    }
}
