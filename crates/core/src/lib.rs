//! stevedore-core: schemas, dlt's naming convention, the columnar relational normalizer,
//! job-file writers, load packages, the loader, the pipeline and its state.
//!
//! Destinations live in their own crates and implement [`destination::Destination`].

#![warn(missing_docs)]

// Grouped by stage: source (inputs, fingerprints) → normalize (JSON to Arrow, parallel
// workers, coercion) → package (load packages on disk, job-file writers) → load (destination
// traits, loader, staging chain, table formats); schema (types, hints, naming) and config
// serve them all; pipeline ties the stages together (builder, state, lock).
pub mod config;
pub mod error;
pub mod load;
pub mod normalize;
pub mod package;
pub mod pipeline;
pub mod schema;
pub mod source;

// The modules' paths from before the grouping stay valid.
pub use load::{destination, loader, staging, table_format};
pub use normalize::{parallel, time};
pub use package::writers;
pub use pipeline::{lock, state};
pub use schema::naming;
pub use source::fingerprint;

pub use error::{Error, ErrorKind, Result};
