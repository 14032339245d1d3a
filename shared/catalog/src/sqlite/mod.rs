//! [`SqliteCatalog`]: the catalog in one SQLite file, for the one-process mode.
//!
//! WAL journal (readers never wait for the writer), foreign keys on, a small pool.
//! Every multi-statement write runs in a `BEGIN IMMEDIATE` transaction: it takes the
//! write lock up front, so two writers queue on the busy timeout instead of failing when
//! a read lock cannot be upgraded.

mod catalog;
mod listings;
mod upserts;

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;

use crate::CatalogError;
use crate::sql::errors::classify;
use crate::sql::rows::to_i64;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Connections of a file catalog: WAL lets readers run beside the one writer.
const FILE_CONNECTIONS: u32 = 4;
/// How long a writer waits for another writer's transaction before giving up (then the
/// caller sees `Unavailable` and retries).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// Opens (creating it if missing) the catalog file at `path`. Call
    /// [`Catalog::migrate`] before first use.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| classify("opening the sqlite catalog", e))?;
        Ok(Self { pool })
    }

    /// A private catalog in memory, gone when dropped (tests, demos). It lives on a single
    /// connection, so a caller consuming [`Catalog::all_interactions`] must not call the
    /// catalog again before the stream ends.
    pub async fn in_memory() -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        // The database dies with its connection: never let the pool retire it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| classify("opening an in-memory sqlite catalog", e))?;
        Ok(Self { pool })
    }
}

/// Ids for an `IN (SELECT value FROM json_each(?))` lookup: one bound parameter however
/// many ids, so lookups never meet SQLite's limit on bound parameters.
fn id_list(ids: impl IntoIterator<Item = u64>, what: &str) -> Result<Json<Vec<i64>>, CatalogError> {
    ids.into_iter()
        .map(|id| to_i64(id, what))
        .collect::<Result<_, _>>()
        .map(Json)
}
