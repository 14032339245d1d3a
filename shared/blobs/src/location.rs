//! From a location setting to a store and the prefix inside it.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use url::Url;

use crate::BlobsError;

/// A store and the prefix under which this location's files live.
#[derive(Clone, Debug)]
pub struct BlobLocation {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: Path,
}

/// Opens `location` (see the crate header for the forms). A local directory is created
/// if missing and written with fsync, so a model is on disk before its version is
/// recorded. Cloud stores take their credentials from the environment they run in
/// (workload identity, instance metadata); see [`open_with_options`] for explicit ones.
/// Each `memory://` location is a new, empty store.
pub fn open(location: &str) -> Result<BlobLocation, BlobsError> {
    open_with_options(location, std::iter::empty::<(&str, &str)>())
}

/// Like [`open`], with options for a cloud store's builder (`object_store`'s
/// configuration keys, e.g. `google_service_account` or `aws_region`); ignored by local
/// and memory stores. Unknown keys are ignored by `object_store`.
pub fn open_with_options<I, K, V>(location: &str, options: I) -> Result<BlobLocation, BlobsError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let invalid = |reason: String| BlobsError::InvalidLocation {
        location: location.to_owned(),
        reason,
    };
    if !location.contains("://") {
        return local_directory(std::path::Path::new(location)).map_err(invalid);
    }
    let url = Url::parse(location).map_err(|error| invalid(error.to_string()))?;
    match url.scheme() {
        "file" => {
            let directory = url
                .to_file_path()
                .map_err(|()| invalid("not an absolute local path".to_owned()))?;
            local_directory(&directory).map_err(invalid)
        }
        "memory" => Ok(BlobLocation {
            store: Arc::new(InMemory::new()),
            prefix: Path::parse(url.path()).map_err(|error| invalid(error.to_string()))?,
        }),
        "gs" if !cfg!(feature = "gcp") => Err(invalid(
            "this build has no Google Cloud Storage support (cargo feature gcp)".to_owned(),
        )),
        "s3" if !cfg!(feature = "aws") => Err(invalid(
            "this build has no S3 support (cargo feature aws)".to_owned(),
        )),
        "gs" | "s3" => {
            let (store, prefix) = object_store::parse_url_opts(&url, options)
                .map_err(|error| invalid(error.to_string()))?;
            Ok(BlobLocation {
                store: Arc::from(store),
                prefix,
            })
        }
        other => Err(invalid(format!(
            "unsupported scheme {other}: use a directory, file://, memory://, gs:// or s3://"
        ))),
    }
}

fn local_directory(directory: &std::path::Path) -> Result<BlobLocation, String> {
    if directory.as_os_str().is_empty() {
        return Err("an empty directory name".to_owned());
    }
    std::fs::create_dir_all(directory)
        .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    let store = LocalFileSystem::new_with_prefix(directory)
        .map_err(|error| error.to_string())?
        .with_fsync(true);
    Ok(BlobLocation {
        store: Arc::new(store),
        prefix: Path::default(),
    })
}
