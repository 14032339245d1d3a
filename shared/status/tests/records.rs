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

    let first = CandidateSet { from_wantlist: 3, ..CandidateSet::default() };
    let second = CandidateSet { from_wantlist: 7, ..CandidateSet::default() };
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
    assert!(matches!(&error, RecordError::Undecodable { key: k, .. } if *k == key), "{error:?}");
    assert!(error.to_string().contains(&key), "{error}");
    // Saving does not paper over it either.
    let saved = records.save_first(&job, &CandidateSet::default()).await;
    assert!(matches!(saved, Err(RecordError::Undecodable { .. })), "{saved:?}");
}
