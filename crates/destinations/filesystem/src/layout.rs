//! File layout engine of the filesystem destination (dlt's `dlt/destinations/path_utils.py`).
//!
//! A layout is a template such as `{table_name}/{load_id}.{file_id}.{ext}` that says where, under
//! the dataset folder, the file of a load job is written. [`Layout::new`] parses and validates the
//! template once into segments; [`Layout::render`] then only concatenates strings, so rendering a
//! path per job is cheap.
//!
//! Placeholders:
//! * standard: `schema_name`, `table_name`, `load_id`, `file_id`, `ext` (the full extension, e.g.
//!   `jsonl.gz`), `curr_date` (`YYYY-MM-DD`), `timestamp`, `timestamp_ms` (unix seconds /
//!   milliseconds of the current datetime), `load_package_timestamp`, `load_package_timestamp_ms`
//!   (unix seconds / milliseconds of the load package creation time);
//! * date and time tokens (pendulum format tokens rendered from the current datetime, lower-cased
//!   as dlt does): `YYYY YY Y MMMM MMM MM M DD D HH H mm m ss s SSSS SSS SS S dddd ddd dd d Q`;
//! * user defined `extra_placeholders`: static strings or callbacks.
//!
//! Deliberate differences from dlt:
//! * when the template has no `{ext}`, `.{ext}` is appended (what dlt's docs promise);
//! * an extra placeholder may not reuse the name of a standard placeholder (dlt lets some of them
//!   override the standard value and silently ignores others, and the table prefix used by
//!   `replace` would then disagree with the written paths);
//! * braces must be balanced: `{{`, a lone `}` or an unclosed `{` are rejected when the layout is
//!   created instead of failing inside Python's `str.format` on the first file;
//! * only callbacks of extra placeholders that the layout uses are called, once per rendered path;
//! * paths cannot leave the dataset folder, and names fit file systems: a path that starts with
//!   `/`, has a `.` or `..` segment, an empty segment (`a//b`), ends with `/`, holds a `\` or
//!   NUL, or has a segment longer than [`MAX_SEGMENT_BYTES`] is refused. Literal text and
//!   static extra placeholders are checked by [`Layout::new`]; rendered paths and table
//!   prefixes (placeholder values) when they are rendered. dlt writes such paths as given.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Callback computing the value of an extra placeholder.
///
/// Arguments, in order: `schema_name`, `table_name`, `load_id`, `file_id`, `ext` (same order as
/// dlt's placeholder callbacks).
pub type PlaceholderCallback = Arc<dyn Fn(&str, &str, &str, &str, &str) -> String + Send + Sync>;

/// Value of a user defined (`extra_placeholders`) placeholder.
#[derive(Clone)]
pub enum ExtraPlaceholder {
    /// A fixed string inserted as is.
    Static(String),
    /// A callback evaluated for every rendered path (see [`PlaceholderCallback`]).
    Callback(PlaceholderCallback),
}

impl ExtraPlaceholder {
    /// Wraps a closure into [`ExtraPlaceholder::Callback`].
    pub fn callback<F>(f: F) -> Self
    where
        F: Fn(&str, &str, &str, &str, &str) -> String + Send + Sync + 'static,
    {
        ExtraPlaceholder::Callback(Arc::new(f))
    }
}

impl fmt::Debug for ExtraPlaceholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtraPlaceholder::Static(value) => f.debug_tuple("Static").field(value).finish(),
            ExtraPlaceholder::Callback(_) => f.write_str("Callback(<callback>)"),
        }
    }
}

impl From<String> for ExtraPlaceholder {
    fn from(value: String) -> Self {
        ExtraPlaceholder::Static(value)
    }
}

impl From<&str> for ExtraPlaceholder {
    fn from(value: &str) -> Self {
        ExtraPlaceholder::Static(value.to_owned())
    }
}

/// The default layout of the filesystem destination (dlt >= 0.3.12).
pub const DEFAULT_LAYOUT: &str = "{table_name}/{load_id}.{file_id}.{ext}";

/// Names of the standard (non date-token) placeholders.
pub const STANDARD_PLACEHOLDERS: [&str; 10] = [
    "schema_name",
    "table_name",
    "load_id",
    "file_id",
    "ext",
    "curr_date",
    "timestamp",
    "timestamp_ms",
    "load_package_timestamp",
    "load_package_timestamp_ms",
];

/// Names of the date and time placeholders (pendulum format tokens).
pub const DATETIME_PLACEHOLDERS: [&str; 24] = [
    "YYYY", "YY", "Y", "MMMM", "MMM", "MM", "M", "DD", "D", "HH", "H", "mm", "m", "ss", "s", "SSSS", "SSS", "SS", "S", "dddd", "ddd", "dd",
    "d", "Q",
];

const VALID_LAYOUT_EXAMPLE: &str = DEFAULT_LAYOUT;

/// Longest file or folder name the destination writes, in bytes: the limit of ext4, XFS,
/// btrfs and most other file systems (`File name too long` above it). Applied to every
/// bucket, so a layout that works on a remote bucket works on local disk too.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why a path (a layout's literal text, or a rendered path) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// Starts with `/`.
    Absolute,
    /// Has a `.` or `..` segment (the segment).
    DotSegment(String),
    /// Has an empty segment (`a//b`).
    EmptySegment,
    /// Ends with `/`: no file name.
    NoFileName,
    /// Holds a backslash.
    Backslash,
    /// Holds a NUL character.
    Nul,
    /// A segment longer than [`MAX_SEGMENT_BYTES`].
    TooLong {
        /// The segment.
        segment: String,
        /// Its length in bytes.
        bytes: usize,
    },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Absolute => f.write_str("it starts with `/`, which would put files outside the dataset folder"),
            PathProblem::DotSegment(seg) if seg == ".." => {
                f.write_str("it has a `..` segment, which would put files outside the dataset folder")
            }
            PathProblem::DotSegment(seg) => {
                write!(f, "it has a `{seg}` segment, which names no folder")
            }
            PathProblem::EmptySegment => f.write_str("it has an empty folder name (`//`)"),
            PathProblem::NoFileName => f.write_str("it ends with `/`, so files would have no name"),
            PathProblem::Backslash => f.write_str("it has a `\\`, which separates folders on Windows"),
            PathProblem::Nul => f.write_str("it has a NUL character"),
            PathProblem::TooLong { segment, bytes } => write!(
                f,
                "its segment `{segment}` is {bytes} bytes long, more than the {MAX_SEGMENT_BYTES} \
                 bytes per file or folder name that file systems allow"
            ),
        }
    }
}

/// Checks the `/`-separated segments of a path. A segment given as not `complete` is a part of
/// a name whose rest is unknown (a placeholder rendered later, or the end of a table prefix):
/// only its characters and length are checked.
fn check_segments(segments: &[(&str, bool)]) -> Result<(), PathProblem> {
    let last = segments.len().saturating_sub(1);
    for (i, &(seg, complete)) in segments.iter().enumerate() {
        if seg.contains('\0') {
            return Err(PathProblem::Nul);
        }
        if seg.contains('\\') {
            return Err(PathProblem::Backslash);
        }
        if seg.len() > MAX_SEGMENT_BYTES {
            return Err(PathProblem::TooLong { segment: seg.to_owned(), bytes: seg.len() });
        }
        if !complete {
            continue;
        }
        if seg.is_empty() {
            return Err(if i == 0 && last > 0 {
                PathProblem::Absolute
            } else if i == last {
                PathProblem::NoFileName
            } else {
                PathProblem::EmptySegment
            });
        }
        if seg == "." || seg == ".." {
            return Err(PathProblem::DotSegment(seg.to_owned()));
        }
    }
    Ok(())
}

/// Checks a rendered path relative to the dataset folder.
pub fn check_path(path: &str) -> Result<(), PathProblem> {
    let segments: Vec<(&str, bool)> = path.split('/').map(|s| (s, true)).collect();
    check_segments(&segments)
}

