//! The ResultsStore port: what jobs produce, as JSON documents.
//!
//! Two collections: `recommendations`, keyed by username folded to lower case (the newest
//! set replaces the
//! previous one), and `carts`, keyed by job id. Writes are upserts by key, so a handler
//! that runs twice for the same message writes the same document twice and changes
//! nothing. The document shapes are defined above the port; here a document is any JSON
//! object.
//!
//! Adapters: [`EmbeddedResultsStore`] (a SQLite file; the one-process mode) and
//! [`MongoResultsStore`] (MongoDB, documents with `_id` = key). Chosen once, from
//! settings, by the service's builder.
//!
//! No MongoDB server can run on the development machine, so the Mongo adapter's tests
//! run against SecantusDB (a MongoDB wire-protocol server) when `MONGODB_URI` is set, as
//! `.ci/run` does; without it they are skipped locally.
//!
//! Both adapters accept the same documents: a JSON object without a top-level `_id`
//! field (Mongo keeps the key there), nested at most [`MAX_NESTING`] deep and at most
//! [`MAX_DOCUMENT_BYTES`] as JSON text. Numbers
//! come back exactly as stored: integers within i64, and floats bit for bit.
//!
//! The cargo feature `conformance` adds [`conformance`], the one test suite every
//! adapter must pass.

#[cfg(feature = "conformance")]
pub mod conformance;
mod embedded;
mod mongo;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use crate::embedded::EmbeddedResultsStore;
pub use crate::mongo::{MongoResultsStore, MongoSettings};

/// The largest document either adapter accepts, as compact JSON text: under MongoDB's
/// 16 MiB limit on a stored document, with room for BSON's own framing.
pub const MAX_DOCUMENT_BYTES: usize = 15 * 1024 * 1024;

/// The deepest nesting of objects and arrays accepted, the document itself counting as
/// one: below MongoDB's limit of 100 and serde_json's reading limit of 128.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    Recommendations,
    Carts,
}

impl Collection {
    pub fn name(self) -> &'static str {
        match self {
            Self::Recommendations => "recommendations",
            Self::Carts => "carts",
        }
    }
}

#[async_trait]
pub trait ResultsStore: Send + Sync {
    /// Inserts or replaces the document stored under `id`. `document` must be a JSON
    /// object without a top-level `_id` field, nested at most [`MAX_NESTING`] deep and
    /// at most [`MAX_DOCUMENT_BYTES`] as JSON:
    /// anything else is `Rejected`, identically in every adapter.
    async fn put(
        &self,
        collection: Collection,
        id: &str,
        document: &Value,
    ) -> Result<(), ResultsError>;

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Value>, ResultsError>;

    /// Removes the document; true if it existed.
    async fn delete(&self, collection: Collection, id: &str) -> Result<bool, ResultsError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The store could not be reached or timed out: retry later.
    #[error("results store unavailable: {0}")]
    Unavailable(String),
    /// The document cannot be stored as it is (not an object, too large...): do not retry.
    #[error("document {id} in {collection} rejected: {reason}")]
    Rejected {
        collection: &'static str,
        id: String,
        reason: String,
    },
    /// A stored document could not be read back.
    #[error("document {id} in {collection} is unreadable: {reason}")]
    Corrupt {
        collection: &'static str,
        id: String,
        reason: String,
    },
}

/// The checks every adapter makes before storing, so a document one adapter takes is
/// never refused by another: the object's fields and its compact JSON text.
fn accepted_document<'a>(
    collection: Collection,
    id: &str,
    document: &'a Value,
) -> Result<(&'a Map<String, Value>, String), ResultsError> {
    let rejected = |reason: String| ResultsError::Rejected {
        collection: collection.name(),
        id: id.to_owned(),
        reason,
    };
    let Value::Object(fields) = document else {
        return Err(rejected("a document must be a JSON object".to_owned()));
    };
    if fields.contains_key("_id") {
        return Err(rejected(
            "the top-level field _id is reserved for the key".to_owned(),
        ));
    }
    check_values(document).map_err(rejected)?;
    let text = serde_json::to_string(document).map_err(|error| rejected(error.to_string()))?;
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(rejected(format!(
            "{} bytes of JSON exceed the limit of {MAX_DOCUMENT_BYTES}",
            text.len()
        )));
    }
    Ok((fields, text))
}

/// Refuses what not every adapter can give back exactly: nesting deeper than
/// [`MAX_NESTING`] and integers beyond i64 (BSON has no unsigned 64-bit type). Walks
/// without recursion, since the depth is what is being checked.
fn check_values(document: &Value) -> Result<(), String> {
    let mut pending = vec![(document, 1)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(fields) => Box::new(fields.values()),
            Value::Array(items) => Box::new(items.iter()),
            Value::Number(number) if number.is_u64() && number.as_i64().is_none() => {
                return Err(format!(
                    "integer {number} is outside the signed 64-bit range"
                ));
            }
            _ => continue,
        };
        if depth > MAX_NESTING {
            return Err(format!("nested deeper than {MAX_NESTING} levels"));
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (1..levels).fold(json!({}), |inner, _| json!({ "n": inner }))
    }

    #[test]
    fn nesting_and_integer_range_are_checked() {
        assert!(check_values(&nested(MAX_NESTING)).is_ok());
        assert!(check_values(&nested(MAX_NESTING + 1)).is_err());
        assert!(check_values(&json!({"a": [[i64::MIN, i64::MAX]]})).is_ok());
        assert!(check_values(&json!({"a": [[u64::MAX]]})).is_err());
        assert!(check_values(&json!({"a": 1.5e300})).is_ok());
    }

    #[test]
    fn documents_are_checked_alike_for_every_adapter() {
        let carts = Collection::Carts;
        assert!(accepted_document(carts, "j", &json!({"a": 1})).is_ok());
        for refused in [json!([1]), json!("text"), json!(null), json!({"_id": "x"})] {
            let outcome = accepted_document(carts, "j", &refused);
            assert!(
                matches!(outcome, Err(ResultsError::Rejected { .. })),
                "{refused}"
            );
        }
    }
}
