//! The record catalog: artists, labels, masters and their pressings, grouped into taste
//! clusters with Zipf popularity inside each cluster.

use std::collections::HashMap;

use cratedigger_domain::{MasterId, ReleaseId};
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::random::{Stream, Zipf, log_normal, stream_rng, weighted_index};
use super::vocabulary::{self, GENRES, RELEASE_COUNTRIES};

/// Unix time the world is "now" in: generated dates never pass it, so a world is the same
/// whatever day it is built on.
pub const WORLD_NOW: i64 = 1_780_272_000; // 2026-06-01T00:00:00Z
const YEAR_2008: i64 = 1_199_145_600;

/// How sharply popularity falls with rank inside a cluster.
pub const POPULARITY_EXPONENT: f64 = 1.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Lp,
    DoubleLp,
    TwelveInch,
    SevenInch,
    Cd,
    Cassette,
}

impl Format {
    const ALL: [Self; 6] = [
        Self::Lp,
        Self::DoubleLp,
        Self::TwelveInch,
        Self::SevenInch,
        Self::Cd,
        Self::Cassette,
    ];
    const WEIGHTS: [u32; 6] = [45, 8, 15, 10, 17, 5];

    /// The `formats[].name` the API gives.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cd => "CD",
            Self::Cassette => "Cassette",
            _ => "Vinyl",
        }
    }

    pub fn quantity(self) -> &'static str {
        if self == Self::DoubleLp { "2" } else { "1" }
    }

    /// `formats[].descriptions`, before the album/reissue words.
    pub fn descriptions(self) -> &'static [&'static str] {
        match self {
            Self::Lp | Self::DoubleLp => &["LP"],
            Self::TwelveInch => &["12\"", "33 ⅓ RPM"],
            Self::SevenInch => &["7\"", "45 RPM", "Single"],
            Self::Cd | Self::Cassette => &[],
        }
    }

    /// The short form in listing titles: `LP`, `2xLP`, `12"`, `7"`, `CD`, `Cass`.
    pub fn short(self) -> &'static str {
        match self {
            Self::Lp => "LP",
            Self::DoubleLp => "2xLP",
            Self::TwelveInch => "12\"",
            Self::SevenInch => "7\"",
            Self::Cd => "CD",
            Self::Cassette => "Cass",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Artist {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Label {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Master {
    pub id: MasterId,
    pub title: String,
    pub artist: u32,
    pub year: u16,
    /// Release indices, the original pressing first.
    pub versions: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct Release {
    pub id: ReleaseId,
    /// `None` for a release Discogs never grouped under a master (`master_id: 0`).
    pub master: Option<u32>,
    pub title: String,
    pub artist: u32,
    pub label: u32,
    pub catno: String,
    pub year: u16,
    pub country: &'static str,
    pub format: Format,
    pub reissue: bool,
    pub genre: &'static str,
    pub styles: Vec<&'static str>,
    pub cluster: u16,
    /// Rank inside the cluster, 0 the most popular.
    pub rank: u32,
    pub have: u32,
    pub want: u32,
    pub rating_average: f32,
    pub rating_count: u32,
    /// What a VG+ copy sells for, in US cents; listings scatter around it.
    pub reference_price_usd_cents: i64,
    pub date_added: i64,
    pub tracks: u8,
}

impl Release {
    /// `LP, Album, RE` as in listing titles and `release.format`.
    pub fn format_summary(&self) -> String {
        let mut parts = vec![self.format.short()];
        if !matches!(self.format, Format::SevenInch | Format::TwelveInch) {
            parts.push("Album");
        }
        if self.reissue {
            parts.push("RE");
        }
        parts.join(", ")
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub artists: Vec<Artist>,
    pub labels: Vec<Label>,
    pub masters: Vec<Master>,
    pub releases: Vec<Release>,
    /// Release indices per cluster, most popular first.
    pub by_cluster: Vec<Vec<u32>>,
    pub cluster_popularity: Vec<Zipf>,
    release_index: HashMap<ReleaseId, u32>,
    master_index: HashMap<MasterId, u32>,
}

impl Catalog {
    pub fn generate(seed: u64, release_count: usize, cluster_count: usize) -> Self {
        let cluster_count = cluster_count.max(1);
        let mut rng = stream_rng(seed, Stream::Catalog, 0);
        let cluster_styles: Vec<(&'static str, Vec<&'static str>)> = (0..cluster_count)
            .map(|c| {
                let (genre, styles) = GENRES[c % GENRES.len()];
                let mut picked: Vec<&'static str> = styles.to_vec();
                picked.shuffle(&mut rng);
                picked.truncate(3);
                (genre, picked)
            })
            .collect();

        let mut catalog = Self {
            artists: Vec::new(),
            labels: Vec::new(),
            masters: Vec::new(),
            releases: Vec::with_capacity(release_count),
            by_cluster: vec![Vec::new(); cluster_count],
            cluster_popularity: Vec::new(),
            release_index: HashMap::with_capacity(release_count),
            master_index: HashMap::new(),
        };
        let mut cluster_artists: Vec<Vec<u32>> = vec![Vec::new(); cluster_count];
        let mut cluster_labels: Vec<Vec<u32>> = vec![Vec::new(); cluster_count];
        let mut ids = IdCounters::default();

        while catalog.releases.len() < release_count {
            let cluster = rng.random_range(0..cluster_count);
            let (genre, styles) = &cluster_styles[cluster];
            let artist = match cluster_artists[cluster].choose(&mut rng) {
                Some(existing) if rng.random_bool(0.4) => *existing,
                _ => {
                    let name = if rng.random_bool(0.5) {
                        vocabulary::band_name(&mut rng)
                    } else {
                        vocabulary::person_name(&mut rng)
                    };
                    catalog.artists.push(Artist {
                        id: ids.next_artist(&mut rng),
                        name,
                    });
                    let index = (catalog.artists.len() - 1) as u32;
                    cluster_artists[cluster].push(index);
                    index
                }
            };
            let title = vocabulary::title(&mut rng);
            let original_year: u16 = rng.random_range(1958..=2024);
            let standalone = rng.random_bool(0.08);
            let wanted_versions = if standalone {
                1
            } else {
                1 + weighted_index(&mut rng, &[30, 25, 15, 10, 8, 5, 4, 3])
            };
            let versions = wanted_versions.min(release_count - catalog.releases.len());
            let master = (!standalone).then_some(catalog.masters.len() as u32);
            let mut version_indices = Vec::with_capacity(versions);
            let style_count = rng.random_range(1..=styles.len().max(1));
            let release_styles: Vec<&'static str> =
                styles.iter().take(style_count).copied().collect();

            for v in 0..versions {
                let label = match cluster_labels[cluster].choose(&mut rng) {
                    Some(existing) if rng.random_bool(0.7) => *existing,
                    _ => {
                        let name = vocabulary::label_name(&mut rng);
                        catalog.labels.push(Label {
                            id: ids.next_label(&mut rng),
                            name,
                        });
                        let index = (catalog.labels.len() - 1) as u32;
                        cluster_labels[cluster].push(index);
                        index
                    }
                };
                let year = if v == 0 {
                    original_year
                } else {
                    rng.random_range(original_year..=2025)
                };
                let format = Format::ALL[weighted_index(&mut rng, &Format::WEIGHTS)];
                let earliest_added = YEAR_2008.max(year_start(year));
                let release = Release {
                    id: ids.next_release(&mut rng),
                    master,
                    title: title.clone(),
                    artist,
                    label,
                    catno: catalogue_number(&mut rng, &catalog.labels[label as usize].name),
                    year,
                    country: RELEASE_COUNTRIES.choose(&mut rng).copied().unwrap_or("US"),
                    format,
                    reissue: v > 0,
                    genre,
                    styles: release_styles.clone(),
                    cluster: cluster as u16,
                    rank: 0,
                    have: 0,
                    want: 0,
                    rating_average: (rng.random_range(300..=500) as f32) / 100.0,
                    rating_count: 0,
                    reference_price_usd_cents: 0,
                    date_added: rng.random_range(earliest_added..WORLD_NOW.max(earliest_added + 1)),
                    tracks: rng.random_range(4..=12),
                };
                let index = catalog.releases.len() as u32;
                catalog.release_index.insert(release.id, index);
                catalog.by_cluster[cluster].push(index);
                catalog.releases.push(release);
                version_indices.push(index);
            }
            if let Some(master_index) = master {
                let id = ids.next_master(&mut rng);
                catalog.master_index.insert(id, master_index);
                catalog.masters.push(Master {
                    id,
                    title,
                    artist,
                    year: original_year,
                    versions: version_indices,
                });
            }
        }
        catalog.rank_popularity(&mut rng);
        catalog
    }

    /// Shuffles each cluster into a popularity order and derives the numbers that follow
    /// from popularity: community have/want counts and the reference price.
    fn rank_popularity(&mut self, rng: &mut impl Rng) {
        for members in &mut self.by_cluster {
            members.shuffle(rng);
            for (rank, index) in members.iter().enumerate() {
                let release = &mut self.releases[*index as usize];
                let weight = 1.0 / ((rank + 1) as f64).powf(POPULARITY_EXPONENT);
                release.rank = rank as u32;
                release.have = (4000.0 * weight + log_normal(rng, 20.0, 1.0)) as u32;
                release.want = (3000.0 * weight + log_normal(rng, 15.0, 1.0)) as u32;
                release.rating_count = release.have / 10 + 1;
                // Rarer records cost more: the long tail is where the collectors' prices are.
                let rarity = 1.0 + 0.15 * ((rank + 1) as f64).ln();
                let price = log_normal(rng, 1_400.0, 0.7) * rarity;
                release.reference_price_usd_cents = price.round().max(150.0) as i64;
            }
        }
        self.cluster_popularity = self
            .by_cluster
            .iter()
            .map(|m| Zipf::new(m.len(), POPULARITY_EXPONENT))
            .collect();
    }

    pub fn release_by_id(&self, id: ReleaseId) -> Option<(u32, &Release)> {
        let index = *self.release_index.get(&id)?;
        Some((index, &self.releases[index as usize]))
    }

    pub fn master_by_id(&self, id: MasterId) -> Option<&Master> {
        self.master_index
            .get(&id)
            .map(|i| &self.masters[*i as usize])
    }

    pub fn artist(&self, release: &Release) -> &Artist {
        &self.artists[release.artist as usize]
    }

    pub fn label(&self, release: &Release) -> &Label {
        &self.labels[release.label as usize]
    }

    pub fn master_of(&self, release: &Release) -> Option<&Master> {
        release.master.map(|m| &self.masters[m as usize])
    }
}

/// Ids grow by random gaps, as real Discogs ids do, so nobody can assume contiguity.
#[derive(Default)]
struct IdCounters {
    release: u64,
    master: u64,
    artist: u64,
    label: u64,
}

impl IdCounters {
    fn next_release(&mut self, rng: &mut impl Rng) -> ReleaseId {
        self.release = self.release.max(1_000_000) + rng.random_range(1..40);
        ReleaseId(self.release)
    }
    fn next_master(&mut self, rng: &mut impl Rng) -> MasterId {
        self.master = self.master.max(100_000) + rng.random_range(1..20);
        MasterId(self.master)
    }
    fn next_artist(&mut self, rng: &mut impl Rng) -> u64 {
        self.artist = self.artist.max(20_000) + rng.random_range(1..30);
        self.artist
    }
    fn next_label(&mut self, rng: &mut impl Rng) -> u64 {
        self.label = self.label.max(1_000) + rng.random_range(1..30);
        self.label
    }
}

fn catalogue_number(rng: &mut impl Rng, label: &str) -> String {
    let prefix: String = label
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .collect();
    format!("{}-{:03}", prefix.to_uppercase(), rng.random_range(1..999))
}

/// Unix time of January 1st of `year` (good enough for spreading dates; no leap seconds).
fn year_start(year: u16) -> i64 {
    let days: i64 = (1970..i64::from(year))
        .map(|y| {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                366
            } else {
                365
            }
        })
        .sum();
    days * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_the_requested_number_of_releases_with_real_masters() {
        let catalog = Catalog::generate(42, 2_000, 6);
        assert_eq!(catalog.releases.len(), 2_000);
        let multi = catalog
            .masters
            .iter()
            .filter(|m| m.versions.len() > 1)
            .count();
        assert!(
            multi > catalog.masters.len() / 3,
            "{multi} of {}",
            catalog.masters.len()
        );
        for master in &catalog.masters {
            for v in &master.versions {
                let release = &catalog.releases[*v as usize];
                assert_eq!(catalog.master_of(release).map(|m| m.id), Some(master.id));
                assert_eq!(release.title, master.title);
            }
        }
        assert!(catalog.releases.iter().any(|r| r.master.is_none()));
        let (_, found) = catalog.release_by_id(catalog.releases[7].id).unwrap();
        assert_eq!(found.id, catalog.releases[7].id);
    }

    #[test]
    fn clusters_are_ranked_by_popularity() {
        let catalog = Catalog::generate(1, 1_000, 4);
        let total: usize = catalog.by_cluster.iter().map(Vec::len).sum();
        assert_eq!(total, 1_000);
        for members in &catalog.by_cluster {
            for (rank, index) in members.iter().enumerate() {
                assert_eq!(catalog.releases[*index as usize].rank as usize, rank);
            }
        }
        assert_eq!(year_start(1970), 0);
        assert_eq!(year_start(2008), YEAR_2008);
    }
}
