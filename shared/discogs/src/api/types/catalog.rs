//! Users, their wantlists and collections, releases and master versions.

use chrono::{DateTime, FixedOffset};
use cratedigger_domain::{Currency, MasterId, ReleaseId};
use serde::{Deserialize, Deserializer};

use super::{ArtistCredit, Format, nonzero, number_or_text};

/// `GET /users/{username}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct UserProfile {
    pub id: u64,
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub registered: Option<DateTime<FixedOffset>>,
    /// Absent when the collection is private and the request is not the owner's.
    #[serde(default)]
    pub num_collection: Option<u64>,
    #[serde(default)]
    pub num_wantlist: Option<u64>,
    #[serde(default)]
    pub num_for_sale: Option<u64>,
    #[serde(default, deserialize_with = "number_or_text")]
    pub seller_rating: Option<f64>,
    #[serde(default)]
    pub seller_num_ratings: Option<u64>,
    /// The user's marketplace currency.
    #[serde(default, deserialize_with = "lenient_currency")]
    pub curr_abbr: Option<Currency>,
}

/// `GET /oauth/identity`: who the credentials belong to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Identity {
    pub id: u64,
    pub username: String,
    #[serde(default)]
    pub consumer_name: Option<String>,
}

/// A release in a user's wantlist (`/users/{u}/wants`) or collection
/// (`/users/{u}/collection/folders/0/releases`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "RawEntry")]
pub struct ReleaseEntry {
    pub release_id: ReleaseId,
    pub master_id: Option<MasterId>,
    pub title: String,
    pub artists: Vec<ArtistCredit>,
    pub year: Option<u16>,
    pub formats: Vec<Format>,
    pub genres: Vec<String>,
    pub styles: Vec<String>,
    /// A small cover image, when Discogs has one (empty strings are None).
    pub thumb: Option<String>,
    pub date_added: Option<DateTime<FixedOffset>>,
    /// The user's 1-5 stars; `None` for unrated (Discogs sends 0).
    pub rating: Option<u8>,
    /// Wantlist notes, or the collection's note fields joined by `; `.
    pub notes: Option<String>,
    /// Collection items only: this copy, and the folder it sits in.
    pub instance_id: Option<u64>,
    pub folder_id: Option<u64>,
}

#[derive(Deserialize)]
struct RawEntry {
    id: u64,
    #[serde(default)]
    rating: Option<u8>,
    #[serde(default)]
    date_added: Option<DateTime<FixedOffset>>,
    #[serde(default, deserialize_with = "notes")]
    notes: Option<String>,
    #[serde(default)]
    instance_id: Option<u64>,
    #[serde(default)]
    folder_id: Option<u64>,
    basic_information: BasicInformation,
}

#[derive(Deserialize)]
struct BasicInformation {
    #[serde(default, deserialize_with = "nonzero")]
    master_id: Option<u64>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    artists: Vec<ArtistCredit>,
    #[serde(default)]
    year: Option<u16>,
    #[serde(default)]
    formats: Vec<Format>,
    #[serde(default)]
    genres: Vec<String>,
    #[serde(default)]
    styles: Vec<String>,
    #[serde(default)]
    thumb: Option<String>,
}

impl From<RawEntry> for ReleaseEntry {
    fn from(raw: RawEntry) -> Self {
        let info = raw.basic_information;
        Self {
            release_id: ReleaseId(raw.id),
            master_id: info.master_id.map(MasterId),
            title: info.title,
            artists: info.artists,
            year: info.year.filter(|y| *y != 0),
            formats: info.formats,
            genres: info.genres,
            styles: info.styles,
            thumb: info.thumb.filter(|t| !t.is_empty()),
            date_added: raw.date_added,
            rating: raw.rating.filter(|r| *r != 0),
            notes: raw.notes,
            instance_id: raw.instance_id,
            folder_id: raw.folder_id,
        }
    }
}

/// Wantlist notes are a string; collection notes a list of `{field_id, value}`.
fn notes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Field {
        #[serde(default)]
        value: serde_json::Value,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Notes {
        Text(String),
        Fields(Vec<Field>),
    }
    let text = match Option::<Notes>::deserialize(deserializer)? {
        Some(Notes::Text(text)) => text,
        Some(Notes::Fields(fields)) => fields
            .into_iter()
            .filter_map(|f| match f.value {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        None => String::new(),
    };
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}

fn lenient_currency<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Currency>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.and_then(|code| Currency::new(&code).ok()))
}

/// `GET /releases/{id}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Release {
    #[serde(rename = "id")]
    pub release_id: ReleaseId,
    #[serde(default, deserialize_with = "nonzero")]
    master_id: Option<u64>,
    pub title: String,
    #[serde(default)]
    pub artists: Vec<ArtistCredit>,
    #[serde(default)]
    year: Option<u16>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub formats: Vec<Format>,
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub styles: Vec<String>,
    #[serde(default)]
    pub num_for_sale: Option<u64>,
    #[serde(default)]
    community: Option<Community>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
struct Community {
    #[serde(default)]
    have: Option<u64>,
    #[serde(default)]
    want: Option<u64>,
}

impl Release {
    pub fn master_id(&self) -> Option<MasterId> {
        self.master_id.map(MasterId)
    }

    pub fn year(&self) -> Option<u16> {
        self.year.filter(|y| *y != 0)
    }

    /// How many users have it in their collection and in their wantlist.
    pub fn have_want(&self) -> (Option<u64>, Option<u64>) {
        self.community.map_or((None, None), |c| (c.have, c.want))
    }
}

/// One release of a master (`GET /masters/{id}/versions`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MasterVersion {
    #[serde(rename = "id")]
    pub release_id: ReleaseId,
    #[serde(default)]
    pub title: String,
    /// `CD, Album`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub major_formats: Vec<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub catno: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    /// As Discogs writes it: `1987`, `1987-07-00`.
    #[serde(default)]
    pub released: Option<String>,
}
