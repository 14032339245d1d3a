//! How to reach Pub/Sub, and how to behave there.

use std::time::Duration;

/// The variable Google's tools use for the emulator's `host:port`.
pub const EMULATOR_HOST_VAR: &str = "PUBSUB_EMULATOR_HOST";

#[derive(Clone, Debug, PartialEq)]
pub struct PubSubSettings {
    pub project_id: String,
    /// `host:port` of the Pub/Sub emulator; None talks to Google with default credentials.
    pub emulator_host: Option<String>,
    /// Prepended as is to every topic and subscription name (include a separator, e.g.
    /// `staging.`), so several deployments or test runs can share one project.
    pub name_prefix: String,
    /// Messages one subscriber may hold unacked, including those it has prefetched. Small
    /// keeps work spread over replicas; Google's default is 1000.
    pub max_outstanding_messages: i64,
    /// How long an admin call or a publish keeps retrying transient failures (an
    /// unreachable server included) before it reports the bus unavailable.
    pub request_time_limit: Duration,
}

impl PubSubSettings {
    pub fn new(project_id: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            emulator_host: None,
            name_prefix: String::new(),
            max_outstanding_messages: 10,
            request_time_limit: Duration::from_secs(60),
        }
    }

    pub fn with_request_time_limit(mut self, limit: Duration) -> Self {
        self.request_time_limit = limit;
        self
    }

    pub fn with_emulator_host(mut self, host: impl Into<String>) -> Self {
        self.emulator_host = Some(host.into());
        self
    }

    /// Uses the emulator named by `PUBSUB_EMULATOR_HOST`, if that variable is set.
    pub fn with_emulator_host_from_env(mut self) -> Self {
        self.emulator_host = std::env::var(EMULATOR_HOST_VAR)
            .ok()
            .filter(|host| !host.trim().is_empty());
        self
    }

    pub fn with_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }
}
