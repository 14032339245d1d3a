//! How each adapter classifies failures: a server that cannot be reached is `Unavailable`,
//! rows written behind the catalog's back that the domain refuses are `Corrupt`, a schema
//! that the migrations cannot apply to is `Migration`, a bad setting is `Rejected`.

#![allow(clippy::unwrap_used)]

use cratedigger_catalog::{
    Catalog, CatalogError, PostgresCatalog, PostgresCatalogSettings, SqliteCatalog,
};
use cratedigger_domain::ReleaseId;
use futures::TryStreamExt;

/// Rows the schema accepts but the domain does not: a username with a slash, a currency
/// of four letters, a condition grade nobody uses.
const UNREADABLE_ROWS: [&str; 2] = [
    "INSERT INTO interactions (username, release_id, kind, added_at, weight, sync_id)
     VALUES ('bad/name', 1, 'want', NULL, 1.0, 's')",
    "INSERT INTO listings (listing_id, release_id, seller, price_minor, price_currency, available,
        first_seen, last_seen, media)
     VALUES (1, 5, 'shop', 100, 'EURO', TRUE, {now}, {now}, 'Superb')",
];

async fn assert_unreadable_rows_are_corrupt(catalog: &dyn Catalog) {
    let streamed: Result<Vec<_>, _> = catalog.all_interactions().try_collect().await;
    assert!(
        matches!(streamed, Err(CatalogError::Corrupt(_))),
        "{streamed:?}"
    );
    let listings = catalog.listings(&[ReleaseId(5)], true).await;
    assert!(
        matches!(listings, Err(CatalogError::Corrupt(_))),
        "{listings:?}"
    );
    // Reads that do not touch the bad rows still work.
    assert!(catalog.releases(&[ReleaseId(1)]).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let result = SqliteCatalog::open(dir.path().join("no/such/dir/catalog.db")).await;
    assert!(matches!(result, Err(CatalogError::Unavailable(_))));
}

#[tokio::test]
async fn sqlite_unreadable_rows_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let catalog = SqliteCatalog::open(&path).await.unwrap();
    catalog.migrate().await.unwrap();
    let raw = raw_sqlite(&path).await;
    for statement in UNREADABLE_ROWS {
        let statement = statement.replace("{now}", "0");
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&raw)
            .await
            .unwrap();
    }
    assert_unreadable_rows_are_corrupt(&catalog).await;
}

#[tokio::test]
async fn sqlite_migrating_over_foreign_tables_is_a_migration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let catalog = SqliteCatalog::open(&path).await.unwrap();
    sqlx::query("CREATE TABLE users (something_else TEXT)")
        .execute(&raw_sqlite(&path).await)
        .await
        .unwrap();
    assert!(matches!(
        catalog.migrate().await,
        Err(CatalogError::Migration(_))
    ));
}

async fn raw_sqlite(path: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_that_refuses_connections_is_unavailable() {
    let mut settings = PostgresCatalogSettings::new("postgres://postgres@127.0.0.1:1/postgres");
    settings.acquire_timeout = std::time::Duration::from_secs(2);
    let result = PostgresCatalog::connect(settings).await;
    assert!(
        matches!(result, Err(CatalogError::Unavailable(_))),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn postgres_schema_names_that_are_not_plain_are_rejected() {
    let settings = PostgresCatalogSettings::new("postgres://postgres@127.0.0.1:1/postgres")
        .with_schema("x\"; DROP SCHEMA public; --");
    let result = PostgresCatalog::connect(settings).await;
    assert!(
        matches!(result, Err(CatalogError::Rejected(_))),
        "{:?}",
        result.err()
    );
}

/// A fresh schema on the test server, a raw pool whose connections use it, and a catalog.
async fn postgres_schema() -> Option<(String, sqlx::PgPool, PostgresCatalog)> {
    let url = cratedigger_testkit::server_url("TEST_DATABASE_URL")?;
    let schema = cratedigger_testkit::unique_name("catalog_errors");
    let settings = PostgresCatalogSettings::new(url.clone()).with_schema(schema.clone());
    let catalog = PostgresCatalog::connect(settings).await.unwrap();
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let raw = sqlx::PgPool::connect_with(options.options([("search_path", &schema)]))
        .await
        .unwrap();
    Some((schema, raw, catalog))
}

async fn drop_schema(raw: &sqlx::PgPool, schema: &str) {
    let statement = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(raw)
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_unreadable_rows_are_corrupt() {
    let Some((schema, raw, catalog)) = postgres_schema().await else {
        return;
    };
    catalog.migrate().await.unwrap();
    for statement in UNREADABLE_ROWS {
        let statement = statement.replace("{now}", "now()");
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&raw)
            .await
            .unwrap();
    }
    assert_unreadable_rows_are_corrupt(&catalog).await;
    drop_schema(&raw, &schema).await;
}

#[tokio::test]
async fn postgres_migrating_over_foreign_tables_is_a_migration_error() {
    let Some((schema, raw, catalog)) = postgres_schema().await else {
        return;
    };
    sqlx::query("CREATE TABLE users (something_else TEXT)")
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        catalog.migrate().await,
        Err(CatalogError::Migration(_))
    ));
    drop_schema(&raw, &schema).await;
}
