//! The contract every [`KeyValue`] adapter must meet, written once and run against each
//! adapter by `tests/conformance.rs`.
//!
//! Each function takes a fresh, empty adapter (its own key prefix) and panics on the
//! first broken promise. Waiting goes through `tokio::time::sleep`, so the memory adapter
//! runs these under `tokio::time::pause()` in no real time, while Redis runs them on its
//! own clock with TTLs short enough to keep the suite quick.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::sleep;

use crate::{KeyValue, KvError};

mod races;

pub use self::races::{
    concurrent_set_adds_count_exactly, hash_set_if_absent_race, hash_set_max_never_goes_backwards,
    set_if_absent_race,
};

/// Short enough for real time, long enough for a round trip to be negligible.
pub const TTL: Duration = Duration::from_millis(300);
/// Waited past a deadline before checking that the key is gone.
const PAST_DEADLINE: Duration = Duration::from_millis(150);
/// Rounding to whole milliseconds on the server.
const CLOCK_SLACK: Duration = Duration::from_millis(5);
/// A TTL no test outlives.
const LONG: Duration = Duration::from_secs(600);

pub async fn strings(kv: Arc<dyn KeyValue>) {
    assert_eq!(kv.get("greeting").await.unwrap(), None);
    kv.set("greeting", "hello", None).await.unwrap();
    assert_eq!(kv.get("greeting").await.unwrap().as_deref(), Some("hello"));
    kv.set("greeting", "ünïcode ♫", None).await.unwrap();
    assert_eq!(
        kv.get("greeting").await.unwrap().as_deref(),
        Some("ünïcode ♫")
    );
    kv.set("empty", "", None).await.unwrap();
    assert_eq!(
        kv.get("empty").await.unwrap().as_deref(),
        Some(""),
        "an empty value is a value"
    );
    assert!(kv.delete("greeting").await.unwrap());
    assert!(
        !kv.delete("greeting").await.unwrap(),
        "deleting twice finds nothing"
    );
    assert_eq!(kv.get("greeting").await.unwrap(), None);
}

pub async fn ttl_expiry(kv: Arc<dyn KeyValue>) {
    kv.set("fresh", "yes", Some(TTL)).await.unwrap();
    let ttl = kv
        .ttl("fresh")
        .await
        .unwrap()
        .expect("a key set with a TTL reports one");
    assert!(ttl > Duration::ZERO && ttl <= TTL, "{ttl:?}");
    sleep(Duration::from_millis(100)).await;
    let ttl = kv.ttl("fresh").await.unwrap().expect("still alive");
    assert!(
        ttl <= TTL - Duration::from_millis(100) + CLOCK_SLACK,
        "the TTL counts down: {ttl:?}"
    );
    assert_eq!(kv.get("fresh").await.unwrap().as_deref(), Some("yes"));

    sleep(TTL - Duration::from_millis(100) + PAST_DEADLINE).await;
    assert_eq!(
        kv.get("fresh").await.unwrap(),
        None,
        "an expired key is never read"
    );
    assert_eq!(kv.ttl("fresh").await.unwrap(), None);
    assert!(!kv.delete("fresh").await.unwrap());
    assert!(
        kv.set_if_absent("fresh", "again", None).await.unwrap(),
        "an expired key is free"
    );

    kv.set("kept", "v", Some(TTL)).await.unwrap();
    kv.set("kept", "v", None).await.unwrap();
    assert_eq!(
        kv.ttl("kept").await.unwrap(),
        None,
        "a plain set clears the TTL"
    );
    sleep(TTL + PAST_DEADLINE).await;
    assert_eq!(kv.get("kept").await.unwrap().as_deref(), Some("v"));
}

pub async fn expire_and_ttl_on_every_type(kv: Arc<dyn KeyValue>) {
    assert!(!kv.expire("missing", TTL).await.unwrap(), "no key, no TTL");
    assert_eq!(kv.ttl("missing").await.unwrap(), None);
    kv.set("text", "v", None).await.unwrap();
    kv.set_add("members", "a").await.unwrap();
    kv.hash_set("fields", &[("state", "running")])
        .await
        .unwrap();
    for key in ["text", "members", "fields"] {
        assert_eq!(kv.ttl(key).await.unwrap(), None, "{key} has no TTL yet");
        assert!(kv.expire(key, TTL).await.unwrap(), "{key} exists");
        assert!(
            kv.ttl(key).await.unwrap().is_some_and(|ttl| ttl <= TTL),
            "{key}"
        );
    }
    // Writing into a set or hash keeps its TTL, as Redis does.
    kv.set_add("members", "b").await.unwrap();
    kv.hash_set("fields", &[("stage", "profile")])
        .await
        .unwrap();
    kv.hash_set_max("fields", "percent", 10).await.unwrap();
    assert!(kv.ttl("members").await.unwrap().is_some());
    assert!(kv.ttl("fields").await.unwrap().is_some());

    sleep(TTL + PAST_DEADLINE).await;
    assert_eq!(kv.get("text").await.unwrap(), None);
    assert_eq!(kv.set_len("members").await.unwrap(), 0);
    assert!(kv.set_members("members").await.unwrap().is_empty());
    assert!(kv.hash_get_all("fields").await.unwrap().is_empty());
    for key in ["text", "members", "fields"] {
        assert!(!kv.expire(key, TTL).await.unwrap(), "{key} expired");
    }
    assert!(
        kv.set_add("members", "c").await.unwrap(),
        "an expired set starts empty"
    );
    assert_eq!(kv.set_len("members").await.unwrap(), 1);
    assert_eq!(
        kv.hash_set_max("fields", "percent", 5).await.unwrap(),
        5,
        "an expired hash starts empty"
    );
}

