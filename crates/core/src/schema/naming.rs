//! dlt's `snake_case` naming convention (port of `dlt.common.normalizers.naming.snake_case`
//! and its base class `dlt.common.normalizers.naming.naming`, dlt 1.31), plus the
//! `digest128` / `digest128b` content hashes from `dlt.common.utils`.
//!
//! Rules applied by [`SnakeCase::normalize_identifier`], in order (exactly as dlt):
//! 1. strip surrounding whitespace (Python `str.strip()` semantics, see [`python_strip`]);
//! 2. translate `+`→`x`, `-`→`_`, `*`→`x`, `@`→`a`, `|`→`l`;
//! 3. replace each run of characters outside `[a-zA-Z\d_]` with a single `_` (`\d` is any
//!    Unicode decimal digit, so non-ASCII digits survive while non-ASCII letters do not);
//! 4. camelCase → snake_case: `([^_])([A-Z][a-z]+)` → `\1_\2`, then `([a-z0-9])([A-Z])` → `\1_\2`,
//!    then lowercase;
//! 5. prefix `_` if the identifier starts with a digit;
//! 6. replace every trailing `_` with `x` (count preserved);
//! 7. collapse runs of `__+` into a single `_` (so an identifier never contains [`PATH_SEPARATOR`]);
//! 8. if `max_length` is set and exceeded, shorten: keep the head and tail and put a 6 character
//!    content tag (computed from the *stripped original* identifier) in the middle.
//!
//! All lengths are counted in Unicode scalar values (Python `len`), not bytes.

use std::fmt;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;
use regex::Regex;

/// Path separator between nested identifiers.
pub const PATH_SEPARATOR: &str = "__";

/// Default probability of a tag collision used when shortening identifiers
/// (dlt `NamingConvention._DEFAULT_COLLISION_PROB`); yields 4 digest bytes = 6 tag characters.
pub const DEFAULT_COLLISION_PROB: f64 = 0.001;

/// Identifier substituted for empty or whitespace-only input to
/// [`NamingConvention::normalize_identifier`] (dlt raises `ValueError` instead). Matches the
/// name the relational normalizer gives empty JSON keys.
pub const EMPTY_IDENTIFIER: &str = "_empty";

/// Name of the snake case naming convention (dlt derives it from the module name).
pub const SNAKE_CASE_NAME: &str = "snake_case";

static RE_NON_ALPHANUMERIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^a-zA-Z\d_]+").expect("valid regex"));
static RE_UNDERSCORES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"__+").expect("valid regex"));
static RE_LEADING_DIGITS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+").expect("valid regex"));
static RE_SNAKE_CASE_BREAK_1: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([^_])([A-Z][a-z]+)").expect("valid regex"));
static RE_SNAKE_CASE_BREAK_2: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([a-z0-9])([A-Z])").expect("valid regex"));

/// Returns true if `c` is whitespace for Python's `str.isspace()` / `str.strip()`:
/// Unicode `White_Space` plus the ASCII separators U+001C..U+001F.
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Strips leading and trailing whitespace exactly like Python's argument-less `str.strip()`.
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_whitespace)
}

/// Returns true if `s` is empty or consists only of (Python) whitespace, i.e. `not s.strip()`.
pub fn is_blank(s: &str) -> bool {
    python_strip(s).is_empty()
}

/// A naming convention: turns arbitrary source names into destination identifiers and
/// builds/breaks paths of nested identifiers (port of dlt's `NamingConvention` base class).
///
/// The provided methods implement dlt's base-class behavior and only need overriding by
/// conventions with a different path separator.
pub trait NamingConvention: Send + Sync + fmt::Debug {
    /// Name of the convention, e.g. `"snake_case"`.
    fn name(&self) -> &str;

    /// Maximum identifier length (in characters); `None` (or `Some(0)`) means unlimited.
    fn max_length(&self) -> Option<usize>;

    /// Whether produced identifiers are case sensitive (`false` for snake_case).
    fn is_case_sensitive(&self) -> bool;

    /// Normalizes and shortens a single identifier.
    ///
    /// Empty or whitespace-only input (where dlt raises `ValueError`) is treated as
    /// [`EMPTY_IDENTIFIER`] and normalized like any other identifier.
    fn normalize_identifier(&self, identifier: &str) -> String;

    /// Normalizes an identifier used as dataset, table or schema name; defaults to
    /// [`NamingConvention::normalize_identifier`].
    fn normalize_table_identifier(&self, identifier: &str) -> String {
        self.normalize_identifier(identifier)
    }

    /// Breaks `path` into identifiers, normalizes each, joins them and shortens the whole path
    /// (the tag is computed from the raw, unstripped `path`). Blank input yields `""`.
    fn normalize_path(&self, path: &str) -> String {
        let normalized: Vec<String> = self.break_path(path).iter().map(|ident| self.normalize_identifier(ident)).collect();
        let refs: Vec<&str> = normalized.iter().map(String::as_str).collect();
        shorten_identifier_opt(&self.make_path(&refs), path, self.max_length())
    }

    /// Like [`NamingConvention::normalize_path`] but normalizes fragments with
    /// [`NamingConvention::normalize_table_identifier`] (dlt `normalize_tables_path`).
    fn normalize_tables_path(&self, path: &str) -> String {
        let normalized: Vec<String> = self.break_path(path).iter().map(|ident| self.normalize_table_identifier(ident)).collect();
        let refs: Vec<&str> = normalized.iter().map(String::as_str).collect();
        shorten_identifier_opt(&self.make_path(&refs), path, self.max_length())
    }

    /// Joins identifiers with [`PATH_SEPARATOR`], skipping blank ones. Identifiers are neither
    /// normalized nor shortened.
    fn make_path(&self, identifiers: &[&str]) -> String {
        identifiers.iter().copied().filter(|ident| !is_blank(ident)).collect::<Vec<_>>().join(PATH_SEPARATOR)
    }

    /// Splits `path` on [`PATH_SEPARATOR`] (left to right, non-overlapping, like Python
    /// `str.split`) and drops blank fragments.
    fn break_path(&self, path: &str) -> Vec<String> {
        path.split(PATH_SEPARATOR).filter(|ident| !is_blank(ident)).map(str::to_owned).collect()
    }

    /// Joins already-normalized fragments into a path and shortens it (tag computed from the
    /// joined path). Returns `""` when there are no non-blank fragments (dlt returns `None`
    /// for an empty argument list).
    fn shorten_fragments(&self, normalized_fragments: &[&str]) -> String {
        let path = self.make_path(normalized_fragments);
        shorten_identifier_opt(&path, &path, self.max_length())
    }
}

/// dlt's default `snake_case` naming convention: case insensitive, lower case snake case
/// identifiers over a reduced ASCII alphabet, `__` as path separator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnakeCase {
    max_length: Option<usize>,
}

impl SnakeCase {
    /// Creates the convention; `max_length` (in characters) enables shortening with a tag.
    pub fn new(max_length: Option<usize>) -> Self {
        Self { max_length }
    }

    /// Like [`NamingConvention::normalize_identifier`] but returns `None` for empty or
    /// whitespace-only input, where dlt raises `ValueError`.
    pub fn try_normalize_identifier(&self, identifier: &str) -> Option<String> {
        let stripped = python_strip(identifier);
        if stripped.is_empty() { None } else { Some(normalize_snake_case(stripped, self.max_length)) }
    }
}

