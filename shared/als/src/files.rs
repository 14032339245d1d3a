//! The model file format: a folder (or a blob prefix) of `.npy` arrays that numpy reads
//! with `np.load`, and a JSON manifest written last.
//!
//! | file | contents |
//! | --- | --- |
//! | `user_factors.npy` | `float32 [users, factors]`, row-major |
//! | `item_factors.npy` | `float32 [items, factors]`, row-major |
//! | `item_ids.npy` | `uint64 [items]`: the caller's id of each item row |
//! | `item_norm.npy` | `float32 [items]`: BM25 length norms (only with BM25 weighting) |
//! | `user_ids.json` | JSON array of the training users' names, possibly empty |
//! | `manifest.json` | format, version, parameters, training facts, shapes, and the SHA-256 and size of every other file |
//!
//! Loading checks every file against the manifest before parsing it, so a truncated or
//! altered file is reported by name instead of being read wrong.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::TrainingInfo;
use crate::{AlsError, AlsParams, ConfidenceState, Model};

pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT: &str = "cratedigger-als";
const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub users: usize,
    pub items: usize,
    pub factors: usize,
    pub params: AlsParams,
    pub training: TrainingInfo,
    pub files: BTreeMap<String, FileEntry>,
}

/// Encodes and decodes models; `save`/`load` do it on a local folder.
pub struct ModelFiles;

impl ModelFiles {
    /// Every file of the model as (name, bytes), the manifest last.
    pub fn encode(model: &Model) -> Result<Vec<(String, Vec<u8>)>, AlsError> {
        let (users, items, params, info) = model.parts();
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("user_factors.npy".into(), npy(users)?),
            ("item_factors.npy".into(), npy(items)?),
            (
                "item_ids.npy".into(),
                npy(&Array1::from(model.item_ids().to_vec()))?,
            ),
            ("user_ids.json".into(), json(&model.user_ids())?),
        ];
        if let ConfidenceState::Bm25 { item_norm } = model.confidence_state() {
            files.push((
                "item_norm.npy".into(),
                npy(&Array1::from(item_norm.clone()))?,
            ));
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            users: users.nrows(),
            items: items.nrows(),
            factors: items.ncols(),
            params: params.clone(),
            training: info.clone(),
            files: files
                .iter()
                .map(|(name, bytes)| {
                    (
                        name.clone(),
                        FileEntry {
                            sha256: sha256(bytes),
                            bytes: bytes.len() as u64,
                        },
                    )
                })
                .collect(),
        };
        files.push((MANIFEST_FILE.into(), json(&manifest)?));
        Ok(files)
    }

    /// Rebuilds a model from its files, fetched by name through `read`.
    pub fn decode(mut read: impl FnMut(&str) -> Option<Vec<u8>>) -> Result<Model, AlsError> {
        let manifest_bytes =
            read(MANIFEST_FILE).ok_or_else(|| AlsError::corrupt(MANIFEST_FILE, "missing"))?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| AlsError::corrupt(MANIFEST_FILE, e))?;
        if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
            return Err(AlsError::corrupt(
                MANIFEST_FILE,
                format!(
                    "format {} v{} is not {FORMAT} v{FORMAT_VERSION}",
                    manifest.format, manifest.format_version
                ),
            ));
        }
        let mut fetch = |name: &str| -> Result<Vec<u8>, AlsError> {
            let entry = manifest
                .files
                .get(name)
                .ok_or_else(|| AlsError::corrupt(name, "not listed in the manifest"))?;
            let bytes = read(name).ok_or_else(|| AlsError::corrupt(name, "missing"))?;
            if bytes.len() as u64 != entry.bytes {
                return Err(AlsError::corrupt(
                    name,
                    format!("{} bytes, expected {}", bytes.len(), entry.bytes),
                ));
            }
            if sha256(&bytes) != entry.sha256 {
                return Err(AlsError::corrupt(
                    name,
                    "checksum does not match the manifest",
                ));
            }
            Ok(bytes)
        };
        let users: Array2<f32> = read_npy("user_factors.npy", &fetch("user_factors.npy")?)?;
        let items: Array2<f32> = read_npy("item_factors.npy", &fetch("item_factors.npy")?)?;
        let item_ids: Array1<u64> = read_npy("item_ids.npy", &fetch("item_ids.npy")?)?;
        let user_ids: Vec<String> = serde_json::from_slice(&fetch("user_ids.json")?)
            .map_err(|e| AlsError::corrupt("user_ids.json", e))?;
        let state = if manifest.files.contains_key("item_norm.npy") {
            let norm: Array1<f32> = read_npy("item_norm.npy", &fetch("item_norm.npy")?)?;
            ConfidenceState::Bm25 {
                item_norm: norm.to_vec(),
            }
        } else {
            ConfidenceState::Stateless
        };
        check_shapes(&manifest, &users, &items, item_ids.len(), &state)?;
        Model::from_parts(users, items, manifest.params, state, manifest.training)
            .with_ids(item_ids.to_vec(), user_ids)
            .map_err(|e| AlsError::corrupt("item_ids.npy", e))
    }

    /// Writes the model into `dir` (created if needed), the manifest last.
    pub fn save(model: &Model, dir: &Path) -> Result<(), AlsError> {
        std::fs::create_dir_all(dir).map_err(|source| AlsError::Io {
            path: dir.into(),
            source,
        })?;
        for (name, bytes) in Self::encode(model)? {
            let path = dir.join(&name);
            std::fs::write(&path, bytes).map_err(|source| AlsError::Io { path, source })?;
        }
        Ok(())
    }

    pub fn load(dir: &Path) -> Result<Model, AlsError> {
        Self::decode(|name| std::fs::read(dir.join(name)).ok())
    }
}

fn check_shapes(
    m: &Manifest,
    users: &Array2<f32>,
    items: &Array2<f32>,
    ids: usize,
    state: &ConfidenceState,
) -> Result<(), AlsError> {
    let wrong = |file: &str, what: String| Err(AlsError::corrupt(file, what));
    if users.dim() != (m.users, m.factors) {
        return wrong(
            "user_factors.npy",
            format!(
                "shape {:?}, manifest says ({}, {})",
                users.dim(),
                m.users,
                m.factors
            ),
        );
    }
    if items.dim() != (m.items, m.factors) {
        return wrong(
            "item_factors.npy",
            format!(
                "shape {:?}, manifest says ({}, {})",
                items.dim(),
                m.items,
                m.factors
            ),
        );
    }
    if ids != m.items {
        return wrong("item_ids.npy", format!("{ids} ids for {} items", m.items));
    }
    if let ConfidenceState::Bm25 { item_norm } = state
        && item_norm.len() != m.items
    {
        return wrong(
            "item_norm.npy",
            format!("{} norms for {} items", item_norm.len(), m.items),
        );
    }
    Ok(())
}

fn npy<T: WriteNpyExt>(array: &T) -> Result<Vec<u8>, AlsError> {
    let mut out = Vec::new();
    array
        .write_npy(&mut out)
        .map_err(|e| AlsError::corrupt("<npy>", e))?;
    Ok(out)
}

fn read_npy<T: ReadNpyExt>(name: &str, bytes: &[u8]) -> Result<T, AlsError> {
    T::read_npy(Cursor::new(bytes)).map_err(|e| AlsError::corrupt(name, e))
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, AlsError> {
    serde_json::to_vec_pretty(value).map_err(|e| AlsError::corrupt("<json>", e))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
