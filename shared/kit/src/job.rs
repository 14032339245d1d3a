//! Building the events every stage publishes about its job.

use cratedigger_domain::Stage;
use cratedigger_proto::convert::stage_to_pb;
use cratedigger_proto::events;

use crate::HandleError;

/// The message for the people reading a job that a stage gave up on: `what` failed and
/// what to do. Never the error itself (a database's words, an internal address, a
/// credential in a URL), which goes to the log instead.
pub fn gave_up(what: &str, error: &HandleError) -> String {
    tracing::error!(error = %error, "{what}");
    match error {
        HandleError::Retry(_) => {
            format!("{what}: it kept failing, so the job was stopped; try again later")
        }
        HandleError::Reject(_) => format!(
            "{what}: this job could not be handled; try again, and report it if it keeps happening"
        ),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_up_job_says_what_failed_and_nothing_of_the_inside() {
        let error = HandleError::retry(anyhow::anyhow!(
            "error communicating with database: postgres://admin:hunter2@db.internal:5432"
        ));
        let message = gave_up("could not recommend", &error);
        assert!(
            message.starts_with("could not recommend: it kept failing"),
            "{message}"
        );
        for secret in ["postgres", "hunter2", "db.internal", "database"] {
            assert!(!message.contains(secret), "{message}");
        }
        let rejected = gave_up(
            "could not build the carts",
            &HandleError::reject(anyhow::anyhow!("SELECT 1")),
        );
        assert!(!rejected.contains("SELECT"), "{rejected}");
    }
}