/// Errors of layout parsing, validation and table-prefix extraction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The template is not well formed (unbalanced or nested braces, empty `{}`).
    #[error(
        "invalid filesystem layout `{layout}`: {reason} at byte {position}. Placeholders are written \
         as `{{name}}` and braces cannot appear in file names; example of a valid layout: `{example}`",
        example = VALID_LAYOUT_EXAMPLE
    )]
    Malformed {
        /// The layout as given by the user.
        layout: String,
        /// Byte offset of the problem in `layout`.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// The template uses placeholders that are neither standard nor extra placeholders.
    #[error(
        "invalid filesystem layout `{layout}`: unknown placeholder(s) {unknown}. Fix their spelling or \
         define them in `extra_placeholders`; the standard placeholders are {standard}{extras}",
        unknown = braced_list(unknown),
        standard = standard_list(),
        extras = extras_hint(extra, unused_extra)
    )]
    UnknownPlaceholders {
        /// The layout as given by the user.
        layout: String,
        /// Unknown placeholder names, in template order, without duplicates.
        unknown: Vec<String>,
        /// Names of all configured extra placeholders.
        extra: Vec<String>,
        /// Configured extra placeholders the layout does not use (likely misspelled in the layout).
        unused_extra: Vec<String>,
    },
    /// Extra placeholders reuse the names of standard placeholders.
    #[error(
        "invalid filesystem layout `{layout}`: extra placeholder(s) {names} have the name of a \
         standard placeholder and cannot replace it. Rename them in `extra_placeholders` and in the layout",
        names = braced_list(names)
    )]
    ReservedExtraPlaceholder {
        /// The layout as given by the user.
        layout: String,
        /// The clashing names.
        names: Vec<String>,
    },
    /// The table prefix cannot be extracted: `{table_name}` is missing.
    #[error(
        "cannot extract a unique table prefix from layout `{layout}`: the {{table_name}} placeholder \
         is missing, so files of a table cannot be found for `replace` or drop. Add {{table_name}}, \
         e.g. `{example}`",
        example = VALID_LAYOUT_EXAMPLE
    )]
    MissingTableName {
        /// The layout as given by the user.
        layout: String,
    },
    /// The table prefix cannot be extracted: placeholders other than `{schema_name}` precede
    /// `{table_name}`.
    #[error(
        "cannot extract a unique table prefix from layout `{layout}`: only {{schema_name}} may come \
         before {{table_name}} but {found} is present. Move those placeholders after {{table_name}}, \
         e.g. `{example}`",
        found = braced_list(placeholders),
        example = VALID_LAYOUT_EXAMPLE
    )]
    PlaceholderBeforeTableName {
        /// The layout as given by the user.
        layout: String,
        /// The offending placeholders before `{table_name}`.
        placeholders: Vec<String>,
    },
    /// The table prefix cannot be extracted: `{table_name}` is not followed by a literal
    /// separator character.
    #[error(
        "cannot extract a unique table prefix from layout `{layout}`: a separator is required after \
         {{table_name}} (otherwise the files of table `event` would be selected as files of table \
         `events`). Put a literal character such as `/` or `.` right after {{table_name}}, e.g. `{example}`",
        example = VALID_LAYOUT_EXAMPLE
    )]
    MissingSeparatorAfterTableName {
        /// The layout as given by the user.
        layout: String,
    },
    /// The table must be stored in its own folder (table formats) but `{table_name}` is not
    /// followed by `/`.
    #[error(
        "layout `{layout}` does not give every table its own folder, which this table requires. \
         Put a `/` right after {{table_name}}, e.g. `{example}`",
        example = VALID_LAYOUT_EXAMPLE
    )]
    TableNeedsOwnFolder {
        /// The layout as given by the user.
        layout: String,
    },
    /// The table is stored in its own folder but file names start with `.` or `_`, which query
    /// engines skip.
    #[error(
        "layout `{layout}` produces file names starting with `.` or `_`, which engines reading the \
         table folder skip. Put a file name after the last `/`, for example {{file_id}}"
    )]
    MissingFileName {
        /// The layout as given by the user.
        layout: String,
    },
    /// The literal text of the layout (or a static extra placeholder) would put files outside
    /// the dataset folder or give them names the file system refuses.
    #[error("invalid filesystem layout `{layout}`: {problem}")]
    UnsafeLayout {
        /// The layout as given by the user.
        layout: String,
        /// What is wrong.
        problem: PathProblem,
    },
    /// A rendered path (or table prefix) would leave the dataset folder or has a name the file
    /// system refuses, because of the values of its placeholders.
    #[error("{}", unsafe_path_message(layout, path, problem))]
    UnsafePath {
        /// The layout as given by the user.
        layout: String,
        /// The rendered path, relative to the dataset folder.
        path: String,
        /// What is wrong.
        problem: PathProblem,
    },
}

impl LayoutError {
    /// What to do about the error, for errors whose message does not say it already.
    pub fn hint(&self) -> Option<String> {
        let problem = match self {
            LayoutError::UnsafeLayout { problem, .. } => {
                return Some(match problem {
                    PathProblem::TooLong { .. } => format!(
                        "shorten the literal text (or static extra placeholder value) of that segment to at most \
                         {MAX_SEGMENT_BYTES} bytes, or split it with `/`"
                    ),
                    _ => format!(
                        "write a relative layout that names a file under the dataset folder, with `/` only between \
                         names, e.g. `{VALID_LAYOUT_EXAMPLE}`; extra placeholder values must not hold `..`, `\\` or NUL"
                    ),
                });
            }
            LayoutError::UnsafePath { problem, .. } => problem,
            _ => return None,
        };
        Some(match problem {
            PathProblem::TooLong { .. } => format!(
                "every file and folder name must fit in {MAX_SEGMENT_BYTES} bytes: shorten the table name (table \
                 names are cut to {max} characters), the schema (pipeline) name or the extra placeholder values \
                 in that segment, or give them their own segments with `/` in the layout",
                max = crate::MAX_IDENTIFIER_LENGTH
            ),
            _ => "the values of the layout's placeholders (extra placeholders, schema or table name) must not be \
                  empty, `.` or `..`, nor hold `\\` or NUL"
                .to_owned(),
        })
    }
}

fn unsafe_path_message(layout: &str, path: &str, problem: &PathProblem) -> String {
    match problem {
        PathProblem::TooLong { segment, bytes } if segment == path => format!(
            "layout `{layout}` renders the file name `{path}`, which is {bytes} bytes long, more than \
             the {MAX_SEGMENT_BYTES} bytes per file or folder name that file systems allow"
        ),
        _ => format!("layout `{layout}` renders the path `{path}` and {problem}"),
    }
}

fn braced_list(names: &[String]) -> String {
    names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", ")
}

fn standard_list() -> String {
    STANDARD_PLACEHOLDERS.iter().chain(DATETIME_PLACEHOLDERS.iter()).copied().collect::<Vec<_>>().join(", ")
}

fn extras_hint(extra: &[String], unused: &[String]) -> String {
    let mut out = String::new();
    if extra.is_empty() {
        out.push_str("; no extra placeholders are configured");
    } else {
        let _ = write!(out, "; configured extra placeholders: {}", extra.join(", "));
    }
    if !unused.is_empty() {
        let _ = write!(out, "; extra placeholders not used by the layout: {}", unused.join(", "));
    }
    out
}

/// Inputs for rendering the path of one file.
#[derive(Debug, Clone, Copy)]
pub struct PathParams<'a> {
    /// Name of the schema (`{schema_name}`).
    pub schema_name: &'a str,
    /// Name of the table (`{table_name}`).
    pub table_name: &'a str,
    /// Load package id (`{load_id}`).
    pub load_id: &'a str,
    /// File id of the job (`{file_id}`).
    pub file_id: &'a str,
    /// Full file extension without the leading dot, including compression, e.g. `jsonl.gz`.
    pub ext: &'a str,
    /// The "current datetime": source of `timestamp`, `timestamp_ms`, `curr_date` and all date
    /// tokens. dlt uses the configured `current_datetime`, else the load package creation time.
    pub current_datetime: DateTime<Utc>,
    /// Creation time of the load package: source of `load_package_timestamp(_ms)`.
    pub load_package_timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateToken {
    Year4,
    Year2,
    Year,
    MonthName,
    MonthAbbr,
    Month2,
    Month,
    Day2,
    Day,
    Hour2,
    Hour,
    Minute2,
    Minute,
    Second2,
    Second,
    Frac4,
    Frac3,
    Frac2,
    Frac1,
    WeekdayName,
    WeekdayAbbr,
    WeekdayMin,
    Weekday,
    Quarter,
}

impl DateToken {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "YYYY" => DateToken::Year4,
            "YY" => DateToken::Year2,
            "Y" => DateToken::Year,
            "MMMM" => DateToken::MonthName,
            "MMM" => DateToken::MonthAbbr,
            "MM" => DateToken::Month2,
            "M" => DateToken::Month,
            "DD" => DateToken::Day2,
            "D" => DateToken::Day,
            "HH" => DateToken::Hour2,
            "H" => DateToken::Hour,
            "mm" => DateToken::Minute2,
            "m" => DateToken::Minute,
            "ss" => DateToken::Second2,
            "s" => DateToken::Second,
            "SSSS" => DateToken::Frac4,
            "SSS" => DateToken::Frac3,
            "SS" => DateToken::Frac2,
            "S" => DateToken::Frac1,
            "dddd" => DateToken::WeekdayName,
            "ddd" => DateToken::WeekdayAbbr,
            "dd" => DateToken::WeekdayMin,
            "d" => DateToken::Weekday,
            "Q" => DateToken::Quarter,
            _ => return None,
        })
    }
}

