//! A point in time as the catalog stores it, the same in both databases: microsecond
//! precision (what Postgres `timestamptz` keeps), as `timestamptz` in Postgres and as
//! integer microseconds since the Unix epoch in SQLite, where numbers sort and compare
//! correctly (RFC 3339 text with a varying number of fraction digits would not).

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Drops anything finer than a microsecond, so a value reads back exactly as written
    /// and comparisons in Rust agree with comparisons in SQL.
    pub(crate) fn new(time: DateTime<Utc>) -> Self {
        let micros = time.timestamp_micros();
        Self(DateTime::from_timestamp_micros(micros).unwrap_or(time))
    }

    pub(crate) fn get(self) -> DateTime<Utc> {
        self.0
    }

    pub(crate) fn option(time: Option<DateTime<Utc>>) -> Option<Self> {
        time.map(Self::new)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        Self::new(time)
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.0.timestamp_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        DateTime::from_timestamp_micros(micros)
            .map(Self)
            .ok_or_else(|| format!("{micros} microseconds is not a representable time").into())
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for Timestamp {
    fn array_type_info() -> PgTypeInfo {
        <DateTime<Utc> as PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Postgres>>::decode(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    use super::*;

    #[test]
    fn keeps_microseconds_and_drops_nanoseconds() {
        let Some(precise) = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 5).single() else {
            panic!("valid date")
        };
        let precise = precise.with_nanosecond(123_456_789).unwrap_or(precise);
        let stored = Timestamp::new(precise).get();
        assert_eq!(stored.nanosecond(), 123_456_000);
        assert_eq!(Timestamp::new(stored).get(), stored);
    }

    #[test]
    fn times_before_the_epoch_truncate_too() {
        let Some(old) = DateTime::from_timestamp(-86_400, 999_999_999) else {
            panic!("valid time")
        };
        let stored = Timestamp::new(old).get();
        assert!(stored <= old);
        assert!(old - stored < chrono::Duration::microseconds(1));
    }
}
