//! Parallel normalization of JSON lines with results equal to a sequential run.
//!
//! The input is cut into chunks of whole lines. Worker threads normalize chunks against a
//! frozen snapshot of the schema, each into its own job files. A chunk that needs a schema
//! change (a new table, column or variant) is handed back and redone by the coordinator, in
//! chunk order, with the evolving schema; the new schema is then published to the workers.
//! A chunk that needed no change gives the same rows whichever schema version it saw (it
//! touched only columns that already existed), so the outcome equals a sequential run:
//! same tables, same column order and types, same rows. Memory stays bounded: a fixed number
//! of chunks is in flight.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, ErrorKind, Result};
use crate::naming::NamingConvention;
use bumpalo::Bump;

use crate::normalize::{BatchSink, JScratch, JVal, NormalizeWarning, Normalizer, NormalizerOptions, jsondoc};
use crate::schema::Schema;

/// Bytes of input per chunk.
pub const CHUNK_BYTES: usize = 1 << 20;

struct Chunk {
    index: u64,
    first_line: u64,
    text: String,
}

enum Outcome {
    Done { records: u64 },
    NeedsSchemaChange(Chunk),
    Failed(Error),
}

/// What the parallel pass produced besides the coordinator's own output.
pub struct ParallelOutput<S> {
    /// The workers' sinks (their job files), to be finished by the caller.
    pub sinks: Vec<S>,
    /// Rows per table written by the workers.
    pub worker_rows: HashMap<String, u64>,
    /// Records read.
    pub records: u64,
    /// Chunks redone by the coordinator because they changed the schema.
    pub sequential_chunks: u64,
    /// Chunks in total.
    pub chunks: u64,
}

/// Reads a chunk of whole lines (at least `CHUNK_BYTES` unless the input ends), straight
/// from the reader's buffer: one copy, one UTF-8 check and one newline count per chunk.
fn read_chunk(reader: &mut dyn BufRead, origin: &str, next_line: &mut u64) -> Result<Option<(u64, String)>> {
    let first = *next_line;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    loop {
        let avail = reader.fill_buf().map_err(|e| read_error(e, origin, first + line_count(&buf) + 1))?;
        if avail.is_empty() {
            break;
        }
        let mut take = avail.len();
        let mut full = false;
        if buf.len() + avail.len() >= CHUNK_BYTES {
            // end the chunk at the first newline that makes it at least CHUNK_BYTES long
            let from = (CHUNK_BYTES - buf.len().min(CHUNK_BYTES)).saturating_sub(1);
            if let Some(p) = memchr::memchr(b'\n', &avail[from..]) {
                take = from + p + 1;
                full = true;
            }
        }
        buf.extend_from_slice(&avail[..take]);
        reader.consume(take);
        if full {
            break;
        }
    }
    if buf.is_empty() {
        return Ok(None);
    }
    *next_line += line_count(&buf);
    match String::from_utf8(buf) {
        Ok(text) => Ok(Some((first, text))),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let mut line = first + memchr::memchr_iter(b'\n', &bytes[..at]).count() as u64 + 1;
            let mut element = 0;
            // a record of a JSON document: where it is in the input
            let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
            if let Some((rec, text)) = jsondoc::split_record(&bytes[start..]) {
                let text = &bytes[start + text..];
                line = jsondoc::position(&rec, text, at.saturating_sub(bytes.len() - text.len())).0;
                element = rec.element;
            }
            Err(with_element(
                Error::invalid_data("input is not valid UTF-8").with("file", origin.to_string()).with("line", line.to_string()),
                element,
            )
            .with_hint("convert the file to UTF-8; nothing of this load was written"))
        }
    }
}

/// A read error as the load's error: the error a [`jsondoc::JsonDocLines`] found in the
/// structure of a JSON document as it is, any other with the file and line reached.
fn read_error(e: std::io::Error, origin: &str, line: u64) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(Ok(inner)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
            return *inner;
        }
        return Error::internal("a wrapped error went missing");
    }
    Error::new(ErrorKind::Io, format!("reading input failed: {e}")).with("file", origin.to_string()).with("line", line.to_string())
}

/// Adds the element number of a record (1-based; 0 adds nothing) to an error.
fn with_element(e: Error, element: u64) -> Error {
    if element == 0 { e } else { e.with("element", element.to_string()) }
}

