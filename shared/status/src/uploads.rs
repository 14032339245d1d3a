//! The record of an upload of saved marketplace pages: created by the gateway when it
//! accepts the files, completed file by file by the market stage as it reads them, read
//! by the gateway (`GET /api/v1/listings/uploads/{id}`).
//!
//! One KeyValue hash per upload: `meta` (what was received) and one `file:{n}` field per
//! uploaded file once it has been read. A redelivered upload writes the same outcome
//! again, so replays converge; the state is worked out from which files have one.

use std::sync::Arc;
use std::time::Duration;

use cratedigger_domain::ReleaseId;
use cratedigger_kv::KeyValue;
use serde::{Deserialize, Serialize};

use crate::RecordError;

/// What the gateway received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMeta {
    pub id: String,
    /// RFC 3339: when the files arrived, and when their listings count as seen.
    pub received_at: String,
    /// The uploaded files' names, in order.
    pub files: Vec<String>,
}

/// How one uploaded file was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOutcome {
    pub name: String,
    /// The pages it held: itself for an HTML file, its HTML entries for a zip.
    pub pages: Vec<PageOutcome>,
    /// Why the file as a whole could not be read (a damaged zip, one with no page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One page: its listings stored, all of them, or nothing stored and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageOutcome {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseId>,
    pub listings: u32,
    /// The page showed every listing of the release (so it counts as fetched for the
    /// listing cache's lifetime); otherwise its listings are added to what is known.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FileOutcome {
    pub fn stored_pages(&self) -> usize {
        self.pages.iter().filter(|p| p.error.is_none()).count()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Received; no file read yet.
    Queued,
    /// Some files read.
    Reading,
    /// Every page of every file stored.
    Succeeded,
    /// Some pages stored, some not (each says why).
    Partial,
    /// Nothing stored.
    Failed,
}

/// The record as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub id: String,
    pub state: UploadState,
    pub received_at: String,
    /// Listings stored, over every page.
    pub listings: u32,
    /// Every uploaded file, read or not (`outcome` once read).
    pub files: Vec<FileStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FileOutcome>,
}

#[derive(Clone)]
pub struct UploadRecords {
    kv: Arc<dyn KeyValue>,
}

impl UploadRecords {
    /// An upload's record is kept a week after its last write.
    pub const TTL: Duration = Duration::from_secs(7 * 24 * 3600);

    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    fn key(id: &str) -> String {
        format!("upload:{id}")
    }

    pub async fn create(&self, meta: &UploadMeta) -> Result<(), RecordError> {
        self.write(&meta.id, "meta", meta).await
    }

    /// Records how file `index` was read (again, on a redelivery: the same outcome).
    pub async fn record_file(
        &self,
        id: &str,
        index: usize,
        outcome: &FileOutcome,
    ) -> Result<(), RecordError> {
        self.write(id, &format!("file:{index}"), outcome).await
    }

    async fn write<T: Serialize>(
        &self,
        id: &str,
        field: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let key = Self::key(id);
        let text = serde_json::to_string(value).map_err(|e| RecordError::Undecodable {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        self.kv.hash_set(&key, &[(field, &text)]).await?;
        self.kv.expire(&key, Self::TTL).await?;
        Ok(())
    }

    /// The record, or `None` for an unknown (or expired) upload.
    pub async fn load(&self, id: &str) -> Result<Option<UploadStatus>, RecordError> {
        let key = Self::key(id);
        let fields = self.kv.hash_get_all(&key).await?;
        let Some(meta) = fields.get("meta") else {
            return Ok(None);
        };
        let undecodable = |reason: String| RecordError::Undecodable {
            key: key.clone(),
            reason,
        };
        let meta: UploadMeta =
            serde_json::from_str(meta).map_err(|e| undecodable(e.to_string()))?;
        let mut files = Vec::with_capacity(meta.files.len());
        for (index, name) in meta.files.iter().enumerate() {
            let outcome = fields
                .get(&format!("file:{index}"))
                .map(|text| serde_json::from_str::<FileOutcome>(text))
                .transpose()
                .map_err(|e| undecodable(e.to_string()))?;
            files.push(FileStatus {
                name: name.clone(),
                outcome,
            });
        }
        Ok(Some(UploadStatus {
            id: meta.id,
            state: state_of(&files),
            received_at: meta.received_at,
            listings: files
                .iter()
                .flat_map(|f| f.outcome.iter().flat_map(|o| &o.pages))
                .filter(|p| p.error.is_none())
                .map(|p| p.listings)
                .sum(),
            files,
        }))
    }
}

fn state_of(files: &[FileStatus]) -> UploadState {
    let read: Vec<&FileOutcome> = files.iter().filter_map(|f| f.outcome.as_ref()).collect();
    if read.is_empty() {
        return UploadState::Queued;
    }
    if read.len() < files.len() {
        return UploadState::Reading;
    }
    let pages: usize = read.iter().map(|o| o.pages.len()).sum();
    let stored: usize = read.iter().map(|o| o.stored_pages()).sum();
    let whole = read.iter().all(|o| o.error.is_none());
    if stored == 0 {
        UploadState::Failed
    } else if stored == pages && whole {
        UploadState::Succeeded
    } else {
        UploadState::Partial
    }
}

#[cfg(test)]
mod tests {
    use cratedigger_kv::MemoryKeyValue;

    use super::*;

    fn page(name: &str, error: Option<&str>) -> PageOutcome {
        PageOutcome {
            name: name.into(),
            release: Some(ReleaseId(7)),
            listings: if error.is_some() { 0 } else { 3 },
            complete: true,
            error: error.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn the_state_follows_the_files_read_and_a_replay_changes_nothing() {
        let records = UploadRecords::new(Arc::new(MemoryKeyValue::new()));
        assert_eq!(records.load("nope").await.unwrap(), None);
        let meta = UploadMeta {
            id: "u1".into(),
            received_at: "2026-12-02T10:00:00.000Z".into(),
            files: vec!["a.html".into(), "b.zip".into()],
        };
        records.create(&meta).await.unwrap();
        let status = records.load("u1").await.unwrap().unwrap();
        assert_eq!((status.state, status.files.len()), (UploadState::Queued, 2));

        let a = FileOutcome {
            name: "a.html".into(),
            pages: vec![page("a.html", None)],
            error: None,
        };
        records.record_file("u1", 0, &a).await.unwrap();
        assert_eq!(
            records.load("u1").await.unwrap().unwrap().state,
            UploadState::Reading
        );
        let b = FileOutcome {
            name: "b.zip".into(),
            pages: vec![
                page("b.zip/x.html", None),
                page("b.zip/y.html", Some("a login page")),
            ],
            error: None,
        };
        records.record_file("u1", 1, &b).await.unwrap();
        records.record_file("u1", 1, &b).await.unwrap();
        let status = records.load("u1").await.unwrap().unwrap();
        assert_eq!((status.state, status.listings), (UploadState::Partial, 6));
        assert_eq!(status.files[1].outcome.as_ref(), Some(&b));
    }
}
