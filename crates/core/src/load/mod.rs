//! The load stage: the destination traits a destination crate implements, the loader that
//! runs a package's jobs against them, the staging chain, and table formats.

pub mod destination;
pub mod loader;
pub mod staging;
pub mod table_format;
