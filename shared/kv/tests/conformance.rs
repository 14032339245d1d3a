//! The KeyValue conformance suite against every adapter: the memory store on Tokio's
//! paused clock (and on several threads for the races), and Redis at `TEST_REDIS_URL`,
//! each test under its own key prefix, which it deletes afterwards.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cratedigger_kv::conformance;
use cratedigger_kv::{KeyValue, KvError, MemoryKeyValue, RedisKeyValue};
use cratedigger_testkit::{server_url, unique_name};

/// One `#[tokio::test]` per behaviour, each given a fresh adapter by `$fresh`.
macro_rules! behaviours {
    (#[$runtime:meta] $fresh:ident: $($behaviour:ident),+ $(,)?) => {
        $(
            #[$runtime]
            async fn $behaviour() {
                if let Some(store) = $fresh().await {
                    conformance::$behaviour(store.adapter()).await;
                    store.clean().await;
                }
            }
        )+
    };
}

mod memory {
    use super::*;

    struct Fresh(MemoryKeyValue);

    impl Fresh {
        fn adapter(&self) -> Arc<dyn KeyValue> {
            Arc::new(self.0.clone())
        }
        async fn clean(self) {}
    }

    async fn fresh() -> Option<Fresh> {
        Some(Fresh(MemoryKeyValue::new().with_prefix("test:")))
    }

    behaviours!(#[tokio::test(start_paused = true)] fresh:
        strings, ttl_expiry, expire_and_ttl_on_every_type, set_if_absent, sets, hashes,
        hash_set_max, wrong_type);

    behaviours!(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] fresh:
        set_if_absent_race, concurrent_set_adds_count_exactly, hash_set_max_never_goes_backwards,
        hash_set_if_absent_race);

    #[tokio::test]
    async fn prefix_isolation() {
        let store = MemoryKeyValue::new();
        conformance::prefix_isolation(
            Arc::new(store.with_prefix("a:")),
            Arc::new(store.with_prefix("b:")),
        )
        .await;
    }
}

mod redis {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// An adapter under a fresh prefix, and how to remove what the test left.
    struct Fresh {
        url: String,
        prefix: String,
        adapter: RedisKeyValue,
    }

    impl Fresh {
        fn adapter(&self) -> Arc<dyn KeyValue> {
            Arc::new(self.adapter.clone())
        }

        async fn clean(self) {
            let client = ::redis::Client::open(self.url.as_str()).unwrap();
            let mut connection = client.get_multiplexed_async_connection().await.unwrap();
            let keys: Vec<String> = ::redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query_async(&mut connection)
                .await
                .unwrap();
            if !keys.is_empty() {
                let _: u64 = ::redis::cmd("DEL")
                    .arg(keys)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }

    async fn fresh() -> Option<Fresh> {
        let url = server_url("TEST_REDIS_URL")?;
        let prefix = format!("{}:", unique_name("cratedigger_test_kv"));
        let adapter = RedisKeyValue::connect(&url, prefix.clone(), TIMEOUT)
            .await
            .unwrap();
        Some(Fresh {
            url,
            prefix,
            adapter,
        })
    }

    behaviours!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] fresh:
        strings, ttl_expiry, expire_and_ttl_on_every_type, set_if_absent, sets, hashes,
        hash_set_max, wrong_type, set_if_absent_race, concurrent_set_adds_count_exactly,
        hash_set_max_never_goes_backwards, hash_set_if_absent_race);

    #[tokio::test]
    async fn prefix_isolation() {
        let (Some(a), Some(b)) = (fresh().await, fresh().await) else {
            return;
        };
        conformance::prefix_isolation(a.adapter(), b.adapter()).await;
        a.clean().await;
        b.clean().await;
    }

    /// Nothing listens on the port: the connection fails fast, as retryable.
    #[tokio::test]
    async fn a_closed_port_is_unavailable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let result =
            RedisKeyValue::connect(&format!("redis://127.0.0.1:{port}"), "p:", TIMEOUT).await;
        assert!(matches!(result, Err(KvError::Unavailable(_))), "{result:?}");
    }

    /// A server that accepts and never answers: the timeout turns the wait into
    /// `Unavailable` instead of a hang.
    #[tokio::test]
    async fn a_silent_server_times_out_as_unavailable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let started = tokio::time::Instant::now();
        let url = format!("redis://127.0.0.1:{port}");
        let result = RedisKeyValue::connect(&url, "p:", Duration::from_millis(200)).await;
        assert!(matches!(result, Err(KvError::Unavailable(_))), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        silent.abort();
    }
}
