//! A job's candidate set: the first selection stored wins, and a stored value that is not
//! a set is reported as such instead of reading as missing.

use std::sync::Arc;

use cratedigger_domain::{CandidateSet, JobId};
use cratedigger_kv::{KeyValue, MemoryKeyValue};
use cratedigger_status::{CandidateRecords, RecordError};

#[tokio::test]
async fn the_first_selection_stored_is_the_one_every_delivery_reads() {
    let records = CandidateRecords::new(Arc::new(MemoryKeyValue::new()));
    let job = JobId::generate();
    assert_eq!(records.load(&job).await.unwrap(), None);

    let first = CandidateSet {
        from_wantlist: 3,
        ..CandidateSet::default()
    };
    let second = CandidateSet {
        from_wantlist: 7,
        ..CandidateSet::default()
    };
    assert_eq!(records.save_first(&job, &first).await.unwrap(), first);
    assert_eq!(records.save_first(&job, &second).await.unwrap(), first);
    assert_eq!(records.load(&job).await.unwrap(), Some(first));
}

#[tokio::test]
async fn a_stored_value_that_is_not_a_set_is_an_error_naming_its_key() {
    let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
    let records = CandidateRecords::new(kv.clone());
    let job = JobId::generate();
    let key = format!("job:{job}:candidates");
    kv.set(&key, "{\"releases\": 12}", None).await.unwrap();

    let error = records.load(&job).await.unwrap_err();
    assert!(
        matches!(&error, RecordError::Undecodable { key: k, .. } if *k == key),
        "{error:?}"
    );
    assert!(error.to_string().contains(&key), "{error}");
    // Saving does not paper over it either.
    let saved = records.save_first(&job, &CandidateSet::default()).await;
    assert!(
        matches!(saved, Err(RecordError::Undecodable { .. })),
        "{saved:?}"
    );
}

#[tokio::test]
async fn the_market_releases_of_a_job_and_its_market_chunks_are_counted_apart() {
    use chrono::{TimeZone, Utc};
    use cratedigger_domain::{JobKind, ReleaseId, Stage};
    use cratedigger_status::{MarketRecords, StageCompletion, StatusBoard};

    let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
    let (board, market) = (StatusBoard::new(kv.clone()), MarketRecords::new(kv));
    let now = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let job = JobId::generate();
    board
        .job_requested(&job, JobKind::Carts, "digger0001", now, now)
        .await
        .unwrap();
    board
        .chunks_planned(&job, Stage::Market, 2, now)
        .await
        .unwrap();
    for release in [1, 101, 102] {
        market.failed(&job, ReleaseId(release)).await.unwrap();
    }
    market.fetched(&job, ReleaseId(0), "http").await.unwrap();
    board
        .chunk_done(&job, Stage::Market, 0, false, now)
        .await
        .unwrap();
    let done = board
        .chunk_done(&job, Stage::Market, 1, true, now)
        .await
        .unwrap();

    assert_eq!(
        done.claimed(),
        Some(StageCompletion {
            total: 2,
            failed: 1
        })
    );
    let status = board.read(&job, now).await.unwrap().unwrap();
    assert_eq!(status.coverage, Some(0.5), "{status:?}");
    let (fetched, mut failed) = market.outcome(&job).await.unwrap();
    failed.sort();
    assert_eq!(
        (fetched, failed),
        (
            vec![ReleaseId(0)],
            vec![ReleaseId(1), ReleaseId(101), ReleaseId(102)]
        )
    );
}

#[tokio::test]
async fn each_source_is_counted_over_the_wanted_releases_only() {
    use std::collections::HashSet;

    use cratedigger_domain::{ReleaseId, SourceCoverage};
    use cratedigger_status::MarketRecords;

    let market = MarketRecords::new(Arc::new(MemoryKeyValue::new()));
    let job = JobId::generate();
    for release in [1, 2, 3] {
        market
            .blocked(&job, ReleaseId(release), "http")
            .await
            .unwrap();
    }
    market.fetched(&job, ReleaseId(1), "browser").await.unwrap();
    market.fetched(&job, ReleaseId(2), "browser").await.unwrap();
    // Delivered twice: counted once.
    market.fetched(&job, ReleaseId(2), "browser").await.unwrap();
    market
        .source_failed(&job, ReleaseId(3), "browser")
        .await
        .unwrap();
    market.failed(&job, ReleaseId(3)).await.unwrap();

    let wanted: HashSet<ReleaseId> = [1, 2, 3].map(ReleaseId).into_iter().collect();
    let coverage = market.sources(&job, &wanted).await.unwrap();
    let row = |source: &str, served, blocked, failed| SourceCoverage {
        source: source.into(),
        served,
        blocked,
        failed,
    };
    assert_eq!(
        coverage,
        vec![row("browser", 2, 0, 1), row("http", 0, 3, 0)]
    );
    let only_first: HashSet<ReleaseId> = [ReleaseId(1)].into_iter().collect();
    assert_eq!(
        market.sources(&job, &only_first).await.unwrap(),
        vec![row("browser", 1, 0, 0), row("http", 0, 1, 0)]
    );
}