/// Skips a UTF-8 byte order mark at the start of a stream.
fn skip_bom(reader: &mut dyn BufRead, origin: &str) -> Result<()> {
    crate::source::skip_bom(reader).map_err(|e| read_error(e, origin, 1))?;
    Ok(())
}

/// Lines in `buf`: its newlines, plus one for a last line without one.
fn line_count(buf: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', buf).count() as u64;
    n + u64::from(buf.last().is_some_and(|&b| b != b'\n'))
}

/// Normalizes the lines of one chunk; `first_line` is the 0-based line number of its first
/// line. A line holding an array is a batch of records (see [`Normalizer::push_item`]); a
/// record line of a JSON document ([`jsondoc`]) is one record, placed by its prefix.
fn push_lines(n: &mut Normalizer<'_>, t: usize, origin: &str, first_line: u64, text: &str) -> Result<u64> {
    let mut records = 0;
    let mut arena = Bump::new();
    let mut scratch = JScratch::default();
    for (i, line) in split_lines(text).enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        // one byte compare for a JSON-lines line (see `jsondoc::split_record`)
        if let Some((start, at)) = jsondoc::split_record(line.as_bytes()) {
            push_record(n, t, origin, &start, &line[at..], &mut arena, &mut scratch)?;
            records += 1;
            continue;
        }
        let lineno = first_line + i as u64 + 1;
        arena.reset();
        let v = JVal::parse_with(line, &arena, &mut scratch).map_err(|e| {
            Error::invalid_data(format!("malformed JSON: {e}"))
                .with("file", origin.to_string())
                .with("line", lineno.to_string())
                .with_hint("fix or remove that line and run again; nothing of this load was written")
        })?;
        n.set_origin(origin, lineno);
        // a line holding an array is a batch of records
        records += n.push_item(t, &v)?;
    }
    Ok(records)
}

/// Normalizes one record of a JSON document (never a batch: a top-level array was unrolled
/// into its elements already, and an element that is an array is one record, as in dlt);
/// errors name the input line (and column) and the element.
#[inline(never)]
fn push_record(
    n: &mut Normalizer<'_>,
    t: usize,
    origin: &str,
    start: &jsondoc::RecordStart,
    text: &str,
    arena: &mut Bump,
    scratch: &mut JScratch,
) -> Result<()> {
    arena.reset();
    let v = JVal::parse_with(text, arena, scratch).map_err(|e| {
        let (line, column) = jsondoc::position(start, text.as_bytes(), e.column().saturating_sub(1));
        let err = Error::invalid_data(format!("malformed JSON: {} at column {column}", e.what()))
            .with("file", origin.to_string())
            .with("line", line.to_string());
        with_element(err, start.element).with_hint("fix that record and run again; nothing of this load was written")
    })?;
    n.set_origin(origin, start.line);
    n.push(t, &v).map_err(|e| with_element(e, start.element))
}

/// The `\n`-separated lines of `text` (memchr instead of a char searcher).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    ends.map(move |end| {
        let line = &text[start..end];
        start = end + 1;
        line
    })
}

/// Sequential normalization of a JSON-lines stream (the one-thread path).
pub fn normalize_sequential(
    n: &mut Normalizer<'_>,
    root: &str,
    origin: &str,
    reader: &mut dyn BufRead,
    on_records: &dyn Fn(u64),
) -> Result<u64> {
    let t = n.root_table(root)?;
    skip_bom(reader, origin)?;
    let mut next_line = 0;
    let mut records = 0;
    while let Some((first, text)) = read_chunk(reader, origin, &mut next_line)? {
        records += push_lines(n, t, origin, first, &text)?;
        on_records(records);
    }
    Ok(records)
}

