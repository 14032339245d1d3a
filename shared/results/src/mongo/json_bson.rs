//! JSON <-> BSON for stored documents, chosen so that what we store reads back equal:
//! every JSON integer becomes an Int64 (read back from Int32 or Int64), every JSON float a
//! Double (bit for bit), and nothing else is produced. A BSON value JSON has no form for
//! (dates, object ids...) was written by someone else and is refused on reading.

use mongodb::bson::{Bson, Document};
use serde_json::{Map, Number, Value};

/// The document to store for a JSON object, `_id` first.
pub(super) fn to_document(id: &str, fields: &Map<String, Value>) -> Result<Document, String> {
    let mut document = Document::new();
    document.insert("_id", id);
    for (name, value) in fields {
        document.insert(checked_name(name)?, to_bson(value)?);
    }
    Ok(document)
}

/// The JSON object a stored document holds, without its `_id`.
pub(super) fn to_json(mut document: Document) -> Result<Value, String> {
    document.remove("_id");
    from_bson(Bson::Document(document))
}

/// BSON writes field names as NUL-terminated strings.
fn checked_name(name: &str) -> Result<&str, String> {
    if name.contains('\0') {
        return Err(format!("field name {name:?} holds a NUL character"));
    }
    Ok(name)
}

fn to_bson(value: &Value) -> Result<Bson, String> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(flag) => Bson::Boolean(*flag),
        Value::Number(number) => number_to_bson(number)?,
        Value::String(text) => Bson::String(text.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect::<Result<_, _>>()?),
        Value::Object(fields) => {
            let mut document = Document::new();
            for (name, value) in fields {
                document.insert(checked_name(name)?, to_bson(value)?);
            }
            Bson::Document(document)
        }
    })
}

fn number_to_bson(number: &Number) -> Result<Bson, String> {
    if let Some(integer) = number.as_i64() {
        return Ok(Bson::Int64(integer));
    }
    match number.as_f64() {
        Some(float) if number.is_f64() => Ok(Bson::Double(float)),
        _ => Err(format!(
            "integer {number} is outside the signed 64-bit range"
        )),
    }
}

fn from_bson(value: Bson) -> Result<Value, String> {
    Ok(match value {
        Bson::Null => Value::Null,
        Bson::Boolean(flag) => Value::Bool(flag),
        Bson::Int32(integer) => Value::from(integer),
        Bson::Int64(integer) => Value::from(integer),
        Bson::Double(float) => Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| format!("the float {float} has no JSON form"))?,
        Bson::String(text) => Value::String(text),
        Bson::Array(items) => {
            Value::Array(items.into_iter().map(from_bson).collect::<Result<_, _>>()?)
        }
        Bson::Document(document) => {
            let mut fields = Map::new();
            for (name, value) in document {
                fields.insert(name, from_bson(value)?);
            }
            Value::Object(fields)
        }
        other => {
            return Err(format!(
                "a BSON {:?} has no JSON form here",
                other.element_type()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: Value) -> Value {
        let Value::Object(fields) = &value else {
            panic!("not an object")
        };
        let document = to_document("key", fields).unwrap();
        assert_eq!(document.get_str("_id").ok(), Some("key"));
        to_json(document).unwrap()
    }

    #[test]
    fn what_we_store_reads_back_equal() {
        let value = json!({
            "null": null, "yes": true, "int": -7, "big": i64::MAX, "small": i64::MIN,
            "float": 0.1, "whole_float": 2.0, "tiny": 5e-324,
            "text": "ünïcode ♫ \u{0} inside",
            "list": [1, "two", [3.5], {"four": null}],
            "nested": {"a": {"b": {"c": []}}},
        });
        let back = round_trip(value.clone());
        assert_eq!(back, value);
        assert!(back["whole_float"].is_f64(), "a float stays a float");
        assert!(back["int"].is_i64(), "an integer stays an integer");
    }

    #[test]
    fn refuses_what_bson_cannot_hold() {
        let too_big = json!({"n": u64::MAX});
        let Value::Object(fields) = &too_big else {
            unreachable!()
        };
        assert!(to_document("k", fields).unwrap_err().contains("64-bit"));
        let nul_name = json!({"a\u{0}b": 1});
        let Value::Object(fields) = &nul_name else {
            unreachable!()
        };
        assert!(to_document("k", fields).unwrap_err().contains("NUL"));
    }

    #[test]
    fn int32_reads_as_an_integer_and_dates_are_refused() {
        let mut document = Document::new();
        document.insert("_id", "k");
        document.insert("n", Bson::Int32(5));
        assert_eq!(to_json(document.clone()).unwrap(), json!({"n": 5}));
        document.insert(
            "when",
            Bson::DateTime(mongodb::bson::DateTime::from_millis(0)),
        );
        assert!(to_json(document).is_err());
    }
}
