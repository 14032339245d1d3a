//! The races: many tasks on one adapter at once, where only atomic operations keep the
//! promises (exactly one winner, exact counts, a maximum that never goes down).

use std::sync::Arc;

use super::LONG;
use crate::KeyValue;

/// Many tasks race for one key: exactly one wins, and the value is the winner's.
pub async fn set_if_absent_race(kv: Arc<dyn KeyValue>) {
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let kv = Arc::clone(&kv);
            tokio::spawn(async move {
                (
                    task,
                    kv.set_if_absent("dedup", &format!("task-{task}"), Some(LONG))
                        .await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for handle in tasks {
        let (task, won) = handle.await.unwrap();
        if won.unwrap() {
            winners.push(task);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let value = kv.get("dedup").await.unwrap();
    assert_eq!(value, Some(format!("task-{}", winners[0])));
}

/// Many tasks race for one hash field: exactly one wins, its value stays, and the
/// hash's other fields are untouched.
pub async fn hash_set_if_absent_race(kv: Arc<dyn KeyValue>) {
    kv.hash_set("job", &[("kind", "carts")]).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let kv = Arc::clone(&kv);
            tokio::spawn(async move {
                (
                    task,
                    kv.hash_set_if_absent("job", "final", &format!("task-{task}"))
                        .await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for handle in tasks {
        let (task, won) = handle.await.unwrap();
        if won.unwrap() {
            winners.push(task);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let fields = kv.hash_get_all("job").await.unwrap();
    assert_eq!(fields.get("final"), Some(&format!("task-{}", winners[0])));
    assert_eq!(fields.get("kind").map(String::as_str), Some("carts"));
    assert!(!kv.hash_set_if_absent("job", "final", "late").await.unwrap());
    assert!(
        kv.hash_set_if_absent("other", "created", "1")
            .await
            .unwrap(),
        "creates the hash"
    );
    kv.set("text", "x", None).await.unwrap();
    assert!(matches!(
        kv.hash_set_if_absent("text", "f", "v").await,
        Err(crate::KvError::WrongType { .. })
    ));
}

/// Tasks add overlapping members in different orders: every member is reported new
/// exactly once, and the count is exact.
pub async fn concurrent_set_adds_count_exactly(kv: Arc<dyn KeyValue>) {
    const MEMBERS: usize = 100;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let kv = Arc::clone(&kv);
            tokio::spawn(async move {
                let mut added = 0;
                for step in 0..MEMBERS {
                    let member = (step * 7 + task * 13) % MEMBERS;
                    if kv
                        .set_add("done", &format!("chunk-{member}"))
                        .await
                        .unwrap()
                    {
                        added += 1;
                    }
                }
                added
            })
        })
        .collect();
    let mut added = 0;
    for handle in tasks {
        added += handle.await.unwrap();
    }
    assert_eq!(added, MEMBERS, "each member reported new exactly once");
    assert_eq!(kv.set_len("done").await.unwrap(), MEMBERS as u64);
    assert_eq!(kv.set_members("done").await.unwrap().len(), MEMBERS);
}

/// Writers raise one field in scrambled orders while a reader watches: no writer and no
/// reader ever sees it go down, and it ends at the largest value written.
pub async fn hash_set_max_never_goes_backwards(kv: Arc<dyn KeyValue>) {
    const WRITERS: i64 = 8;
    const VALUES: i64 = 60;
    let reader = {
        let kv = Arc::clone(&kv);
        tokio::spawn(async move {
            let mut seen = i64::MIN;
            for _ in 0..200 {
                let fields = kv.hash_get_all("progress").await.unwrap();
                if let Some(value) = fields.get("percent") {
                    let value: i64 = value.parse().unwrap();
                    assert!(value >= seen, "went back from {seen} to {value}");
                    seen = value;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let kv = Arc::clone(&kv);
            tokio::spawn(async move {
                let mut last = i64::MIN;
                for step in 0..VALUES {
                    let value = (step * 37 + writer * 11) % (VALUES * 5);
                    let now = kv.hash_set_max("progress", "percent", value).await.unwrap();
                    assert!(
                        now >= value && now >= last,
                        "writer {writer}: {value} gave {now} after {last}"
                    );
                    last = now;
                }
            })
        })
        .collect();
    for handle in writers {
        handle.await.unwrap();
    }
    reader.await.unwrap();
    let largest = (0..WRITERS)
        .flat_map(|writer| (0..VALUES).map(move |step| (step * 37 + writer * 11) % (VALUES * 5)))
        .max()
        .unwrap();
    let fields = kv.hash_get_all("progress").await.unwrap();
    assert_eq!(fields.get("percent"), Some(&largest.to_string()));
}
