//! stevedore-core: schemas, dlt's naming convention, the columnar relational normalizer,
//! job-file writers, load packages, the loader, the pipeline and its state.
//!
//! Destinations live in their own crates and implement [`destination::Destination`].

#![warn(missing_docs)]

pub mod error;
pub mod naming;
pub mod normalize;
pub mod schema;
pub mod time;

pub use error::{Error, ErrorKind, Result};
