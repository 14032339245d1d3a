//! Listings the buyer brings: `POST /api/v1/listings/uploads` takes marketplace pages
//! saved from the buyer's own browser (HTML files, or zip archives of them), as a form's
//! file fields (`multipart/form-data`, what the page sends) or as the body itself
//! (`text/html` or `application/zip`, the file's name in `?name=`).
//!
//! The gateway checks what it can at once, so that a wrong file is a 400 naming it: each
//! file is not empty, is HTML or a zip archive whose directory reads, and the whole upload
//! stays under `max_upload_bytes`. It records the upload and publishes ListingsUploaded
//! with the files; the market stage reads them in the background and completes the
//! record, which `GET /api/v1/listings/uploads/{id}` shows.

use std::io::Cursor;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use cratedigger_proto::convert::timestamp_to_pb;
use cratedigger_proto::events as pb;
use cratedigger_status::{UploadMeta, UploadStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::{ApiError, Gateway};

/// The most files one upload may hold.
pub const MAX_FILES: usize = 50;
const MAX_NAME_CHARS: usize = 120;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedUpload {
    pub upload_id: String,
    pub status_url: String,
    /// The files received, by the names they are reported under.
    pub files: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    name: Option<String>,
}

/// Upload saved marketplace pages.
#[utoipa::path(post, path = "/api/v1/listings/uploads", tag = "listings",
    params(("name" = Option<String>, Query, description = "The file's name when the body is the file itself")),
    request_body(content_type = "multipart/form-data",
        description = "HTML pages saved from www.discogs.com/sell/release/{id}, or zip archives of them, as file fields of a form; or one file as the body (text/html or application/zip)"),
    responses(
        (status = 202, description = "Received; read in the background", body = CreatedUpload),
        (status = 400, description = "A file is empty, not HTML nor a zip archive, or there are none or too many; `field` names it", body = ErrorBody),
        (status = 401, description = "API keys are configured and none was sent", body = ErrorBody),
        (status = 403, description = "A session cookie sent from another site's page", body = ErrorBody),
        (status = 413, description = "Larger than the gateway accepts", body = ErrorBody),
    ))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let files = if content_type.starts_with("multipart/form-data") {
        let limit = gateway.settings.max_upload_bytes;
        form_files(
            Multipart::from_request(request, &gateway)
                .await
                .map_err(|e| {
                    ApiError::invalid("body", format!("is not a readable form: {}", e.body_text()))
                })?,
            limit,
        )
        .await?
    } else {
        let name = match content_type.split(';').next().unwrap_or_default().trim() {
            "text/html" | "application/xhtml+xml" => "page.html",
            "application/zip" | "application/x-zip-compressed" => "pages.zip",
            other => {
                return Err(ApiError::invalid(
                    "content-type",
                    format!(
                        "{other:?} is not accepted: send multipart/form-data, text/html or application/zip"
                    ),
                ));
            }
        };
        let name = query
            .name
            .as_deref()
            .map_or_else(|| name.to_owned(), clean_name);
        let body = axum::body::to_bytes(request.into_body(), gateway.settings.max_upload_bytes)
            .await
            .map_err(|_| ApiError::TooLarge(gateway.settings.max_upload_bytes))?;
        vec![(name, body.to_vec())]
    };
    if files.is_empty() {
        return Err(ApiError::invalid("files", "holds no file"));
    }
    if files.len() > MAX_FILES {
        return Err(ApiError::invalid(
            "files",
            format!("holds {} files; at most {MAX_FILES} at once", files.len()),
        ));
    }
    for (index, (name, bytes)) in files.iter().enumerate() {
        check_file(bytes).map_err(|reason| {
            ApiError::invalid(format!("files[{index}]"), format!("{name}: {reason}"))
        })?;
    }

    let id = uuid::Uuid::now_v7().to_string();
    let received_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    let event = pb::ListingsUploaded {
        upload_id: id.clone(),
        files: files
            .into_iter()
            .map(|(name, content)| pb::UploadedFile { name, content })
            .collect(),
        received_at: timestamp_to_pb(&received_at),
    };
    // The files travel in the event: it must fit in one message of the bus.
    if prost::Message::encoded_len(&event) > cratedigger_bus::MAX_MESSAGE_BYTES {
        return Err(ApiError::TooLarge(cratedigger_bus::MAX_MESSAGE_BYTES));
    }
    gateway
        .uploads
        .create(&UploadMeta {
            id: id.clone(),
            received_at: received_at.clone(),
            files: names.clone(),
        })
        .await
        .map_err(ApiError::unavailable)?;
    gateway
        .publisher
        .publish(&event)
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(upload = %id, files = names.len(), "listings upload received");
    let created = CreatedUpload {
        status_url: format!("/api/v1/listings/uploads/{id}"),
        upload_id: id,
        files: names,
    };
    Ok((StatusCode::ACCEPTED, Json(created)).into_response())
}

