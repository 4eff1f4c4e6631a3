//! stevedore-core: schemas, dlt's naming convention, the columnar relational normalizer,
//! job-file writers, load packages, the loader, the pipeline and its state.
//!
//! Destinations live in their own crates and implement [`destination::Destination`].

#![warn(missing_docs)]

pub mod config;
pub mod destination;
pub mod error;
pub mod fingerprint;
pub mod loader;
pub mod lock;
pub mod naming;
pub mod normalize;
pub mod package;
pub mod parallel;
pub mod pipeline;
pub mod schema;
pub mod source;
pub mod staging;
pub mod state;
pub mod table_format;
pub mod time;
pub mod writers;

pub use error::{Error, ErrorKind, Result};
