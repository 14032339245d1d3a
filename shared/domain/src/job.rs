//! Jobs: what a person asked for, the stages a job goes through, and the status record
//! clients of long-running operations read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{CartCriteria, JobId, Username};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Sync the profile, then recommend records.
    Recommendations,
    /// Sync the profile, pick candidates, scrape the marketplace, build carts.
    Carts,
    /// Sync the profile only (crawling a corpus for training).
    Sync,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recommendations => "recommendations",
            Self::Carts => "carts",
            Self::Sync => "sync",
        }
    }

    /// The stages a job of this kind goes through, in order.
    pub fn stages(self) -> &'static [Stage] {
        match self {
            Self::Recommendations => &[Stage::Profile, Stage::Recommend],
            Self::Carts => &[
                Stage::Profile,
                Stage::Candidates,
                Stage::Market,
                Stage::Carts,
            ],
            Self::Sync => &[Stage::Profile],
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "recommendations" => Ok(Self::Recommendations),
            "carts" => Ok(Self::Carts),
            "sync" => Ok(Self::Sync),
            other => Err(format!(
                "unknown job kind {other:?}; expected recommendations, carts or sync"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Profile,
    Recommend,
    Candidates,
    Market,
    Carts,
}

impl Stage {
    pub const ALL: [Self; 5] = [
        Self::Profile,
        Self::Recommend,
        Self::Candidates,
        Self::Market,
        Self::Carts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Recommend => "recommend",
            Self::Candidates => "candidates",
            Self::Market => "market",
            Self::Carts => "carts",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage {s:?}"))
    }
}

/// What was asked: travels with every event of the job, so no stage has to look it up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub id: JobId,
    pub kind: JobKind,
    pub username: Username,
    /// Carts jobs only.
    pub criteria: Option<CartCriteria>,
    /// How many recommendations to keep (recommendations jobs), or candidates to consider.
    pub limit: u32,
    /// Wantlist share of the candidates, 0.0 to 1.0 (carts jobs).
    pub wantlist_share: f64,
    /// Seeds every random choice of the job (candidate sub-selection), so it can be replayed.
    pub seed: u64,
    /// RFC 3339.
    pub requested_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl StageState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for StageState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Pending, Self::Running, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage state {s:?}"))
    }
}

/// Why a job failed, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// Stable, machine-readable: `user_not_found`, `wantlist_private`, `discogs_unavailable`...
    pub code: String,
    pub message: String,
    /// Whether trying the same job again later may succeed.
    pub retryable: bool,
    pub stage: Option<Stage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [JobKind::Recommendations, JobKind::Carts, JobKind::Sync] {
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
        }
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>().unwrap(), stage);
        }
        assert!("nope".parse::<JobKind>().is_err());
        assert_eq!(
            serde_json::to_string(&JobState::Succeeded).unwrap(),
            "\"succeeded\""
        );
        assert!(JobState::Cancelled.is_final() && !JobState::Running.is_final());
    }

    #[test]
    fn every_kind_starts_with_the_profile() {
        for kind in [JobKind::Recommendations, JobKind::Carts, JobKind::Sync] {
            assert_eq!(kind.stages()[0], Stage::Profile);
        }
    }
}
