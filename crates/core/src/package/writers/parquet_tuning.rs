//! Parquet tuning: which columns are written plain (no dictionary) or uncompressed, decided
//! from a sample of a file's first batch.

use super::*;

/// Dictionary page limit per column chunk of a parquet file (see where it is set).
pub(super) const PARQUET_DICTIONARY_PAGE_BYTES: usize = 256 * 1024;
/// How many leading values of a file's first batch [`plain_columns`] looks at.
pub(super) const DISTINCT_SAMPLE: usize = 4096;
/// Fewer non-null values than this are too few to judge: the column keeps its dictionary.
pub(super) const DISTINCT_MIN_SAMPLE: usize = 256;
/// How many bytes of a plain column's first values [`plain_columns`] compresses to judge
/// whether snappy pays off.
pub(super) const COMPRESS_SAMPLE_BYTES: usize = 64 * 1024;

/// A column of a new parquet file written with plain encoding (no dictionary).
#[derive(Debug)]
pub(super) struct PlainColumn {
    pub(super) name: String,
    /// Snappy saves at least a tenth of the sample's bytes (always true when the file's
    /// codec is not snappy: the column keeps it).
    pub(super) compress: bool,
}

/// The columns of `batch` whose first values are mostly distinct (at least half of a sample
/// of [`DISTINCT_MIN_SAMPLE`] to [`DISTINCT_SAMPLE`] non-null values): ids, hashes, urls, free
/// text, timestamps, numeric ids and measures. A dictionary would fill its page limit within
/// a few thousand rows and fall back to plain encoding in every row group, or hold one entry
/// per value plus an index for each, after interning (hashing and comparing) every value;
/// such columns are written plain from the start. Strings, binaries and fixed-width values
/// (numbers, dates, times, timestamps, decimals) are sampled; every other column (booleans,
/// nested), and any column with too few values to sample, keeps the dictionary (pyarrow
/// tries one on every column).
///
/// With `judge_snappy`, the first [`COMPRESS_SAMPLE_BYTES`] of each such column (a 4-byte
/// length before each string or binary value, as in parquet's plain encoding; fixed-width
/// values as Arrow holds them, close to it) are compressed with snappy: where that saves
/// less than a tenth (hashes, random ids: snappy has no entropy coder, it only finds the
/// repeated length prefixes), the column is written uncompressed, which costs that tenth of
/// its size and saves snappy's time on it, the compressor's slowest input.
pub(super) fn plain_columns(batch: &RecordBatch, judge_snappy: bool) -> Vec<PlainColumn> {
    /// Whether the values are mostly distinct, and if so whether snappy pays off on them.
    /// `prefixed`: plain encoding writes a 4-byte length before each value.
    fn judge<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, prefixed: bool, judge_snappy: bool) -> Option<bool> {
        let mut seen: HashSet<&[u8], foldhash::fast::FixedState> = HashSet::default();
        let mut sample = Vec::new();
        let mut n = 0usize;
        for v in values.flatten().take(DISTINCT_SAMPLE) {
            n += 1;
            seen.insert(v);
            if judge_snappy && sample.len() < COMPRESS_SAMPLE_BYTES {
                if prefixed {
                    sample.extend_from_slice(&(v.len() as u32).to_le_bytes());
                }
                sample.extend_from_slice(v);
            }
        }
        if n < DISTINCT_MIN_SAMPLE || seen.len() * 2 < n {
            return None;
        }
        if !judge_snappy {
            return Some(true);
        }
        // (a sample snappy cannot compress at all keeps the codec: nothing is decided on an error)
        let compressed = snap::raw::Encoder::new().compress_vec(&sample).map(|c| c.len()).unwrap_or(0);
        Some(compressed * 10 <= sample.len() * 9)
    }
    let mut out = Vec::new();
    for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
        let verdict = match a.data_type() {
            DataType::Utf8 => judge(a.as_string::<i32>().iter().map(|v| v.map(str::as_bytes)), true, judge_snappy),
            DataType::LargeUtf8 => judge(a.as_string::<i64>().iter().map(|v| v.map(str::as_bytes)), true, judge_snappy),
            DataType::Binary => judge(a.as_binary::<i32>().iter(), true, judge_snappy),
            DataType::LargeBinary => judge(a.as_binary::<i64>().iter(), true, judge_snappy),
            t => match t.primitive_width() {
                // the values' bytes, `width` per slot (booleans are bits: no width)
                Some(width) if width > 0 => {
                    let data = a.to_data();
                    let bytes = data.buffers()[0].as_slice();
                    let first = data.offset();
                    let values = (0..a.len()).map(|i| a.is_valid(i).then(|| &bytes[(first + i) * width..(first + i + 1) * width]));
                    judge(values, false, judge_snappy)
                }
                _ => None,
            },
        };
        if let Some(compress) = verdict {
            out.push(PlainColumn { name: f.name().clone(), compress });
        }
    }
    out
}
