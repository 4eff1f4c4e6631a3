//! JSON documents (`.json` files) read as JSON lines.
//!
//! A `.json` file holds one array of records, one object, or several values one after the
//! other (JSON lines included), pretty-printed or not. [`JsonDocLines`] streams it as lines
//! that the JSON-lines machinery (sequential and parallel) reads unchanged: each record on a
//! line of its own, the elements of a top-level array as records of their own. It follows
//! only the structure (strings, brackets, the commas between top-level elements), builds no
//! values and holds one output buffer, so memory stays bounded whatever the size of the file
//! or of its array; the records themselves are parsed and checked by the JSON-lines parser.
//!
//! Each record line starts with where the record is in the input: the record separator byte
//! 0x1E (never the first byte of a JSON-lines line: it is not JSON), the line and column of
//! the record's first byte, its 1-based element number in the top-level array (0 outside an
//! array) and a tab, as in `\x1e12:3:5\t{...}`. Line breaks inside a record become `\r` (JSON
//! whitespace; the input's own `\r` outside strings are dropped), so an error found in the
//! record is placed on the input's line and column again ([`position`]).

use std::io::{self, BufRead, Read};

use crate::error::Error;

/// First byte of a record line.
pub const RS: u8 = 0x1e;

/// Output gathered per refill.
const OUT_TARGET: usize = 256 << 10;

/// Where a record starts in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordStart {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// 1-based position in the top-level array; 0 for a value outside an array.
    pub element: u64,
}

/// Splits a record line written by [`JsonDocLines`] into its start and the offset of its
/// JSON text; `None` if the line does not start with a well-formed prefix. A JSON-lines
/// line costs one byte compare (this runs per line of every JSON input).
#[inline]
pub fn split_record(line: &[u8]) -> Option<(RecordStart, usize)> {
    if line.first() != Some(&RS) {
        return None;
    }
    split_prefix(&line[1..])
}

/// [`split_record`] after the first byte.
#[inline(never)]
fn split_prefix(rest: &[u8]) -> Option<(RecordStart, usize)> {
    let tab = memchr::memchr(b'\t', &rest[..rest.len().min(64)])?;
    let mut nums = rest[..tab].split(|&b| b == b':').map(|s| std::str::from_utf8(s).ok()?.parse::<u64>().ok());
    let start = RecordStart { line: nums.next()??, column: nums.next()??, element: nums.next()?? };
    if nums.next().is_some() {
        return None;
    }
    Some((start, tab + 2))
}

/// The input line and column of byte `offset` of a record's JSON text.
pub fn position(start: &RecordStart, text: &[u8], offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    match memchr::memrchr(b'\r', before) {
        None => (start.line, start.column + before.len() as u64),
        Some(last) => {
            let breaks = memchr::memchr_iter(b'\r', before).count() as u64;
            (start.line + breaks, (before.len() - last) as u64)
        }
    }
}

/// Where the scanner is between records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Between {
    /// Between top-level values.
    Outside,
    /// Right after a top-level `[`.
    ArrayOpen,
    /// After a `,` of the top-level array.
    ArrayNext,
    /// After an element of the top-level array.
    ArrayAfter,
}