const MONTHS: [&str; 12] =
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/// Indexed by days from Sunday.
const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

fn push_date_token(out: &mut String, token: DateToken, dt: &DateTime<Utc>) {
    let month0 = dt.month0() as usize;
    let weekday = dt.weekday().num_days_from_sunday() as usize;
    // a leap second carries nanoseconds >= 1e9; Python cannot represent it, keep the fraction
    let micros = (dt.nanosecond() % 1_000_000_000) / 1_000;
    // `write!` to a String never fails
    let _ = match token {
        // pendulum: YYYY/Y = str(year), YY = str(year)[2:]
        DateToken::Year4 | DateToken::Year => write!(out, "{}", dt.year()),
        DateToken::Year2 => {
            let year = dt.year().to_string();
            out.push_str(year.get(2..).unwrap_or(""));
            Ok(())
        }
        DateToken::MonthName => {
            out.push_str(MONTHS[month0]);
            Ok(())
        }
        DateToken::MonthAbbr => {
            out.push_str(&MONTHS[month0][..3]);
            Ok(())
        }
        DateToken::Month2 => write!(out, "{:02}", dt.month()),
        DateToken::Month => write!(out, "{}", dt.month()),
        DateToken::Day2 => write!(out, "{:02}", dt.day()),
        DateToken::Day => write!(out, "{}", dt.day()),
        DateToken::Hour2 => write!(out, "{:02}", dt.hour()),
        DateToken::Hour => write!(out, "{}", dt.hour()),
        DateToken::Minute2 => write!(out, "{:02}", dt.minute()),
        DateToken::Minute => write!(out, "{}", dt.minute()),
        DateToken::Second2 => write!(out, "{:02}", dt.second()),
        DateToken::Second => write!(out, "{}", dt.second()),
        // pendulum truncates fractions: microsecond // 100, // 1000, // 10000, // 100000
        DateToken::Frac4 => write!(out, "{:04}", micros / 100),
        DateToken::Frac3 => write!(out, "{:03}", micros / 1_000),
        DateToken::Frac2 => write!(out, "{:02}", micros / 10_000),
        DateToken::Frac1 => write!(out, "{}", micros / 100_000),
        DateToken::WeekdayName => {
            out.push_str(WEEKDAYS[weekday]);
            Ok(())
        }
        DateToken::WeekdayAbbr => {
            out.push_str(&WEEKDAYS[weekday][..3]);
            Ok(())
        }
        DateToken::WeekdayMin => {
            out.push_str(&WEEKDAYS[weekday][..2]);
            Ok(())
        }
        // pendulum `d`: 0 = Sunday ... 6 = Saturday
        DateToken::Weekday => write!(out, "{weekday}"),
        DateToken::Quarter => write!(out, "{}", month0 / 3 + 1),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standard {
    SchemaName,
    TableName,
    LoadId,
    FileId,
    Ext,
    CurrDate,
    Timestamp,
    TimestampMs,
    LoadPackageTimestamp,
    LoadPackageTimestampMs,
    Date(DateToken),
}

impl Standard {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "schema_name" => Standard::SchemaName,
            "table_name" => Standard::TableName,
            "load_id" => Standard::LoadId,
            "file_id" => Standard::FileId,
            "ext" => Standard::Ext,
            "curr_date" => Standard::CurrDate,
            "timestamp" => Standard::Timestamp,
            "timestamp_ms" => Standard::TimestampMs,
            "load_package_timestamp" => Standard::LoadPackageTimestamp,
            "load_package_timestamp_ms" => Standard::LoadPackageTimestampMs,
            other => Standard::Date(DateToken::parse(other)?),
        })
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Standard(Standard),
    /// Index into `Layout::extras`.
    Extra(usize),
}

/// One placeholder or literal of the template with its byte span in the template.
#[derive(Debug, Clone)]
struct Part {
    segment: Segment,
    start: usize,
    end: usize,
}

/// A parsed, validated file layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The layout as written by the user (quoted in errors).
    original: String,
    /// The layout after the `.{ext}` auto-append.
    template: String,
    parts: Vec<Part>,
    extras: Vec<(String, ExtraPlaceholder)>,
    placeholders: Vec<String>,
    unused_extras: Vec<String>,
    capacity_hint: usize,
}

/// Splits a template into literals and placeholder names (with byte spans).
/// `(is_placeholder, start, end)`; for placeholders `start..end` covers the braces.
type Token = (bool, usize, usize);

fn tokenize(template: &str) -> Result<Vec<Token>, (usize, String)> {
    let mut tokens = Vec::new();
    let bytes = template.as_bytes();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                let close = template[i + 1..].find(['{', '}']).map(|off| i + 1 + off);
                match close {
                    Some(c) if bytes[c] == b'}' => {
                        if c == i + 1 {
                            return Err((i, "empty placeholder `{}`".to_owned()));
                        }
                        if literal_start < i {
                            tokens.push((false, literal_start, i));
                        }
                        tokens.push((true, i, c + 1));
                        i = c + 1;
                        literal_start = i;
                    }
                    Some(c) => {
                        return Err((c, "`{` inside a placeholder (nested or doubled braces)".to_owned()));
                    }
                    None => return Err((i, "unclosed `{`".to_owned())),
                }
            }
            b'}' => return Err((i, "`}` without a matching `{`".to_owned())),
            _ => i += 1,
        }
    }
    if literal_start < bytes.len() {
        tokens.push((false, literal_start, bytes.len()));
    }
    Ok(tokens)
}

