//! Building the events every stage publishes about its job.

use cratedigger_domain::Stage;
use cratedigger_proto::convert::stage_to_pb;
use cratedigger_proto::events;

/// JobFailed for `job` at `stage`, with a stable code and a message a person can act on.
pub fn failed(
    job: &events::Job,
    stage: Stage,
    code: &str,
    message: impl Into<String>,
    retryable: bool,
) -> events::JobFailed {
    events::JobFailed {
        job: Some(job.clone()),
        stage: stage_to_pb(stage) as i32,
        code: code.to_owned(),
        message: message.into(),
        retryable,
    }
}

/// JobCompleted for `job`, its result stored at `result`.
pub fn completed(
    job: &events::Job,
    result: impl Into<String>,
    message: impl Into<String>,
) -> events::JobCompleted {
    events::JobCompleted {
        job: Some(job.clone()),
        result: result.into(),
        message: message.into(),
    }
}
