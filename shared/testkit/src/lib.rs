//! Test harness shared by every crate's tests.
//!
//! Owns two conventions. Real servers are found through environment variables
//! (`TEST_REDIS_URL`, `TEST_DATABASE_URL`, `PUBSUB_EMULATOR_HOST`, `MONGODB_URI`) that
//! `.ci/run` exports after starting them. Fixtures and datasets live in `../shared` beside
//! the repository, reached by [`shared_dir`].

use std::path::PathBuf;

/// Set by `.ci/run`: a test whose server variable is missing must fail, not skip, so a
/// CI run can never pass by testing nothing.
pub const REQUIRE_SERVERS: &str = "CRATEDIGGER_REQUIRE_SERVERS";

/// The address of a real server for a test, from the environment variable `var`.
///
/// Returns `None` (and says so on stderr) when the variable is unset, so a developer can
/// run `cargo test` without servers; panics instead when [`REQUIRE_SERVERS`] is set.
pub fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os(REQUIRE_SERVERS).is_some() => {
            panic!("{var} is not set but {REQUIRE_SERVERS} is: start the servers with .ci/run")
        }
        _ => {
            eprintln!("skipping: {var} is not set (bash .ci/run starts the test servers)");
            None
        }
    }
}

/// A Chromium for the tests that drive a real browser: `CHROMIUM` if set, else the first
/// of `chromium`, `chromium-browser`, `google-chrome` on the PATH. Like [`server_url`], it
/// skips (None) without one, and panics instead under [`REQUIRE_SERVERS`] (`.ci/run`
/// installs Debian's `chromium`).
pub fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let on_path = || {
        let path = std::env::var_os("PATH")?;
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
            .find(|candidate| candidate.is_file())
    };
    match named.filter(|p| p.is_file()).or_else(on_path) {
        Some(found) => Some(found),
        None if std::env::var_os(REQUIRE_SERVERS).is_some() => {
            panic!(
                "no chromium found but {REQUIRE_SERVERS} is set: apt-get install chromium (.ci/run does)"
            )
        }
        None => {
            eprintln!("skipping: no chromium on the PATH (apt-get install chromium)");
            None
        }
    }
}

/// The `shared/` folder beside the repository (DESIGN.md, datasets, fixtures, bench).
pub fn shared_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // shared/testkit -> repository root -> its parent.
    let dir = here.join("../../../shared");
    dir.canonicalize().unwrap_or(dir)
}

/// A file under `shared/datasets`.
pub fn dataset(relative: &str) -> PathBuf {
    shared_dir().join("datasets").join(relative)
}

/// A unique, readable name for per-test isolation (schemas, key prefixes, topics):
/// `prefix_<pid>_<counter>_<nanos>`, lowercase ASCII, safe in SQL identifiers and Redis keys.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id()).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_shared_datasets() {
        assert!(dataset("lastfm-hetrec2011-2k/split_seed42/train.csv").is_file());
        assert!(dataset("discogs-fixtures/SOURCES.md").is_file());
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("t"), unique_name("t"));
        assert!(unique_name("Schema").starts_with("schema_"));
    }
}
