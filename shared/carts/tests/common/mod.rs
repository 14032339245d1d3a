//! Random small instances and an independent oracle: eligibility written out again from
//! the criteria's definitions, and brute force over every cart.
//!
//! The oracle shares the crate's modelling rules, not its code: a seller offers each
//! release at its cheapest eligible copy (ties to the lower listing id), "distinct carts"
//! are distinct sets of offers (so of releases), scores count in integer millionths, and
//! carts rank by objective, then lower cost, then sorted listing ids.

// Each test file uses part of this module.
#![allow(dead_code, unused_imports)]

mod generate;
mod oracle;

pub use generate::*;
pub use oracle::*;
