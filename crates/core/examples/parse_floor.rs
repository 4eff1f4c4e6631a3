//! The parse-only floor of the benchmarks: read a JSON-lines file and parse every line,
//! doing nothing else. `cargo xtask bench` compares stevedore's loads with this.
//!
//! Usage: `parse_floor FILE [value|ignored|sonic]` — `value` parses into `serde_json::Value`
//! (what a loader must at least do), `ignored` only validates (`serde::de::IgnoredAny`),
//! `sonic` parses into `sonic_rs::Value` (a SIMD parser's document tree: the fastest
//! parse-only pass we know of).

use std::io::BufRead;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: parse_floor FILE [value|ignored|sonic]");
    let mode = args.next().unwrap_or_else(|| "value".into());
    let f = std::fs::File::open(&path).expect("open input");
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    let mut line = String::new();
    let (mut n, mut keys) = (0u64, 0usize);
    let t = std::time::Instant::now();
    loop {
        line.clear();
        if r.read_line(&mut line).expect("read") == 0 {
            break;
        }
        match mode.as_str() {
            "ignored" => {
                serde_json::from_str::<serde::de::IgnoredAny>(&line).expect("valid JSON");
            }
            "sonic" => {
                use sonic_rs::JsonContainerTrait;
                let v: sonic_rs::Value = sonic_rs::from_str(&line).expect("valid JSON");
                keys += v.as_object().map(|m| m.len()).unwrap_or(0);
            }
            _ => {
                let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
                keys += v.as_object().map(|m| m.len()).unwrap_or(0);
            }
        }
        n += 1;
    }
    println!("{{\"records\": {n}, \"keys\": {keys}, \"seconds\": {:.3}}}", t.elapsed().as_secs_f64());
}