/// Bytes that matter inside a record outside strings.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'[' as usize] = true;
    t[b'}' as usize] = true;
    t[b']' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// The scanner's state, apart from the reader it reads (so both can be borrowed at once).
struct Scanner {
    origin: String,
    between: Between,
    in_rec: bool,
    /// The record is an element of the top-level array.
    rec_in_array: bool,
    depth: u32,
    in_str: bool,
    esc: bool,
    /// The record is a number or literal: it ends at whitespace, `,`, `]` or `}`.
    scalar: bool,
    element: u64,
    line: u64,
    /// Input offset of the current line's first byte.
    line_start: u64,
    /// Input offset of the first byte of the buffer being scanned.
    base: u64,
}

/// Streams a JSON document as JSON lines (see the module docs). A leading UTF-8 byte order
/// mark is skipped. Errors in the structure between records (`[1 2]`, `[1,]`, an array that
/// is not closed at the end of the input, a raw line break in a string) are reported as
/// `InvalidData` I/O errors wrapping a [`crate::Error`] that names the origin, line and column.
pub struct JsonDocLines<R> {
    inner: R,
    scan: Scanner,
    out: Vec<u8>,
    pos: usize,
    started: bool,
    eof: bool,
}

impl<R: BufRead> JsonDocLines<R> {
    /// Reads the document from `inner`; `origin` names it in errors.
    pub fn new(inner: R, origin: &str) -> Self {
        JsonDocLines {
            inner,
            scan: Scanner {
                origin: origin.to_string(),
                between: Between::Outside,
                in_rec: false,
                rec_in_array: false,
                depth: 0,
                in_str: false,
                esc: false,
                scalar: false,
                element: 0,
                line: 1,
                line_start: 0,
                base: 0,
            },
            out: Vec::with_capacity(OUT_TARGET + 4096),
            pos: 0,
            started: false,
            eof: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            if crate::source::skip_bom(&mut self.inner)? {
                self.scan.base = 3;
                self.scan.line_start = 3;
            }
        }
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                self.eof = true;
                return self.scan.finish(&mut self.out);
            }
            let used = self.scan.run(buf, &mut self.out)?;
            self.inner.consume(used);
            if !self.out.is_empty() {
                return Ok(());
            }
        }
    }
}

impl<R: BufRead> BufRead for JsonDocLines<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.out.len() && !self.eof {
            self.out.clear();
            self.pos = 0;
            self.refill()?;
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.out.len());
    }
}

impl<R: BufRead> Read for JsonDocLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// A byte as shown in an error.
fn shown(b: u8) -> String {
    if b.is_ascii_graphic() { format!("`{}`", b as char) } else { format!("byte 0x{b:02X}") }
}

impl Scanner {
    fn column(&self, i: usize) -> u64 {
        self.base + i as u64 - self.line_start + 1
    }

    fn newline(&mut self, i: usize) {
        self.line += 1;
        self.line_start = self.base + i as u64 + 1;
    }