pub async fn set_if_absent(kv: Arc<dyn KeyValue>) {
    assert!(kv.set_if_absent("job", "first", Some(LONG)).await.unwrap());
    assert!(!kv.set_if_absent("job", "second", None).await.unwrap());
    assert_eq!(
        kv.get("job").await.unwrap().as_deref(),
        Some("first"),
        "the loser changes nothing"
    );
    assert!(
        kv.ttl("job").await.unwrap().is_some(),
        "the loser keeps the winner's TTL"
    );
    kv.set_add("members", "a").await.unwrap();
    assert!(
        !kv.set_if_absent("members", "v", None).await.unwrap(),
        "a key of any type is present"
    );
    assert!(kv.delete("job").await.unwrap());
    assert!(kv.set_if_absent("job", "third", None).await.unwrap());
}

pub async fn sets(kv: Arc<dyn KeyValue>) {
    assert_eq!(kv.set_len("chunks").await.unwrap(), 0);
    assert!(kv.set_members("chunks").await.unwrap().is_empty());
    assert!(kv.set_add("chunks", "0").await.unwrap());
    assert!(kv.set_add("chunks", "1").await.unwrap());
    assert!(
        !kv.set_add("chunks", "0").await.unwrap(),
        "a redelivered member counts once"
    );
    assert!(
        kv.set_add("chunks", "").await.unwrap(),
        "an empty member is a member"
    );
    assert_eq!(kv.set_len("chunks").await.unwrap(), 3);
    let members: BTreeSet<String> = kv
        .set_members("chunks")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        members,
        BTreeSet::from(["".to_owned(), "0".to_owned(), "1".to_owned()])
    );
    assert!(kv.set_remove("chunks", "1").await.unwrap());
    assert!(
        !kv.set_remove("chunks", "1").await.unwrap(),
        "removing twice finds nothing"
    );
    assert!(!kv.set_remove("no-such-set", "1").await.unwrap());
    assert_eq!(kv.set_len("chunks").await.unwrap(), 2);
    assert!(kv.delete("chunks").await.unwrap());
    assert_eq!(kv.set_len("chunks").await.unwrap(), 0);
    kv.set_add("one", "x").await.unwrap();
    assert!(kv.set_remove("one", "x").await.unwrap());
    assert!(
        !kv.delete("one").await.unwrap(),
        "a set left empty is gone, as in Redis"
    );
}