impl fmt::Display for SnakeCase {
    /// dlt's `str(naming)`: `snake_case_ci`, plus `_<max_length>` when a limit is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SNAKE_CASE_NAME}_ci")?;
        match self.max_length {
            Some(max) if max > 0 => write!(f, "_{max}"),
            _ => Ok(()),
        }
    }
}

impl NamingConvention for SnakeCase {
    fn name(&self) -> &str {
        SNAKE_CASE_NAME
    }

    fn max_length(&self) -> Option<usize> {
        self.max_length
    }

    fn is_case_sensitive(&self) -> bool {
        false
    }

    fn normalize_identifier(&self, identifier: &str) -> String {
        let stripped = python_strip(identifier);
        let stripped = if stripped.is_empty() { EMPTY_IDENTIFIER } else { stripped };
        normalize_snake_case(stripped, self.max_length)
    }
}

/// Full snake_case normalization of an already stripped, non-empty identifier
/// (dlt `NamingConvention._normalize_identifier`); the tag, if any, is computed from `identifier`.
fn normalize_snake_case(identifier: &str, max_length: Option<usize>) -> String {
    let reduced: String = identifier
        .chars()
        .map(|c| match c {
            '+' | '*' => 'x',
            '-' => '_',
            '@' => 'a',
            '|' => 'l',
            other => other,
        })
        .collect();
    let replaced = RE_NON_ALPHANUMERIC.replace_all(&reduced, "_");
    shorten_identifier_opt(&to_snake_case(&replaced), identifier, max_length)
}

/// Steps 4–7 of the snake_case rules (dlt `NamingConvention._to_snake_case`).
fn to_snake_case(identifier: &str) -> String {
    let broken = RE_SNAKE_CASE_BREAK_1.replace_all(identifier, "${1}_${2}");
    let broken = RE_SNAKE_CASE_BREAK_2.replace_all(&broken, "${1}_${2}");
    let mut ident = broken.to_lowercase();
    if RE_LEADING_DIGITS.is_match(&ident) {
        ident.insert(0, '_');
    }
    let stripped_len = ident.trim_end_matches('_').len();
    let strip_count = ident.len() - stripped_len;
    ident.truncate(stripped_len);
    ident.extend(std::iter::repeat_n('x', strip_count));
    RE_UNDERSCORES.replace_all(&ident, "_").into_owned()
}

/// SHAKE-128 rate in bytes.
const SHAKE128_RATE: usize = 168;

/// XORs one full rate block (21 little-endian lanes) into the state.
#[inline]
fn xor_block(state: &mut [u64; 25], block: &[u8]) {
    debug_assert_eq!(block.len(), SHAKE128_RATE);
    for (lane, bytes) in state.iter_mut().zip(block.chunks_exact(8)) {
        *lane ^= u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    }
}

/// SHAKE-128 (FIPS 202) of `value` into `out`. Written on top of the Keccak-f[1600]
/// permutation so a short message (row ids: under 168 bytes) costs exactly one permutation;
/// the generic XOF reader of the `sha3` crate spends a second one squeezing.
pub(crate) fn shake128_into(value: &[u8], out: &mut [u8]) {
    let mut state = [0u64; 25];
    let mut blocks = value.chunks_exact(SHAKE128_RATE);
    for block in &mut blocks {
        xor_block(&mut state, block);
        keccak::f1600(&mut state);
    }
    let rest = blocks.remainder();
    let mut last = [0u8; SHAKE128_RATE];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] ^= 0x1F;
    last[SHAKE128_RATE - 1] ^= 0x80;
    xor_block(&mut state, &last);
    keccak::f1600(&mut state);
    let mut done = 0;
    loop {
        let n = (out.len() - done).min(SHAKE128_RATE);
        for (i, o) in out[done..done + n].iter_mut().enumerate() {
            *o = (state[i / 8] >> (8 * (i % 8))) as u8;
        }
        done += n;
        if done == out.len() {
            return;
        }
        keccak::f1600(&mut state);
    }
}

fn shake128(value: &[u8], len_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; len_bytes];
    shake128_into(value, &mut out);
    out
}

/// dlt `digest128`: SHAKE-128 of the UTF-8 bytes of `value` with a `len_bytes` long digest,
/// standard base64 encoded (`+`, `/`), trailing `=` padding removed.
/// dlt's default length is 15 bytes (20 characters); row ids use 10 bytes (14 characters).
pub fn digest128(value: &str, len_bytes: usize) -> String {
    digest128b(value.as_bytes(), len_bytes)
}

/// dlt `digest128b`: like [`digest128`] but hashes raw bytes.
pub fn digest128b(value: &[u8], len_bytes: usize) -> String {
    if len_bytes <= 32 {
        let mut buf = [0u8; 32];
        shake128_into(value, &mut buf[..len_bytes]);
        return base64::engine::general_purpose::STANDARD_NO_PAD.encode(&buf[..len_bytes]);
    }
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(shake128(value, len_bytes))
}

/// Number of digest bytes dlt uses for a tag with the given collision probability:
/// `int(3 * log2(1 / prob) // 8 + 1)`. Non-finite or non-positive probabilities fall back to
/// [`DEFAULT_COLLISION_PROB`] (dlt would raise).
pub fn tag_length_bytes(collision_prob: f64) -> usize {
    let prob = if collision_prob.is_finite() && collision_prob > 0.0 { collision_prob } else { DEFAULT_COLLISION_PROB };
    let bytes = (3.0 * (1.0 / prob).log2() / 8.0).floor() + 1.0;
    if bytes <= 0.0 { 0 } else { bytes as usize }
}

