//! The contract between services: protobuf events and gRPC services compiled from
//! `proto/`, with conversions to and from domain types.
//!
//! Proto types stop at the edge: a handler converts the event into domain types first
//! ([`convert`]) and never passes generated types further in.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod events {
    tonic::include_proto!("cratedigger.events.v1");
}

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod recommender {
    tonic::include_proto!("cratedigger.recommender.v1");
}

pub mod convert;
mod topics;

pub use topics::{ALL_TOPICS, Event, topic_of};