pub async fn hashes(kv: Arc<dyn KeyValue>) {
    assert!(kv.hash_get_all("status").await.unwrap().is_empty());
    kv.hash_set("status", &[("state", "queued"), ("stage", "profile")])
        .await
        .unwrap();
    kv.hash_set("status", &[("state", "running"), ("message", "scraping ♫")])
        .await
        .unwrap();
    kv.hash_set("status", &[]).await.unwrap();
    let expected: HashMap<String, String> = [
        ("state", "running"),
        ("stage", "profile"),
        ("message", "scraping ♫"),
    ]
    .into_iter()
    .map(|(field, value)| (field.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(kv.hash_get_all("status").await.unwrap(), expected);
    kv.hash_set("nothing", &[]).await.unwrap();
    assert_eq!(kv.ttl("nothing").await.unwrap(), None);
    assert!(
        !kv.delete("nothing").await.unwrap(),
        "setting no fields creates no hash"
    );
}

pub async fn hash_set_max(kv: Arc<dyn KeyValue>) {
    assert_eq!(
        kv.hash_set_max("status", "percent", 10).await.unwrap(),
        10,
        "absent: set"
    );
    assert_eq!(
        kv.hash_set_max("status", "percent", 5).await.unwrap(),
        10,
        "lower: kept"
    );
    assert_eq!(kv.hash_set_max("status", "percent", 10).await.unwrap(), 10);
    assert_eq!(
        kv.hash_set_max("status", "percent", 40).await.unwrap(),
        40,
        "higher: raised"
    );
    assert_eq!(
        kv.hash_get_all("status")
            .await
            .unwrap()
            .get("percent")
            .map(String::as_str),
        Some("40")
    );
    assert_eq!(kv.hash_set_max("status", "low", -7).await.unwrap(), -7);
    assert_eq!(kv.hash_set_max("status", "low", -9).await.unwrap(), -7);
    assert_eq!(
        kv.hash_set_max("status", "big", i64::MAX - 1)
            .await
            .unwrap(),
        i64::MAX - 1
    );
    assert_eq!(
        kv.hash_set_max("status", "big", i64::MAX).await.unwrap(),
        i64::MAX,
        "no rounding at the top"
    );
    assert_eq!(
        kv.hash_set_max("status", "small", i64::MIN).await.unwrap(),
        i64::MIN
    );
    kv.hash_set("status", &[("state", "running")])
        .await
        .unwrap();
    let fields = kv.hash_get_all("status").await.unwrap();
    assert_eq!(
        fields.get("state").map(String::as_str),
        Some("running"),
        "other fields untouched"
    );
    assert_eq!(fields.len(), 5);

    kv.hash_set("status", &[("message", "not a number"), ("padded", "007")])
        .await
        .unwrap();
    for field in ["message", "padded"] {
        match kv.hash_set_max("status", field, 1).await {
            Err(KvError::NotAnInteger { key, field: named }) => {
                assert_eq!((key.as_str(), named.as_str()), ("status", field))
            }
            other => panic!("{field}: expected NotAnInteger, got {other:?}"),
        }
    }
    assert_eq!(
        kv.hash_get_all("status")
            .await
            .unwrap()
            .get("padded")
            .map(String::as_str),
        Some("007")
    );
}

fn assert_wrong_type<T: std::fmt::Debug>(
    result: Result<T, KvError>,
    key: &str,
    expected: &str,
    actual: &str,
) {
    match result {
        Err(KvError::WrongType {
            key: named,
            expected: wanted,
            actual: found,
        }) => {
            assert_eq!((named.as_str(), wanted, found), (key, expected, actual));
        }
        other => {
            panic!("{key}: expected WRONGTYPE ({expected} wanted, {actual} held), got {other:?}")
        }
    }
}

/// Typed operations on a key of another type fail like Redis' WRONGTYPE and change
/// nothing; untyped ones (set, delete, expire, ttl) work on any key.
pub async fn wrong_type(kv: Arc<dyn KeyValue>) {
    kv.set("text", "v", None).await.unwrap();
    kv.set_add("members", "a").await.unwrap();
    kv.hash_set("fields", &[("f", "1")]).await.unwrap();

    assert_wrong_type(kv.get("members").await, "members", "string", "set");
    assert_wrong_type(kv.get("fields").await, "fields", "string", "hash");
    assert_wrong_type(kv.set_add("text", "b").await, "text", "set", "string");
    assert_wrong_type(kv.set_len("fields").await, "fields", "set", "hash");
    assert_wrong_type(kv.set_members("text").await, "text", "set", "string");
    assert_wrong_type(
        kv.hash_set("members", &[("f", "v")]).await,
        "members",
        "hash",
        "set",
    );
    assert_wrong_type(kv.hash_get_all("text").await, "text", "hash", "string");
    assert_wrong_type(
        kv.hash_set_max("members", "f", 1).await,
        "members",
        "hash",
        "set",
    );

    assert_eq!(
        kv.get("text").await.unwrap().as_deref(),
        Some("v"),
        "a failed write changes nothing"
    );
    assert_eq!(
        kv.set_members("members").await.unwrap(),
        vec!["a".to_owned()]
    );

    assert!(kv.expire("members", LONG).await.unwrap());
    assert!(kv.ttl("fields").await.unwrap().is_none());
    kv.set("members", "now a string", None).await.unwrap();
    assert_eq!(
        kv.get("members").await.unwrap().as_deref(),
        Some("now a string"),
        "set replaces any type"
    );
    assert_eq!(kv.ttl("members").await.unwrap(), None);
    assert!(kv.delete("fields").await.unwrap());
    assert!(
        kv.set_add("fields", "x").await.unwrap(),
        "a deleted key can change type"
    );
}

/// Two handles with different prefixes on one backend never see each other's keys.
pub async fn prefix_isolation(a: Arc<dyn KeyValue>, b: Arc<dyn KeyValue>) {
    a.set("shared-name", "from a", None).await.unwrap();
    assert_eq!(b.get("shared-name").await.unwrap(), None);
    assert!(
        b.set_if_absent("shared-name", "from b", None)
            .await
            .unwrap()
    );
    assert_eq!(
        a.get("shared-name").await.unwrap().as_deref(),
        Some("from a")
    );
    a.set_add("set", "x").await.unwrap();
    b.hash_set("set", &[("f", "v")]).await.unwrap();
    assert_eq!(
        a.set_len("set").await.unwrap(),
        1,
        "no type clash across prefixes"
    );
    assert!(a.delete("shared-name").await.unwrap());
    assert_eq!(
        b.get("shared-name").await.unwrap().as_deref(),
        Some("from b")
    );
    assert!(!a.expire("shared-name", TTL).await.unwrap());
}
