//! Discogs condition grades. The API and the marketplace pages use the long names
//! (`Very Good Plus (VG+)`); people type short codes (`VG+`, `NM`, `M-`). Both parse; the
//! short code is what we serialise.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The eight Discogs grades, ordered worst to best so `>=` means "at least as good".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MediaCondition {
    Poor = 1,
    Fair,
    Good,
    GoodPlus,
    VeryGood,
    VeryGoodPlus,
    NearMint,
    Mint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown condition {0:?}; expected a Discogs grade such as \"Very Good Plus (VG+)\" or a code: M, NM, VG+, VG, G+, G, F, P"
)]
pub struct UnknownCondition(pub String);

impl MediaCondition {
    /// Best to worst, as Discogs lists them.
    pub const ALL: [Self; 8] = [
        Self::Mint,
        Self::NearMint,
        Self::VeryGoodPlus,
        Self::VeryGood,
        Self::GoodPlus,
        Self::Good,
        Self::Fair,
        Self::Poor,
    ];

    /// The exact string the Discogs API and marketplace pages use.
    pub fn discogs_name(self) -> &'static str {
        match self {
            Self::Mint => "Mint (M)",
            Self::NearMint => "Near Mint (NM or M-)",
            Self::VeryGoodPlus => "Very Good Plus (VG+)",
            Self::VeryGood => "Very Good (VG)",
            Self::GoodPlus => "Good Plus (G+)",
            Self::Good => "Good (G)",
            Self::Fair => "Fair (F)",
            Self::Poor => "Poor (P)",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Mint => "M",
            Self::NearMint => "NM",
            Self::VeryGoodPlus => "VG+",
            Self::VeryGood => "VG",
            Self::GoodPlus => "G+",
            Self::Good => "G",
            Self::Fair => "F",
            Self::Poor => "P",
        }
    }

    /// 1 (Poor) to 8 (Mint).
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// Normalises a grade written in any of the forms seen: the long Discogs name, the code
/// in parentheses, the code alone, or the words alone ("very good plus").
fn grade_from_text(text: &str) -> Option<MediaCondition> {
    let t = text.trim();
    // "Very Good Plus (VG+)" -> try the code in parentheses first.
    if let (Some(open), Some(close)) = (t.rfind('('), t.rfind(')'))
        && open < close
        && let Some(grade) = grade_from_code(&t[open + 1..close])
    {
        return Some(grade);
    }
    grade_from_code(t).or_else(|| {
        let words: String = t
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == ' ')
            .collect::<String>()
            .to_ascii_lowercase();
        match words
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str()
        {
            "mint" => Some(MediaCondition::Mint),
            "near mint" => Some(MediaCondition::NearMint),
            "very good plus" => Some(MediaCondition::VeryGoodPlus),
            "very good" => Some(MediaCondition::VeryGood),
            "good plus" => Some(MediaCondition::GoodPlus),
            "good" => Some(MediaCondition::Good),
            "fair" => Some(MediaCondition::Fair),
            "poor" => Some(MediaCondition::Poor),
            _ => None,
        }
    })
}

fn grade_from_code(code: &str) -> Option<MediaCondition> {
    let code = code.trim().to_ascii_uppercase();
    Some(match code.as_str() {
        "M" => MediaCondition::Mint,
        "NM" | "M-" | "NM OR M-" | "NM/M-" => MediaCondition::NearMint,
        "VG+" => MediaCondition::VeryGoodPlus,
        "VG" => MediaCondition::VeryGood,
        "G+" => MediaCondition::GoodPlus,
        "G" => MediaCondition::Good,
        "F" => MediaCondition::Fair,
        "P" => MediaCondition::Poor,
        _ => return None,
    })
}

impl FromStr for MediaCondition {
    type Err = UnknownCondition;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        grade_from_text(s).ok_or_else(|| UnknownCondition(s.to_owned()))
    }
}

impl TryFrom<String> for MediaCondition {
    type Error = UnknownCondition;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MediaCondition> for String {
    fn from(value: MediaCondition) -> Self {
        value.code().to_owned()
    }
}

impl fmt::Display for MediaCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.discogs_name())
    }
}

/// A sleeve is graded like media, or described by one of three sleeve-only words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SleeveCondition {
    Graded(MediaCondition),
    Generic,
    NotGraded,
    NoCover,
}

