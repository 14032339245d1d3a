//! Users and their interactions (wantlist and collection).

use cratedigger_domain::{ReleaseId, Username};

use super::{from_i64, last_per_key, to_i64, username};
use crate::sql::timestamp::Timestamp;
use crate::{CatalogError, Interaction, InteractionKind, UserProfile};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub username: String,
    pub discogs_id: Option<i64>,
    pub wantlist_count: i64,
    pub collection_count: i64,
    pub newest_want_added: Option<Timestamp>,
    pub newest_have_added: Option<Timestamp>,
    pub last_synced_at: Option<Timestamp>,
}

impl UserRow {
    pub fn from_domain(user: &UserProfile) -> Result<Self, CatalogError> {
        Ok(Self {
            username: user.username.as_str().to_owned(),
            discogs_id: user
                .discogs_id
                .map(|id| to_i64(id, "discogs id"))
                .transpose()?,
            wantlist_count: i64::from(user.wantlist_count),
            collection_count: i64::from(user.collection_count),
            newest_want_added: Timestamp::option(user.newest_want_added),
            newest_have_added: Timestamp::option(user.newest_have_added),
            last_synced_at: Timestamp::option(user.last_synced_at),
        })
    }

    pub fn into_domain(self) -> Result<UserProfile, CatalogError> {
        Ok(UserProfile {
            username: username(&self.username)?,
            discogs_id: self
                .discogs_id
                .map(|id| from_i64(id, "discogs id"))
                .transpose()?,
            wantlist_count: from_i64(self.wantlist_count, "wantlist count")?,
            collection_count: from_i64(self.collection_count, "collection count")?,
            newest_want_added: self.newest_want_added.map(Timestamp::get),
            newest_have_added: self.newest_have_added.map(Timestamp::get),
            last_synced_at: self.last_synced_at.map(Timestamp::get),
        })
    }
}

/// An interaction as written: the owner and the sync that saw it travel with it.
#[derive(Debug)]
pub(crate) struct InteractionRow {
    pub username: String,
    pub release_id: i64,
    pub kind: &'static str,
    pub added_at: Option<Timestamp>,
    pub weight: f32,
    pub sync_id: String,
}

impl InteractionRow {
    /// Rows for one upsert, one per (release, kind), see [`last_per_key`].
    pub fn batch(
        username: &Username,
        interactions: &[Interaction],
        sync_id: &str,
    ) -> Result<Vec<Self>, CatalogError> {
        let rows = interactions
            .iter()
            .map(|interaction| {
                Ok(Self {
                    username: username.as_str().to_owned(),
                    release_id: to_i64(interaction.release_id.0, "release id")?,
                    kind: interaction.kind.as_str(),
                    added_at: Timestamp::option(interaction.added_at),
                    weight: interaction.weight,
                    sync_id: sync_id.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Ok(last_per_key(rows, |row| (row.release_id, row.kind)))
    }
}

/// An interaction as read back (for one user, or for everyone when training).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredInteraction {
    pub username: String,
    pub release_id: i64,
    pub kind: String,
    pub added_at: Option<Timestamp>,
    pub weight: f32,
}

impl StoredInteraction {
    pub fn into_domain(self) -> Result<(Username, Interaction), CatalogError> {
        let kind = match self.kind.as_str() {
            "want" => InteractionKind::Want,
            "have" => InteractionKind::Have,
            other => {
                return Err(CatalogError::Corrupt(format!(
                    "unknown interaction kind {other:?}"
                )));
            }
        };
        let interaction = Interaction {
            release_id: ReleaseId(from_i64(self.release_id, "release id")?),
            kind,
            added_at: self.added_at.map(Timestamp::get),
            weight: self.weight,
        };
        Ok((username(&self.username)?, interaction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_interactions_collapse_to_the_last_in_key_order() {
        let user = Username::parse("digger").unwrap_or_else(|e| panic!("{e}"));
        let want = |id, weight| Interaction {
            release_id: ReleaseId(id),
            kind: InteractionKind::Want,
            added_at: None,
            weight,
        };
        let rows = InteractionRow::batch(&user, &[want(9, 1.0), want(3, 1.0), want(9, 2.0)], "s1")
            .unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<_> = rows.iter().map(|r| (r.release_id, r.weight)).collect();
        assert_eq!(keys, vec![(3, 1.0), (9, 2.0)]);
    }

    #[test]
    fn unreadable_rows_are_corrupt() {
        let row = StoredInteraction {
            username: "bad/name".into(),
            release_id: 1,
            kind: "want".into(),
            added_at: None,
            weight: 1.0,
        };
        assert!(matches!(row.into_domain(), Err(CatalogError::Corrupt(_))));
    }
}
