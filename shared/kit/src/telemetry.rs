//! Logs and spans through `tracing`: JSON lines in production, human-readable locally.
//! The filter comes from `RUST_LOG` (default `info`). Secrets never reach a span: fields
//! holding tokens are skipped where they are recorded.

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// For tests: logs only when `TEST_LOG` is set, so test output stays quiet by default.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init(LogFormat::Pretty);
    }
}