impl Layout {
    /// Parses and validates `template` with the given extra placeholders.
    ///
    /// Appends `.{ext}` when the template has no `{ext}` placeholder. Fails on malformed braces,
    /// unknown placeholders and extra placeholders named like standard ones. The table-prefix
    /// rule is not checked here, see [`Layout::check_table_prefix`].
    pub fn new(template: &str, extra: BTreeMap<String, ExtraPlaceholder>) -> Result<Layout, LayoutError> {
        let malformed = |(position, reason): (usize, String)| LayoutError::Malformed { layout: template.to_owned(), position, reason };
        let tokens = tokenize(template).map_err(malformed)?;
        let has_ext = tokens.iter().any(|&(is_ph, s, e)| is_ph && &template[s + 1..e - 1] == "ext");
        let full = if has_ext { template.to_owned() } else { format!("{template}.{{ext}}") };
        let tokens = if has_ext { tokens } else { tokenize(&full).map_err(malformed)? };

        let reserved: Vec<String> = extra.keys().filter(|name| Standard::parse(name).is_some()).cloned().collect();
        if !reserved.is_empty() {
            return Err(LayoutError::ReservedExtraPlaceholder { layout: template.to_owned(), names: reserved });
        }
        let extras: Vec<(String, ExtraPlaceholder)> = extra.into_iter().collect();

        let mut parts = Vec::with_capacity(tokens.len());
        let mut placeholders = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        let mut capacity_hint = 0;
        for (is_ph, start, end) in tokens {
            if !is_ph {
                let text = &full[start..end];
                capacity_hint += text.len();
                parts.push(Part { segment: Segment::Literal(text.to_owned()), start, end });
                continue;
            }
            let name = &full[start + 1..end - 1];
            placeholders.push(name.to_owned());
            capacity_hint += 24;
            let segment = if let Some(std) = Standard::parse(name) {
                Segment::Standard(std)
            } else if let Some(idx) = extras.iter().position(|(n, _)| n == name) {
                Segment::Extra(idx)
            } else {
                if !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_owned());
                }
                continue;
            };
            parts.push(Part { segment, start, end });
        }
        let unused_extras: Vec<String> = extras.iter().map(|(n, _)| n).filter(|n| !placeholders.contains(n)).cloned().collect();
        if !unknown.is_empty() {
            return Err(LayoutError::UnknownPlaceholders {
                layout: template.to_owned(),
                unknown,
                extra: extras.iter().map(|(n, _)| n.clone()).collect(),
                unused_extra: unused_extras,
            });
        }
        let layout = Layout { original: template.to_owned(), template: full, parts, extras, placeholders, unused_extras, capacity_hint };
        layout.check_static().map_err(|problem| LayoutError::UnsafeLayout { layout: template.to_owned(), problem })?;
        Ok(layout)
    }

    /// Checks the text known before rendering: literals and static extra placeholder values.
    /// A segment holding another placeholder is checked for its characters and length only.
    fn check_static(&self) -> Result<(), PathProblem> {
        // (text, holds a placeholder rendered later) per `/`-separated segment
        let mut segments: Vec<(String, bool)> = vec![(String::new(), false)];
        let push_text = |segments: &mut Vec<(String, bool)>, text: &str| {
            let mut pieces = text.split('/');
            if let (Some(first), Some(last)) = (pieces.next(), segments.last_mut()) {
                last.0.push_str(first);
            }
            segments.extend(pieces.map(|piece| (piece.to_owned(), false)));
        };
        for part in &self.parts {
            match &part.segment {
                Segment::Literal(text) => push_text(&mut segments, text),
                Segment::Extra(idx) => match &self.extras[*idx].1 {
                    ExtraPlaceholder::Static(value) => push_text(&mut segments, value),
                    ExtraPlaceholder::Callback(_) => {
                        if let Some(last) = segments.last_mut() {
                            last.1 = true;
                        }
                    }
                },
                Segment::Standard(_) => {
                    if let Some(last) = segments.last_mut() {
                        last.1 = true;
                    }
                }
            }
        }
        let checked: Vec<(&str, bool)> = segments.iter().map(|(text, dynamic)| (text.as_str(), !dynamic)).collect();
        check_segments(&checked)
    }

    /// The template after the `.{ext}` auto-append.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The template as written by the user (before the `.{ext}` auto-append).
    pub fn original_template(&self) -> &str {
        &self.original
    }

    /// Placeholder names in template order (duplicates kept, like dlt's `get_placeholders`),
    /// including the auto-appended `ext`.
    pub fn placeholders(&self) -> Vec<String> {
        self.placeholders.clone()
    }

    /// Configured extra placeholders that the template does not use (dlt logs them as a hint).
    pub fn unused_extra_placeholders(&self) -> &[String] {
        &self.unused_extras
    }

    /// Renders the path of one file relative to the dataset folder, `/` separated as written in
    /// the template.
    ///
    /// Callbacks of extra placeholders are called at most once per call. A path that would
    /// leave the dataset folder or has a name the file system refuses (see [`check_path`]) is
    /// a [`LayoutError::UnsafePath`] error.
    pub fn render(&self, p: &PathParams) -> Result<String, LayoutError> {
        let path = self.render_with(p, true);
        check_path(&path).map_err(|problem| LayoutError::UnsafePath { layout: self.original.clone(), path: path.clone(), problem })?;
        Ok(path)
    }

    /// Checks, before any file is written, the paths this layout gives the files of one
    /// table: renders `p` as [`Layout::render`] does, but without calling extra placeholder
    /// callbacks (their values stand in as `x`, so a problem they cause is found by
    /// [`Layout::render`] only).
    pub fn check_paths(&self, p: &PathParams) -> Result<(), LayoutError> {
        let path = self.render_with(p, false);
        check_path(&path).map_err(|problem| LayoutError::UnsafePath { layout: self.original.clone(), path, problem })
    }

    fn render_with(&self, p: &PathParams, call_callbacks: bool) -> String {
        let mut out = String::with_capacity(self.capacity_hint);
        let mut callback_values: Vec<Option<String>> = Vec::new();
        for part in &self.parts {
            match &part.segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Standard(std) => push_standard(&mut out, *std, p),
                Segment::Extra(idx) => match &self.extras[*idx].1 {
                    ExtraPlaceholder::Static(value) => out.push_str(value),
                    ExtraPlaceholder::Callback(_) if !call_callbacks => out.push('x'),
                    ExtraPlaceholder::Callback(cb) => {
                        if callback_values.len() <= *idx {
                            callback_values.resize(self.extras.len(), None);
                        }
                        let value =
                            callback_values[*idx].get_or_insert_with(|| cb(p.schema_name, p.table_name, p.load_id, p.file_id, p.ext));
                        out.push_str(value);
                    }
                },
            }
        }
        out
    }

    /// Finds the end of the table prefix: index of the `{table_name}` part and the separator
    /// character following it, enforcing dlt's table-prefix rule.
    fn prefix_info(&self) -> Result<(usize, char), LayoutError> {
        let table_idx = self
            .parts
            .iter()
            .position(|p| matches!(p.segment, Segment::Standard(Standard::TableName)))
            .ok_or_else(|| LayoutError::MissingTableName { layout: self.original.clone() })?;
        let before: Vec<String> = self.parts[..table_idx]
            .iter()
            .filter(|p| !matches!(p.segment, Segment::Literal(_) | Segment::Standard(Standard::SchemaName)))
            .map(|p| self.template[p.start + 1..p.end - 1].to_owned())
            .collect();
        if !before.is_empty() {
            return Err(LayoutError::PlaceholderBeforeTableName { layout: self.original.clone(), placeholders: before });
        }
        match self.parts.get(table_idx + 1).map(|p| &p.segment) {
            Some(Segment::Literal(text)) => match text.chars().next() {
                Some(sep) => Ok((table_idx, sep)),
                None => Err(LayoutError::MissingSeparatorAfterTableName { layout: self.original.clone() }),
            },
            _ => Err(LayoutError::MissingSeparatorAfterTableName { layout: self.original.clone() }),
        }
    }

    /// Checks dlt's table-prefix rule, needed to find the files of one table (`replace`, drop):
    /// `{table_name}` is present, only `{schema_name}` may come before it, and a literal separator
    /// character follows it right away.
    pub fn check_table_prefix(&self) -> Result<(), LayoutError> {
        self.prefix_info().map(|_| ())
    }

    /// The table prefix template: the template up to and including the separator character after
    /// `{table_name}`, e.g. `{table_name}/` or `{schema_name}.{table_name}.` (dlt's
    /// `get_table_prefix_layout`).
    pub fn table_prefix_template(&self) -> Result<&str, LayoutError> {
        let (table_idx, sep) = self.prefix_info()?;
        let end = self.parts[table_idx].end + sep.len_utf8();
        Ok(&self.template[..end])
    }

    /// The prefix (relative to the dataset folder) shared by all files of `table_name`, e.g.
    /// `events/` or `schema.events.`. Because it ends with the separator after the table name,
    /// the prefix of table `event` never matches the files of table `events`.
    ///
    /// A prefix that would leave the dataset folder or has a name the file system refuses (a
    /// `..` schema name, a table name longer than [`MAX_SEGMENT_BYTES`]) is a
    /// [`LayoutError::UnsafePath`] error: the prefix is where `replace` lists and deletes.
    pub fn table_prefix(&self, schema_name: &str, table_name: &str) -> Result<String, LayoutError> {
        let (table_idx, sep) = self.prefix_info()?;
        let mut out = String::new();
        for part in &self.parts[..=table_idx] {
            match &part.segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Standard(Standard::SchemaName) => out.push_str(schema_name),
                Segment::Standard(Standard::TableName) => out.push_str(table_name),
                // excluded by `prefix_info`
                _ => {}
            }
        }
        out.push(sep);
        // the text after the last `/` is the start of a file or folder name
        let mut segments: Vec<(&str, bool)> = out.split('/').map(|s| (s, true)).collect();
        if let Some(last) = segments.last_mut() {
            last.1 = false;
        }
        check_segments(&segments).map_err(|problem| LayoutError::UnsafePath {
            layout: self.original.clone(),
            path: out.clone(),
            problem,
        })?;
        Ok(out)
    }

    /// The folder (relative to the dataset folder, ending with `/`, or empty for the dataset
    /// folder itself) that holds the files of `table_name`: the table prefix cut after its last
    /// `/`. Many tables may share one folder; filter listed files with [`Layout::table_prefix`].
    pub fn table_dir(&self, schema_name: &str, table_name: &str) -> Result<String, LayoutError> {
        let prefix = self.table_prefix(schema_name, table_name)?;
        Ok(match prefix.rfind('/') {
            Some(pos) => prefix[..=pos].to_owned(),
            None => String::new(),
        })
    }

    /// Literal separators of the table prefix that a naming convention must not allow inside
    /// table names for prefixes to stay unique (dlt warns about them): the text between
    /// `{schema_name}` and `{table_name}` (when `{schema_name}` comes first) and the separator
    /// character after `{table_name}`. Deduplicated, in that order.
    pub fn table_prefix_separators(&self) -> Result<Vec<String>, LayoutError> {
        let (table_idx, sep) = self.prefix_info()?;
        let mut out: Vec<String> = Vec::new();
        let schema = self.parts[..table_idx].iter().position(|p| matches!(p.segment, Segment::Standard(Standard::SchemaName)));
        if let Some(schema_idx) = schema {
            let between = &self.template[self.parts[schema_idx].end..self.parts[table_idx].start];
            if !between.is_empty() {
                out.push(between.to_owned());
            }
        }
        let sep = sep.to_string();
        if !out.contains(&sep) {
            out.push(sep);
        }
        Ok(out)
    }

    /// The stricter rule for tables that must live in their own folder (delta / iceberg, dlt's
    /// `table_needs_own_folder`): the table prefix rule holds, the separator after `{table_name}`
    /// is `/`, and file names do not start with `.` or `_`.
    pub fn check_table_own_folder(&self) -> Result<(), LayoutError> {
        let (_, sep) = self.prefix_info()?;
        if sep != '/' {
            return Err(LayoutError::TableNeedsOwnFolder { layout: self.original.clone() });
        }
        let file_name = self.template.rsplit('/').next().unwrap_or("");
        if file_name.starts_with(['.', '_']) {
            return Err(LayoutError::MissingFileName { layout: self.original.clone() });
        }
        Ok(())
    }
}

