//! `GET /api/v1/jobs/{id}/events`: the status record as Server-Sent Events. The board has
//! no change feed, so the stream reads it a few times a second and sends the record
//! whenever it differs from the last one sent; it ends after sending a final state.

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use cratedigger_domain::JobId;
use futures::Stream;

use crate::access::Caller;
use crate::error::ErrorBody;
use crate::jobs::{parse_job_id, visible_status};
use crate::openapi::StatusEventDoc;
use crate::{ApiError, Gateway};

/// The event name of every status message.
pub const STATUS_EVENT: &str = "status";

struct Follow {
    /// Held while the stream is open: dropped with it, however it ends.
    _slot: tokio::sync::OwnedSemaphorePermit,
    gateway: Gateway,
    caller: Caller,
    job: JobId,
    last_sent: Option<String>,
    finished: bool,
    every: Duration,
}

/// Follow a job live.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "The job id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "`event: status` messages, each a status record, until the job ends",
         content_type = "text/event-stream", body = StatusEventDoc),
        (status = 400, description = "Not a job id", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, description = "Too many event streams open (`overloaded`, with Retry-After): poll the status instead", body = ErrorBody),
    ))]
pub(crate) async fn follow(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let job = parse_job_id(&id)?;
    // Refuse unknown or hidden jobs with a normal error before the stream starts.
    visible_status(&gateway, &caller, &job).await?;
    let every = Duration::from_millis(gateway.settings.events_poll_ms.max(20));
    let slot = gateway.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Overloaded(format!(
            "too many event streams are open; poll GET /api/v1/jobs/{job} instead, or try again shortly"
        ))
    })?;
    let start = Follow {
        _slot: slot,
        gateway,
        caller,
        job,
        last_sent: None,
        finished: false,
        every,
    };
    let stream = futures::stream::unfold(start, |mut follow| async move {
        loop {
            if follow.finished {
                return None;
            }
            match visible_status(&follow.gateway, &follow.caller, &follow.job).await {
                Ok(record) => {
                    let json = serde_json::to_string(&record).unwrap_or_default();
                    follow.finished = record.status.state.is_final();
                    if follow.last_sent.as_deref() != Some(json.as_str()) {
                        follow.last_sent = Some(json.clone());
                        return Some((Ok(Event::default().event(STATUS_EVENT).data(json)), follow));
                    }
                }
                // The record expired, or the board is unreachable: the client falls back
                // to polling, which reports the reason.
                Err(_) => return None,
            }
            tokio::select! {
                () = tokio::time::sleep(follow.every) => {}
                () = follow.gateway.stopping.wait() => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
