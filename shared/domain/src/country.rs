//! A seller's "ships from" country as Discogs names it ("Germany", "United States").
//! Discogs shows names, not ISO codes, so a country is its name, compared without regard
//! to case or surrounding whitespace.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Country(String);

impl Country {
    pub fn new(name: &str) -> Self {
        Self(name.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn key(&self) -> impl Iterator<Item = char> + '_ {
        self.0.chars().flat_map(char::to_lowercase)
    }
}

impl PartialEq for Country {
    fn eq(&self, other: &Self) -> bool {
        self.key().eq(other.key())
    }
}

impl Eq for Country {}

impl Hash for Country {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in self.key() {
            c.hash(state);
        }
    }
}

impl From<String> for Country {
    fn from(value: String) -> Self {
        Self::new(&value)
    }
}

impl From<&str> for Country {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<Country> for String {
    fn from(value: Country) -> Self {
        value.0
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn compares_names_case_and_space_insensitively() {
        assert_eq!(
            Country::new(" united  States "),
            Country::new("United States")
        );
        assert_ne!(Country::new("Germany"), Country::new("France"));
        let set: HashSet<_> = [Country::new("GERMANY")].into_iter().collect();
        assert!(set.contains(&Country::new("germany")));
        assert_eq!(Country::new(" united  States ").as_str(), "united States");
    }
}
