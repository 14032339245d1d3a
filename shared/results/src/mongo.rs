//! [`MongoResultsStore`]: the ResultsStore port on MongoDB, one collection per
//! [`Collection`], each document stored with `_id` = its key and its fields at the top.

mod json_bson;

use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use serde_json::Value;

use crate::{Collection, ResultsError, ResultsStore, accepted_document};

/// MongoDB refuses stored documents larger than this, as BSON.
const MAX_BSON_BYTES: usize = 16 * 1024 * 1024;
/// E11000: two upserts of a new `_id` raced and one lost the insert; retried as a
/// replacement of the winner's document.
const DUPLICATE_KEY: i32 = 11000;
const UPSERT_ATTEMPTS: usize = 3;
/// Server codes that mean "this document cannot be stored": BadValue, BSONObjectTooLarge,
/// document grew too large, and field names the server does not accept.
const DOCUMENT_REFUSED: [i32; 6] = [2, 10334, 17419, 17420, 52, 55];

/// Where the results live.
#[derive(Clone, Debug)]
pub struct MongoSettings {
    /// `mongodb://host:port/?directConnection=true` and the like.
    pub uri: String,
    pub database: String,
    /// Bounds finding a server and opening a connection; a call that cannot is
    /// `Unavailable`.
    pub timeout: Duration,
}

impl MongoSettings {
    pub fn new(uri: impl Into<String>, database: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            database: database.into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// JSON documents in a MongoDB database.
#[derive(Clone, Debug)]
pub struct MongoResultsStore {
    database: Database,
}

impl MongoResultsStore {
    /// Connects and pings the server, so a wrong address fails at start-up.
    pub async fn connect(settings: &MongoSettings) -> Result<Self, ResultsError> {
        let mut options = ClientOptions::parse(&settings.uri)
            .await
            .map_err(unavailable)?;
        options.app_name = Some("cratedigger".to_owned());
        options.server_selection_timeout = Some(settings.timeout);
        options.connect_timeout = Some(settings.timeout);
        let client = Client::with_options(options).map_err(unavailable)?;
        let database = client.database(&settings.database);
        database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(unavailable)?;
        Ok(Self { database })
    }

    /// Removes the whole database (tests end with it).
    pub async fn drop_database(&self) -> Result<(), ResultsError> {
        self.database.drop().await.map_err(unavailable)
    }

    fn collection(&self, collection: Collection) -> mongodb::Collection<Document> {
        self.database.collection(collection.name())
    }
}

fn unavailable(error: MongoError) -> ResultsError {
    ResultsError::Unavailable(error.to_string())
}

fn is_duplicate_key(error: &MongoError) -> bool {
    matches!(&*error.kind, ErrorKind::Write(WriteFailure::WriteError(failure)) if failure.code == DUPLICATE_KEY)
}

/// A write the server refused because of the document is `Rejected` (retrying cannot
/// help); anything else (no server, timeouts, elections) is `Unavailable`.
fn put_failure(collection: Collection, id: &str, error: MongoError) -> ResultsError {
    let refused_code = match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(failure)) => Some(failure.code),
        ErrorKind::Command(failure) => Some(failure.code),
        ErrorKind::InvalidArgument { .. } | ErrorKind::BsonSerialization(_) => Some(2),
        _ => None,
    };
    let retryable = error.contains_label("RetryableWriteError");
    match refused_code {
        Some(code) if DOCUMENT_REFUSED.contains(&code) && !retryable => ResultsError::Rejected {
            collection: collection.name(),
            id: id.to_owned(),
            reason: error.to_string(),
        },
        _ => unavailable(error),
    }
}

#[async_trait]
impl ResultsStore for MongoResultsStore {
    async fn put(
        &self,
        collection: Collection,
        id: &str,
        document: &Value,
    ) -> Result<(), ResultsError> {
        let (fields, _) = accepted_document(collection, id, document)?;
        let rejected = |reason: String| ResultsError::Rejected {
            collection: collection.name(),
            id: id.to_owned(),
            reason,
        };
        let stored = json_bson::to_document(id, fields).map_err(rejected)?;
        let mut bytes = Vec::new();
        stored
            .to_writer(&mut bytes)
            .map_err(|error| rejected(error.to_string()))?;
        if bytes.len() > MAX_BSON_BYTES {
            return Err(rejected(format!(
                "{} bytes of BSON exceed MongoDB's limit of {MAX_BSON_BYTES}",
                bytes.len()
            )));
        }
        let target = self.collection(collection);
        let mut attempt = 1;
        loop {
            let outcome = target
                .replace_one(doc! { "_id": id }, &stored)
                .upsert(true)
                .await;
            match outcome {
                Ok(_) => return Ok(()),
                Err(error) if is_duplicate_key(&error) && attempt < UPSERT_ATTEMPTS => attempt += 1,
                Err(error) => return Err(put_failure(collection, id, error)),
            }
        }
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Value>, ResultsError> {
        let corrupt = |reason: String| ResultsError::Corrupt {
            collection: collection.name(),
            id: id.to_owned(),
            reason,
        };
        let document = match self
            .collection(collection)
            .find_one(doc! { "_id": id })
            .await
        {
            Ok(Some(document)) => document,
            Ok(None) => return Ok(None),
            Err(error) if matches!(&*error.kind, ErrorKind::BsonDeserialization(_)) => {
                return Err(corrupt(error.to_string()));
            }
            Err(error) => return Err(unavailable(error)),
        };
        json_bson::to_json(document).map(Some).map_err(corrupt)
    }

    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, ResultsError> {
        let outcome = self
            .collection(collection)
            .delete_one(doc! { "_id": id })
            .await;
        Ok(outcome.map_err(unavailable)?.deleted_count > 0)
    }
}