    fn error(&self, i: usize, what: String) -> io::Error {
        let e = Error::invalid_data(format!("malformed JSON: {what} at column {}", self.column(i)))
            .with("file", self.origin.clone())
            .with("line", self.line.to_string())
            .with_hint("fix the file and run again; nothing of this load was written");
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    fn start_record(&mut self, i: usize, first: u8, out: &mut Vec<u8>) {
        let in_array = matches!(self.between, Between::ArrayOpen | Between::ArrayNext);
        let mut num = itoa::Buffer::new();
        out.push(RS);
        out.extend_from_slice(num.format(self.line).as_bytes());
        out.push(b':');
        out.extend_from_slice(num.format(self.column(i)).as_bytes());
        out.push(b':');
        out.extend_from_slice(num.format(if in_array { self.element } else { 0 }).as_bytes());
        out.push(b'\t');
        self.in_rec = true;
        self.rec_in_array = in_array;
        self.depth = 0;
        self.in_str = false;
        self.esc = false;
        self.scalar = !matches!(first, b'{' | b'[' | b'"');
    }

    fn end_record(&mut self, out: &mut Vec<u8>) {
        out.push(b'\n');
        self.in_rec = false;
        self.between = if self.rec_in_array { Between::ArrayAfter } else { Between::Outside };
    }

    /// Scans `buf` (the input from offset `base` on) into `out` until `out` is full; returns
    /// the bytes used.
    fn run(&mut self, buf: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        let n = buf.len();
        let mut i = 0;
        while i < n && out.len() < OUT_TARGET {
            if !self.in_rec {
                let b = buf[i];
                match b {
                    b' ' | b'\t' | b'\r' => i += 1,
                    b'\n' => {
                        self.newline(i);
                        i += 1;
                    }
                    _ => match self.between {
                        Between::Outside => match b {
                            b'[' => {
                                self.between = Between::ArrayOpen;
                                self.element = 0;
                                i += 1;
                            }
                            b',' | b']' | b'}' => {
                                return Err(self.error(i, format!("unexpected {} between top-level values", shown(b))));
                            }
                            _ => self.start_record(i, b, out),
                        },
                        Between::ArrayOpen | Between::ArrayNext => match b {
                            b']' if self.between == Between::ArrayOpen => {
                                self.between = Between::Outside;
                                i += 1;
                            }
                            b']' | b',' | b'}' => {
                                let what = format!("expected an element of the top-level array, found {}", shown(b));
                                return Err(self.error(i, what));
                            }
                            _ => {
                                self.element += 1;
                                self.start_record(i, b, out);
                            }
                        },
                        Between::ArrayAfter => match b {
                            b',' => {
                                self.between = Between::ArrayNext;
                                i += 1;
                            }
                            b']' => {
                                self.between = Between::Outside;
                                i += 1;
                            }
                            _ => {
                                let what = format!(
                                    "expected `,` or `]` after element {} of the top-level array, found {}",
                                    self.element,
                                    shown(b)
                                );
                                return Err(self.error(i, what));
                            }
                        },
                    },
                }
            } else if self.in_str {
                if self.esc {
                    if buf[i] == b'\n' {
                        return Err(self.error(i, "a string holds a raw line break (JSON writes it as \\n)".into()));
                    }
                    out.push(buf[i]);
                    self.esc = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr3(b'"', b'\\', b'\n', &buf[i..]) {
                    None => {
                        out.extend_from_slice(&buf[i..]);
                        i = n;
                    }
                    Some(p) => {
                        let b = buf[i + p];
                        if b == b'\n' {
                            return Err(self.error(i + p, "a string holds a raw line break (JSON writes it as \\n)".into()));
                        }
                        out.extend_from_slice(&buf[i..=i + p]);
                        i += p + 1;
                        if b == b'"' {
                            self.in_str = false;
                            if self.depth == 0 {
                                self.end_record(out);
                            }
                        } else {
                            self.esc = true;
                        }
                    }
                }
            } else if self.scalar {
                let b = buf[i];
                if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}') {
                    self.end_record(out); // the delimiter is read between records
                } else {
                    out.push(b);
                    i += 1;
                }
            } else {
                let start = i;
                while i < n && !SPECIAL[buf[i] as usize] {
                    i += 1;
                }
                out.extend_from_slice(&buf[start..i]);
                if i == n {
                    break;
                }
                let b = buf[i];
                match b {
                    b'"' => {
                        out.push(b);
                        self.in_str = true;
                    }
                    b'{' | b'[' => {
                        out.push(b);
                        self.depth += 1;
                    }
                    b'}' | b']' => {
                        out.push(b);
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            self.end_record(out);
                        }
                    }
                    b'\n' => {
                        out.push(b'\r');
                        self.newline(i);
                    }
                    _ => {} // `\r`: dropped, `\n` marks the line break
                }
                i += 1;
            }
        }
        self.base += i as u64;
        Ok(i)
    }

    /// At the end of the input: ends the last record (an incomplete one goes to the parser,
    /// which says what is missing) and checks the top-level array was closed.
    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if self.in_rec {
            self.end_record(out);
        }
        match self.between {
            Between::Outside => Ok(()),
            _ => {
                let e = Error::invalid_data("malformed JSON: the top-level array is not closed at the end of the input")
                    .with("file", self.origin.clone())
                    .with("line", self.line.to_string())
                    .with_hint("is the file complete? nothing of this load was written");
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output lines of `input` read through buffers of `cap` bytes.
    fn lines(input: &[u8], cap: usize) -> io::Result<Vec<String>> {
        let mut r = JsonDocLines::new(io::BufReader::with_capacity(cap, input), "in.json");
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        Ok(s.lines().map(String::from).collect())
    }

    /// The records of `input` without their prefixes, checked to be the same for any buffer size.
    fn records(input: &str) -> Vec<String> {
        let all = lines(input.as_bytes(), 1 << 16).unwrap();
        for cap in [1, 2, 3, 7] {
            assert_eq!(lines(input.as_bytes(), cap).unwrap(), all, "buffer of {cap} bytes");
        }
        all.iter()
            .map(|l| {
                let (_, at) = split_record(l.as_bytes()).expect("a record line");
                l[at..].to_string()
            })
            .collect()
    }

    fn err(input: &str) -> String {
        let e = lines(input.as_bytes(), 1 << 16).unwrap_err();
        let inner = e.into_inner().expect("our error").downcast::<Error>().expect("an Error");
        inner.to_string()
    }

    #[test]
    fn array_elements_become_lines() {
        let doc = "[\n  {\"a\": 1,\n   \"b\": [1, 2]},\n  {\"s\": \"x, ] } [ \\\" \\\\\"}\n]\n";
        assert_eq!(records(doc), ["{\"a\": 1,\r   \"b\": [1, 2]}", "{\"s\": \"x, ] } [ \\\" \\\\\"}"]);
        assert_eq!(records("[]"), Vec::<String>::new());
        assert_eq!(records(" [ ] \n"), Vec::<String>::new());
        assert_eq!(records("[1, \"two\", null, true, -2.5e3, [3], {}]"), ["1", "\"two\"", "null", "true", "-2.5e3", "[3]", "{}"]);
    }

    #[test]
    fn objects_and_json_lines_are_records() {
        assert_eq!(records("{\n \"a\": {\"b\": 1}\n}\n"), ["{\r \"a\": {\"b\": 1}\r}"]);
        assert_eq!(records("{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}"), ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"]);
        assert_eq!(records("{\"a\":1}{\"a\":2} 5 \"s\""), ["{\"a\":1}", "{\"a\":2}", "5", "\"s\""]);
        // arrays one after another (JSON lines of arrays) are unrolled each
        assert_eq!(records("[{\"a\":1}]\n[{\"a\":2},{\"a\":3}]\n"), ["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"]);
        // CRLF line breaks: one `\r` per line break in a record
        assert_eq!(records("[\r\n{\"a\":\r\n1}\r\n]\r\n"), ["{\"a\":\r1}"]);
    }

    #[test]
    fn prefixes_give_line_column_and_element() {
        let doc = "\u{feff}[\n  {\"a\": 1},\n  {\"a\":\n     2}, 7\n]";
        let out = lines(doc.as_bytes(), 5).unwrap();
        let starts: Vec<RecordStart> = out.iter().map(|l| split_record(l.as_bytes()).unwrap().0).collect();
        assert_eq!(
            starts,
            [
                RecordStart { line: 2, column: 3, element: 1 },
                RecordStart { line: 3, column: 3, element: 2 },
                RecordStart { line: 4, column: 10, element: 3 },
            ]
        );
        // a position inside the second record maps back to the input
        let (start, at) = split_record(out[1].as_bytes()).unwrap();
        let text = &out[1].as_bytes()[at..];
        let two = text.iter().position(|&b| b == b'2').unwrap();
        assert_eq!(position(&start, text, two), (4, 6));
        assert_eq!(position(&start, text, 1), (3, 4));
        assert_eq!(records("{\"a\":1}\n  {\"b\":2}").len(), 2);
        let out = lines(b"{\"a\":1}\n  {\"b\":2}", 64).unwrap();
        assert_eq!(split_record(out[1].as_bytes()).unwrap().0, RecordStart { line: 2, column: 3, element: 0 });
    }

    #[test]
    fn structure_errors_name_line_and_column() {
        let e = err("[\n {\"a\":1}\n {\"a\":2}\n]");
        assert!(e.contains("expected `,` or `]` after element 1") && e.contains("line: 3") && e.contains("column 2"), "{e}");
        let e = err("[1,\n]");
        assert!(e.contains("expected an element") && e.contains("`]`") && e.contains("line: 2"), "{e}");
        let e = err("[{\"a\":1},\n{\"a\":2}");
        assert!(e.contains("not closed") && e.contains("in.json"), "{e}");
        let e = err("{\"a\":1},{\"a\":2}");
        assert!(e.contains("unexpected `,`"), "{e}");
        let e = err("[{\"a\":\"x\ny\"}]");
        assert!(e.contains("raw line break") && e.contains("line: 1"), "{e}");
        // an incomplete object outside an array goes to the parser as it is
        assert_eq!(records("{\"a\": [1,"), ["{\"a\": [1,"]);
    }

    #[test]
    fn split_record_refuses_other_lines() {
        assert_eq!(split_record(b"{\"a\":1}"), None);
        assert_eq!(split_record(b"\x1e1:2\t{}"), None);
        assert_eq!(split_record(b"\x1ex:1:2\t{}"), None);
        assert_eq!(split_record(b"\x1e{\"a\":1}"), None);
        assert_eq!(split_record(b"\x1e1:2:3\t{}"), Some((RecordStart { line: 1, column: 2, element: 3 }, 7)));
    }
}
