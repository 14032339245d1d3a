//! A model as a list of named files under one prefix.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::BlobsError;

/// Writes every file under `prefix`, one after another in the given order, replacing
/// any file of the same name. Names are checked before anything is written. Put the
/// file that marks a complete model (the ALS manifest) last: a reader that finds it
/// finds the others.
pub async fn put_files(
    store: &dyn ObjectStore,
    prefix: &Path,
    files: Vec<(String, Vec<u8>)>,
) -> Result<(), BlobsError> {
    let located = files
        .into_iter()
        .map(|(name, bytes)| Ok((file_path(prefix, &name)?, bytes)))
        .collect::<Result<Vec<_>, BlobsError>>()?;
    for (path, bytes) in located {
        store.put(&path, PutPayload::from(bytes)).await?;
    }
    Ok(())
}

/// The file `name` under `prefix`, or None if there is none.
pub async fn get_file(
    store: &dyn ObjectStore,
    prefix: &Path,
    name: &str,
) -> Result<Option<Bytes>, BlobsError> {
    let path = file_path(prefix, name)?;
    match store.get(&path).await {
        Ok(found) => Ok(Some(found.bytes().await?)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Every file under `prefix`, by its name relative to the prefix (`a/b.npy`); empty if
/// there are none. For decoders that read files by name synchronously.
pub async fn get_files(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> Result<BTreeMap<String, Bytes>, BlobsError> {
    let listed: Vec<_> = match store.list(Some(prefix)).try_collect().await {
        Ok(listed) => listed,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let mut files = BTreeMap::new();
    for meta in listed {
        let Some(parts) = meta.location.prefix_match(prefix) else {
            continue;
        };
        let name = parts
            .map(|part| part.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join("/");
        match store.get(&meta.location).await {
            Ok(found) => {
                files.insert(name, found.bytes().await?);
            }
            // Deleted between the listing and the read: it is not part of the set.
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(files)
}

/// `prefix/name`, where `name` is a relative path of `/`-separated parts.
fn file_path(prefix: &Path, name: &str) -> Result<Path, BlobsError> {
    let invalid = |reason: String| BlobsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.starts_with('/') || name.ends_with('/') {
        return Err(invalid(
            "a file name is a non-empty relative path".to_owned(),
        ));
    }
    let relative = Path::parse(name).map_err(|error| invalid(error.to_string()))?;
    Ok(prefix.parts().chain(relative.parts()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_the_prefix_part_by_part() {
        let prefix = Path::parse("models/v3").unwrap();
        assert_eq!(
            file_path(&prefix, "manifest.json").unwrap().as_ref(),
            "models/v3/manifest.json"
        );
        assert_eq!(
            file_path(&prefix, "factors/items.npy").unwrap().as_ref(),
            "models/v3/factors/items.npy"
        );
        assert_eq!(
            file_path(&Path::default(), "a.npy").unwrap().as_ref(),
            "a.npy"
        );
    }

    #[test]
    fn names_that_leave_the_prefix_are_refused() {
        let prefix = Path::parse("models/v3").unwrap();
        for name in [
            "",
            "/abs",
            "dir/",
            "../v2/a.npy",
            "a/../../b",
            "a//b",
            "./a",
        ] {
            assert!(
                matches!(
                    file_path(&prefix, name),
                    Err(BlobsError::InvalidName { .. })
                ),
                "{name:?} was accepted"
            );
        }
    }
}
