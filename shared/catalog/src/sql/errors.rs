//! The one place where database failures become [`CatalogError`]s, so both adapters give
//! callers the same advice: retry what is transient, drop what the database refuses, and
//! report rows that no longer read back.

use sqlx::error::{DatabaseError, ErrorKind};

use crate::CatalogError;

/// Classifies an sqlx error. `doing` says what the adapter was doing ("upserting
/// interactions") and starts the message.
pub(crate) fn classify(doing: &str, error: sqlx::Error) -> CatalogError {
    let message = format!("{doing}: {error}");
    match &error {
        sqlx::Error::Database(db) => classify_database(db.as_ref(), message),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed
        // A bad URL or option is not transient, but it only happens while connecting, and
        // a service that cannot connect should not start: the caller treats both alike.
        | sqlx::Error::Configuration(_) => CatalogError::Unavailable(message),
        sqlx::Error::Encode(_) | sqlx::Error::InvalidArgument(_) => CatalogError::Rejected(message),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::RowNotFound => CatalogError::Corrupt(message),
        sqlx::Error::Migrate(_) => CatalogError::Migration(message),
        _ => CatalogError::Unavailable(message),
    }
}

/// Postgres reports SQLSTATE codes, SQLite (extended) result codes; both are strings here.
fn classify_database(db: &dyn DatabaseError, message: String) -> CatalogError {
    if matches!(
        db.kind(),
        ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
            | ErrorKind::ExclusionViolation
    ) {
        return CatalogError::Rejected(message);
    }
    let code = db.code().unwrap_or_default();
    let rejected = if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        is_postgres_rejection(&code)
    } else {
        is_sqlite_rejection(&code)
    };
    if rejected {
        CatalogError::Rejected(message)
    } else {
        // Connection loss, serialization failures, deadlocks, a locked SQLite file, an
        // administrator's shutdown: worth retrying. So is anything unknown, since the
        // message will dead-letter after its attempts if the failure persists.
        CatalogError::Unavailable(message)
    }
}

/// SQLSTATE class 22 is "data exception" (a value out of range, a bad encoding), class 23
/// "integrity constraint violation".
fn is_postgres_rejection(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || sqlstate.starts_with("23")
}

/// The primary result code is the low byte of the extended one: 18 TOOBIG, 19 CONSTRAINT,
/// 20 MISMATCH, 25 RANGE.
fn is_sqlite_rejection(extended_code: &str) -> bool {
    extended_code
        .parse::<i32>()
        .is_ok_and(|extended| matches!(extended & 0xff, 18 | 19 | 20 | 25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_data_and_constraint_classes_are_rejections() {
        assert!(is_postgres_rejection("23505"));
        assert!(is_postgres_rejection("22003"));
        assert!(
            !is_postgres_rejection("40001"),
            "serialization failure is transient"
        );
        assert!(!is_postgres_rejection("40P01"), "deadlock is transient");
        assert!(
            !is_postgres_rejection("08006"),
            "connection failure is transient"
        );
        assert!(
            !is_postgres_rejection("57P01"),
            "admin shutdown is transient"
        );
    }

    #[test]
    fn sqlite_primary_codes_decide() {
        assert!(is_sqlite_rejection("2067"), "SQLITE_CONSTRAINT_UNIQUE");
        assert!(is_sqlite_rejection("20"), "SQLITE_MISMATCH");
        assert!(!is_sqlite_rejection("5"), "SQLITE_BUSY is transient");
        assert!(
            !is_sqlite_rejection("517"),
            "SQLITE_BUSY_SNAPSHOT is transient"
        );
        assert!(!is_sqlite_rejection("6"), "SQLITE_LOCKED is transient");
        assert!(!is_sqlite_rejection("2314"), "an I/O error is transient");
    }

    #[test]
    fn transport_failures_are_unavailable_and_decoding_is_corrupt() {
        assert!(matches!(
            classify("reading", sqlx::Error::PoolTimedOut),
            CatalogError::Unavailable(_)
        ));
        let decode = sqlx::Error::Decode("bad".into());
        assert!(matches!(
            classify("reading", decode),
            CatalogError::Corrupt(_)
        ));
        let message = classify("reading users", sqlx::Error::PoolClosed).to_string();
        assert!(
            message.starts_with("catalog unavailable: reading users: "),
            "{message}"
        );
    }
}
