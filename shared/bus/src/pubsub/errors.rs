//! From Google client errors to [`BusError`]: what the caller can do about them.

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::Error;
use google_cloud_pubsub::error::PublishError;

use crate::BusError;

/// What an RPC on `name` failing with `error` means to the caller.
pub(super) fn classify(error: &Error, name: &str, action: &str) -> BusError {
    match error
        .status()
        .map(|status| (status.code, status.message.as_str()))
    {
        Some((Code::NotFound, _)) => BusError::TopicNotFound(name.to_owned()),
        Some((Code::InvalidArgument, reason)) => BusError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        },
        _ => BusError::Unavailable(format!("{action} {name}: {error}")),
    }
}

/// True when creating something failed only because it exists already.
pub(super) fn already_exists(error: &Error) -> bool {
    error
        .status()
        .is_some_and(|status| status.code == Code::AlreadyExists)
}

pub(super) fn classify_publish(error: &PublishError, topic: &str) -> BusError {
    match error {
        PublishError::Rpc(error) => classify(error, topic, "publishing to"),
        other => BusError::Unavailable(format!("publishing to {topic}: {other}")),
    }
}

/// Building a client only fails on bad settings or credentials; nothing is dialled yet.
pub(super) fn client_setup(client: &str, error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(format!("creating the pub/sub {client} client: {error}"))
}