/// Normalizes a JSON-lines stream with `workers` threads; `coord` is the unfrozen normalizer
/// whose schema is the result, `make_sink` makes one sink per worker.
#[allow(clippy::too_many_arguments)]
pub fn normalize_parallel<S: BatchSink + Send>(
    coord: &mut Normalizer<'_>,
    root: &str,
    origin: &str,
    reader: &mut (dyn BufRead + Send),
    workers: usize,
    naming: Arc<dyn NamingConvention>,
    load_id: &str,
    opts: &NormalizerOptions,
    make_sink: &(dyn Fn() -> S + Sync),
    on_records: &dyn Fn(u64),
) -> Result<ParallelOutput<S>> {
    let coord_t = coord.root_table(root)?;
    skip_bom(&mut *reader, origin)?;
    let snapshot: Arc<RwLock<(u64, Arc<Schema>)>> = Arc::new(RwLock::new((0, Arc::new(coord.schema().clone()))));
    let mut generation = coord.generation();
    let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(workers);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (res_tx, res_rx) = mpsc::channel::<(u64, Outcome)>();
    let stop = AtomicBool::new(false);

    std::thread::scope(|scope| -> Result<ParallelOutput<S>> {
        let mut handles = Vec::new();
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let res_tx = res_tx.clone();
            let snapshot = snapshot.clone();
            let naming = naming.clone();
            let stop = &stop;
            handles.push(scope.spawn(move || -> Result<(S, HashMap<String, u64>, Vec<NormalizeWarning>)> {
                let mut sink = make_sink();
                let (rows, warnings) = {
                    let (mut version, schema) = {
                        let g = snapshot.read().expect("schema lock");
                        (g.0, g.1.clone())
                    };
                    let mut n = Normalizer::frozen((*schema).clone(), naming, load_id, opts.clone(), &mut sink);
                    loop {
                        let chunk = {
                            let rx = work_rx.lock().expect("queue lock");
                            match rx.recv() {
                                Ok(c) => c,
                                Err(_) => break,
                            }
                        };
                        let idx = chunk.index;
                        if stop.load(Ordering::Relaxed) {
                            continue;
                        }
                        {
                            let g = snapshot.read().expect("schema lock");
                            if g.0 != version {
                                version = g.0;
                                n.update_schema((*g.1).clone());
                            }
                        }
                        let outcome = match n.root_table(root).and_then(|t| push_lines(&mut n, t, origin, chunk.first_line, &chunk.text)) {
                            Ok(records) => match n.commit_chunk() {
                                Ok(()) => Outcome::Done { records },
                                Err(e) => Outcome::Failed(e),
                            },
                            Err(_) if n.needs_schema_change() => match n.discard_chunk() {
                                Ok(()) => Outcome::NeedsSchemaChange(chunk),
                                Err(e) => Outcome::Failed(e),
                            },
                            Err(e) => Outcome::Failed(e),
                        };
                        if res_tx.send((idx, outcome)).is_err() {
                            break;
                        }
                    }
                    let rows = n.stats().into_iter().map(|(k, v)| (k, v.rows)).collect::<HashMap<_, _>>();
                    (rows, n.take_warnings())
                };
                Ok((sink, rows, warnings))
            }));
        }
        drop(res_tx);

        // coordinator: read, dispatch, resolve in order
        let mut pending: BTreeMap<u64, Outcome> = BTreeMap::new();
        let mut next_to_resolve: u64 = 0;
        let mut sent: u64 = 0;
        let mut records: u64 = 0;
        let mut sequential: u64 = 0;
        let mut failure: Option<Error> = None;
        let mut next_line = 0u64;
        let mut resolve = |pending: &mut BTreeMap<u64, Outcome>,
                           next_to_resolve: &mut u64,
                           records: &mut u64,
                           failure: &mut Option<Error>,
                           coord: &mut Normalizer<'_>|
         -> Result<()> {
            while failure.is_none() {
                let Some(outcome) = pending.remove(next_to_resolve) else { break };
                match outcome {
                    Outcome::Done { records: r } => *records += r,
                    Outcome::NeedsSchemaChange(chunk) => {
                        sequential += 1;
                        match push_lines(coord, coord_t, origin, chunk.first_line, &chunk.text) {
                            Ok(r) => *records += r,
                            Err(e) => *failure = Some(e),
                        }
                        if coord.generation() != generation {
                            generation = coord.generation();
                            let mut g = snapshot.write().expect("schema lock");
                            *g = (g.0 + 1, Arc::new(coord.schema().clone()));
                        }
                    }
                    Outcome::Failed(e) => *failure = Some(e),
                }
                *next_to_resolve += 1;
                on_records(*records);
            }
            Ok(())
        };
        loop {
            if failure.is_some() {
                break;
            }
            let Some((first, text)) = read_chunk(reader, origin, &mut next_line)? else { break };
            let chunk = Chunk { index: sent, first_line: first, text };
            sent += 1;
            // keep resolving while the queue is full
            let mut chunk = Some(chunk);
            while let Some(c) = chunk.take() {
                match work_tx.try_send(c) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(c)) => {
                        chunk = Some(c);
                        match res_rx.recv_timeout(std::time::Duration::from_millis(50)) {
                            Ok((i, o)) => {
                                pending.insert(i, o);
                            }
                            Err(mpsc::RecvTimeoutError::Timeout) => {}
                            Err(mpsc::RecvTimeoutError::Disconnected) => {
                                return Err(Error::internal("normalizer workers stopped unexpectedly"));
                            }
                        }
                        resolve(&mut pending, &mut next_to_resolve, &mut records, &mut failure, coord)?;
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => {
                        return Err(Error::internal("normalizer workers stopped unexpectedly"));
                    }
                }
            }
            while let Ok((i, o)) = res_rx.try_recv() {
                pending.insert(i, o);
            }
            resolve(&mut pending, &mut next_to_resolve, &mut records, &mut failure, coord)?;
        }
        drop(work_tx);
        if failure.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        while next_to_resolve < sent && failure.is_none() {
            match res_rx.recv() {
                Ok((i, o)) => {
                    pending.insert(i, o);
                    resolve(&mut pending, &mut next_to_resolve, &mut records, &mut failure, coord)?;
                }
                Err(_) => break,
            }
        }
        stop.store(true, Ordering::Relaxed);
        let mut sinks = Vec::new();
        let mut worker_rows: HashMap<String, u64> = HashMap::new();
        for h in handles {
            let (sink, rows, warnings) = h.join().map_err(|_| Error::internal("a normalizer worker panicked"))??;
            sinks.push(sink);
            coord.merge_warnings(warnings);
            for (k, v) in rows {
                *worker_rows.entry(k).or_default() += v;
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if next_to_resolve < sent {
            return Err(Error::internal("not every chunk was normalized"));
        }
        Ok(ParallelOutput { sinks, worker_rows, records, sequential_chunks: sequential, chunks: sent })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::CollectSink;

    #[test]
    fn chunks_are_whole_lines_and_count_them() {
        // lines of varying length, some longer than the reader's buffer, last without newline
        let mut input = String::new();
        let mut lines = 0u64;
        for i in 0..6000usize {
            let len = if i % 997 == 0 { 300_000 } else { i % 700 };
            input.push_str(&format!("{{\"i\":{i},\"s\":\"{}\"}}", "x".repeat(len)));
            lines += 1;
            if i + 1 < 6000 {
                input.push('\n');
            }
        }
        for cap in [1usize << 10, 64 << 10, 1 << 20] {
            let mut r = std::io::BufReader::with_capacity(cap, input.as_bytes());
            let (mut next, mut joined, mut expect_first) = (0u64, String::new(), 0u64);
            while let Some((first, text)) = read_chunk(&mut r, "t", &mut next).unwrap() {
                assert_eq!(first, expect_first);
                assert!(text.len() >= CHUNK_BYTES || next == lines, "short chunk before the end");
                assert!(text.ends_with('\n') || next == lines);
                expect_first += split_lines(&text).filter(|l| !l.is_empty()).count() as u64;
                joined.push_str(&text);
            }
            assert_eq!(next, lines);
            assert_eq!(joined, input);
        }
    }

    /// Rows of the coordinator's and the workers' sinks: (table, `i`, `a_b`) sorted, the
    /// records counted and the warnings (sorted by their text).
    type Normalized = (Vec<(String, Option<i64>, Option<String>)>, u64, Vec<String>);

    fn rows_of(sinks: &[&CollectSink]) -> Vec<(String, Option<i64>, Option<String>)> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        let mut rows = Vec::new();
        for sink in sinks {
            for (t, b) in &sink.batches {
                let i = b.column_by_name("i").map(|c| c.as_primitive::<arrow_array::types::Int64Type>().clone());
                let s = b.column_by_name("a_b").map(|c| c.as_string::<i32>().clone());
                for r in 0..b.num_rows() {
                    let i = i.as_ref().and_then(|c| c.is_valid(r).then(|| c.value(r)));
                    let s = s.as_ref().and_then(|c| c.is_valid(r).then(|| c.value(r).to_string()));
                    rows.push((t.clone(), i, s));
                }
            }
        }
        rows.sort();
        rows
    }

    /// Normalizes `input` with `workers` threads (1: the sequential path).
    fn normalize(input: &[u8], json_doc: bool, workers: usize) -> Normalized {
        use crate::naming::SnakeCase;
        let reader = std::io::BufReader::new(input);
        let mut reader: Box<dyn BufRead + Send> =
            if json_doc { Box::new(jsondoc::JsonDocLines::new(reader, "in.json")) } else { Box::new(reader) };
        let naming: Arc<dyn NamingConvention> = Arc::new(SnakeCase::new(None));
        let opts = NormalizerOptions { workers, batch_rows: 1000, ..NormalizerOptions::default() };
        let mut sink = CollectSink::default();
        let mut n = Normalizer::new(Schema::new("s"), naming.clone(), "1", opts.clone(), &mut sink);
        let (records, worker_sinks) = if workers <= 1 {
            (normalize_sequential(&mut n, "t", "in", &mut *reader, &|_| {}).unwrap(), Vec::new())
        } else {
            let out =
                normalize_parallel(&mut n, "t", "in", &mut *reader, workers, naming, "1", &opts, &CollectSink::default, &|_| {}).unwrap();
            assert!(out.chunks >= 2, "the input spans several chunks ({})", out.chunks);
            (out.records, out.sinks)
        };
        let mut warnings: Vec<String> = n.take_warnings().iter().map(ToString::to_string).collect();
        warnings.sort();
        n.finish().unwrap();
        let mut all = vec![&sink];
        all.extend(worker_sinks.iter());
        (rows_of(&all), records, warnings)
    }

    /// Array lines (batches, `[]`, scalars) and a big pretty-printed JSON array give in two
    /// workers what they give in one: the same rows, records and warnings; colliding keys keep
    /// the last value in both (the workers' collisions are merged, each reported once).
    #[test]
    fn batches_and_json_documents_in_parallel_equal_sequential() {
        let mut lines = String::new();
        let mut doc = String::from("\u{feff}[\n");
        for i in 0..30_000i64 {
            let pad = "p".repeat((i % 50) as usize + 100);
            match i % 4 {
                0 => lines
                    .push_str(&format!("[{{\"i\": {i}, \"A b\": \"x{i}\", \"a_b\": \"y{i}\", \"pad\": \"{pad}\"}}, {{\"i\": {}}}]\n", -i)),
                1 => lines.push_str("[]\n"),
                2 => lines.push_str(&format!("{{\"i\": {i}, \"l\": [1, 2], \"pad\": \"{pad}\"}}\n")),
                _ => lines.push_str(&format!("[{i}, [{i}]]\n")),
            }
            let sep = if i == 0 { "" } else { ",\n" };
            doc.push_str(&format!(
                "{sep}  {{\n    \"i\": {i},\n    \"a_b\": \"y{i}\",\n    \"A b\": \"x{i}\",\n    \"pad\": \"{pad}\"\n  }}"
            ));
        }
        doc.push_str("\n]\n");
        for (input, json_doc) in [(lines.as_bytes(), false), (doc.as_bytes(), true)] {
            let seq = normalize(input, json_doc, 1);
            let par = normalize(input, json_doc, 2);
            assert_eq!(seq.1, par.1, "records");
            assert_eq!(seq.2, par.2, "warnings");
            assert!(seq.0 == par.0, "rows differ between one and two workers");
            assert_eq!(seq.2.len(), 1, "{:?}", seq.2);
            assert!(seq.2[0].contains("`A b`, `a_b`") || seq.2[0].contains("`a_b`, `A b`"), "{:?}", seq.2);
            let root: Vec<_> = seq.0.iter().filter(|r| r.0 == "t").collect();
            if json_doc {
                assert_eq!(seq.1, 30_000);
                assert_eq!(root.len(), 30_000);
                // the last of the colliding keys wins: `A b` follows `a_b` in the document
                assert!(root.iter().all(|r| r.2.as_deref() == Some(&format!("x{}", r.1.unwrap()))));
            } else {
                assert_eq!(seq.1, 7500 * 2 + 7500 + 7500 * 2);
                assert_eq!(root.len(), 37_500);
                assert!(root.iter().filter(|r| r.2.is_some()).all(|r| r.2.as_deref() == Some(&format!("y{}", r.1.unwrap()))));
                assert_eq!(seq.0.iter().filter(|r| r.0 == "t__value").count(), 7500);
                assert_eq!(seq.0.iter().filter(|r| r.0 == "t__l").count(), 15_000);
            }
        }
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut bytes = b"{\"a\":1}\n{\"a\":2}\n{\"a\":\"".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\"}\n");
        let mut r = std::io::BufReader::new(&bytes[..]);
        let e = read_chunk(&mut r, "in.jsonl", &mut 0).unwrap_err().to_string();
        assert!(e.contains("UTF-8") && e.contains("line") && e.contains('3') && e.contains("in.jsonl"), "{e}");
    }
}
