//! The KeyValue port: the primitives the status board, chunk tracking, the 24-hour
//! listing cache and job de-duplication are written on.
//!
//! Keys and values are UTF-8 strings. Every write that takes a TTL makes the key expire
//! after it; a key without TTL lives until deleted. Each adapter takes a key prefix at
//! construction, so tests (and deployments sharing a server) never see each other's keys.
//!
//! Adapters: [`MemoryKeyValue`] (in-process, with TTL expiry; for the one-process mode and
//! tests) and [`RedisKeyValue`] (Redis through a connection manager). Chosen once, from
//! settings, by the service's builder.
//!
//! The cargo feature `conformance` adds [`conformance`], the one test suite every
//! adapter must pass.

#[cfg(feature = "conformance")]
pub mod conformance;
mod memory;
mod redis;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::memory::MemoryKeyValue;
pub use crate::redis::RedisKeyValue;

#[async_trait]
pub trait KeyValue: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;

    /// Sets the value, replacing any; `ttl` None keeps it until deleted.
    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError>;

    /// Sets the value only if the key does not exist (SET NX); true if it was set.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError>;

    /// Removes the key (of any type); true if it existed.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;

    /// Sets a TTL on an existing key of any type; false if the key does not exist.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError>;

    /// The remaining time to live: None if the key does not exist or has no TTL.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError>;

    /// Adds a member to a set (SADD); true if it was not already there.
    async fn set_add(&self, key: &str, member: &str) -> Result<bool, KvError>;

    /// The number of members of a set (0 if the key does not exist).
    async fn set_len(&self, key: &str) -> Result<u64, KvError>;

    async fn set_members(&self, key: &str) -> Result<Vec<String>, KvError>;

    /// Removes a member from a set (SREM); true if it was there. A set left empty is gone.
    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, KvError>;

    /// Sets fields of a hash (HSET), creating it if needed.
    async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> Result<(), KvError>;

    /// Every field of a hash (empty if the key does not exist).
    async fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>, KvError>;

    /// Atomically raises an integer hash field to `value` if it is lower or absent, and
    /// returns the field's value afterwards: a counter that never goes backwards however
    /// writers interleave.
    async fn hash_set_max(&self, key: &str, field: &str, value: i64) -> Result<i64, KvError>;

    /// Sets a hash field only if it is absent (HSETNX); true if it was set. The first
    /// writer wins: "started at", "the job's final state".
    async fn hash_set_if_absent(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, KvError>;
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store could not be reached or timed out: retry later.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The key holds another type than the operation needs (a bug in the caller).
    #[error("key {key} holds a {actual}, not a {expected}")]
    WrongType {
        key: String,
        expected: &'static str,
        actual: &'static str,
    },
    /// A hash field that should hold an integer does not.
    #[error("field {field} of {key} is not an integer")]
    NotAnInteger { key: String, field: String },
}
