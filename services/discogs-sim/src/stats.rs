//! Requests served, by endpoint kind and by path, so tests can prove what was (or was
//! not) fetched. Every request that reaches a Discogs route is counted, including those
//! answered with a 429 or an injected fault; those outcomes are also counted apart.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The kinds of request the simulator tells apart, named as `GET /_sim/stats` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    Profile,
    Wants,
    Collection,
    Inventory,
    Release,
    Master,
    MasterVersions,
    MarketplaceStats,
    Listing,
    SellRelease,
    Login,
    Unknown,
}

impl EndpointKind {
    pub const ALL: [Self; 12] = [
        Self::Profile,
        Self::Wants,
        Self::Collection,
        Self::Inventory,
        Self::Release,
        Self::Master,
        Self::MasterVersions,
        Self::MarketplaceStats,
        Self::Listing,
        Self::SellRelease,
        Self::Login,
        Self::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Wants => "wants",
            Self::Collection => "collection",
            Self::Inventory => "inventory",
            Self::Release => "release",
            Self::Master => "master",
            Self::MasterVersions => "master_versions",
            Self::MarketplaceStats => "marketplace_stats",
            Self::Listing => "listing",
            Self::SellRelease => "sell_release",
            Self::Login => "login",
            Self::Unknown => "unknown",
        }
    }

    /// API requests (api.discogs.com) as opposed to web pages (www.discogs.com).
    pub fn is_api(self) -> bool {
        !matches!(self, Self::SellRelease | Self::Login)
    }

    /// Classifies a request path the way the router would route it.
    pub fn of_path(path: &str) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["users", _] => Self::Profile,
            ["users", _, "wants"] => Self::Wants,
            ["users", _, "collection", "folders", _, "releases"] => Self::Collection,
            ["users", _, "inventory"] => Self::Inventory,
            ["releases", _] => Self::Release,
            ["masters", _] => Self::Master,
            ["masters", _, "versions"] => Self::MasterVersions,
            ["marketplace", "stats", _] => Self::MarketplaceStats,
            ["marketplace", "listings", _] => Self::Listing,
            ["sell", "release", _] => Self::SellRelease,
            ["login"] => Self::Login,
            _ => Self::Unknown,
        }
    }

    fn slot(self) -> usize {
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(Self::ALL.len() - 1)
    }
}

/// Paths are remembered one by one up to this many distinct paths; beyond it only the
/// per-kind counters grow (a long benchmark must not grow memory without bound).
const MAX_TRACKED_PATHS: usize = 200_000;

#[derive(Debug, Default)]
pub struct RequestStats {
    by_kind: [AtomicU64; EndpointKind::ALL.len()],
    rate_limited: AtomicU64,
    faults_injected: AtomicU64,
    challenged: AtomicU64,
    by_path: Mutex<HashMap<String, u64>>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct StatsReport {
    pub total: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
    /// Web page requests answered with the managed challenge instead of the page.
    pub challenged: u64,
    pub by_endpoint: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_path: Option<BTreeMap<String, u64>>,
}

impl RequestStats {
    pub fn record(&self, kind: EndpointKind, path: &str) {
        self.by_kind[kind.slot()].fetch_add(1, Ordering::Relaxed);
        let mut paths = self
            .by_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = paths.get_mut(path) {
            *count += 1;
        } else if paths.len() < MAX_TRACKED_PATHS {
            paths.insert(path.to_owned(), 1);
        }
    }

    pub fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_challenged(&self) {
        self.challenged.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_fault(&self) {
        self.faults_injected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for counter in &self.by_kind {
            counter.store(0, Ordering::Relaxed);
        }
        self.rate_limited.store(0, Ordering::Relaxed);
        self.faults_injected.store(0, Ordering::Relaxed);
        self.challenged.store(0, Ordering::Relaxed);
        self.by_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    pub fn report(&self, with_paths: bool) -> StatsReport {
        let by_endpoint: BTreeMap<&'static str, u64> = EndpointKind::ALL
            .iter()
            .map(|k| (k.name(), self.by_kind[k.slot()].load(Ordering::Relaxed)))
            .collect();
        let by_path = with_paths.then(|| {
            let paths = self
                .by_path
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            paths.iter().map(|(p, n)| (p.clone(), *n)).collect()
        });
        StatsReport {
            total: by_endpoint.values().sum(),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
            challenged: self.challenged.load(Ordering::Relaxed),
            by_endpoint,
            by_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_discogs_paths() {
        use EndpointKind::*;
        assert_eq!(EndpointKind::of_path("/users/digger0001"), Profile);
        assert_eq!(EndpointKind::of_path("/users/digger0001/wants"), Wants);
        assert_eq!(
            EndpointKind::of_path("/users/a/collection/folders/0/releases"),
            Collection
        );
        assert_eq!(EndpointKind::of_path("/users/a/inventory"), Inventory);
        assert_eq!(EndpointKind::of_path("/releases/249504"), Release);
        assert_eq!(EndpointKind::of_path("/masters/1"), Master);
        assert_eq!(EndpointKind::of_path("/masters/1/versions"), MasterVersions);
        assert_eq!(
            EndpointKind::of_path("/marketplace/stats/1"),
            MarketplaceStats
        );
        assert_eq!(EndpointKind::of_path("/marketplace/listings/1"), Listing);
        assert_eq!(EndpointKind::of_path("/sell/release/1"), SellRelease);
        assert_eq!(EndpointKind::of_path("/nope"), Unknown);
    }

    #[test]
    fn counts_and_resets() {
        let stats = RequestStats::default();
        stats.record(EndpointKind::Wants, "/users/a/wants");
        stats.record(EndpointKind::Wants, "/users/a/wants");
        stats.record(EndpointKind::Release, "/releases/1");
        stats.record_rate_limited();
        let report = stats.report(true);
        assert_eq!(report.total, 3);
        assert_eq!(report.by_endpoint["wants"], 2);
        assert_eq!(report.rate_limited, 1);
        assert_eq!(report.by_path.as_ref().unwrap()["/users/a/wants"], 2);
        stats.reset();
        assert_eq!(stats.report(false).total, 0);
    }
}
