//! [`EmbeddedResultsStore`]: the ResultsStore port in one SQLite file, for the
//! one-process mode: a table of JSON texts keyed by (collection, id).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{Collection, ResultsError, ResultsStore, accepted_document};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection, id)
)";
const UPSERT: &str = "INSERT INTO documents (collection, id, body, updated_at)
    VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at";
const SELECT: &str = "SELECT body FROM documents WHERE collection = ?1 AND id = ?2";
const DELETE: &str = "DELETE FROM documents WHERE collection = ?1 AND id = ?2";

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers run beside the one writer SQLite allows at a time (WAL mode).
const FILE_CONNECTIONS: u32 = 4;

/// JSON documents in a SQLite file (or in memory, for tests).
#[derive(Clone, Debug)]
pub struct EmbeddedResultsStore {
    pool: SqlitePool,
}

impl EmbeddedResultsStore {
    /// Opens the file at `path`, creating it and its table if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, ResultsError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Self::with_table(pool).await
    }

    /// A store that lives as long as this value: one connection that is never closed,
    /// because an in-memory SQLite database is private to its connection.
    pub async fn in_memory() -> Result<Self, ResultsError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(unavailable)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Self::with_table(pool).await
    }

    async fn with_table(pool: SqlitePool) -> Result<Self, ResultsError> {
        sqlx::query(CREATE_TABLE)
            .execute(&pool)
            .await
            .map_err(unavailable)?;
        Ok(Self { pool })
    }
}

/// Failures here are the file being unreachable, locked or full: worth a retry.
fn unavailable(error: sqlx::Error) -> ResultsError {
    ResultsError::Unavailable(error.to_string())
}

#[async_trait]
impl ResultsStore for EmbeddedResultsStore {
    async fn put(
        &self,
        collection: Collection,
        id: &str,
        document: &Value,
    ) -> Result<(), ResultsError> {
        let (_, body) = accepted_document(collection, id, document)?;
        sqlx::query(UPSERT)
            .bind(collection.name())
            .bind(id.to_owned())
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Value>, ResultsError> {
        let body: Option<String> = sqlx::query_scalar(SELECT)
            .bind(collection.name())
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        let Some(body) = body else { return Ok(None) };
        let corrupt = |reason: String| ResultsError::Corrupt {
            collection: collection.name(),
            id: id.to_owned(),
            reason,
        };
        match serde_json::from_str(&body) {
            Ok(document @ Value::Object(_)) => Ok(Some(document)),
            Ok(_) => Err(corrupt("the stored body is not a JSON object".to_owned())),
            Err(error) => Err(corrupt(error.to_string())),
        }
    }

    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, ResultsError> {
        let outcome = sqlx::query(DELETE)
            .bind(collection.name())
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(outcome.rows_affected() > 0)
    }
}
