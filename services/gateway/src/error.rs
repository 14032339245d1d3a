//! One error shape for every error the API returns:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`. Each variant says what
//! the caller can do about it.

use std::time::Duration;

use axum::Json;
use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; `field` names the part to fix.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// No valid API key or session: sign in or send a key.
    #[error("a valid api key or a signed-in session is needed")]
    Unauthenticated,
    /// Known, but not the caller's to see or change.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the resource's state (cancelling a finished job).
    #[error("{0}")]
    Conflict(String),
    /// The client sent too many requests: wait `retry_after` and try again.
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// The body is larger than the gateway accepts.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not in the format the route takes (JSON, said by `content-type`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A feature that needs configuration that is missing (signing in, similar releases).
    #[error("{0}")]
    NotConfigured(String),
    /// A backend is unreachable: try again later.
    #[error("a backend is unavailable; try again shortly")]
    Unavailable(String),
    /// The gateway is at a limit of its own (open event streams): try again shortly, or
    /// as the message says.
    #[error("{0}")]
    Overloaded(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl ToString) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(e.to_string())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotConfigured(_) => (StatusCode::NOT_IMPLEMENTED, "not_configured"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `invalid_request`, `unauthenticated`, `forbidden`,
    /// `not_found`, `conflict`, `rate_limited`, `too_large`, `unsupported_media_type`,
    /// `not_configured`, `unavailable`, `overloaded`.
    pub code: String,
    /// For a person.
    pub message: String,
    /// The request field at fault (`username`, `criteria.budget`), for `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Unavailable(detail) = &self {
            tracing::warn!(error = %detail, "backend unavailable");
        }
        let field = match &self {
            Self::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        match self {
            Self::Overloaded(_) => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::RateLimited { retry_after } => {
                let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            Self::Unauthenticated => {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"cratedigger\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// `405` in the one error shape.
pub(crate) fn method_not_allowed() -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "method_not_allowed".into(),
            message: "this route does not take that method".into(),
            field: None,
        },
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// Errors produced outside the handlers (axum's own rejections, tower layers) come as
/// plain text; this rewrites them into the one error shape.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_client_error() => "invalid_request",
        _ => "internal",
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_lowercase())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message,
            field: None,
        },
    };
    let mut rewritten = (status, Json(body)).into_response();
    for name in [RETRY_AFTER, WWW_AUTHENTICATE, ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_the_same_shape_and_a_fitting_status() {
        let cases = [
            (
                ApiError::invalid("username", "too long"),
                400,
                "invalid_request",
            ),
            (ApiError::Unauthenticated, 401, "unauthenticated"),
            (
                ApiError::RateLimited {
                    retry_after: Duration::from_millis(300),
                },
                429,
                "rate_limited",
            ),
            (ApiError::unavailable("redis down"), 503, "unavailable"),
        ];
        for (error, status, code) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(code, code.to_lowercase());
        }
        let limited = ApiError::RateLimited {
            retry_after: Duration::from_millis(300),
        }
        .into_response();
        assert_eq!(limited.headers()[RETRY_AFTER], "1");
        // Backend details stay in the log, not in the answer.
        assert_eq!(
            ApiError::unavailable("redis://secret@host").to_string(),
            "a backend is unavailable; try again shortly"
        );
    }
}
