//! The catalog conformance suite against every adapter: SQLite in memory, SQLite on a
//! temporary file, and Postgres (`TEST_DATABASE_URL`) in a fresh schema per test, dropped
//! afterwards. Each behaviour is one test per adapter, so they run in parallel.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use cratedigger_catalog::conformance::{self, Subject};
use cratedigger_catalog::{PostgresCatalog, PostgresCatalogSettings, SqliteCatalog};
use futures::FutureExt;

#[derive(Clone, Copy)]
enum Backend {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

/// A fresh, migrated catalog and what must be cleaned up after it.
struct Fixture {
    catalog: Subject,
    _dir: Option<tempfile::TempDir>,
    postgres_schema: Option<(String, String)>,
}

impl Fixture {
    /// None when the backend's server is not configured (the test is skipped).
    async fn new(backend: Backend) -> Option<Self> {
        let fixture = match backend {
            Backend::SqliteMemory => Self {
                catalog: Arc::new(SqliteCatalog::in_memory().await.unwrap()),
                _dir: None,
                postgres_schema: None,
            },
            Backend::SqliteFile => {
                let dir = tempfile::tempdir().unwrap();
                let catalog = SqliteCatalog::open(dir.path().join("catalog.db"))
                    .await
                    .unwrap();
                Self {
                    catalog: Arc::new(catalog),
                    _dir: Some(dir),
                    postgres_schema: None,
                }
            }
            Backend::Postgres => {
                let url = cratedigger_testkit::server_url("TEST_DATABASE_URL")?;
                let schema = cratedigger_testkit::unique_name("catalog_test");
                let settings =
                    PostgresCatalogSettings::new(url.clone()).with_schema(schema.clone());
                let catalog = PostgresCatalog::connect(settings).await.unwrap();
                Self {
                    catalog: Arc::new(catalog),
                    _dir: None,
                    postgres_schema: Some((url, schema)),
                }
            }
        };
        fixture.catalog.migrate().await.unwrap();
        Some(fixture)
    }

    async fn clean_up(self) {
        drop(self.catalog);
        if let Some((url, schema)) = self.postgres_schema {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let statement = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

/// Runs one behaviour on a fresh catalog and cleans up even when it fails.
async fn run<F, Fut>(backend: Backend, behaviour: F)
where
    F: FnOnce(Subject) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(fixture) = Fixture::new(backend).await else {
        return;
    };
    let outcome = AssertUnwindSafe(behaviour(fixture.catalog.clone()))
        .catch_unwind()
        .await;
    fixture.clean_up().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Two fresh catalogs of one backend, for the isolation behaviour.
async fn run_pair(backend: Backend) {
    let (Some(a), Some(b)) = (Fixture::new(backend).await, Fixture::new(backend).await) else {
        return;
    };
    let outcome = AssertUnwindSafe(conformance::catalogs_are_isolated(
        a.catalog.clone(),
        b.catalog.clone(),
    ))
    .catch_unwind()
    .await;
    a.clean_up().await;
    b.clean_up().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! conformance_suite {
    ($($behaviour:ident),* $(,)?) => {
        conformance_suite!(@adapter sqlite_memory, Backend::SqliteMemory, $($behaviour),*);
        conformance_suite!(@adapter sqlite_file, Backend::SqliteFile, $($behaviour),*);
        conformance_suite!(@adapter postgres, Backend::Postgres, $($behaviour),*);
    };
    (@adapter $module:ident, $backend:expr, $($behaviour:ident),*) => {
        mod $module {
            use super::*;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    run($backend, conformance::$behaviour).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn catalogs_are_isolated() {
                run_pair($backend).await;
            }
        }
    };
}

conformance_suite!(
    migrate_is_idempotent,
    users_round_trip_at_microsecond_precision,
    releases_round_trip_and_merge,
    sellers_round_trip_and_merge,
    fx_rates_latest_per_currency,
    model_versions_latest_wins,
    unrepresentable_values_are_rejected,
    interactions_upsert_idempotently,
    prune_removes_what_the_sync_did_not_see,
    all_interactions_streams_grouped_by_username,
    large_batches_are_stored_whole,
    listing_lifecycle_keeps_an_exact_price_history,
    stale_scrapes_change_nothing,
    listings_are_scoped_to_their_release,
    a_read_of_some_sellers_leaves_the_others_alone,
    concurrent_upserts_converge,
    concurrent_scrapes_of_one_release_record_once,
);