impl Default for Layout {
    fn default() -> Self {
        match Layout::new(DEFAULT_LAYOUT, BTreeMap::new()) {
            Ok(layout) => layout,
            Err(err) => unreachable!("default layout is valid: {err}"),
        }
    }
}

fn push_standard(out: &mut String, std: Standard, p: &PathParams) {
    let _ = match std {
        Standard::SchemaName => {
            out.push_str(p.schema_name);
            Ok(())
        }
        Standard::TableName => {
            out.push_str(p.table_name);
            Ok(())
        }
        Standard::LoadId => {
            out.push_str(p.load_id);
            Ok(())
        }
        Standard::FileId => {
            out.push_str(p.file_id);
            Ok(())
        }
        Standard::Ext => {
            out.push_str(p.ext);
            Ok(())
        }
        Standard::CurrDate => {
            let dt = &p.current_datetime;
            write!(out, "{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
        }
        // chrono floors towards negative infinity, like dlt's `// timedelta(...)`
        Standard::Timestamp => write!(out, "{}", p.current_datetime.timestamp()),
        Standard::TimestampMs => write!(out, "{}", p.current_datetime.timestamp_millis()),
        Standard::LoadPackageTimestamp => write!(out, "{}", p.load_package_timestamp.timestamp()),
        Standard::LoadPackageTimestampMs => {
            write!(out, "{}", p.load_package_timestamp.timestamp_millis())
        }
        Standard::Date(token) => {
            push_date_token(out, token, &p.current_datetime);
            Ok(())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // expected strings below were produced with dlt 1.31 (`dlt.destinations.path_utils`)

    fn frozen() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 4, 14, 8, 32, 0).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::microseconds(i64::from(micros))
    }

    fn params(now: DateTime<Utc>) -> PathParams<'static> {
        PathParams {
            schema_name: "schema_name",
            table_name: "mocked-table",
            load_id: "mocked-load-id",
            file_id: "mocked-file-id",
            ext: "jsonl",
            current_datetime: now,
            load_package_timestamp: now,
        }
    }

    fn layout(t: &str) -> Layout {
        Layout::new(t, BTreeMap::new()).unwrap()
    }

    fn render(t: &str) -> String {
        layout(t).render(&params(frozen())).unwrap()
    }

    fn render_at(t: &str, now: DateTime<Utc>) -> String {
        layout(t).render(&params(now)).unwrap()
    }

    fn extras(items: &[(&str, ExtraPlaceholder)]) -> BTreeMap<String, ExtraPlaceholder> {
        items.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn every_placeholder_renders_like_dlt_on_frozen_time() {
        let cases = [
            ("D", "14"),
            ("DD", "14"),
            ("H", "8"),
            ("HH", "08"),
            ("M", "4"),
            ("MM", "04"),
            ("MMM", "apr"),
            ("MMMM", "april"),
            ("Q", "2"),
            ("S", "0"),
            ("SS", "00"),
            ("SSS", "000"),
            ("SSSS", "0000"),
            ("Y", "2024"),
            ("YY", "24"),
            ("YYYY", "2024"),
            ("d", "0"),
            ("dd", "su"),
            ("ddd", "sun"),
            ("dddd", "sunday"),
            ("m", "32"),
            ("mm", "32"),
            ("s", "0"),
            ("ss", "00"),
            ("schema_name", "schema_name"),
            ("table_name", "mocked-table"),
            ("load_id", "mocked-load-id"),
            ("file_id", "mocked-file-id"),
            ("ext", "jsonl"),
            ("curr_date", "2024-04-14"),
            ("timestamp", "1713083520"),
            ("timestamp_ms", "1713083520000"),
            ("load_package_timestamp", "1713083520"),
            ("load_package_timestamp_ms", "1713083520000"),
        ];
        assert_eq!(cases.len(), STANDARD_PLACEHOLDERS.len() + DATETIME_PLACEHOLDERS.len());
        for (ph, value) in cases {
            let rendered = render(&format!("{{table_name}}/{{{ph}}}.{{ext}}"));
            assert_eq!(rendered, format!("mocked-table/{value}.jsonl"), "placeholder {ph}");
        }
    }

    #[test]
    fn dlt_frozen_time_example() {
        assert_eq!(render("{table_name}/{YYYY}-{MMM}-{D}"), "mocked-table/2024-apr-14.jsonl");
        // segment count is preserved
        assert_eq!(render("{table_name}/{YYYY}-{MMM}-{D}").split('/').count(), 2);
    }

    #[test]
    fn weekdays_number_from_sunday() {
        let expected = [
            ("0", "su", "sun", "sunday"),
            ("1", "mo", "mon", "monday"),
            ("2", "tu", "tue", "tuesday"),
            ("3", "we", "wed", "wednesday"),
            ("4", "th", "thu", "thursday"),
            ("5", "fr", "fri", "friday"),
            ("6", "sa", "sat", "saturday"),
        ];
        for (i, (d, dd, ddd, dddd)) in expected.iter().enumerate() {
            let now = at(2024, 4, 14 + i as u32, 8, 32, 0, 0);
            assert_eq!(render_at("{d}/{dd}/{ddd}/{dddd}/{ext}", now), format!("{d}/{dd}/{ddd}/{dddd}/jsonl"));
        }
    }

    #[test]
    fn date_tokens_with_fractions_like_dlt() {
        let all = "{YYYY}|{YY}|{Y}|{MMMM}|{MMM}|{MM}|{M}|{DD}|{D}|{HH}|{H}|{mm}|{m}|{ss}|{s}|\
                   {SSSS}|{SSS}|{SS}|{S}|{dddd}|{ddd}|{dd}|{d}|{Q}|{timestamp}|{timestamp_ms}|\
                   {curr_date}.{ext}";
        let cases = [
            (
                at(2023, 12, 31, 23, 59, 59, 987_654),
                "2023|23|2023|december|dec|12|12|31|31|23|23|59|59|59|59|9876|987|98|9|sunday|sun|su|0|4|\
                 1704067199|1704067199987|2023-12-31.jsonl",
            ),
            (
                at(2005, 1, 2, 3, 4, 5, 60_789),
                "2005|05|2005|january|jan|01|1|02|2|03|3|04|4|05|5|0607|060|06|0|sunday|sun|su|0|1|\
                 1104635045|1104635045060|2005-01-02.jsonl",
            ),
            (
                at(2024, 9, 1, 0, 0, 1, 999),
                "2024|24|2024|september|sep|09|9|01|1|00|0|00|0|01|1|0009|000|00|0|sunday|sun|su|0|3|\
                 1725148801|1725148801000|2024-09-01.jsonl",
            ),
            // negative timestamps floor, like dlt
            (
                at(1969, 12, 31, 23, 59, 59, 500_000),
                "1969|69|1969|december|dec|12|12|31|31|23|23|59|59|59|59|5000|500|50|5|wednesday|wed|we|3|4|\
                 -1|-500|1969-12-31.jsonl",
            ),
            // pendulum: YY = str(year)[2:]
            (
                at(987, 7, 8, 13, 5, 9, 5),
                "987|7|987|july|jul|07|7|08|8|13|13|05|5|09|9|0000|000|00|0|sunday|sun|su|0|3|\
                 -31004160891|-31004160891000|0987-07-08.jsonl",
            ),
        ];
        let l = layout(all);
        for (now, expected) in cases {
            let expected: String = expected.split_whitespace().collect();
            assert_eq!(l.render(&params(now)).unwrap(), expected, "{now}");
        }
    }

    #[test]
    fn timestamps_come_from_their_own_datetimes() {
        let l = layout(
            "{table_name}/{timestamp}/{load_package_timestamp}/{load_package_timestamp_ms}/\
             {timestamp_ms}/{curr_date}/{load_id}.{file_id}.{ext}",
        );
        let mut p = params(frozen());
        p.load_package_timestamp = at(2023, 1, 2, 3, 4, 5, 678_000);
        assert_eq!(
            l.render(&p).unwrap(),
            "mocked-table/1713083520/1672628645/1672628645678/1713083520000/2024-04-14/\
             mocked-load-id.mocked-file-id.jsonl"
        );
    }

    #[test]
    fn standard_layouts_render() {
        let cases = [
            (DEFAULT_LAYOUT, "mocked-table/mocked-load-id.mocked-file-id.jsonl"),
            ("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}", "schema_name.mocked-table.mocked-load-id.mocked-file-id.jsonl"),
            ("{table_name}88{load_id}-u-{file_id}.{ext}", "mocked-table88mocked-load-id-u-mocked-file-id.jsonl"),
            ("{table_name}/{load_id}/{file_id}.{ext}", "mocked-table/mocked-load-id/mocked-file-id.jsonl"),
            ("{schema_name}/{table_name}/{load_id}/{file_id}.{ext}", "schema_name/mocked-table/mocked-load-id/mocked-file-id.jsonl"),
            (
                "{schema_name}/{table_name}/{YYYY}{MM}{DD}{HH}{mm}{ss}{SSSS}/{Q}{d}{dd}{MMMM}",
                "schema_name/mocked-table/202404140832000000/20suapril.jsonl",
            ),
            ("{table_name}", "mocked-table.jsonl"),
        ];
        for (t, expected) in cases {
            assert_eq!(render(t), expected, "{t}");
        }
        assert_eq!(
            render_at(
                "{schema_name}/{table_name}/{YYYY}{MM}{DD}{HH}{mm}{ss}{SSSS}/{Q}{d}{dd}{MMMM}",
                at(2023, 12, 31, 23, 59, 59, 987_654)
            ),
            "schema_name/mocked-table/202312312359599876/40sudecember.jsonl"
        );
    }

    #[test]
    fn ext_is_appended_when_missing() {
        let l = layout("{schema_name}/{table_name}/{load_id}");
        assert_eq!(l.template(), "{schema_name}/{table_name}/{load_id}.{ext}");
        assert_eq!(l.original_template(), "{schema_name}/{table_name}/{load_id}");
        assert_eq!(l.render(&params(frozen())).unwrap(), "schema_name/mocked-table/mocked-load-id.jsonl");
        assert_eq!(l.placeholders(), ["schema_name", "table_name", "load_id", "ext"]);
        // present anywhere: nothing appended
        let l = layout("{table_name}/{ext}/{load_id}");
        assert_eq!(l.template(), "{table_name}/{ext}/{load_id}");
        assert_eq!(layout(DEFAULT_LAYOUT).template(), DEFAULT_LAYOUT);
    }

    #[test]
    fn compressed_extension_is_rendered_whole() {
        let mut p = params(frozen());
        p.ext = "jsonl.gz";
        assert_eq!(layout(DEFAULT_LAYOUT).render(&p).unwrap(), "mocked-table/mocked-load-id.mocked-file-id.jsonl.gz");
    }

    #[test]
    fn static_extra_placeholders() {
        let l = Layout::new(
            "{table_name}/{test_placeholder}/{YYYY}-{MM}-{DD}/{ddd}/{mm}/{load_id}.{file_id}.{ext}",
            extras(&[("test_placeholder", "test_value".into())]),
        )
        .unwrap();
        assert_eq!(l.render(&params(frozen())).unwrap(), "mocked-table/test_value/2024-04-14/sun/32/mocked-load-id.mocked-file-id.jsonl");
        assert!(l.unused_extra_placeholders().is_empty());

        let l = Layout::new(
            "{table_name}/{owner}/{department}/{load_id}.{file_id}.{ext}",
            extras(&[("owner", "admin".into()), ("department", ExtraPlaceholder::Static("finance".to_owned())), ("spare", "x".into())]),
        )
        .unwrap();
        assert_eq!(l.render(&params(frozen())).unwrap(), "mocked-table/admin/finance/mocked-load-id.mocked-file-id.jsonl");
        assert_eq!(l.unused_extra_placeholders(), ["spare"]);
    }

    #[test]
    fn callback_extra_placeholders_get_job_values_once_per_render() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let cb = ExtraPlaceholder::callback(move |s, t, l, f, e| {
            counter.fetch_add(1, Ordering::SeqCst);
            format!("{s}-{t}-{l}-{f}-{e}")
        });
        let unused_calls = Arc::new(AtomicUsize::new(0));
        let unused_counter = Arc::clone(&unused_calls);
        let unused = ExtraPlaceholder::callback(move |_, _, _, _, _| {
            unused_counter.fetch_add(1, Ordering::SeqCst);
            String::new()
        });
        let l = Layout::new(
            "{table_name}/{cb}/{cb}-{owner}/{load_id}.{file_id}.{ext}",
            extras(&[("cb", cb), ("owner", "admin".into()), ("unused", unused)]),
        )
        .unwrap();
        let mut p = params(frozen());
        p.table_name = "events";
        p.file_id = "f1";
        p.ext = "jsonl.gz";
        let expected = "events/schema_name-events-mocked-load-id-f1-jsonl.gz/\
                        schema_name-events-mocked-load-id-f1-jsonl.gz-admin/mocked-load-id.f1.jsonl.gz";
        assert_eq!(l.render(&p).unwrap(), expected);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(l.render(&p).unwrap(), expected);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(unused_calls.load(Ordering::SeqCst), 0);
        // a clone shares the callback
        let cloned = l.clone();
        assert_eq!(cloned.render(&p).unwrap(), expected);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn extra_placeholder_debug_hides_callback() {
        let cb = ExtraPlaceholder::callback(|_, _, _, _, _| String::new());
        assert_eq!(format!("{cb:?}"), "Callback(<callback>)");
        assert_eq!(format!("{:?}", ExtraPlaceholder::from("v")), "Static(\"v\")");
        let l = Layout::new("{table_name}/{x}", extras(&[("x", cb)])).unwrap();
        assert!(format!("{l:?}").contains("<callback>"));
    }

    #[test]
    fn layout_validity() {
        layout("{table_name}");
        layout("{schema_name}/{table_name}/{load_id}.{file_id}.{ext}");
        let err = Layout::new("{other_ph}.{table_name}", BTreeMap::new()).unwrap_err();
        match &err {
            LayoutError::UnknownPlaceholders { layout, unknown, extra, unused_extra } => {
                assert_eq!(layout, "{other_ph}.{table_name}");
                assert_eq!(unknown, &["other_ph"]);
                assert!(extra.is_empty());
                assert!(unused_extra.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("`{other_ph}.{table_name}`"), "{msg}");
        assert!(msg.contains("{other_ph}"), "{msg}");
        assert!(msg.contains("extra_placeholders"), "{msg}");
    }

    #[test]
    fn unknown_placeholders_listed_with_unused_extras_hint() {
        let err = Layout::new("{table_name}/{a}/{b}/{c}/{b}", extras(&[("a", "x".into()), ("bb", "y".into())])).unwrap_err();
        match &err {
            LayoutError::UnknownPlaceholders { unknown, extra, unused_extra, .. } => {
                assert_eq!(unknown, &["b", "c"]);
                assert_eq!(extra, &["a", "bb"]);
                assert_eq!(unused_extra, &["bb"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("{b}, {c}"), "{msg}");
        assert!(msg.contains("not used by the layout: bb"), "{msg}");
        // placeholder names are case sensitive and not trimmed
        assert!(Layout::new("{table_name}/{Table_Name}", BTreeMap::new()).is_err());
        assert!(Layout::new("{table_name}/{ ext }", BTreeMap::new()).is_err());
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for (t, position) in [
            ("{table_name}/{}", 13),
            ("{table_name}/{load_id", 13),
            ("{table_name}}{load_id}", 12),
            ("{{table_name}}/{load_id}", 1),
            ("{table_name}/{x{y}.{ext}", 15),
        ] {
            match Layout::new(t, BTreeMap::new()) {
                Err(LayoutError::Malformed { layout, position: p, .. }) => {
                    assert_eq!(layout, t);
                    assert_eq!(p, position, "{t}");
                }
                other => panic!("{t}: unexpected {other:?}"),
            }
        }
        let msg = Layout::new("{table_name}/{load_id", BTreeMap::new()).unwrap_err().to_string();
        assert!(msg.contains("unclosed"), "{msg}");
        assert!(msg.contains("`{table_name}/{load_id`"), "{msg}");
    }

    #[test]
    fn extras_may_not_shadow_standard_placeholders() {
        let err = Layout::new("{table_name}/{load_id}", extras(&[("table_name", "x".into()), ("YYYY", "y".into()), ("ok", "z".into())]))
            .unwrap_err();
        match &err {
            LayoutError::ReservedExtraPlaceholder { names, .. } => {
                assert_eq!(names, &["YYYY", "table_name"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("Rename"));
    }

    #[test]
    fn placeholders_in_template_order() {
        assert_eq!(layout("{table_name}/{YYYY}/{table_name}.{ext}").placeholders(), ["table_name", "YYYY", "table_name", "ext"]);
        assert!(layout("plain").placeholders() == ["ext"]);
        assert_eq!(layout("plain").render(&params(frozen())).unwrap(), "plain.jsonl");
    }

    #[test]
    fn table_prefix_templates_like_dlt() {
        let cases = [
            (DEFAULT_LAYOUT, "{table_name}/"),
            ("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}", "{schema_name}.{table_name}."),
            ("{table_name}88{load_id}-u-{file_id}.{ext}", "{table_name}8"),
            ("{table_name}/{load_id}/{file_id}.{ext}", "{table_name}/"),
            ("{schema_name}/{table_name}/{load_id}/{file_id}.{ext}", "{schema_name}/{table_name}/"),
            ("{table_name}/{load_id}", "{table_name}/"),
            // the appended `.{ext}` provides the separator
            ("{table_name}", "{table_name}."),
            ("some_random{schema_name}/stuff_in_between/{table_name}/{load_id}", "some_random{schema_name}/stuff_in_between/{table_name}/"),
            ("{table_name}/{a}/{b}", "{table_name}/"),
        ];
        for (t, expected) in cases {
            let l = Layout::new(t, extras(&[("a", "1".into()), ("b", "2".into())])).unwrap();
            l.check_table_prefix().unwrap();
            assert_eq!(l.table_prefix_template().unwrap(), expected, "{t}");
        }
        assert_eq!(
            layout("some_random{schema_name}/stuff_in_between/{table_name}/{load_id}").table_prefix("my_schema", "my_table").unwrap(),
            "some_randommy_schema/stuff_in_between/my_table/"
        );
    }

    /// dlt's `test_replace_write_disposition`: tables `event_user` and `event_loop_interrupted`
    /// share folders in flat layouts; the prefix of one never selects files of the other, and
    /// the prefix of `event` never selects files of `events`.
    #[test]
    fn table_prefix_separates_tables_in_shared_folders() {
        let layouts = [
            (DEFAULT_LAYOUT, "events/", "events/"),
            ("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}", "schema.events.", ""),
            ("{table_name}88{load_id}-u-{file_id}.{ext}", "events8", ""),
            ("{table_name}/{load_id}/{file_id}.{ext}", "events/", "events/"),
            ("{schema_name}/{table_name}/{load_id}/{file_id}.{ext}", "schema/events/", "schema/events/"),
            ("{schema_name}/{table_name}.{load_id}.{file_id}.{ext}", "schema/events.", "schema/"),
        ];
        let tables = ["event", "events", "event_user", "event_loop_interrupted", "event_user_x"];
        for (t, events_prefix, events_dir) in layouts {
            let l = layout(t);
            assert_eq!(l.table_prefix("schema", "events").unwrap(), events_prefix, "{t}");
            assert_eq!(l.table_dir("schema", "events").unwrap(), events_dir, "{t}");
            for (i, table) in tables.iter().enumerate() {
                let prefix = l.table_prefix("schema", table).unwrap();
                for (j, other) in tables.iter().enumerate() {
                    for load_id in ["1712345678.123", "1812345678.5"] {
                        let mut p = params(frozen());
                        p.schema_name = "schema";
                        p.table_name = other;
                        p.load_id = load_id;
                        p.file_id = "abc123";
                        let path = l.render(&p).unwrap();
                        assert_eq!(path.starts_with(&prefix), i == j, "layout {t}: prefix {prefix} of {table} vs file {path} of {other}");
                        assert!(path.starts_with(&l.table_dir("schema", other).unwrap()));
                    }
                }
            }
        }
    }

    #[test]
    fn table_prefix_errors() {
        type Check = fn(&LayoutError) -> bool;
        let cases: [(&str, Check); 6] = [
            ("some_random{schema_name}/stuff_in_between/", |e| matches!(e, LayoutError::MissingTableName { .. })),
            ("{load_id}/{file_id}.{ext}", |e| matches!(e, LayoutError::MissingTableName { .. })),
            (
                "{file_id}some_random{table_name}/stuff_in_between/",
                |e| matches!(e, LayoutError::PlaceholderBeforeTableName { placeholders, .. } if placeholders == &["file_id"]),
            ),
            (
                "{YYYY}/{schema_name}/{x}/{table_name}/{load_id}",
                |e| matches!(e, LayoutError::PlaceholderBeforeTableName { placeholders, .. } if placeholders == &["YYYY", "x"]),
            ),
            ("{table_name}{load_id}.{ext}", |e| matches!(e, LayoutError::MissingSeparatorAfterTableName { .. })),
            ("{schema_name}/{table_name}{load_id}.{file_id}.{ext}", |e| matches!(e, LayoutError::MissingSeparatorAfterTableName { .. })),
        ];
        for (t, check) in cases {
            // creating the layout succeeds; only the prefix rule fails
            let l = Layout::new(t, extras(&[("x", "1".into())])).unwrap();
            let err = l.check_table_prefix().unwrap_err();
            assert!(check(&err), "{t}: {err:?}");
            assert_eq!(l.table_prefix("s", "t").unwrap_err(), err);
            assert_eq!(l.table_prefix_template().unwrap_err(), err);
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{t}`")), "{msg}");
            assert!(msg.contains(DEFAULT_LAYOUT), "{msg}");
        }
        let msg = layout("{table_name}{load_id}.{ext}").check_table_prefix().unwrap_err().to_string();
        assert!(msg.contains("separator is required after {table_name}"), "{msg}");
        let msg = layout("{load_id}/{table_name}/").check_table_prefix().unwrap_err().to_string();
        assert!(msg.contains("{load_id}"), "{msg}");
        // the quoted layout is the user's, not the one with `.{ext}` appended
        let msg = layout("{table_name}{load_id}").check_table_prefix().unwrap_err().to_string();
        assert!(msg.contains("`{table_name}{load_id}`"), "{msg}");
    }

    #[test]
    fn table_own_folder_rule() {
        layout(DEFAULT_LAYOUT).check_table_own_folder().unwrap();
        layout("{schema_name}/{table_name}/{load_id}/{file_id}.{ext}").check_table_own_folder().unwrap();
        assert!(matches!(
            layout("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}").check_table_own_folder(),
            Err(LayoutError::TableNeedsOwnFolder { .. })
        ));
        assert!(matches!(layout("{table_name}/").check_table_own_folder(), Err(LayoutError::MissingFileName { .. })));
        assert!(matches!(layout("{table_name}/_{load_id}.{ext}").check_table_own_folder(), Err(LayoutError::MissingFileName { .. })));
        assert!(matches!(
            layout("{table_name}{load_id}").check_table_own_folder(),
            Err(LayoutError::MissingSeparatorAfterTableName { .. })
        ));
    }

    #[test]
    fn table_prefix_separators_for_naming_checks() {
        assert_eq!(layout(DEFAULT_LAYOUT).table_prefix_separators().unwrap(), ["/"]);
        assert_eq!(layout("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}").table_prefix_separators().unwrap(), ["."]);
        assert_eq!(layout("{schema_name}__{table_name}_{load_id}").table_prefix_separators().unwrap(), ["__", "_"]);
        assert_eq!(layout("{table_name}88{load_id}").table_prefix_separators().unwrap(), ["8"]);
    }

    #[test]
    fn unicode_separator_after_table_name() {
        let l = layout("{table_name}→{load_id}.{ext}");
        assert_eq!(l.table_prefix_template().unwrap(), "{table_name}→");
        assert_eq!(l.table_prefix("s", "t").unwrap(), "t→");
        assert_eq!(l.render(&params(frozen())).unwrap(), "mocked-table→mocked-load-id.jsonl");
    }

    #[test]
    fn default_layout() {
        let l = Layout::default();
        assert_eq!(l.template(), DEFAULT_LAYOUT);
        assert_eq!(l.placeholders(), ["table_name", "load_id", "file_id", "ext"]);
        assert_eq!(l.table_prefix("s", "events").unwrap(), "events/");
        assert_eq!(l.table_dir("s", "events").unwrap(), "events/");
    }

    #[test]
    fn layouts_leaving_the_dataset_folder_are_refused_when_created() {
        let long = "x".repeat(MAX_SEGMENT_BYTES + 1);
        let too_long = format!("{{table_name}}/{long}/{{load_id}}");
        type Check = fn(&PathProblem) -> bool;
        let cases: [(&str, Check); 9] = [
            ("{table_name}/../../../escape/{load_id}.{file_id}.{ext}", |p| *p == PathProblem::DotSegment("..".into())),
            ("../{table_name}/{load_id}", |p| *p == PathProblem::DotSegment("..".into())),
            ("{table_name}/./{load_id}", |p| *p == PathProblem::DotSegment(".".into())),
            ("/{table_name}/{load_id}", |p| *p == PathProblem::Absolute),
            ("{table_name}//{load_id}", |p| *p == PathProblem::EmptySegment),
            ("{table_name}/{ext}/", |p| *p == PathProblem::NoFileName),
            ("{table_name}\\..\\{load_id}", |p| *p == PathProblem::Backslash),
            ("{table_name}/a\0b/{load_id}", |p| *p == PathProblem::Nul),
            (&too_long, |p| matches!(p, PathProblem::TooLong { bytes, .. } if *bytes == MAX_SEGMENT_BYTES + 1)),
        ];
        for (t, check) in cases {
            let err = Layout::new(t, BTreeMap::new()).unwrap_err();
            match &err {
                LayoutError::UnsafeLayout { layout, problem } => {
                    assert_eq!(layout, t);
                    assert!(check(problem), "{t}: {problem:?}");
                }
                other => panic!("{t}: unexpected {other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains(&format!("invalid filesystem layout `{t}`")), "{msg}");
            assert!(err.hint().is_some(), "{t}");
        }
        let msg = Layout::new("{table_name}/../../../escape/{load_id}.{file_id}.{ext}", BTreeMap::new()).unwrap_err().to_string();
        assert!(msg.contains("`..`") && msg.contains("outside the dataset folder"), "{msg}");
        let hint = Layout::new(&too_long, BTreeMap::new()).unwrap_err().hint().unwrap();
        assert!(hint.contains("255 bytes"), "{hint}");
    }

    #[test]
    fn static_extra_placeholders_are_checked_when_created() {
        for (value, problem) in [
            ("../..", PathProblem::DotSegment("..".into())),
            ("a//b", PathProblem::EmptySegment),
            ("", PathProblem::EmptySegment),
            ("a\\b", PathProblem::Backslash),
        ] {
            let err = Layout::new("{table_name}/{up}/{load_id}", extras(&[("up", value.into())])).unwrap_err();
            assert_eq!(err, LayoutError::UnsafeLayout { layout: "{table_name}/{up}/{load_id}".into(), problem }, "{value:?}");
        }
        // a value with `/` adds folders; names merely containing dots are fine
        let l = Layout::new("{table_name}/{up}/..{load_id}/a..b/.{file_id}", extras(&[("up", "eu/west".into())])).unwrap();
        assert_eq!(l.render(&params(frozen())).unwrap(), "mocked-table/eu/west/..mocked-load-id/a..b/.mocked-file-id.jsonl");
        // callbacks are known only when rendering
        Layout::new("{table_name}/{cb}/{load_id}", extras(&[("cb", ExtraPlaceholder::callback(|_, _, _, _, _| "..".into()))])).unwrap();
    }

    #[test]
    fn rendered_paths_leaving_the_dataset_folder_are_errors() {
        for (value, problem) in [
            ("..", PathProblem::DotSegment("..".into())),
            ("../../x", PathProblem::DotSegment("..".into())),
            (".", PathProblem::DotSegment(".".into())),
            ("", PathProblem::EmptySegment),
            ("/etc", PathProblem::EmptySegment),
            ("a\\b", PathProblem::Backslash),
            ("a\0", PathProblem::Nul),
        ] {
            let v = value.to_owned();
            let l = Layout::new(
                "{table_name}/{cb}/{load_id}.{file_id}.{ext}",
                extras(&[("cb", ExtraPlaceholder::callback(move |_, _, _, _, _| v.clone()))]),
            )
            .unwrap();
            let err = l.render(&params(frozen())).unwrap_err();
            let path = format!("mocked-table/{value}/mocked-load-id.mocked-file-id.jsonl");
            assert_eq!(
                err,
                LayoutError::UnsafePath { layout: "{table_name}/{cb}/{load_id}.{file_id}.{ext}".into(), path: path.clone(), problem },
                "{value:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(&format!("renders the path `{path}`")), "{msg}");
            assert!(err.hint().unwrap().contains("extra placeholders"), "{value:?}");
        }
        // an empty schema name would make the path absolute
        let mut p = params(frozen());
        p.schema_name = "";
        let err = layout("{schema_name}/{table_name}/{load_id}").render(&p).unwrap_err();
        assert!(matches!(err, LayoutError::UnsafePath { problem: PathProblem::Absolute, .. }), "{err:?}");
    }

    #[test]
    fn names_longer_than_a_file_system_allows_are_errors() {
        let l = layout(DEFAULT_LAYOUT);
        let mut p = params(frozen());
        let ok = "t".repeat(MAX_SEGMENT_BYTES);
        p.table_name = &ok;
        assert!(l.render(&p).unwrap().starts_with(&format!("{ok}/")));
        assert_eq!(l.table_prefix("s", &ok).unwrap(), format!("{ok}/"));
        let long = "t".repeat(300);
        p.table_name = &long;
        let err = l.render(&p).unwrap_err();
        match &err {
            LayoutError::UnsafePath { problem: PathProblem::TooLong { segment, bytes }, .. } => {
                assert_eq!(segment, &long);
                assert_eq!(*bytes, 300);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("is 300 bytes long") && msg.contains("255 bytes per file or folder name"), "{msg}");
        assert!(err.hint().unwrap().contains("shorten the table name"), "{err:?}");
        assert_eq!(
            l.table_prefix("s", &long).unwrap_err(),
            LayoutError::UnsafePath {
                layout: DEFAULT_LAYOUT.into(),
                path: format!("{long}/"),
                problem: PathProblem::TooLong { segment: long.clone(), bytes: 300 },
            }
        );
        assert!(l.table_dir("s", &long).is_err());
        assert!(l.check_paths(&p).is_err());
        // bytes count, not characters
        let wide = "é".repeat(128);
        p.table_name = &wide;
        assert!(matches!(l.render(&p), Err(LayoutError::UnsafePath { problem: PathProblem::TooLong { bytes: 256, .. }, .. })));
        // several values in one segment: within limits alone, too long together
        let flat = layout("{schema_name}.{table_name}.{load_id}.{file_id}.{ext}");
        let (schema, table) = ("s".repeat(120), "t".repeat(120));
        let mut p = params(frozen());
        p.schema_name = &schema;
        p.table_name = &table;
        assert!(flat.table_prefix(&schema, &table).is_ok());
        let err = flat.check_paths(&p).unwrap_err();
        assert!(matches!(err, LayoutError::UnsafePath { problem: PathProblem::TooLong { .. }, .. }));
        // a path of one segment is named once
        let msg = err.to_string();
        assert!(msg.contains("renders the file name `sss") && msg.contains("bytes long"), "{msg}");
        assert_eq!(msg.matches("ttttt.mocked-load-id").count(), 1, "{msg}");
    }

    #[test]
    fn table_prefixes_leaving_the_dataset_folder_are_errors() {
        let l = layout("{schema_name}/{table_name}/{load_id}");
        for (schema, problem) in
            [("..", PathProblem::DotSegment("..".into())), ("", PathProblem::Absolute), ("a\\b", PathProblem::Backslash)]
        {
            let err = l.table_prefix(schema, "events").unwrap_err();
            assert!(
                matches!(&err, LayoutError::UnsafePath { problem: p, path, .. } if *p == problem && *path == format!("{schema}/events/")),
                "{schema:?}: {err:?}"
            );
            assert!(l.table_dir(schema, "events").is_err());
        }
        // the end of a flat prefix is the start of a file name: `..` there stays in the folder
        let flat = layout("{schema_name}/{table_name}.{load_id}");
        assert_eq!(flat.table_prefix("s", ".").unwrap(), "s/..");
        assert_eq!(flat.table_dir("s", ".").unwrap(), "s/");
    }

    #[test]
    fn check_paths_does_not_call_callbacks() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let l = Layout::new(
            "{table_name}/{cb}/{load_id}.{file_id}.{ext}",
            extras(&[(
                "cb",
                ExtraPlaceholder::callback(move |_, _, _, _, _| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    "..".into()
                }),
            )]),
        )
        .unwrap();
        l.check_paths(&params(frozen())).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(l.render(&params(frozen())).is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn check_path_rules() {
        for ok in ["a", "a/b.jsonl", "..a/b..", ".hidden/x", "a b/ü"] {
            check_path(ok).unwrap();
        }
        assert_eq!(check_path("/a"), Err(PathProblem::Absolute));
        assert_eq!(check_path("a/"), Err(PathProblem::NoFileName));
        assert_eq!(check_path("a//b"), Err(PathProblem::EmptySegment));
        assert_eq!(check_path(""), Err(PathProblem::NoFileName));
        assert_eq!(check_path("a/../b"), Err(PathProblem::DotSegment("..".into())));
        assert_eq!(check_path("./b"), Err(PathProblem::DotSegment(".".into())));
        assert_eq!(check_path("a\\..\\b"), Err(PathProblem::Backslash));
        assert_eq!(check_path("a\0"), Err(PathProblem::Nul));
    }

    #[test]
    fn layout_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Layout>();
        assert_send_sync::<LayoutError>();
    }
}
