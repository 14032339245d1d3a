//! [`MemoryKeyValue`]: the KeyValue port in process memory, for the one-process mode and
//! tests. Behaves like the Redis adapter, WRONGTYPE errors included, and follows Tokio's
//! clock, so tests under `tokio::time::pause()` control its TTLs.

mod store;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use self::store::{Entry, Shared, Value};
use crate::{KeyValue, KvError};

/// Strings, sets and hashes with TTL in memory. Clones and [`Self::with_prefix`] handles
/// share one store; its purge task stops when the last handle is dropped.
#[derive(Clone)]
pub struct MemoryKeyValue {
    shared: Arc<Shared>,
    /// Held by every handle; its drop (with the last handle) ends the purge task.
    _purge_guard: Arc<PurgeGuard>,
    prefix: String,
}

struct PurgeGuard(Arc<Shared>);

impl Drop for PurgeGuard {
    fn drop(&mut self) {
        self.0.shut_down();
    }
}

impl std::fmt::Debug for MemoryKeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeyValue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryKeyValue {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryKeyValue {
    /// An empty store with no key prefix. Spawns the purge task, so it must be called
    /// within a Tokio runtime.
    pub fn new() -> Self {
        let shared = Shared::start();
        let guard = Arc::new(PurgeGuard(Arc::clone(&shared)));
        Self {
            shared,
            _purge_guard: guard,
            prefix: String::new(),
        }
    }

    /// A handle on the same store whose keys live under `prefix` instead of this
    /// handle's prefix: services sharing one store in the one-process mode each get one.
    pub fn with_prefix(&self, prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..self.clone()
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Stores a string and wakes the purge task if its deadline is the new earliest.
    fn store_text(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
        only_if_absent: bool,
    ) -> bool {
        let key = self.key(key);
        let now = Instant::now();
        let mut state = self.shared.lock();
        if only_if_absent && state.live(&key, now).is_some() {
            return false;
        }
        let wake = state.insert(&key, Value::Text(value.to_owned()), ttl, now);
        drop(state);
        if wake {
            self.shared.deadline_changed();
        }
        true
    }
}

fn wrong_type(key: &str, expected: &'static str, found: &Value) -> KvError {
    KvError::WrongType {
        key: key.to_owned(),
        expected,
        actual: found.type_name(),
    }
}

/// Redis' notion of an integer field: an i64 written without sign or leading zeros
/// beyond what `i64::to_string` writes.
fn parse_integer(text: &str) -> Option<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|number| number.to_string() == text)
}

