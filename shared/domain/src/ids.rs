//! Identifiers. Discogs numeric ids stay numeric; names that come from people are
//! validated once, here, so nothing downstream has to wonder whether a string is safe.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map(Self)
            }
        }
    };
}

numeric_id!(
    /// A Discogs release: one pressing of a record.
    ReleaseId
);
numeric_id!(
    /// A Discogs master: the group of all pressings of a record.
    MasterId
);
numeric_id!(
    /// A Discogs marketplace listing.
    ListingId
);

/// A Discogs marketplace seller, by the name Discogs shows (sellers have no public numeric
/// id in the listing pages, so the name is the natural key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SellerName(pub String);

impl SellerName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SellerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job started by the gateway; time-ordered (UUID v7) so ids sort by creation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    /// Only canonical UUIDs are job ids: a job id travels into Redis keys and URLs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(|u| Self(u.to_string()))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest username accepted. Discogs' own sign-up form caps names well below this;
/// anything longer is certainly not a Discogs account.
pub const USERNAME_MAX_LEN: usize = 64;

/// A Discogs username: ASCII letters, digits, `.`, `-` and `_` (real accounts such as
/// `_.bartholomews` start with punctuation), at most [`USERNAME_MAX_LEN`] characters, and
/// not made of dots alone (`.` and `..` would be path segments once put into a URL).
/// Whatever the rules let through is still percent-encoded before it goes into a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    #[error("username is empty")]
    Empty,
    #[error("username is longer than {USERNAME_MAX_LEN} characters")]
    TooLong,
    #[error("username contains {0:?}; only letters, digits, '.', '-' and '_' are allowed")]
    BadCharacter(char),
    #[error("username cannot be made of dots only")]
    DotsOnly,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        if raw.is_empty() {
            return Err(InvalidUsername::Empty);
        }
        if raw.len() > USERNAME_MAX_LEN {
            return Err(InvalidUsername::TooLong);
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return Err(InvalidUsername::BadCharacter(bad));
        }
        if raw.chars().all(|c| c == '.') {
            return Err(InvalidUsername::DotsOnly);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name folded to lower case. Discogs names are case-insensitive (`Digger0001`
    /// and `digger0001` are one account): keys that stand for a user (deduplication,
    /// privacy, stored results) use this form, whatever case a request wrote.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Whether both name the same Discogs account.
    pub fn is_same_account(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl FromStr for Username {
    type Err = InvalidUsername;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidUsername;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_discogs_usernames() {
        for name in [
            "rodneyfool",
            "_.bartholomews",
            "brotherlogic",
            "digger0001",
            "a-b_c.d",
        ] {
            assert_eq!(Username::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_names_that_could_escape_a_url_path() {
        assert_eq!(
            Username::parse("../x"),
            Err(InvalidUsername::BadCharacter('/'))
        );
        assert_eq!(
            Username::parse("a/b"),
            Err(InvalidUsername::BadCharacter('/'))
        );
        assert_eq!(
            Username::parse("%2e%2e"),
            Err(InvalidUsername::BadCharacter('%'))
        );
        assert_eq!(Username::parse(".."), Err(InvalidUsername::DotsOnly));
        assert_eq!(Username::parse(""), Err(InvalidUsername::Empty));
        assert_eq!(
            Username::parse(&"a".repeat(200)),
            Err(InvalidUsername::TooLong)
        );
        assert_eq!(
            Username::parse("a b"),
            Err(InvalidUsername::BadCharacter(' '))
        );
        assert_eq!(
            Username::parse("é"),
            Err(InvalidUsername::BadCharacter('é'))
        );
    }

    #[test]
    fn names_differing_in_case_are_one_account_with_one_key() {
        let shouted = Username::parse("DIGGER0001").unwrap();
        assert_eq!(shouted.as_str(), "DIGGER0001", "kept as written");
        assert_eq!(shouted.key(), "digger0001");
        assert!(shouted.is_same_account("Digger0001"));
        assert!(!shouted.is_same_account("digger0002"));
    }

    #[test]
    fn username_deserialisation_validates() {
        assert!(serde_json::from_str::<Username>("\"ok_name\"").is_ok());
        assert!(serde_json::from_str::<Username>("\"bad/name\"").is_err());
    }

    #[test]
    fn job_ids_are_canonical_uuids() {
        let id = JobId::generate();
        assert_eq!(id.as_str().parse::<JobId>().unwrap(), id);
        assert!("not-a-uuid".parse::<JobId>().is_err());
        assert!("../../etc".parse::<JobId>().is_err());
    }
}