/// An upload's record: each file's pages, what was stored and why not.
#[utoipa::path(get, path = "/api/v1/listings/uploads/{id}", tag = "listings",
    params(("id" = String, Path, description = "The upload id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "The upload's record", body = UploadStatusDoc),
        (status = 400, description = "Not an upload id", body = ErrorBody),
        (status = 404, description = "No such upload (or expired: records are kept a week)", body = ErrorBody),
    ))]
pub(crate) async fn status(
    State(gateway): State<Gateway>,
    Path(id): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::invalid("id", "upload ids are UUIDs"))?
        .to_string();
    gateway
        .uploads
        .load(&id)
        .await
        .map_err(ApiError::unavailable)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no upload {id}")))
}

/// The file fields of a form (fields without a file name are passed over).
async fn form_files(mut form: Multipart, limit: usize) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut files = Vec::new();
    loop {
        let field = form.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(limit)
            } else {
                ApiError::invalid("body", format!("is not a readable form: {}", e.body_text()))
            }
        })?;
        let Some(field) = field else {
            return Ok(files);
        };
        let Some(name) = field.file_name().map(clean_name) else {
            continue;
        };
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(limit)
            } else {
                ApiError::invalid(
                    format!("files[{}]", files.len()),
                    format!("{name}: {}", e.body_text()),
                )
            }
        })?;
        files.push((name, bytes.to_vec()));
        if files.len() > MAX_FILES {
            return Err(ApiError::invalid(
                "files",
                format!("holds more than {MAX_FILES} files"),
            ));
        }
    }
}

/// The base name of what the browser sent, printable and at most 120 characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "page.html".to_owned()
    } else {
        name.to_owned()
    }
}

/// Whether a file can be an upload: HTML, or a zip archive whose directory reads.
fn check_file(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    if bytes.starts_with(b"PK") {
        return zip::ZipArchive::new(Cursor::new(bytes))
            .map(|_| ())
            .map_err(|e| format!("is not a readable zip archive ({e})"));
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'<') {
        return Ok(());
    }
    Err("is neither an HTML page nor a zip archive of them".into())
}

/// The shape of [`UploadStatus`] for the document.
#[derive(ToSchema)]
#[schema(as = UploadStatus)]
#[allow(dead_code)]
pub struct UploadStatusDoc {
    id: String,
    /// `queued`, `reading`, `succeeded`, `partial` or `failed`.
    state: String,
    received_at: String,
    /// Listings stored, over every page.
    listings: u32,
    /// Each file: `name`, and once read `outcome` with its `pages` (`name`, `release`,
    /// `listings`, `complete`, `error`) and an `error` for the file as a whole.
    files: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_base_names_and_files_are_html_or_zip() {
        assert_eq!(
            clean_name("C:\\Users\\me\\Release 1.html"),
            "Release 1.html"
        );
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("  "), "page.html");
        assert!(check_file(b"\xEF\xBB\xBF  <!DOCTYPE html><html></html>").is_ok());
        assert_eq!(check_file(b"").unwrap_err(), "is empty");
        assert!(check_file(b"%PDF-1.7").unwrap_err().contains("neither"));
        assert!(
            check_file(b"PK\x03\x04garbage")
                .unwrap_err()
                .contains("zip")
        );
    }
}
