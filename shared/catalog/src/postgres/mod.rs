//! [`PostgresCatalog`]: the catalog in PostgreSQL, for the deployed mesh.
//!
//! One database can hold several catalogs, each in its own schema: every connection's
//! `search_path` names the catalog's schema, and the migrations use unqualified names.
//! Tests use that for isolation (a fresh schema each) on one shared server.

mod catalog;
mod listings;
mod upserts;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::CatalogError;
use crate::sql::errors::classify;
use crate::sql::rows::to_i64;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Where and how to reach the catalog.
#[derive(Clone, Debug)]
pub struct PostgresCatalogSettings {
    /// `postgres://user@host:5432/database`.
    pub url: String,
    /// The schema holding the tables, created if missing; None uses the server's
    /// `search_path` (normally `public`). Lowercase letters, digits and `_` only.
    pub schema: Option<String>,
    pub max_connections: u32,
    /// How long a call waits for a free connection before failing as `Unavailable`.
    pub acquire_timeout: Duration,
}

impl PostgresCatalogSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

pub struct PostgresCatalog {
    pool: PgPool,
    schema: Option<String>,
}

impl PostgresCatalog {
    /// Connects (failing fast when the server cannot be reached) and creates the schema if
    /// needed. Call [`Catalog::migrate`] before first use.
    pub async fn connect(settings: PostgresCatalogSettings) -> Result<Self, CatalogError> {
        let mut options: PgConnectOptions = settings
            .url
            .parse()
            .map_err(|e| classify("reading the postgres url", e))?;
        if let Some(schema) = &settings.schema {
            check_schema_name(schema)?;
            // A startup parameter, so it holds on every connection the pool ever opens.
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| classify("connecting to postgres", e))?;
        if let Some(schema) = &settings.schema {
            create_schema(&pool, schema).await?;
        }
        Ok(Self {
            pool,
            schema: settings.schema,
        })
    }

    /// The schema this catalog lives in, when one was named.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

/// The name is spliced into SQL (identifiers cannot be bound), so only plain names pass.
fn check_schema_name(schema: &str) -> Result<(), CatalogError> {
    let plain = schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_well = schema
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    if plain && starts_well && schema.len() <= 63 {
        Ok(())
    } else {
        Err(CatalogError::Rejected(format!(
            "schema name {schema:?} must be at most 63 lowercase letters, digits or '_', not starting with a digit"
        )))
    }
}

async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), CatalogError> {
    let statement = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(pool)
        .await
    {
        Ok(_) => Ok(()),
        // Two processes creating the same schema at once: IF NOT EXISTS does not cover
        // the race, and the loser sees a duplicate. Either way the schema exists.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("23505" | "42P06")) => {
            Ok(())
        }
        Err(e) => Err(classify("creating the catalog schema", e)),
    }
}

fn ids(ids: impl IntoIterator<Item = u64>, what: &str) -> Result<Vec<i64>, CatalogError> {
    ids.into_iter().map(|id| to_i64(id, what)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_schema_names_are_spliced_into_sql() {
        assert!(check_schema_name("catalog_test_1").is_ok());
        assert!(check_schema_name("_x").is_ok());
        for bad in [
            "",
            "1abc",
            "Upper",
            "a-b",
            "a\"; DROP TABLE users; --",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(check_schema_name(bad), Err(CatalogError::Rejected(_))),
                "{bad}"
            );
        }
    }
}
