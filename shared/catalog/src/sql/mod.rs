//! What both SQL adapters share: rows and their conversion to the domain, the stored
//! time type, and the classification of database errors.

pub(crate) mod errors;
pub(crate) mod rows;
pub(crate) mod timestamp;