/// dlt `NamingConvention._compute_tag`: SHAKE-128 of `identifier`, base64, `=` stripped,
/// `/`→`a`, `+`→`b`, lowercased. With the default probability (0.001) the tag has 6 characters.
pub fn compute_tag(identifier: &str, collision_prob: f64) -> String {
    let encoded = BASE64_STANDARD.encode(shake128(identifier.as_bytes(), tag_length_bytes(collision_prob)));
    encoded
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '/' => 'a',
            '+' => 'b',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// dlt `NamingConvention._trim_and_tag`: keeps `ceil(r/2)` leading and `floor(r/2)` trailing
/// characters of `identifier` around `tag`, where `r = max_length - len(tag)`; the result has
/// exactly `max_length` characters.
///
/// Where dlt fails an assertion this returns instead: if `tag` is longer than `max_length`,
/// the first `max_length` characters of `tag`; if `identifier` is shorter than `max_length`,
/// `identifier` unchanged.
pub fn trim_and_tag(identifier: &str, tag: &str, max_length: usize) -> String {
    let tag_len = tag.chars().count();
    if tag_len >= max_length {
        return tag.chars().take(max_length).collect();
    }
    let chars: Vec<char> = identifier.chars().collect();
    if chars.len() < max_length {
        return identifier.to_owned();
    }
    let remaining = max_length - tag_len;
    let head = remaining / 2 + remaining % 2;
    let tail = remaining / 2;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(tag);
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// dlt `NamingConvention.shorten_identifier` with the default collision probability: if
/// `normalized_ident` is longer than `max_length` characters (and `max_length > 0`), trims it to
/// exactly `max_length` with a tag computed from the original `identifier` in the middle;
/// otherwise returns it unchanged.
pub fn shorten_identifier(normalized_ident: &str, identifier: &str, max_length: usize) -> String {
    shorten_identifier_with_prob(normalized_ident, identifier, max_length, DEFAULT_COLLISION_PROB)
}

/// [`shorten_identifier`] with an explicit tag collision probability.
pub fn shorten_identifier_with_prob(normalized_ident: &str, identifier: &str, max_length: usize, collision_prob: f64) -> String {
    if max_length > 0 && normalized_ident.chars().count() > max_length {
        let tag = compute_tag(identifier, collision_prob);
        trim_and_tag(normalized_ident, &tag, max_length)
    } else {
        normalized_ident.to_owned()
    }
}

/// [`shorten_identifier`] taking an optional limit; `None` leaves the identifier unchanged.
pub fn shorten_identifier_opt(normalized_ident: &str, identifier: &str, max_length: Option<usize>) -> String {
    match max_length {
        Some(max) => shorten_identifier(normalized_ident, identifier, max),
        None => normalized_ident.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    // Expected values in the generated tests below were produced by running dlt 1.31
    // (`dlt.common.normalizers.naming.snake_case.NamingConvention`, `dlt.common.utils`).

    use super::*;

    #[test]
    fn one_permutation_shake128_equals_the_sha3_crate() {
        use sha3::digest::{ExtendableOutput, Update, XofReader};
        for len in [0usize, 1, 7, 8, 35, 166, 167, 168, 169, 335, 336, 337, 1000] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            for out_len in [1usize, 10, 15, 32, 168, 169, 400] {
                let mut want = vec![0u8; out_len];
                let mut h = sha3::Shake128::default();
                h.update(&msg);
                h.finalize_xof().read(&mut want);
                assert_eq!(shake128(&msg, out_len), want, "message {len} bytes, digest {out_len} bytes");
            }
        }
        assert_eq!(digest128b(b"abc", 40), BASE64_STANDARD.encode(shake128(b"abc", 40)).trim_end_matches('='));
    }

    const LONG_PATH: &str = "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations";

    fn assert_short_path(norm_path: &str, sc: &SnakeCase) {
        let max = sc.max_length().expect("limited");
        assert_eq!(norm_path.chars().count(), max);
        assert_eq!(sc.normalize_path(norm_path), norm_path);
        assert!(sc.break_path(norm_path).iter().all(|i| i.chars().count() <= max));
    }

    #[test]
    fn convention_properties() {
        let sc = SnakeCase::new(Some(63));
        let dynamic: &dyn NamingConvention = &sc;
        assert_eq!(dynamic.name(), "snake_case");
        assert_eq!(dynamic.max_length(), Some(63));
        assert!(!dynamic.is_case_sensitive());
        assert_eq!(SnakeCase::default().max_length(), None);
        assert_eq!(PATH_SEPARATOR, "__");
        assert_eq!(tag_length_bytes(DEFAULT_COLLISION_PROB), 4);
        assert_eq!(compute_tag("anything", DEFAULT_COLLISION_PROB).len(), 6);
        assert_eq!(dynamic.normalize_table_identifier("Some Table"), dynamic.normalize_identifier("Some Table"));
    }

    #[test]
    fn empty_identifier_is_mapped_to_empty_marker() {
        // dlt raises ValueError here; we deterministically normalize `_empty` instead
        let sc = SnakeCase::new(None);
        assert_eq!(sc.normalize_identifier(""), EMPTY_IDENTIFIER);
        assert_eq!(sc.normalize_identifier("   \t\n "), "_empty");
        assert_eq!(sc.normalize_table_identifier("\u{1c}\u{a0}"), "_empty");
        assert_eq!(sc.try_normalize_identifier(" \t"), None);
        assert_eq!(sc.try_normalize_identifier(" A b "), Some("a_b".to_owned()));
        // blank paths and fragments yield empty strings (no error in dlt either)
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path(" __ "), "");
        assert_eq!(sc.shorten_fragments(&[]), "");
    }

    #[test]
    fn python_whitespace_semantics() {
        assert_eq!(python_strip("\u{1c}\u{1d} a b \u{1e}\u{1f}\u{85}\u{3000}"), "a b");
        assert_eq!(python_strip("\u{200b}x"), "\u{200b}x"); // zero width space is not whitespace
        assert!(is_blank(" \t\r\n\u{b}\u{c}"));
        assert!(!is_blank(" x "));
    }

    #[test]
    fn trim_and_tag_out_of_contract() {
        // dlt asserts in these cases
        assert_eq!(trim_and_tag("xDLTHUBx", "123456", 5), "12345");
        assert_eq!(trim_and_tag("DLT", "123456", 100), "DLT");
    }

    #[test]
    fn normalize_is_idempotent() {
        for max in [None, Some(10), Some(16), Some(63)] {
            let sc = SnakeCase::new(max);
            for raw in ["HTTPResponseCode", "Żółć jaźń", "BANANA____", "+-!$*@#=|:", LONG_PATH] {
                let once = sc.normalize_identifier(raw);
                assert_eq!(sc.normalize_identifier(&once), once, "{raw} {max:?}");
                let path = sc.normalize_path(raw);
                assert_eq!(sc.normalize_path(&path), path, "{raw} {max:?}");
            }
        }
    }

    #[test]
    fn normalize_path_shortening_properties() {
        // port of dlt test_normalize_path_shorting
        let sc = SnakeCase::new(None);
        let parts: Vec<&str> = LONG_PATH.split("__").collect();
        let path = sc.make_path(&parts);
        assert_eq!(sc.normalize_path(&path), path);
        for max in [64, 127] {
            let sc = SnakeCase::new(Some(max));
            assert_short_path(&sc.normalize_path(&path), &sc);
        }
        let len = path.chars().count();
        for max in (len / 2)..(len * 11 / 10) {
            let sc = SnakeCase::new(Some(max));
            let norm = sc.normalize_path(&path);
            if max >= len {
                assert_eq!(norm, path);
            } else {
                assert_short_path(&norm, &sc);
            }
        }
        let letters: Vec<String> = ('a'..='z').map(String::from).collect();
        let letters: Vec<&str> = letters.iter().map(String::as_str).collect();
        let dense = sc.make_path(&letters);
        let len = dense.chars().count();
        for max in (len / 2)..(len * 11 / 10) {
            let sc = SnakeCase::new(Some(max));
            let norm = sc.normalize_path(&dense);
            if max >= len {
                assert_eq!(norm, dense);
            } else {
                assert_short_path(&norm, &sc);
            }
        }
    }

    #[test]
    fn normalize_identifier_unlimited() {
        let sc = SnakeCase::new(None);
        assert_eq!(sc.normalize_identifier("event_value"), "event_value");
        assert_eq!(sc.normalize_identifier("event value"), "event_value");
        assert_eq!(sc.normalize_identifier("event-.!:*<>value"), "event_x_value");
        assert_eq!(sc.normalize_identifier("1event_n'"), "_1event_nx");
        assert_eq!(sc.normalize_identifier("123event_n'"), "_123event_nx");
        assert_eq!(sc.normalize_identifier("123BaNaNa"), "_123_ba_na_na");
        assert_eq!(sc.normalize_identifier("BANANA"), "banana");
        assert_eq!(sc.normalize_identifier("BAN_ANA"), "ban_ana");
        assert_eq!(sc.normalize_identifier("BANaNA"), "ba_na_na");
        assert_eq!(sc.normalize_identifier("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_identifier(" Small Love Potion "), "small_love_potion");
        assert_eq!(sc.normalize_identifier("BANANA_"), "bananax");
        assert_eq!(sc.normalize_identifier("BANANA____"), "bananaxxxx");
        assert_eq!(sc.normalize_identifier("+-!$*@#=|:"), "x_xa_lx");
        assert_eq!(sc.normalize_identifier("+1"), "x1");
        assert_eq!(sc.normalize_identifier("-1"), "_1");
        assert_eq!(sc.normalize_identifier("+-*@|"), "x_xal");
        assert_eq!(sc.normalize_identifier("event__value_value2____"), "event_value_value2xxxx");
        assert_eq!(sc.normalize_identifier("HTTPResponseCode"), "http_response_code");
        assert_eq!(sc.normalize_identifier("userID"), "user_id");
        assert_eq!(sc.normalize_identifier("XMLHttpRequest"), "xml_http_request");
        assert_eq!(sc.normalize_identifier("camelCase"), "camel_case");
        assert_eq!(sc.normalize_identifier("PascalCase"), "pascal_case");
        assert_eq!(sc.normalize_identifier("getHTTPResponse"), "get_http_response");
        assert_eq!(sc.normalize_identifier("IOError"), "io_error");
        assert_eq!(sc.normalize_identifier("ABCdef"), "ab_cdef");
        assert_eq!(sc.normalize_identifier("aBC"), "a_bc");
        assert_eq!(sc.normalize_identifier("a1B2c3"), "a1_b2c3");
        assert_eq!(sc.normalize_identifier("version2Beta"), "version2_beta");
        assert_eq!(sc.normalize_identifier("ID"), "id");
        assert_eq!(sc.normalize_identifier("Id"), "id");
        assert_eq!(sc.normalize_identifier("iD"), "i_d");
        assert_eq!(sc.normalize_identifier("__init__"), "_initxx");
        assert_eq!(sc.normalize_identifier("_private"), "_private");
        assert_eq!(sc.normalize_identifier("__"), "xx");
        assert_eq!(sc.normalize_identifier("_"), "x");
        assert_eq!(sc.normalize_identifier("___a___"), "_axxx");
        assert_eq!(sc.normalize_identifier("a__b"), "a_b");
        assert_eq!(sc.normalize_identifier("a___b"), "a_b");
        assert_eq!(sc.normalize_identifier("trailing_"), "trailingx");
        assert_eq!(sc.normalize_identifier("trailing__"), "trailingxx");
        assert_eq!(sc.normalize_identifier("x_"), "xx");
        assert_eq!(sc.normalize_identifier("Żółć jaźń"), "_jax");
        assert_eq!(sc.normalize_identifier("ĄĘ"), "x");
        assert_eq!(sc.normalize_identifier("zażółć gęślą jaźń"), "za_g_l_jax");
        assert_eq!(sc.normalize_identifier("Straße"), "stra_e");
        assert_eq!(sc.normalize_identifier("naïve café"), "na_ve_cafx");
        assert_eq!(sc.normalize_identifier("日本語"), "x");
        assert_eq!(sc.normalize_identifier("日本語テキスト"), "x");
        assert_eq!(sc.normalize_identifier("🚧"), "x");
        assert_eq!(sc.normalize_identifier("emoji😄name"), "emoji_name");
        assert_eq!(sc.normalize_identifier("😄😄"), "x");
        assert_eq!(sc.normalize_identifier("a.b.c"), "a_b_c");
        assert_eq!(sc.normalize_identifier("data.items[0].value"), "data_items_0_value");
        assert_eq!(sc.normalize_identifier("col.name"), "col_name");
        assert_eq!(sc.normalize_identifier("  spaced  out  "), "spaced_out");
        assert_eq!(sc.normalize_identifier("tab\u{9}separated"), "tab_separated");
        assert_eq!(sc.normalize_identifier("new\u{a}line"), "new_line");
        assert_eq!(sc.normalize_identifier("\u{a0}nbsp\u{a0}"), "nbsp");
        assert_eq!(sc.normalize_identifier("\u{1c}fs\u{1f}"), "fs");
        assert_eq!(sc.normalize_identifier("123"), "_123");
        assert_eq!(sc.normalize_identifier("0"), "_0");
        assert_eq!(sc.normalize_identifier("007bond"), "_007bond");
        assert_eq!(sc.normalize_identifier("1_2_3"), "_1_2_3");
        assert_eq!(sc.normalize_identifier("٣٤abc"), "_٣٤abc");
        assert_eq!(sc.normalize_identifier("abc٣"), "abc٣");
        assert_eq!(sc.normalize_identifier("١٢٣"), "_١٢٣");
        assert_eq!(sc.normalize_identifier("x٣Y"), "x٣y");
        assert_eq!(sc.normalize_identifier(".\u{a}'played CELLO🚧_"), "_played_celloxx");
        assert_eq!(sc.normalize_identifier("123.\"\u{d}hello😄!"), "_123_hellox");
        assert_eq!(sc.normalize_identifier("$price"), "_price");
        assert_eq!(sc.normalize_identifier("price$"), "pricex");
        assert_eq!(sc.normalize_identifier("%"), "x");
        assert_eq!(sc.normalize_identifier("100%"), "_100x");
        assert_eq!(sc.normalize_identifier("a-b-c"), "a_b_c");
        assert_eq!(sc.normalize_identifier("a+b"), "axb");
        assert_eq!(sc.normalize_identifier("a*b"), "axb");
        assert_eq!(sc.normalize_identifier("e@mail"), "eamail");
        assert_eq!(sc.normalize_identifier("pipe|name"), "pipelname");
        assert_eq!(sc.normalize_identifier("a|b|c"), "alblc");
        assert_eq!(sc.normalize_identifier("user@example.com"), "useraexample_com");
        assert_eq!(sc.normalize_identifier("C++"), "cxx");
        assert_eq!(sc.normalize_identifier("C#"), "cx");
        assert_eq!(sc.normalize_identifier("F#"), "fx");
        assert_eq!(sc.normalize_identifier("ÀÉÎ"), "x");
        assert_eq!(sc.normalize_identifier("İstanbul"), "_stanbul");
        assert_eq!(sc.normalize_identifier("ΣΑΣ"), "x");
        assert_eq!(sc.normalize_identifier("Ωmega"), "_mega");
        assert_eq!(sc.normalize_identifier("ﬁle"), "_le");
        assert_eq!(sc.normalize_identifier("mixed_Case_Words"), "mixed_case_words");
        assert_eq!(sc.normalize_identifier("Already_snake_case"), "already_snake_case");
        assert_eq!(sc.normalize_identifier("snake_case"), "snake_case");
        assert_eq!(sc.normalize_identifier("SCREAMING_SNAKE_CASE"), "screaming_snake_case");
        assert_eq!(sc.normalize_identifier("kebab-case-name"), "kebab_case_name");
        assert_eq!(sc.normalize_identifier("dot.case.name"), "dot_case_name");
        assert_eq!(sc.normalize_identifier("Title Case Name"), "title_case_name");
        assert_eq!(sc.normalize_identifier("with'quote"), "with_quote");
        assert_eq!(sc.normalize_identifier("with\"dquote"), "with_dquote");
        assert_eq!(sc.normalize_identifier("back\\slash"), "back_slash");
        assert_eq!(sc.normalize_identifier("slash/name"), "slash_name");
        assert_eq!(sc.normalize_identifier("a/b/c"), "a_b_c");
        assert_eq!(sc.normalize_identifier("colon:name"), "colon_name");
        assert_eq!(sc.normalize_identifier("semi;colon"), "semi_colon");
        assert_eq!(sc.normalize_identifier("(parens)"), "_parensx");
        assert_eq!(sc.normalize_identifier("[brackets]"), "_bracketsx");
        assert_eq!(sc.normalize_identifier("{braces}"), "_bracesx");
        assert_eq!(sc.normalize_identifier("AbcDEFGhiJKL"), "abc_def_ghi_jkl");
        assert_eq!(sc.normalize_identifier("ABCDefGHIjkl"), "abc_def_gh_ijkl");
        assert_eq!(sc.normalize_identifier("aAaAaA"), "a_aa_aa_a");
        assert_eq!(sc.normalize_identifier("AaAaAa"), "aa_aa_aa");
        assert_eq!(sc.normalize_identifier("X"), "x");
        assert_eq!(sc.normalize_identifier("x"), "x");
        assert_eq!(sc.normalize_identifier("Xy"), "xy");
        assert_eq!(sc.normalize_identifier("xY"), "x_y");
        assert_eq!(sc.normalize_identifier("XYz"), "x_yz");
        assert_eq!(sc.normalize_identifier("getURLsFromHTML"), "get_ur_ls_from_html");
        assert_eq!(sc.normalize_identifier("iPhone"), "i_phone");
        assert_eq!(sc.normalize_identifier("eBay"), "e_bay");
        assert_eq!(sc.normalize_identifier("ÄpfelBirnen"), "_pfel_birnen");
        assert_eq!(sc.normalize_identifier("_123"), "_123");
        assert_eq!(sc.normalize_identifier("_1abc"), "_1abc");
        assert_eq!(sc.normalize_identifier("__123__"), "_123xx");
        assert_eq!(sc.normalize_identifier("1__2"), "_1_2");
        assert_eq!(sc.normalize_identifier("a_1_"), "a_1x");
        assert_eq!(sc.normalize_identifier("A_1_B"), "a_1_b");
        assert_eq!(sc.normalize_identifier("column_1"), "column_1");
        assert_eq!(sc.normalize_identifier("Column 1"), "column_1");
        assert_eq!(sc.normalize_identifier("2nd column"), "_2nd_column");
        assert_eq!(sc.normalize_identifier("Q3 2024 Revenue ($M)"), "q3_2024_revenue_mx");
    }

    #[test]
    fn normalize_identifier_max_16() {
        let sc = SnakeCase::new(Some(16));
        assert_eq!(sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"), "this_qbyeva_sure");
        assert_eq!(sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "aaaaamo6cbaaaaaa");
        assert_eq!(
            sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "),
            "_ja_jyqs4kaa_jax"
        );
        assert_eq!(sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"), "user_ickelqdaily");
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "_12342b8joa56789");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "_1234wxrf8w23456");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "_12345htovq34567");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "xxxxxxxxxxxxxxxx");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "xxxxxgdgbigxxxxx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xxxxxzt1pswxxxxx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xxxxxpzlczwxxxxx");
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_01234anbiq_a_lx");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "_٣٣٣٣xjylya٣٣٣٣٣");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "sixteen_chars_ok");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "sevenn9hhdwars_x");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "paddeszvadq_long");
    }

    #[test]
    fn normalize_identifier_max_63() {
        let sc = SnakeCase::new(Some(63));
        assert_eq!(
            sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"),
            "this_is_a_very_long_column_name_that_exceeds_the_limit_for_sure"
        );
        assert_eq!(
            sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaamo6cbaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        );
        assert_eq!(
            sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "),
            "_ja_ja_ja_ja_ja_ja_ja_jax"
        );
        assert_eq!(
            sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"),
            "user_account_settings_notificickelqrences_email_frequency_daily"
        );
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "_1234567890123456789");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "_1234567890123456");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "_12345678901234567");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "xxxxxxxxxxxxxxxx");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "xxxxxxxxxxxxxxxxx");
        assert_eq!(
            sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        );
        assert_eq!(
            sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxpzlczwxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        );
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_0123456789abcdefghijklmnopqr4anbiqghijklmnopqrstuvwxyz_xx_a_lx");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "_٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "sixteen_chars_ok");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "seventeen_chars_x");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "padded_identifier_that_is_long");
    }

    #[test]
    fn normalize_identifier_max_10() {
        let sc = SnakeCase::new(Some(10));
        assert_eq!(sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"), "thqbyevare");
        assert_eq!(sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "aamo6cbaaa");
        assert_eq!(
            sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "),
            "_jyqs4kaax"
        );
        assert_eq!(sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"), "usickelqly");
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "_12b8joa89");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "_1wxrf8w56");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "_15htovq67");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "xxax01bqxx");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "xxgdgbigxx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xxzt1pswxx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xxpzlczwxx");
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_04anbiqlx");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "_٣xjylya٣٣");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "sibosp4wok");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "sen9hhdw_x");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "paszvadqng");
    }

    #[test]
    fn normalize_identifier_max_6() {
        let sc = SnakeCase::new(Some(6));
        assert_eq!(sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"), "qbyeva");
        assert_eq!(sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "mo6cba");
        assert_eq!(sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "), "yqs4ka");
        assert_eq!(sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"), "ickelq");
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "2b8joa");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "wxrf8w");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "5htovq");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "ax01bq");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "gdgbig");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "zt1psw");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "pzlczw");
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "4anbiq");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "xjylya");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "bosp4w");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "n9hhdw");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "szvadq");
    }

    #[test]
    fn normalize_identifier_max_7() {
        let sc = SnakeCase::new(Some(7));
        assert_eq!(sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"), "tqbyeva");
        assert_eq!(sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "amo6cba");
        assert_eq!(sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "), "_yqs4ka");
        assert_eq!(sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"), "uickelq");
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "_2b8joa");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "_wxrf8w");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "_5htovq");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "xax01bq");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "xgdgbig");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xzt1psw");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xpzlczw");
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_4anbiq");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "_xjylya");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "sbosp4w");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "sn9hhdw");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "pszvadq");
    }

    #[test]
    fn normalize_identifier_max_8() {
        let sc = SnakeCase::new(Some(8));
        assert_eq!(sc.normalize_identifier("ThisIsAVeryLongColumnNameThatExceedsTheLimitForSure"), "tqbyevae");
        assert_eq!(sc.normalize_identifier("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "amo6cbaa");
        assert_eq!(sc.normalize_identifier("Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń Żółć jaźń "), "_yqs4kax");
        assert_eq!(sc.normalize_identifier("user_account_settings_notification_preferences_email_frequency_daily"), "uickelqy");
        assert_eq!(sc.normalize_identifier("1234567890123456789"), "_2b8joa9");
        assert_eq!(sc.normalize_identifier("1234567890123456"), "_wxrf8w6");
        assert_eq!(sc.normalize_identifier("12345678901234567"), "_5htovq7");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxx"), "xax01bqx");
        assert_eq!(sc.normalize_identifier("xxxxxxxxxxxxxxxxx"), "xgdgbigx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xzt1pswx");
        assert_eq!(sc.normalize_identifier("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "xpzlczwx");
        assert_eq!(sc.normalize_identifier("short"), "short");
        assert_eq!(sc.normalize_identifier("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_4anbiqx");
        assert_eq!(sc.normalize_identifier("٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"), "_xjylya٣");
        assert_eq!(sc.normalize_identifier("🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧🚧abc"), "_abc");
        assert_eq!(sc.normalize_identifier("sixteen_chars_ok"), "sbosp4wk");
        assert_eq!(sc.normalize_identifier("seventeen_chars_x"), "sn9hhdwx");
        assert_eq!(sc.normalize_identifier("  padded identifier that is long  "), "pszvadqg");
    }

    #[test]
    fn normalize_path_unlimited() {
        let sc = SnakeCase::new(None);
        assert_eq!(sc.normalize_path("small_love_potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("small__love__potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_vent__value_value2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "parent__child_items__grand_child_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(
            sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"),
            "event__parse_data__response_selector__default__response__response_templates"
        );
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations");
        assert_eq!(
            sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"),
            "a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"
        );
    }

    #[test]
    fn normalize_path_max_16() {
        let sc = SnakeCase::new(Some(16));
        assert_eq!(sc.normalize_path("small_love_potion"), "smalldxeeiwotion");
        assert_eq!(sc.normalize_path("small__love__potion"), "smallzayspaotion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small6idwqwotion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "smallwz85kgotion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "smallfq6omqotion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "smallrgni2qotion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "smallqxmw1an___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "smallazrotgn___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_venyqoldqe2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "paren3ce4qald_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"), "eventcuczxalates");
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospvjh0lqtions");
        assert_eq!(sc.normalize_tables_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospvjh0lqtions");
        assert_eq!(sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"), "a__b_jx2haa_y__z");
        assert_eq!(sc.normalize_path("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_01234anbiq_a_lx");
        assert_eq!(sc.normalize_path("  prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations "), "prospkbsmqwtions");
    }

    #[test]
    fn normalize_path_max_63() {
        let sc = SnakeCase::new(Some(63));
        assert_eq!(sc.normalize_path("small_love_potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("small__love__potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_vent__value_value2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "parent__child_items__grand_child_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(
            sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"),
            "event__parse_data__response_scuczxaresponse__response_templates"
        );
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__datavjh0lq__author_details__educations");
        assert_eq!(sc.normalize_tables_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__datavjh0lq__author_details__educations");
        assert_eq!(
            sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"),
            "a__b__c__d__e__f__g__h__i__j_jx2haaq__r__s__t__u__v__w__x__y__z"
        );
        assert_eq!(sc.normalize_path("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_0123456789abcdefghijklmnopqr4anbiqghijklmnopqrstuvwxyz_xx_a_lx");
        assert_eq!(sc.normalize_path("  prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations "), "prospects_external_data__datakbsmqw__author_details__educations");
    }

    #[test]
    fn normalize_path_max_64() {
        let sc = SnakeCase::new(Some(64));
        assert_eq!(sc.normalize_path("small_love_potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("small__love__potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_vent__value_value2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "parent__child_items__grand_child_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(
            sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"),
            "event__parse_data__response_scuczxa_response__response_templates"
        );
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__datavjh0lqs__author_details__educations");
        assert_eq!(sc.normalize_tables_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__datavjh0lqs__author_details__educations");
        assert_eq!(
            sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"),
            "a__b__c__d__e__f__g__h__i__j_jx2haa_q__r__s__t__u__v__w__x__y__z"
        );
        assert_eq!(sc.normalize_path("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_0123456789abcdefghijklmnopqr4anbiqfghijklmnopqrstuvwxyz_xx_a_lx");
        assert_eq!(sc.normalize_path("  prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations "), "prospects_external_data__datakbsmqws__author_details__educations");
    }

    #[test]
    fn normalize_path_max_127() {
        let sc = SnakeCase::new(Some(127));
        assert_eq!(sc.normalize_path("small_love_potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("small__love__potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_vent__value_value2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "parent__child_items__grand_child_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(
            sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"),
            "event__parse_data__response_selector__default__response__response_templates"
        );
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__data365_member__member__feed_activitvjh0lqcomments__items__comments__items__author_details__educations");
        assert_eq!(sc.normalize_tables_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_external_data__data365_member__member__feed_activitvjh0lqcomments__items__comments__items__author_details__educations");
        assert_eq!(
            sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"),
            "a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"
        );
        assert_eq!(sc.normalize_path("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_0123456789abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvw4anbiqbcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_xx_a_lx");
        assert_eq!(sc.normalize_path("  prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations "), "prospects_external_data__data365_member__member__feed_activitkbsmqwcomments__items__comments__items__author_details__educations");
    }

    #[test]
    fn normalize_path_max_30() {
        let sc = SnakeCase::new(Some(30));
        assert_eq!(sc.normalize_path("small_love_potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("small__love__potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small_Love_Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small__Love__Potion"), "small__love__potion");
        assert_eq!(sc.normalize_path("Small Love Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small  Love  Potion"), "small_love_potion");
        assert_eq!(sc.normalize_path("Small___Love____Potion_____x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("small___love__potion___x"), "small___love__potion___x");
        assert_eq!(sc.normalize_path("e_vent__value_value2___"), "e_vent__value_value2__x");
        assert_eq!(sc.normalize_path("__a__b__"), "a__b");
        assert_eq!(sc.normalize_path("____"), "");
        assert_eq!(sc.normalize_path(""), "");
        assert_eq!(sc.normalize_path("   "), "");
        assert_eq!(sc.normalize_path("a__  __b"), "a__b");
        assert_eq!(sc.normalize_path("Parent__ChildItems__GrandChildID"), "parent__chil3ce4qaand_child_id");
        assert_eq!(sc.normalize_path("_a___b__C___D"), "_a___b__c___d");
        assert_eq!(sc.normalize_path("Żółć__jaźń"), "x__jax");
        assert_eq!(
            sc.normalize_path("event__parse_data__response_selector__default__response__response_templates"),
            "event__parsecuczxase_templates"
        );
        assert_eq!(sc.normalize_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_exvjh0lq__educations");
        assert_eq!(sc.normalize_tables_path("prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"), "prospects_exvjh0lq__educations");
        assert_eq!(
            sc.normalize_path("a__b__c__d__e__f__g__h__i__j__k__l__m__n__o__p__q__r__s__t__u__v__w__x__y__z"),
            "a__b__c__d__jx2haa__w__x__y__z"
        );
        assert_eq!(sc.normalize_path("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \u{9}\u{a}\u{d}\u{b}\u{c}"), "_0123456789a4anbiqwxyz_xx_a_lx");
        assert_eq!(sc.normalize_path("  prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations "), "prospects_exkbsmqw__educations");
    }

    #[test]
    fn break_and_make_path() {
        let sc = SnakeCase::new(None);
        assert_eq!(sc.break_path("_a___b__C___D"), vec!["_a", "_b", "C", "_D"]);
        assert_eq!(sc.break_path("a__b__c"), vec!["a", "b", "c"]);
        assert_eq!(sc.break_path("__a__"), vec!["a"]);
        assert_eq!(sc.break_path("____"), Vec::<String>::new());
        assert_eq!(sc.break_path(""), Vec::<String>::new());
        assert_eq!(sc.break_path("a"), vec!["a"]);
        assert_eq!(sc.break_path("a___"), vec!["a", "_"]);
        assert_eq!(sc.break_path("   __b"), vec!["b"]);
        assert_eq!(sc.break_path("a__ \u{9}__b"), vec!["a", "b"]);
        assert_eq!(sc.break_path("x____y"), vec!["x", "y"]);
        assert_eq!(sc.break_path("a_____b"), vec!["a", "_b"]);
        assert_eq!(sc.make_path(&["_A", "", "_B"]), "_A___B");
        assert_eq!(sc.make_path(&["a", "b", "c"]), "a__b__c");
        assert_eq!(sc.make_path(&[]), "");
        assert_eq!(sc.make_path(&["", " "]), "");
        assert_eq!(sc.make_path(&["a", " \u{9}", "b"]), "a__b");
        assert_eq!(sc.make_path(&["a__b", "c"]), "a__b__c");
        assert_eq!(sc.make_path(&["x"]), "x");
    }

    #[test]
    fn shorten_fragments_values() {
        let sc = SnakeCase::new(None);
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "abc__events__items");
        assert_eq!(
            sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]),
            "parent_table__child_items__grand_child_items__value"
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
        let sc = SnakeCase::new(Some(10));
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "aby14vuams");
        assert_eq!(sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]), "pa0ekheque");
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}3dc79a\u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}3dc79a\u{9} "
        );
        let sc = SnakeCase::new(Some(16));
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "abc__y14vuaitems");
        assert_eq!(sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]), "paren0ekheqvalue");
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'pl3dc79a😄! \u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'pl3dc79a😄! \u{9} "
        );
        let sc = SnakeCase::new(Some(32));
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "abc__events__items");
        assert_eq!(
            sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]),
            "parent_table_0ekheq_items__value"
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CEL3dc79a.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CEL3dc79a.\"\u{d}hello😄! \u{9} "
        );
        let sc = SnakeCase::new(Some(40));
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "abc__events__items");
        assert_eq!(
            sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]),
            "parent_table__chi0ekheqhild_items__value"
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧_3dc79a 123.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧_3dc79a 123.\"\u{d}hello😄! \u{9} "
        );
        let sc = SnakeCase::new(Some(50));
        assert_eq!(sc.shorten_fragments(&["abc", "events", "items"]), "abc__events__items");
        assert_eq!(
            sc.shorten_fragments(&["parent_table", "child_items", "grand_child_items", "value"]),
            "parent_table__child_it0ekheqand_child_items__value"
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  3dc79a!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(
            sc.shorten_fragments(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  3dc79a!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
    }

    #[test]
    fn raw_ident_and_raw_path() {
        let sc = SnakeCase::new(None);
        assert_eq!(
            sc.make_path(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(
            sc.make_path(&[
                ".\u{a}'played CELLO🚧_",
                "\u{a}  123.\"\u{d}hello😄! \u{9} ",
                "   \u{9}\u{a} ",
                "123.\"\u{d}hello😄!",
                "\u{a}  123.\"\u{d}hello😄! \u{9} "
            ]),
            ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
        );
        assert_eq!(sc.normalize_identifier(".\u{a}'played CELLO🚧_"), "_played_celloxx");
        assert_eq!(sc.normalize_identifier("  .\u{a}'played CELLO🚧_ \u{9}\u{a}"), "_played_celloxx");
        assert_eq!(
            sc.normalize_path(
                ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
            ),
            "_played_cellox___123_hellox___123_hellox___123_hellox"
        );
        let sc = SnakeCase::new(Some(8));
        assert_eq!(sc.normalize_identifier(".\u{a}'played CELLO🚧_"), "_vrhqfwx");
        assert_eq!(
            sc.normalize_path(
                ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
            ),
            "_3dc79ax"
        );
        let sc = SnakeCase::new(Some(34));
        assert_eq!(sc.normalize_identifier(".\u{a}'played CELLO🚧_"), "_played_celloxx");
        assert_eq!(
            sc.normalize_path(
                ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
            ),
            "_played_cellox3dc79ax___123_hellox"
        );
        let sc = SnakeCase::new(Some(13));
        assert_eq!(sc.normalize_identifier(".\u{a}'played CELLO🚧_"), "_plavrhqfwoxx");
        assert_eq!(
            sc.normalize_path(
                ".\u{a}'played CELLO🚧___\u{a}  123.\"\u{d}hello😄! \u{9} __123.\"\u{d}hello😄!__\u{a}  123.\"\u{d}hello😄! \u{9} "
            ),
            "_pla3dc79alox"
        );
    }

    #[test]
    fn tag_generation() {
        assert_eq!(compute_tag("3f17271231504b8cf65690bcdc379df8a3b8aabe12efe1ea82848ec5f497cb69", DEFAULT_COLLISION_PROB), "gds0iw");
        assert_eq!(compute_tag("58e5c351b53ffe1233e0656a532a721ae1d2ac7af71b6cfec8ceb64c63b10721", DEFAULT_COLLISION_PROB), "uyboiq");
        assert_eq!(compute_tag("e3f34629839cedcabba95354e48a78dc80b0cd35c02ddfbbf20196ba7f968866", DEFAULT_COLLISION_PROB), "51wdcg");
        assert_eq!(compute_tag("f0f22b8e8c58389a6c21dbcc1e261ee0354704e24996a0ec541276f58d1f2f52", DEFAULT_COLLISION_PROB), "bpm7ca");
        assert_eq!(compute_tag("0d0de95c7c12ceee919d28d22c970285d80a36dea4fe32dbdd667a888ae6d47f", DEFAULT_COLLISION_PROB), "doqcuq");
        assert_eq!(compute_tag("4973509ea648ddfbaf6c50e1fef33c3b0a3d1c1a82dff543a8255e60b6572567", DEFAULT_COLLISION_PROB), "cl7rpq");
        assert_eq!(compute_tag("877c89f0dcbd24b8c3f787624ddca09deb6a44e4a72f12527209d78e4d9ed247", DEFAULT_COLLISION_PROB), "xrnycg");
        assert_eq!(compute_tag("064df58cd3a51c50dbf30e975e63961a501212ff8e8ca544ab396727f4b8a367", DEFAULT_COLLISION_PROB), "kgiizq");
        assert_eq!(compute_tag("c8f7da1b5c44c1ca10da67c1514c4cf365e4d5912685b25a39206d5c8c1966a1", DEFAULT_COLLISION_PROB), "dj9zqq");
        assert_eq!(compute_tag("222d42333592ea87823fd2e7868d59fb0aded20603f433319691918299513cb6", DEFAULT_COLLISION_PROB), "futp4w");
        assert_eq!(compute_tag("757d64eb242a91b494ec9e2661a7946410d68144d33860d6f4154092d65d5009", DEFAULT_COLLISION_PROB), "wetlpg");
        assert_eq!(compute_tag("3c7348d43478292b4c4e0689d41a536fc8ccabdbd9fb9d0dfbe757a83d34cebe", DEFAULT_COLLISION_PROB), "avxagg");
        assert_eq!(compute_tag("6896fac1546c201d4dc91d2c51bdcd9c820fe92fd0555947e59fdc89ca6f045d", DEFAULT_COLLISION_PROB), "wbaj3w");
        assert_eq!(compute_tag("b4def322a4487dd90fcc4abd2f1efde0cdce81d8e0a580fd1897203ab4ebcebe", DEFAULT_COLLISION_PROB), "whojmw");
        assert_eq!(compute_tag("07d974124b92adafc90473a3968ceb5e8329d815e0e48260473d70a781adb8ae", DEFAULT_COLLISION_PROB), "aiqcea");
        assert_eq!(compute_tag("c67183a762e379290652cc26a786b21eff347643b1cc9012138f460901ce5d53", DEFAULT_COLLISION_PROB), "zfztpg");
        assert_eq!(compute_tag("430976db5adef67d0009aa3cd9a2daca106829b36a7232732c5d694e7197c6d1", DEFAULT_COLLISION_PROB), "evr7rq");
        assert_eq!(compute_tag("c1c8c0ff6933fa4e23fab5605139124b2c6cda0150a412daaea274818ee46e35", DEFAULT_COLLISION_PROB), "er0nxq");
        assert_eq!(compute_tag("0060c538b6ce02b8d8e2c85b4e2810c58b846f4096ed7ab871fc092c45ac09d9", DEFAULT_COLLISION_PROB), "zh9xgg");
        assert_eq!(compute_tag("4d4b99ff5d2a3d5cd076782c9cd088cd85d5c789d7de6bdc19c1d206b687d485", DEFAULT_COLLISION_PROB), "2vvr5a");
        assert_eq!(compute_tag("", DEFAULT_COLLISION_PROB), "f5wrpa");
        assert_eq!(compute_tag("a", DEFAULT_COLLISION_PROB), "hcjeia");
        assert_eq!(compute_tag(" she played cello well ", DEFAULT_COLLISION_PROB), "9qp56g");
        assert_eq!(compute_tag("Żółć", DEFAULT_COLLISION_PROB), "srl7la");
        assert_eq!(
            compute_tag(
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                DEFAULT_COLLISION_PROB
            ),
            "jpkofg"
        );
        assert_eq!(compute_tag("abc", 0.1_f64), "wie");
        assert_eq!(compute_tag("abc", 0.01_f64), "wiej");
        assert_eq!(compute_tag("abc", 0.0001_f64), "wiejldg");
        assert_eq!(compute_tag("abc", 1e-06_f64), "wiejldgyv1w");
        assert_eq!(compute_tag("abc", 1e-09_f64), "wiejldgyv1z4o923");
        assert_eq!(compute_tag("abc", 0.5_f64), "wa");
        assert_eq!(compute_tag("abc", 1.0_f64), "wa");
    }

    #[test]
    fn tag_placement() {
        let tag = "123456";
        assert_eq!(trim_and_tag("DLTHUB", tag, 6), "123456");
        assert_eq!(trim_and_tag("prefDLTHUBsuf", tag, 6), "123456");
        assert_eq!(trim_and_tag("DLT_HUB", tag, 7), "D123456");
        assert_eq!(trim_and_tag("prefDLT_HUBsuf", tag, 7), "p123456");
        assert_eq!(trim_and_tag("DLT_HUB_", tag, 8), "D123456_");
        assert_eq!(trim_and_tag("prefDLT_HUB_suf", tag, 8), "p123456f");
        assert_eq!(trim_and_tag("abcdefghijklmnopqrstuvwxyz", tag, 11), "abc123456yz");
        assert_eq!(trim_and_tag("abcdefghijklmnopqrstuvwxyz", tag, 12), "abc123456xyz");
        assert_eq!(trim_and_tag("żółćżółćżółć", tag, 9), "żó123456ć");
    }

    #[test]
    fn shorten_identifier_values() {
        assert_eq!(
            shorten_identifier_opt(
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                None
            ),
            "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"
        );
        assert_eq!(
            shorten_identifier(
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                0
            ),
            "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations"
        );
        assert_eq!(shorten_identifier("012345678", "xxx012345678xxx", 10), "012345678");
        assert_eq!(shorten_identifier("0123456789", "xxx012345678xx?", 10), "0123456789");
        assert_eq!(shorten_identifier("she played cello well", "she played cello well", 20), "she plauanpualo well");
        assert_eq!(shorten_identifier("she played cello well", " raw content ", 20), "she plaqamdmqlo well");
        assert_eq!(
            shorten_identifier(
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                63
            ),
            "prospects_external_data__datay7xk8w__author_details__educations"
        );
        assert_eq!(
            shorten_identifier(
                "prospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educationsprospects_external_data__data365_member__member__feed_activities_created_post__items__comments__items__comments__items__author_details__educations",
                "other",
                16
            ),
            "prospcbjp3ations"
        );
        assert_eq!(shorten_identifier("٣٣٣٣٣٣٣٣٣٣", "x", 8), "٣5hlf4w٣");
    }

    #[test]
    fn digests() {
        assert_eq!(digest128("abc_events__items_0", 10), "QDe3MlqNcIVb+A");
        assert_eq!(digest128("abc", 15), "WIEJLdgYv1z4o923k/vL");
        assert_eq!(digest128("", 15), "f5wrpOiPgn1hYEVQdgWF");
        assert_eq!(digest128("", 10), "f5wrpOiPgn1hYA");
        assert_eq!(digest128("parent_id_items_0", 10), "ToagpLVBTt47dg");
        assert_eq!(digest128("Żółć", 10), "SRl7LMkALlV6NA");
        assert_eq!(digest128("x", 1), "5A");
        assert_eq!(digest128("x", 2), "5HI");
        assert_eq!(digest128("x", 3), "5HLF");
        assert_eq!(digest128("row", 32), "0s4ZYqdehWHJNzCPhy8exnAwoyDi8ewn4YwS1VsODaw");
        assert_eq!(digest128b(&[123, 34, 97, 34, 58, 49, 44, 34, 98, 34, 58, 34, 120, 34, 125], 10), "khlsLbyhkJKGeQ");
        assert_eq!(digest128b(&[123, 34, 97, 34, 58, 49, 44, 34, 98, 34, 58, 34, 120, 34, 125], 15), "khlsLbyhkJKGeU899jm5");
        assert_eq!(digest128b(&[0, 255, 16], 10), "PDkgI043Dhdx/w");
        assert_eq!(digest128b(&[0, 255, 16], 15), "PDkgI043Dhdx/3ybcLRj");
    }

    #[test]
    fn display() {
        assert_eq!(SnakeCase::new(None).to_string(), "snake_case_ci");
        assert_eq!(SnakeCase::new(Some(63)).to_string(), "snake_case_ci_63");
        assert_eq!(SnakeCase::new(Some(0)).to_string(), "snake_case_ci");
    }
}
