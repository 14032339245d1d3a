//! The release summary (`basic_information`) as typed, borrowed structures. Wantlist and
//! collection pages hold up to a hundred of these; building them as `serde_json::Value`
//! trees cost most of the request time, so they serialise straight from the catalogue.

use cratedigger_domain::ReleaseId;
use serde::Serialize;

use crate::world::catalog::{Catalog, Release};

#[derive(Debug, Serialize)]
pub struct FormatEntry {
    pub name: &'static str,
    pub qty: &'static str,
    pub descriptions: Vec<&'static str>,
    /// Free text some pressings carry ("Red", "180 Gram"); Discogs omits the key otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct ArtistEntry<'a> {
    pub name: &'a str,
    pub anv: &'static str,
    pub join: &'static str,
    pub role: &'static str,
    pub tracks: &'static str,
    pub id: u64,
    pub resource_url: String,
}

#[derive(Debug, Serialize)]
pub struct LabelEntry<'a> {
    pub name: &'a str,
    pub catno: &'a str,
    pub entity_type: &'static str,
    pub entity_type_name: &'static str,
    pub id: u64,
    pub resource_url: String,
}

#[derive(Debug, Serialize)]
pub struct BasicInformation<'a> {
    pub id: ReleaseId,
    /// 0 when the release has no master, as Discogs sends it.
    pub master_id: u64,
    pub master_url: Option<String>,
    pub resource_url: String,
    pub title: &'a str,
    pub year: u16,
    pub formats: [FormatEntry; 1],
    pub labels: [LabelEntry<'a>; 1],
    pub artists: [ArtistEntry<'a>; 1],
    pub thumb: String,
    pub cover_image: String,
    pub genres: [&'static str; 1],
    pub styles: &'a [&'static str],
}

/// Images live on another host at Discogs; the simulator names them under its own base
/// but does not serve them.
pub fn image_url(base: &str, release: &Release, size: u32) -> String {
    format!("{base}/images/R-{}-{size}.jpeg", release.id)
}

pub fn format_entry(release: &Release) -> FormatEntry {
    const FREE_TEXT: [&str; 4] = ["Red", "Clear", "180 Gram", "Gatefold"];
    let mut descriptions: Vec<&'static str> = release.format.descriptions().to_vec();
    if !matches!(release.format.short(), "7\"" | "12\"") {
        descriptions.push("Album");
    }
    if release.reissue {
        descriptions.push("Reissue");
    }
    let text = (release.format.name() == "Vinyl" && release.id.0.is_multiple_of(9))
        .then(|| FREE_TEXT[(release.id.0 / 9 % 4) as usize]);
    FormatEntry {
        name: release.format.name(),
        qty: release.format.quantity(),
        descriptions,
        text,
    }
}

pub fn artist_entry<'a>(catalog: &'a Catalog, release: &Release, base: &str) -> ArtistEntry<'a> {
    let artist = catalog.artist(release);
    ArtistEntry {
        name: &artist.name,
        anv: "",
        join: "",
        role: "",
        tracks: "",
        id: artist.id,
        resource_url: format!("{base}/artists/{}", artist.id),
    }
}

pub fn label_entry<'a>(catalog: &'a Catalog, release: &'a Release, base: &str) -> LabelEntry<'a> {
    let label = catalog.label(release);
    LabelEntry {
        name: &label.name,
        catno: &release.catno,
        entity_type: "1",
        entity_type_name: "Label",
        id: label.id,
        resource_url: format!("{base}/labels/{}", label.id),
    }
}

pub fn basic_information<'a>(
    catalog: &'a Catalog,
    release: &'a Release,
    base: &str,
) -> BasicInformation<'a> {
    let master = catalog.master_of(release);
    BasicInformation {
        id: release.id,
        master_id: master.map_or(0, |m| m.id.0),
        master_url: master.map(|m| format!("{base}/masters/{}", m.id)),
        resource_url: format!("{base}/releases/{}", release.id),
        title: &release.title,
        year: release.year,
        formats: [format_entry(release)],
        labels: [label_entry(catalog, release, base)],
        artists: [artist_entry(catalog, release, base)],
        thumb: image_url(base, release, 150),
        cover_image: image_url(base, release, 600),
        genres: [release.genre],
        styles: &release.styles,
    }
}