#[async_trait]
impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut state = self.shared.lock();
        match state.live(&self.key(key), Instant::now()) {
            None => Ok(None),
            Some(Entry {
                value: Value::Text(text),
                ..
            }) => Ok(Some(text.clone())),
            Some(entry) => Err(wrong_type(key, "string", &entry.value)),
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        self.store_text(key, value, ttl, false);
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        Ok(self.store_text(key, value, ttl, true))
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let key = self.key(key);
        let mut state = self.shared.lock();
        let existed = state.live(&key, Instant::now()).is_some();
        state.remove(&key);
        Ok(existed)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        let (existed, wake) = self
            .shared
            .lock()
            .expire(&self.key(key), ttl, Instant::now());
        if wake {
            self.shared.deadline_changed();
        }
        Ok(existed)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        Ok(self.shared.lock().ttl(&self.key(key), Instant::now()))
    }

    async fn set_add(&self, key: &str, member: &str) -> Result<bool, KvError> {
        let mut state = self.shared.lock();
        let entry =
            state.live_or_insert(
                &self.key(key),
                Instant::now(),
                || Value::Set(HashSet::new()),
            );
        match &mut entry.value {
            Value::Set(members) => Ok(members.insert(member.to_owned())),
            other => Err(wrong_type(key, "set", other)),
        }
    }

    async fn set_len(&self, key: &str) -> Result<u64, KvError> {
        let mut state = self.shared.lock();
        match state.live(&self.key(key), Instant::now()) {
            None => Ok(0),
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => Ok(members.len() as u64),
            Some(entry) => Err(wrong_type(key, "set", &entry.value)),
        }
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, KvError> {
        let mut state = self.shared.lock();
        match state.live(&self.key(key), Instant::now()) {
            None => Ok(Vec::new()),
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => Ok(members.iter().cloned().collect()),
            Some(entry) => Err(wrong_type(key, "set", &entry.value)),
        }
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, KvError> {
        let key = self.key(key);
        let mut state = self.shared.lock();
        let (removed, emptied) = match state.live(&key, Instant::now()) {
            None => return Ok(false),
            Some(Entry {
                value: Value::Set(members),
                ..
            }) => (members.remove(member), members.is_empty()),
            Some(entry) => return Err(wrong_type(&key, "set", &entry.value)),
        };
        if emptied {
            state.remove(&key);
        }
        Ok(removed)
    }

    /// With no fields, does nothing (Redis has no empty hashes).
    async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> Result<(), KvError> {
        if fields.is_empty() {
            return Ok(());
        }
        let mut state = self.shared.lock();
        let entry = state.live_or_insert(&self.key(key), Instant::now(), || {
            Value::Hash(HashMap::new())
        });
        match &mut entry.value {
            Value::Hash(stored) => {
                for (field, value) in fields {
                    stored.insert((*field).to_owned(), (*value).to_owned());
                }
                Ok(())
            }
            other => Err(wrong_type(key, "hash", other)),
        }
    }

    async fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>, KvError> {
        let mut state = self.shared.lock();
        match state.live(&self.key(key), Instant::now()) {
            None => Ok(HashMap::new()),
            Some(Entry {
                value: Value::Hash(fields),
                ..
            }) => Ok(fields.clone()),
            Some(entry) => Err(wrong_type(key, "hash", &entry.value)),
        }
    }

    async fn hash_set_if_absent(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, KvError> {
        let mut state = self.shared.lock();
        let entry = state.live_or_insert(&self.key(key), Instant::now(), || {
            Value::Hash(HashMap::new())
        });
        let Value::Hash(fields) = &mut entry.value else {
            return Err(wrong_type(key, "hash", &entry.value));
        };
        if fields.contains_key(field) {
            return Ok(false);
        }
        fields.insert(field.to_owned(), value.to_owned());
        Ok(true)
    }

    async fn hash_set_max(&self, key: &str, field: &str, value: i64) -> Result<i64, KvError> {
        let mut state = self.shared.lock();
        let entry = state.live_or_insert(&self.key(key), Instant::now(), || {
            Value::Hash(HashMap::new())
        });
        let Value::Hash(fields) = &mut entry.value else {
            return Err(wrong_type(key, "hash", &entry.value));
        };
        let current = match fields.get(field) {
            None => None,
            Some(text) => Some(parse_integer(text).ok_or_else(|| KvError::NotAnInteger {
                key: key.to_owned(),
                field: field.to_owned(),
            })?),
        };
        match current {
            Some(current) if current >= value => Ok(current),
            _ => {
                fields.insert(field.to_owned(), value.to_string());
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_keys(kv: &MemoryKeyValue) -> usize {
        kv.shared.lock().stored_keys()
    }

    #[tokio::test(start_paused = true)]
    async fn the_purge_task_removes_keys_nobody_reads() -> Result<(), KvError> {
        let kv = MemoryKeyValue::new();
        kv.set("short", "v", Some(Duration::from_secs(1))).await?;
        kv.set_add("members", "m").await?;
        kv.expire("members", Duration::from_secs(2)).await?;
        kv.set("kept", "v", None).await?;
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(stored_keys(&kv), 1);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_wakes_the_purge_task() -> Result<(), KvError> {
        let kv = MemoryKeyValue::new();
        kv.set("late", "v", Some(Duration::from_secs(3600))).await?;
        tokio::task::yield_now().await;
        kv.set("early", "v", Some(Duration::from_secs(1))).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(stored_keys(&kv), 1);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn the_purge_task_ends_with_the_last_handle() {
        let kv = MemoryKeyValue::new();
        let other = kv.with_prefix("other:");
        let shared = Arc::downgrade(&kv.shared);
        drop(kv);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(shared.upgrade().is_some(), "a handle is still alive");
        drop(other);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            shared.upgrade().is_none(),
            "the purge task still holds the store"
        );
    }

    #[test]
    fn integers_are_read_as_redis_reads_them() {
        assert_eq!(parse_integer("-42"), Some(-42));
        assert_eq!(parse_integer(&i64::MAX.to_string()), Some(i64::MAX));
        for text in ["", "+1", "007", "1.5", "9223372036854775808", " 1"] {
            assert_eq!(parse_integer(text), None, "{text:?}");
        }
    }
}
