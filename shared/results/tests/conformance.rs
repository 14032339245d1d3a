//! The ResultsStore conformance suite against every adapter: the embedded store in memory
//! and in a file, and MongoDB (SecantusDB in CI) at `MONGODB_URI`, each test in its own
//! database, dropped at the end.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cratedigger_results::conformance;
use cratedigger_results::{
    Collection, EmbeddedResultsStore, MongoResultsStore, MongoSettings, ResultsError, ResultsStore,
};
use cratedigger_testkit::{server_url, unique_name};
use serde_json::json;

/// One test per behaviour, each given a fresh store by `$fresh`.
macro_rules! behaviours {
    ($fresh:ident: $($behaviour:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                if let Some(fresh) = $fresh().await {
                    conformance::$behaviour(fresh.store()).await;
                    fresh.finish().await;
                }
            }
        )+
    };
}

mod embedded {
    use super::*;

    struct Fresh {
        store: EmbeddedResultsStore,
        /// Keeps the file's directory until the test ends.
        _dir: Option<tempfile::TempDir>,
    }

    impl Fresh {
        fn store(&self) -> Arc<dyn ResultsStore> {
            Arc::new(self.store.clone())
        }
        async fn finish(self) {}
    }

    async fn fresh() -> Option<Fresh> {
        Some(Fresh {
            store: EmbeddedResultsStore::in_memory().await.unwrap(),
            _dir: None,
        })
    }

    async fn fresh_file() -> Option<Fresh> {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedResultsStore::open(dir.path().join("results.sqlite"))
            .await
            .unwrap();
        Some(Fresh {
            store,
            _dir: Some(dir),
        })
    }

    behaviours!(fresh:
        put_get_replace_delete, unacceptable_documents_are_rejected, double_put_is_idempotent,
        concurrent_puts_leave_one_document_whole, unicode_and_nesting_round_trip,
        numbers_round_trip_exactly, large_documents, collections_are_isolated);

    /// The file store, where several pooled connections write at once.
    mod file {
        use super::*;

        behaviours!(fresh_file:
            put_get_replace_delete, concurrent_puts_leave_one_document_whole, large_documents);
    }

    #[tokio::test]
    async fn stores_are_isolated() {
        let (a, b) = (fresh_file().await.unwrap(), fresh_file().await.unwrap());
        conformance::stores_are_isolated(a.store(), b.store()).await;
    }

    #[tokio::test]
    async fn a_reopened_file_keeps_its_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.sqlite");
        let document = json!({"username": "dora", "items": [1, 2, 3]});
        {
            let store = EmbeddedResultsStore::open(&path).await.unwrap();
            store
                .put(Collection::Recommendations, "dora", &document)
                .await
                .unwrap();
        }
        assert!(path.is_file(), "open creates the file");
        let store = EmbeddedResultsStore::open(&path).await.unwrap();
        let read = store
            .get(Collection::Recommendations, "dora")
            .await
            .unwrap();
        assert_eq!(read, Some(document));
    }

    #[tokio::test]
    async fn an_unreachable_file_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-directory").join("results.sqlite");
        let outcome = EmbeddedResultsStore::open(&path).await;
        assert!(
            matches!(outcome, Err(ResultsError::Unavailable(_))),
            "{outcome:?}"
        );
    }
}

mod mongo {
    use super::*;

    /// A store on a database of its own, dropped when the test ends.
    struct Fresh {
        store: MongoResultsStore,
    }

    impl Fresh {
        fn store(&self) -> Arc<dyn ResultsStore> {
            Arc::new(self.store.clone())
        }
        async fn finish(self) {
            self.store.drop_database().await.unwrap();
        }
    }

    async fn fresh() -> Option<Fresh> {
        let uri = server_url("MONGODB_URI")?;
        let settings = MongoSettings::new(uri, unique_name("cratedigger_test_results"));
        Some(Fresh {
            store: MongoResultsStore::connect(&settings).await.unwrap(),
        })
    }

    behaviours!(fresh:
        put_get_replace_delete, unacceptable_documents_are_rejected, double_put_is_idempotent,
        concurrent_puts_leave_one_document_whole, unicode_and_nesting_round_trip,
        numbers_round_trip_exactly, large_documents, collections_are_isolated);

    #[tokio::test]
    async fn stores_are_isolated() {
        let (Some(a), Some(b)) = (fresh().await, fresh().await) else {
            return;
        };
        conformance::stores_are_isolated(a.store(), b.store()).await;
        a.finish().await;
        b.finish().await;
    }

    /// Nothing listens on the port: connecting fails within the timeout, as retryable.
    #[tokio::test]
    async fn a_closed_port_is_unavailable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
        let mut settings = MongoSettings::new(uri, "unused");
        settings.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let outcome = MongoResultsStore::connect(&settings).await;
        assert!(
            matches!(outcome, Err(ResultsError::Unavailable(_))),
            "{outcome:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }
}
