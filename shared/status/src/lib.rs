//! The job status board: one record per job, written by the tracker, read by the gateway.
//!
//! The record is one KeyValue hash (so a read is one round trip) plus, per chunked
//! stage, the set of chunks done. Events arrive at least once and in any order, and the
//! tracker may run as several replicas, so every field is written so that replays and
//! interleavings converge on the same record:
//!
//! - counts and ranks only go up (`hash_set_max`): a stage never returns from
//!   "succeeded" to "running", the percentage never goes backwards;
//! - facts that happen once keep their first value (`hash_set_if_absent`): when a stage
//!   started, how many chunks it has, the job's final state and error;
//! - a chunk is done when it is a member of the stage's done set, so a redelivered
//!   ChunkDone counts once, and a ChunkDone that arrives before its ChunksPlanned is
//!   counted when the total arrives;
//! - "the stage is complete" is claimed with `set_if_absent`, so exactly one caller is
//!   told to announce StageCompleted.
//!
//! The record expires 24 hours after its last write.
//!
//! Beside the board, [`records`] keeps the listing freshness marks (the 24-hour listing
//! cache) and a carts job's candidates, and [`uploads`] the record of each upload of
//! saved marketplace pages.

mod board;
mod record;
pub mod records;
pub mod uploads;

pub use board::{Completion, Overdue, StageCompletion, StatusBoard};
pub use record::{JobStatus, StageStatus};
pub use records::{CandidateRecords, ListingFreshness, MarketRecords, RecordError};
pub use uploads::{
    FileOutcome, FileStatus, PageOutcome, UploadMeta, UploadRecords, UploadState, UploadStatus,
};
