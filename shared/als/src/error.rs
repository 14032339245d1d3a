use std::path::PathBuf;

/// What can go wrong. Input errors name the offending input row so a caller can report
/// it; file errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum AlsError {
    #[error("input row {row}: weight {weight} is not a finite, non-negative number")]
    BadWeight { row: usize, weight: f32 },
    #[error("input row {row}: {what} index {index} does not fit the matrix ({limit} {what}s)")]
    IndexOutOfRange {
        row: usize,
        what: &'static str,
        index: u64,
        limit: u64,
    },
    #[error("the interaction matrix has no interactions")]
    Empty,
    #[error("invalid parameter {name}: {reason}")]
    BadParameter { name: &'static str, reason: String },
    #[error("{what} has {actual} columns but the model has {expected} factors")]
    FactorMismatch {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("item index {0} is not in the model")]
    UnknownItem(u32),
    #[error("the user's linear system is not positive definite (regularization too small?)")]
    NotPositiveDefinite,
    #[error("model file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("model file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl AlsError {
    pub(crate) fn bad_parameter(name: &'static str, reason: impl Into<String>) -> Self {
        Self::BadParameter {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
