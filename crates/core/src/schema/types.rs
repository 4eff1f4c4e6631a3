//! dlt's data types, write dispositions, strategies and table formats.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// dlt's 11 data types (`dlt/common/data_types/typing.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// UTF-8 text.
    Text,
    /// 64-bit float.
    Double,
    /// Boolean.
    Bool,
    /// Timestamp (UTC by default, microseconds).
    Timestamp,
    /// 64-bit signed integer.
    Bigint,
    /// Bytes.
    Binary,
    /// Nested JSON value kept as one column (dlt's former `complex`).
    Json,
    /// Decimal, `decimal(38,9)` unless precision/scale are given.
    Decimal,
    /// Big integer (EVM 256 bit), `decimal(78,0)` where supported.
    Wei,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
}

impl DataType {
    /// All types, in dlt's order.
    pub const ALL: [DataType; 11] = [
        DataType::Text,
        DataType::Double,
        DataType::Bool,
        DataType::Timestamp,
        DataType::Bigint,
        DataType::Binary,
        DataType::Json,
        DataType::Decimal,
        DataType::Wei,
        DataType::Date,
        DataType::Time,
    ];

    /// dlt's name of the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            DataType::Text => "text",
            DataType::Double => "double",
            DataType::Bool => "bool",
            DataType::Timestamp => "timestamp",
            DataType::Bigint => "bigint",
            DataType::Binary => "binary",
            DataType::Json => "json",
            DataType::Decimal => "decimal",
            DataType::Wei => "wei",
            DataType::Date => "date",
            DataType::Time => "time",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "text" => DataType::Text,
            "double" => DataType::Double,
            "bool" => DataType::Bool,
            "timestamp" => DataType::Timestamp,
            "bigint" => DataType::Bigint,
            "binary" => DataType::Binary,
            // `complex` is the legacy name of `json`
            "json" | "complex" => DataType::Json,
            "decimal" => DataType::Decimal,
            "wei" => DataType::Wei,
            "date" => DataType::Date,
            "time" => DataType::Time,
            other => {
                return Err(Error::new(crate::ErrorKind::Schema, format!("unknown data type `{other}`"))
                    .with_hint("use one of: text, double, bool, timestamp, bigint, binary, json, decimal, wei, date, time"));
            }
        })
    }
}

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            /// dlt's spelling.
            pub fn as_str(&self) -> &'static str { match self { $($name::$var => $s),+ } }
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|e: Error| serde::de::Error::custom(e.to_string()))
            }
        }
        impl crate::config::KeyValue for $name {
            const KIND: crate::config::ValueKind = crate::config::ValueKind::String;
            fn read(config: &crate::config::Config, paths: &[&[&str]], key: &str) -> Result<Option<Self>> {
                config.get_str(paths, key)?.map(|s| s.parse()).transpose()
            }
        }
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok($name::$var),)+
                    other => Err(Error::config(format!(
                        "unknown {} `{}`", stringify!($name), other
                    )).with_hint(format!("use one of: {}", [$($s),+].join(", ")))),
                }
            }
        }
    };
}

str_enum!(
    /// How a table's rows combine with what the destination holds.
    WriteDisposition {
        /// Never loaded (dlt's own `_dlt_loads`, `_dlt_version`).
        Skip = "skip",
        /// Add rows.
        Append = "append",
        /// Replace the table's content.
        Replace = "replace",
        /// Merge on keys.
        Merge = "merge",
    }
);

str_enum!(
    /// Merge strategy (`x-merge-strategy`).
    MergeStrategy {
        /// Delete rows with matching keys, then insert.
        DeleteInsert = "delete-insert",
        /// Slowly changing dimension type 2.
        Scd2 = "scd2",
        /// Update matching rows, insert the others.
        Upsert = "upsert",
        /// Insert rows whose key is not there yet.
        InsertOnly = "insert-only",
    }
);

str_enum!(
    /// Replace strategy (`replace_strategy`).
    ReplaceStrategy {
        /// Truncate the final tables, then load.
        TruncateAndInsert = "truncate-and-insert",
        /// Load into staging, then copy in one transaction.
        InsertFromStaging = "insert-from-staging",
        /// Destination-specific fastest swap.
        StagingOptimized = "staging-optimized",
    }
);

str_enum!(
    /// Open table format of a table.
    TableFormat {
        /// Delta Lake.
        Delta = "delta",
        /// Apache Iceberg.
        Iceberg = "iceberg",
        /// Hive-style plain files.
        Hive = "hive",
        /// The destination's native tables.
        Native = "native",
    }
);

str_enum!(
    /// Sort order of the `dedup_sort` hint.
    SortOrder {
        /// Keep the lowest.
        Asc = "asc",
        /// Keep the highest.
        Desc = "desc",
    }
);

// Written by hand: `str_enum!` cannot carry a `#[default]` attribute on one variant.
#[allow(clippy::derivable_impls)]
impl Default for WriteDisposition {
    fn default() -> Self {
        WriteDisposition::Append
    }
}
