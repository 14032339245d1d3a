//! [`RedisKeyValue`]: the KeyValue port on Redis, through one multiplexed
//! `ConnectionManager` that reconnects by itself.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, Script, cmd};

use crate::{KeyValue, KvError};

const HASH_SET_MAX: &str = include_str!("hash_set_max.lua");
/// Longest TTL sent: Redis rejects deadlines that overflow its clock (100 years).
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;
/// Reconnection attempts per failed command before it reports `Unavailable`.
const RECONNECT_ATTEMPTS: usize = 2;

/// Strings, sets and hashes in Redis, every key under this handle's prefix.
#[derive(Clone)]
pub struct RedisKeyValue {
    connection: ConnectionManager,
    prefix: String,
    /// `hash_set_max` reads and writes in one script so concurrent writers cannot
    /// interleave between the read and the write.
    hash_set_max: Script,
}

impl std::fmt::Debug for RedisKeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyValue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisKeyValue {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS). `timeout` bounds
    /// each connection attempt and each command's reply; `key_prefix` is prepended as is
    /// to every key (end it with a separator: `cratedigger:`).
    pub async fn connect(
        url: &str,
        key_prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, KvError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(RECONNECT_ATTEMPTS);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(Self::with_connection(connection, key_prefix))
    }

    /// Uses an existing connection (a service shares one manager per Redis).
    pub fn with_connection(connection: ConnectionManager, key_prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: key_prefix.into(),
            hash_set_max: Script::new(HASH_SET_MAX),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs a command on `key`, which must hold `expected` (or nothing) for the command.
    async fn run<T: FromRedisValue>(
        &self,
        command: &Cmd,
        key: &str,
        expected: &'static str,
    ) -> Result<T, KvError> {
        let mut connection = self.connection.clone();
        match command.query_async(&mut connection).await {
            Ok(reply) => Ok(reply),
            Err(error) => Err(self.failure(error, key, expected).await),
        }
    }

    async fn failure(&self, error: RedisError, key: &str, expected: &'static str) -> KvError {
        if error.code() != Some("WRONGTYPE") {
            return unavailable(error);
        }
        // Redis does not say what the key holds; ask, for a readable error.
        let mut connection = self.connection.clone();
        let actual: Result<String, RedisError> = cmd("TYPE")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await;
        let actual = match actual.as_deref() {
            Ok("string") => "string",
            Ok("set") => "set",
            Ok("hash") => "hash",
            Ok("list") => "list",
            Ok("zset") => "zset",
            Ok("stream") => "stream",
            _ => "value of another type",
        };
        KvError::WrongType {
            key: key.to_owned(),
            expected,
            actual,
        }
    }
}

/// Anything but a type error means the store did not do the work: worth a retry.
fn unavailable(error: RedisError) -> KvError {
    KvError::Unavailable(error.to_string())
}

/// Whole milliseconds rounded up, so a short TTL never becomes 0 (an error in `SET`).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_nanos().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TTL_MS)
}

fn set_command(key: String, value: &str, ttl: Option<Duration>, only_if_absent: bool) -> Cmd {
    let mut command = cmd("SET");
    command.arg(key).arg(value);
    if let Some(ttl) = ttl {
        command.arg("PX").arg(millis(ttl));
    }
    if only_if_absent {
        command.arg("NX");
    }
    command
}

#[async_trait]
impl KeyValue for RedisKeyValue {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.run(cmd("GET").arg(self.key(key)), key, "string").await
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        self.run(&set_command(self.key(key), value, ttl, false), key, "any")
            .await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        let reply: Option<String> = self
            .run(&set_command(self.key(key), value, ttl, true), key, "any")
            .await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let removed: u64 = self.run(cmd("DEL").arg(self.key(key)), key, "any").await?;
        Ok(removed > 0)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, KvError> {
        let applied: u64 = self
            .run(
                cmd("PEXPIRE").arg(self.key(key)).arg(millis(ttl)),
                key,
                "any",
            )
            .await?;
        Ok(applied == 1)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        // -2: no such key, -1: no TTL.
        let remaining: i64 = self.run(cmd("PTTL").arg(self.key(key)), key, "any").await?;
        Ok(u64::try_from(remaining).ok().map(Duration::from_millis))
    }

    async fn set_add(&self, key: &str, member: &str) -> Result<bool, KvError> {
        let added: u64 = self
            .run(cmd("SADD").arg(self.key(key)).arg(member), key, "set")
            .await?;
        Ok(added == 1)
    }

    async fn set_len(&self, key: &str) -> Result<u64, KvError> {
        self.run(cmd("SCARD").arg(self.key(key)), key, "set").await
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>, KvError> {
        self.run(cmd("SMEMBERS").arg(self.key(key)), key, "set")
            .await
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<bool, KvError> {
        let removed: u64 = self
            .run(cmd("SREM").arg(self.key(key)).arg(member), key, "set")
            .await?;
        Ok(removed == 1)
    }

    /// With no fields, does nothing (`HSET` needs at least one).
    async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> Result<(), KvError> {
        if fields.is_empty() {
            return Ok(());
        }
        let mut command = cmd("HSET");
        command.arg(self.key(key));
        for (field, value) in fields {
            command.arg(*field).arg(*value);
        }
        let _added: u64 = self.run(&command, key, "hash").await?;
        Ok(())
    }

    async fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>, KvError> {
        self.run(cmd("HGETALL").arg(self.key(key)), key, "hash")
            .await
    }

    async fn hash_set_if_absent(
        &self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, KvError> {
        let set: u64 = self
            .run(
                cmd("HSETNX").arg(self.key(key)).arg(field).arg(value),
                key,
                "hash",
            )
            .await?;
        Ok(set == 1)
    }

    async fn hash_set_max(&self, key: &str, field: &str, value: i64) -> Result<i64, KvError> {
        let not_an_integer = || KvError::NotAnInteger {
            key: key.to_owned(),
            field: field.to_owned(),
        };
        let mut connection = self.connection.clone();
        let reply: Result<String, RedisError> = self
            .hash_set_max
            .key(self.key(key))
            .arg(field)
            .arg(value)
            .invoke_async(&mut connection)
            .await;
        match reply {
            Ok(text) => text.parse().map_err(|_| not_an_integer()),
            Err(error) if error.code() == Some("NOTINTEGER") => Err(not_an_integer()),
            Err(error) => Err(self.failure(error, key, "hash").await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_become_whole_milliseconds_never_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_micros(1_001)), 2);
        assert_eq!(millis(Duration::from_secs(2)), 2_000);
        assert_eq!(millis(Duration::MAX), MAX_TTL_MS);
    }

    #[test]
    fn the_set_command_carries_ttl_and_nx() {
        let command = set_command("p:k".into(), "v", Some(Duration::from_millis(250)), true);
        let args: Vec<String> = command
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<not a plain argument>".to_owned(),
            })
            .collect();
        assert_eq!(args, ["SET", "p:k", "v", "PX", "250", "NX"]);
    }
}
