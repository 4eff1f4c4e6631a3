//! Test counts read from the runners' own closing lines (nextest's `Summary` line, libtest's
//! `test result:` lines), for the one summary `cargo xtask test` prints at the end.

use std::ops::AddAssign;

/// Tests passed, failed (including timed out) and skipped (or ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

/// Which runner's closing lines to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Summary [ 1.2s] 5 tests run: 4 passed (1 slow), 1 failed, 2 skipped`: the last one counts.
    Nextest,
    /// `test result: ok. 3 passed; 0 failed; 1 ignored; ...`: one per test binary, summed.
    Libtest,
    /// A check that runs no tests (formatting, lints): its exit status is its result.
    Check,
}

impl Format {
    /// Whether `line` (already free of colour codes) is one this format reads.
    pub fn is_result_line(self, line: &str) -> bool {
        let line = line.trim_start();
        match self {
            Format::Nextest => line.starts_with("Summary [") && line.contains(" run:"),
            Format::Libtest => line.starts_with("test result:"),
            Format::Check => false,
        }
    }

    /// Counts from the result lines of one run; `None` when there was none.
    pub fn counts(self, lines: &[String]) -> Option<Counts> {
        match self {
            Format::Nextest => lines.iter().rev().find_map(|l| parse_nextest(l)),
            Format::Libtest => {
                let mut parsed = lines.iter().filter_map(|l| parse_libtest(l)).peekable();
                parsed.peek()?;
                Some(parsed.fold(Counts::default(), |mut acc, c| {
                    acc += c;
                    acc
                }))
            }
            Format::Check => Some(Counts::default()),
        }
    }
}

fn parse_nextest(line: &str) -> Option<Counts> {
    let line = line.trim_start();
    if !line.starts_with("Summary [") {
        return None;
    }
    let (_, tail) = line.split_once(" run:")?;
    Some(count_items(&drop_parenthesized(tail), ','))
}

fn parse_libtest(line: &str) -> Option<Counts> {
    let (_, tail) = line.trim_start().strip_prefix("test result:")?.split_once('.')?;
    Some(count_items(tail, ';'))
}

/// Sum `N label` items separated by `sep`.
fn count_items(text: &str, sep: char) -> Counts {
    let mut c = Counts::default();
    for item in text.split(sep) {
        let mut words = item.split_whitespace();
        let Some(n) = words.next().and_then(|w| w.parse::<u64>().ok()) else {
            continue;
        };
        let label = words.collect::<Vec<_>>().join(" ");
        match label.as_str() {
            "passed" => c.passed += n,
            "skipped" | "ignored" => c.skipped += n,
            l if l.contains("fail") || l.contains("timed out") => c.failed += n,
            _ => {}
        }
    }
    c
}

/// `4 passed (1 slow, 1 flaky), 1 failed` -> `4 passed , 1 failed`.
fn drop_parenthesized(text: &str) -> String {
    let mut depth = 0usize;
    text.chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

/// Remove ANSI escape sequences (`ESC [ ... final`), for lines printed in colour.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(format: Format, lines: &[&str]) -> Option<Counts> {
        let lines: Vec<String> = lines.iter().map(|l| strip_ansi(l)).filter(|l| format.is_result_line(l)).collect();
        format.counts(&lines)
    }

    #[test]
    fn nextest_summary() {
        let c = counts(Format::Nextest, &["     Summary [   0.258s] 2 tests run: 1 passed, 1 failed, 1 skipped"]);
        assert_eq!(c, Some(Counts { passed: 1, failed: 1, skipped: 1 }));
        let c = counts(
            Format::Nextest,
            &["\u{1b}[32;1m     Summary\u{1b}[0m [  12.000s] 9/12 tests run: 5 passed (1 slow, 2 flaky), 2 failed, 1 timed out, 3 skipped"],
        );
        assert_eq!(c, Some(Counts { passed: 5, failed: 3, skipped: 3 }));
        assert_eq!(counts(Format::Nextest, &["error: test run failed"]), None);
    }

    #[test]
    fn libtest_results_are_summed() {
        let c = counts(
            Format::Libtest,
            &[
                "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.12s",
                "running 2 tests",
                "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s",
            ],
        );
        assert_eq!(c, Some(Counts { passed: 4, failed: 1, skipped: 1 }));
        assert_eq!(counts(Format::Libtest, &["   Compiling foo"]), None);
    }
}