impl SleeveCondition {
    /// Whether this sleeve satisfies a minimum grade. Only a graded sleeve can: a generic
    /// sleeve, no cover or an ungraded one says nothing about the original artwork.
    pub fn meets(self, minimum: MediaCondition) -> bool {
        matches!(self, Self::Graded(grade) if grade >= minimum)
    }

    pub fn discogs_name(self) -> &'static str {
        match self {
            Self::Graded(grade) => grade.discogs_name(),
            Self::Generic => "Generic",
            Self::NotGraded => "Not Graded",
            Self::NoCover => "No Cover",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Graded(grade) => grade.code(),
            Self::Generic => "Generic",
            Self::NotGraded => "Not Graded",
            Self::NoCover => "No Cover",
        }
    }
}

impl FromStr for SleeveCondition {
    type Err = UnknownCondition;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words = s.trim().to_ascii_lowercase();
        match words
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str()
        {
            "generic" => Ok(Self::Generic),
            "not graded" => Ok(Self::NotGraded),
            "no cover" => Ok(Self::NoCover),
            _ => s.parse().map(Self::Graded),
        }
    }
}

impl TryFrom<String> for SleeveCondition {
    type Error = UnknownCondition;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<SleeveCondition> for String {
    fn from(value: SleeveCondition) -> Self {
        value.code().to_owned()
    }
}

impl fmt::Display for SleeveCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.discogs_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_of_every_grade() {
        for grade in MediaCondition::ALL {
            assert_eq!(
                grade.discogs_name().parse::<MediaCondition>().unwrap(),
                grade
            );
            assert_eq!(grade.code().parse::<MediaCondition>().unwrap(), grade);
            assert_eq!(
                grade
                    .code()
                    .to_lowercase()
                    .parse::<MediaCondition>()
                    .unwrap(),
                grade
            );
        }
        assert_eq!(
            "M-".parse::<MediaCondition>().unwrap(),
            MediaCondition::NearMint
        );
        assert_eq!(
            "Near Mint (NM)".parse::<MediaCondition>().unwrap(),
            MediaCondition::NearMint
        );
        assert_eq!(
            " very good plus ".parse::<MediaCondition>().unwrap(),
            MediaCondition::VeryGoodPlus
        );
        assert!("Excellent".parse::<MediaCondition>().is_err());
        assert!("".parse::<MediaCondition>().is_err());
    }

    #[test]
    fn grades_order_worst_to_best() {
        assert!(MediaCondition::Mint > MediaCondition::NearMint);
        assert!(MediaCondition::VeryGoodPlus > MediaCondition::VeryGood);
        assert!(MediaCondition::Fair > MediaCondition::Poor);
        assert_eq!(MediaCondition::Poor.rank(), 1);
        assert_eq!(MediaCondition::Mint.rank(), 8);
    }

    #[test]
    fn sleeves_only_meet_a_minimum_when_graded() {
        let vg = MediaCondition::VeryGood;
        assert!(SleeveCondition::Graded(MediaCondition::NearMint).meets(vg));
        assert!(!SleeveCondition::Graded(MediaCondition::Good).meets(vg));
        assert!(!SleeveCondition::Generic.meets(MediaCondition::Poor));
        assert_eq!(
            "No Cover".parse::<SleeveCondition>().unwrap(),
            SleeveCondition::NoCover
        );
        assert_eq!(
            "not  graded".parse::<SleeveCondition>().unwrap(),
            SleeveCondition::NotGraded
        );
        assert_eq!(
            "Very Good Plus (VG+)".parse::<SleeveCondition>().unwrap(),
            SleeveCondition::Graded(MediaCondition::VeryGoodPlus)
        );
    }

    #[test]
    fn serialises_as_the_short_code() {
        let json = serde_json::to_string(&MediaCondition::VeryGoodPlus).unwrap();
        assert_eq!(json, "\"VG+\"");
        let back: MediaCondition = serde_json::from_str("\"Very Good Plus (VG+)\"").unwrap();
        assert_eq!(back, MediaCondition::VeryGoodPlus);
        assert!(serde_json::from_str::<MediaCondition>("\"shiny\"").is_err());
    }
}
