//! How long a stage may take, and how often the reaper looks.

use std::time::Duration;

use cratedigger_domain::Stage;
use serde::Deserialize;

/// `tracker` in the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TrackerSettings {
    /// How often the reaper looks for jobs whose current stage is past its deadline.
    pub reap_every_seconds: u64,
    /// How long each stage may be a job's current one before the job is failed.
    pub deadlines: StageDeadlines,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        Self {
            reap_every_seconds: 30,
            deadlines: StageDeadlines::default(),
        }
    }
}

impl TrackerSettings {
    pub fn reap_every(&self) -> Duration {
        Duration::from_secs(self.reap_every_seconds.max(1))
    }
}

/// Per stage, in seconds. The defaults leave room for a user of 50,000 records at
/// Discogs' rate limit (the profile), a few hundred releases read through a browser (the
/// market), and a model that is still being trained (recommendations wait for it).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StageDeadlines {
    pub profile_seconds: u64,
    pub recommend_seconds: u64,
    pub candidates_seconds: u64,
    pub market_seconds: u64,
    pub carts_seconds: u64,
}

impl Default for StageDeadlines {
    fn default() -> Self {
        Self {
            profile_seconds: 3_600,
            recommend_seconds: 1_800,
            candidates_seconds: 600,
            market_seconds: 3_600,
            carts_seconds: 600,
        }
    }
}

impl StageDeadlines {
    pub fn of(&self, stage: Stage) -> Duration {
        let seconds = match stage {
            Stage::Profile => self.profile_seconds,
            Stage::Recommend => self.recommend_seconds,
            Stage::Candidates => self.candidates_seconds,
            Stage::Market => self.market_seconds,
            Stage::Carts => self.carts_seconds,
        };
        Duration::from_secs(seconds.max(1))
    }
}
