//! A credential that cannot leak through `{:?}` or `{}`: both print `[redacted]`. The
//! value comes out only through [`Secret::expose`], which the client calls when it
//! builds an `Authorization` header.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for building a request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of this secret in `text`, for messages that echo what
    /// a server or a library saw.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            // Too short to scrub without mangling ordinary words; such a value is not
            // a real Discogs credential anyway.
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("hunter2-token-value");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-token-value");
        assert_eq!(
            secret.scrub("bad token hunter2-token-value!"),
            "bad token [redacted]!"
        );
    }
}
