//! The board converges whatever the order and repetition of events, and announces a
//! stage's completion to exactly one caller.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use cratedigger_domain::{JobError, JobId, JobKind, JobState, Stage, StageState};
use cratedigger_kv::{KeyValue, MemoryKeyValue};
use cratedigger_status::{Completion, StageCompletion, StatusBoard};

fn board() -> StatusBoard {
    let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
    StatusBoard::new(kv)
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

async fn requested(board: &StatusBoard, kind: JobKind) -> JobId {
    let job = JobId::generate();
    board
        .job_requested(&job, kind, "digger0001", at(0), at(0))
        .await
        .unwrap();
    job
}

#[tokio::test]
async fn chunks_done_before_the_plan_count_when_it_arrives() {
    let board = board();
    let job = requested(&board, JobKind::Recommendations).await;
    for chunk in [2, 0, 2, 1] {
        assert_eq!(
            board
                .chunk_done(&job, Stage::Profile, chunk, false, at(1))
                .await
                .unwrap(),
            Completion::Incomplete
        );
    }
    let done = board
        .chunks_planned(&job, Stage::Profile, 3, at(2))
        .await
        .unwrap();
    assert_eq!(
        done,
        Completion::Claimed(StageCompletion {
            total: 3,
            failed: 0
        })
    );
    // A redelivered plan or chunk announces nothing more.
    board
        .completion_announced(&job, Stage::Profile)
        .await
        .unwrap();
    assert_eq!(
        board
            .chunks_planned(&job, Stage::Profile, 3, at(3))
            .await
            .unwrap(),
        Completion::Announced
    );
    assert_eq!(
        board
            .chunk_done(&job, Stage::Profile, 1, false, at(3))
            .await
            .unwrap(),
        Completion::Announced
    );
    let status = board.read(&job, at(4)).await.unwrap().unwrap();
    assert_eq!(
        (status.stages[0].done, status.stages[0].total),
        (3, Some(3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_many_concurrent_chunks_completes_the_stage() {
    let board = board();
    let job = requested(&board, JobKind::Sync).await;
    board
        .chunks_planned(&job, Stage::Profile, 20, at(1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (board, job) = (board.clone(), job.clone());
            tokio::spawn(async move {
                board
                    .chunk_done(&job, Stage::Profile, i % 20, false, at(2))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut completions = 0;
    for task in tasks {
        completions += usize::from(task.await.unwrap().claimed().is_some());
    }
    assert_eq!(completions, 1);
}

#[tokio::test(start_paused = true)]
async fn an_unconfirmed_claim_lapses_so_a_redelivery_can_announce() {
    let board = board();
    let job = requested(&board, JobKind::Sync).await;
    board
        .chunks_planned(&job, Stage::Profile, 1, at(1))
        .await
        .unwrap();
    assert!(
        board
            .chunk_done(&job, Stage::Profile, 0, false, at(2))
            .await
            .unwrap()
            .claimed()
            .is_some()
    );
    // The claimer died before publishing, and its message came back at once (a nack on
    // shutdown): nobody else may claim for now, and the message is not handled either
    // (acknowledged, it would have been the last one able to announce the stage)...
    assert_eq!(
        board
            .chunk_done(&job, Stage::Profile, 0, false, at(3))
            .await
            .unwrap(),
        Completion::Pending
    );
    // ...so it is retried, and once the claim lapses the retry claims it.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(
        board
            .chunk_done(&job, Stage::Profile, 0, false, at(30))
            .await
            .unwrap()
            .claimed()
            .is_some()
    );
    // A claim whose publish failed is released at once.
    board
        .completion_not_announced(&job, Stage::Profile)
        .await
        .unwrap();
    assert!(
        board
            .chunk_done(&job, Stage::Profile, 0, false, at(31))
            .await
            .unwrap()
            .claimed()
            .is_some()
    );
    board
        .completion_announced(&job, Stage::Profile)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        board
            .chunk_done(&job, Stage::Profile, 0, false, at(90))
            .await
            .unwrap(),
        Completion::Announced
    );
}

#[tokio::test]
async fn failed_chunks_make_the_status_partial() {
    let board = board();
    let job = requested(&board, JobKind::Carts).await;
    board
        .chunks_planned(&job, Stage::Market, 4, at(1))
        .await
        .unwrap();
    for (chunk, failed) in [(0, false), (1, true), (2, false)] {
        board
            .chunk_done(&job, Stage::Market, chunk, failed, at(2))
            .await
            .unwrap();
    }
    let done = board
        .chunk_done(&job, Stage::Market, 3, false, at(3))
        .await
        .unwrap();
    assert_eq!(
        done,
        Completion::Claimed(StageCompletion {
            total: 4,
            failed: 1
        })
    );
    let status = board.read(&job, at(4)).await.unwrap().unwrap();
    assert!(status.partial);
    assert_eq!(status.coverage, Some(0.75));
}

#[tokio::test]
async fn the_first_final_state_sticks_and_percent_never_goes_back() {
    let board = board();
    let job = requested(&board, JobKind::Recommendations).await;
    board
        .chunks_planned(&job, Stage::Profile, 4, at(1))
        .await
        .unwrap();
    let mut last = 0;
    for chunk in 0..4 {
        board
            .chunk_done(&job, Stage::Profile, chunk, false, at(2 + i64::from(chunk)))
            .await
            .unwrap();
        let status = board.read(&job, at(10)).await.unwrap().unwrap();
        assert!(status.percent >= last, "{} then {}", last, status.percent);
        assert!(status.percent < 100);
        last = status.percent;
    }
    // A late, replayed stage start does not move anything back.
    board
        .stage_started(&job, Stage::Profile, at(20))
        .await
        .unwrap();
    assert!(board.read(&job, at(21)).await.unwrap().unwrap().percent >= last);

    let error = JobError {
        code: "no_model".into(),
        message: "no model".into(),
        retryable: true,
        stage: Some(Stage::Recommend),
    };
    board.job_failed(&job, &error, at(30)).await.unwrap();
    board
        .job_succeeded(
            &job,
            JobKind::Recommendations,
            "recommendations/x",
            None,
            at(31),
        )
        .await
        .unwrap();
    let status = board.read(&job, at(32)).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Failed);
    assert_eq!(status.error, Some(error));
    assert_eq!(status.poll_after_ms, None);
    assert_eq!(status.eta_seconds, None);
}

#[tokio::test]
async fn a_successful_job_reads_as_done() {
    let board = board();
    let job = requested(&board, JobKind::Recommendations).await;
    board
        .chunks_planned(&job, Stage::Profile, 0, at(1))
        .await
        .unwrap();
    board
        .stage_finished(&job, Stage::Profile, StageState::Succeeded, at(2))
        .await
        .unwrap();
    board
        .stage_started(&job, Stage::Recommend, at(2))
        .await
        .unwrap();
    board
        .job_succeeded(
            &job,
            JobKind::Recommendations,
            "recommendations/digger0001",
            Some("20 recommendations"),
            at(3),
        )
        .await
        .unwrap();
    let status = board.read(&job, at(4)).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Succeeded);
    assert_eq!(status.percent, 100);
    assert_eq!(status.result.as_deref(), Some("recommendations/digger0001"));
    assert!(
        status
            .stages
            .iter()
            .all(|s| s.state == StageState::Succeeded)
    );
    assert_eq!(
        status.stages.iter().map(|s| s.name).collect::<Vec<_>>(),
        vec![Stage::Profile, Stage::Recommend]
    );
    assert_eq!(status.username.as_deref(), Some("digger0001"));
    assert!(
        board
            .read(&JobId::generate(), at(5))
            .await
            .unwrap()
            .is_none()
    );
}

/// The carts stage reports "0 of 1" when it starts and nothing more before the job
/// succeeds: the finished stage reads as done, not as "0 of 1".
#[tokio::test]
async fn a_stage_that_succeeded_reads_as_all_done_whatever_its_last_progress() {
    let board = board();
    let job = requested(&board, JobKind::Carts).await;
    board
        .stage_progress(&job, Stage::Carts, 0, 1, Some("building carts"), at(1))
        .await
        .unwrap();
    let running = board.read(&job, at(2)).await.unwrap().unwrap();
    let carts = running
        .stages
        .iter()
        .find(|s| s.name == Stage::Carts)
        .unwrap();
    assert_eq!((carts.done, carts.total), (0, Some(1)));
    board
        .job_succeeded(&job, JobKind::Carts, "carts/x", None, at(3))
        .await
        .unwrap();
    let status = board.read(&job, at(4)).await.unwrap().unwrap();
    assert!(
        status
            .stages
            .iter()
            .all(|s| s.state == StageState::Succeeded)
    );
    let carts = status
        .stages
        .iter()
        .find(|s| s.name == Stage::Carts)
        .unwrap();
    assert_eq!((carts.done, carts.total), (1, Some(1)));
}

#[tokio::test]
async fn eta_comes_from_the_pace_of_the_last_long_stage_only() {
    let board = board();
    let job = requested(&board, JobKind::Recommendations).await;
    board
        .chunks_planned(&job, Stage::Profile, 10, at(0))
        .await
        .unwrap();
    assert_eq!(
        board.read(&job, at(1)).await.unwrap().unwrap().eta_seconds,
        None,
        "no pace yet"
    );
    board
        .chunk_done(&job, Stage::Profile, 0, false, at(2))
        .await
        .unwrap();
    board
        .chunk_done(&job, Stage::Profile, 1, false, at(4))
        .await
        .unwrap();
    // Two chunks in 4 s: eight more take about 16 s (the recommend stage is quick).
    assert_eq!(
        board.read(&job, at(4)).await.unwrap().unwrap().eta_seconds,
        Some(16)
    );

    // A carts job still has the marketplace ahead while syncing: no honest estimate.
    let carts = requested(&board, JobKind::Carts).await;
    board
        .chunks_planned(&carts, Stage::Profile, 10, at(0))
        .await
        .unwrap();
    board
        .chunk_done(&carts, Stage::Profile, 0, false, at(2))
        .await
        .unwrap();
    assert_eq!(
        board
            .read(&carts, at(2))
            .await
            .unwrap()
            .unwrap()
            .eta_seconds,
        None
    );
}

#[tokio::test]
async fn stale_when_nothing_moves() {
    let board = board().with_stale_after(Duration::from_secs(60));
    let job = requested(&board, JobKind::Sync).await;
    assert!(!board.read(&job, at(30)).await.unwrap().unwrap().stale);
    assert!(board.read(&job, at(120)).await.unwrap().unwrap().stale);
}

#[tokio::test]
async fn a_later_stage_starting_finishes_the_earlier_ones() {
    let board = board();
    let job = requested(&board, JobKind::Carts).await;
    board
        .stage_finished(&job, Stage::Profile, StageState::Succeeded, at(1))
        .await
        .unwrap();
    board
        .stage_progress(&job, Stage::Candidates, 40, 40, None, at(2))
        .await
        .unwrap();
    board
        .earlier_stages_finished(&job, JobKind::Carts, Stage::Market, at(3))
        .await
        .unwrap();
    board
        .chunks_planned(&job, Stage::Market, 4, at(3))
        .await
        .unwrap();
    let status = board.read(&job, at(3)).await.unwrap().unwrap();
    let states: Vec<_> = status.stages.iter().map(|s| (s.name, s.state)).collect();
    assert_eq!(
        states,
        vec![
            (Stage::Profile, StageState::Succeeded),
            (Stage::Candidates, StageState::Succeeded),
            (Stage::Market, StageState::Running),
            (Stage::Carts, StageState::Pending),
        ]
    );
    assert!(status.percent < 100);
    // Redelivered, the same event changes nothing.
    board
        .earlier_stages_finished(&job, JobKind::Carts, Stage::Market, at(5))
        .await
        .unwrap();
    let again = board.read(&job, at(3)).await.unwrap().unwrap();
    assert_eq!(again.stages, status.stages);
}

/// The reaper's view: a job whose current stage has been at it longer than that stage's
/// deadline is overdue, measured from when the stage became current; a job that ended
/// leaves the index.
#[tokio::test]
async fn a_stage_past_its_deadline_is_overdue_and_a_job_that_ended_is_not() {
    let board = board();
    let deadline = |stage: Stage| match stage {
        Stage::Profile => Duration::from_secs(600),
        _ => Duration::from_secs(60),
    };
    let slow = requested(&board, JobKind::Recommendations).await;
    let quick = requested(&board, JobKind::Sync).await;
    assert!(board.overdue(at(599), deadline).await.unwrap().is_empty());
    board
        .stage_finished(&slow, Stage::Profile, StageState::Succeeded, at(100))
        .await
        .unwrap();
    // Between stages: the next one is current from the end of the one before it.
    assert!(board.overdue(at(150), deadline).await.unwrap().is_empty());
    let late = board.overdue(at(200), deadline).await.unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!((&late[0].job, late[0].stage), (&slow, Stage::Recommend));
    assert_eq!(late[0].running_for, Duration::from_secs(100));

    board
        .job_succeeded(&quick, JobKind::Sync, "profiles/digger0001", None, at(300))
        .await
        .unwrap();
    let late = board.overdue(at(10_000), deadline).await.unwrap();
    assert_eq!(late.iter().map(|o| &o.job).collect::<Vec<_>>(), vec![&slow]);
    let error = JobError {
        code: "stage_deadline".into(),
        message: "too slow".into(),
        retryable: true,
        stage: Some(Stage::Recommend),
    };
    board.job_failed(&slow, &error, at(10_000)).await.unwrap();
    assert!(
        board
            .overdue(at(20_000), deadline)
            .await
            .unwrap()
            .is_empty()
    );
}
