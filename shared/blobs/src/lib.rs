//! Model artifacts in a blob store, through `object_store`'s own types.
//!
//! Consumes a location setting: a directory (`/var/lib/cratedigger/models`,
//! `file:///dir`), `memory://` for tests, `gs://bucket/prefix` (cargo feature `gcp`) or
//! `s3://bucket/prefix` (cargo feature `aws`). Produces an [`ObjectStore`] with the prefix
//! every file goes under ([`open`]), and reads and writes a model as the list of
//! `(name, bytes)` files the ALS crate's `ModelFiles` encodes ([`put_files`],
//! [`get_file`], [`get_files`]). Owns nothing else: versions are recorded in the catalog
//! by the trainer, which names the prefix of each version.
//!
//! Both cloud features are on by default; with object_store 0.14 they use reqwest 0.13
//! and rustls on aws-lc-rs, like the rest of the workspace.

mod files;
mod location;

pub use object_store::path::Path;
pub use object_store::{ObjectStore, ObjectStoreExt};

pub use crate::files::{get_file, get_files, put_files};
pub use crate::location::{BlobLocation, open, open_with_options};

#[derive(Debug, thiserror::Error)]
pub enum BlobsError {
    /// The location setting names no store this build can open: fix the setting.
    #[error("blob location {location} is unusable: {reason}")]
    InvalidLocation { location: String, reason: String },
    /// A file name that cannot be a path in the store: a bug in the caller.
    #[error("file name {name:?} is not a valid blob path: {reason}")]
    InvalidName { name: String, reason: String },
    /// The store refused the credentials: fix the configuration.
    #[error("blob store denied access: {0}")]
    Denied(String),
    /// The store failed or could not be reached: retry later.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

impl From<object_store::Error> for BlobsError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Self::Denied(error.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}
