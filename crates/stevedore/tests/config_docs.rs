//! `docs/config.md` holds, between `<!-- keys: PATH -->` and `<!-- /keys -->`, the table of
//! every config section the built-in destinations and the core declare, rendered from those
//! declarations (`SectionSpec::reference_table`). This test fails when a table is stale or a
//! declared section has no table; `cargo xtask docs` (or `STEVEDORE_UPDATE_DOCS=1` on this
//! test) rewrites them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stevedore::Registry;

const OPEN: &str = "<!-- keys: ";
const CLOSE: &str = "<!-- /keys -->";

fn config_md() -> PathBuf {
    let start = std::env::current_dir().expect("current dir");
    let root = start
        .ancestors()
        .find(|d| std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|s| s.lines().any(|l| l.trim() == "[workspace]")))
        .expect("the workspace root above the test's folder");
    root.join("docs").join("config.md")
}

/// The document with every marked table rendered from `tables`; errors name unknown paths.
fn render(doc: &str, tables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(at) = rest.find(OPEN) {
        let (before, marked) = rest.split_at(at);
        out.push_str(before);
        let line_end = marked.find("-->").ok_or("an unterminated keys marker")? + 3;
        let path = marked[OPEN.len()..line_end - 3].trim();
        let close = marked.find(CLOSE).ok_or_else(|| format!("no {CLOSE} after the keys marker of {path}"))?;
        let table = tables.get(path).ok_or_else(|| format!("docs/config.md marks `{path}`, which no section declares"))?;
        out.push_str(&marked[..line_end]);
        out.push('\n');
        out.push_str(table);
        out.push_str(CLOSE);
        rest = &marked[close + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn config_reference_tables_match_the_declared_keys() {
    #[allow(unused_mut)]
    let mut specs = Registry::with_builtins().specs();
    // read by the filesystem destination beside its own section, not registered for lookup
    #[cfg(feature = "filesystem")]
    specs.push(&stevedore::filesystem::SHARED_CREDENTIALS_SPEC);
    let tables: BTreeMap<String, String> = specs.into_iter().map(|s| (s.path.join("."), s.reference_table())).collect();
    let path = config_md();
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let missing: Vec<&String> = tables.keys().filter(|p| !doc.contains(&format!("{OPEN}{p} -->"))).collect();
    assert!(
        missing.is_empty(),
        "sections declared in code without a table in docs/config.md: {missing:?} (add `{OPEN}PATH -->` and `{CLOSE}` markers, then run `cargo xtask docs`)"
    );
    let fresh = render(&doc, &tables).unwrap_or_else(|e| panic!("{e}"));
    if fresh == doc {
        return;
    }
    if std::env::var_os("STEVEDORE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("rewrote the key tables of {}", path.display());
        return;
    }
    let stale: Vec<&str> = fresh.lines().zip(doc.lines()).filter(|(a, b)| a != b).map(|(a, _)| a).take(5).collect();
    panic!(
        "docs/config.md is stale: its key tables differ from the declared keys (first differing lines: {stale:#?}); run `cargo xtask docs`"
    );
}

#[test]
fn render_fills_marked_tables_and_refuses_unknown_paths() {
    let tables = BTreeMap::from([("load".to_string(), "| key |\n".to_string())]);
    let doc = "intro\n<!-- keys: load -->\nold\n<!-- /keys -->\nend\n";
    assert_eq!(render(doc, &tables).unwrap(), "intro\n<!-- keys: load -->\n| key |\n<!-- /keys -->\nend\n");
    let e = render("<!-- keys: nope -->\n<!-- /keys -->", &tables).unwrap_err();
    assert!(e.contains("`nope`"), "{e}");
}
