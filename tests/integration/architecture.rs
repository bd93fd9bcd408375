//! The architecture, checked: every file of src/ imports only from its own
//! layer or the layers below it (docs/architecture.md lists them), and no
//! set of files imports itself round a circle. It reads the sources as text
//! (`use` lines and `crate::`/`super::` paths), as a reviewer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A top-level module (or a daemon wing) sits in
/// exactly one; a file may name modules of its layer and of lower ones.
const LAYERS: &[&[&str]] = &[
    &["paths", "fsutil", "safepath", "log", "status"],
    &[
        "config",
        "lock",
        "exec",
        "placement",
        "order",
        "client",
        "collector",
        "node",
    ],
    &["driver", "remote", "render"],
    &["service"],
    &["action"],
    &["daemon"],
    &["cli", "fuzzing"],
];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|l| l.contains(&top))
}

/// `src/a/b.rs` or `src/a/b/mod.rs` → `a::b`; `src/lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code a file compiles outside tests: everything before its first
/// `#[cfg(test)]` (the house puts test modules last).
fn non_test_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Module paths named in `code`, resolved against `module` (the file's own
/// module path), each cut to the longest prefix that is a module of the
/// crate.
fn named_modules(code: &str, module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let own: Vec<&str> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").collect()
    };
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let start = ["crate::", "super::"]
            .iter()
            .find(|p| rest.starts_with(**p));
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        let Some(start) = start.filter(|_| boundary) else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // Read the path: identifiers joined by `::`, then an optional
        // `{a, b::c}` group, one level deep.
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        let mut bases = vec![];
        let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let mut base: Vec<String> = if *start == "crate::" {
            segs.remove(0);
            vec![]
        } else {
            let mut b: Vec<String> = own.iter().map(|s| s.to_string()).collect();
            // A `mod.rs` file's `super` is its parent; any other file's
            // module is its own name, and `super` its folder.
            while segs.first() == Some(&"super") {
                segs.remove(0);
                b.pop();
            }
            b
        };
        base.extend(segs.iter().map(|s| s.to_string()));
        if rest[end..].starts_with('{') {
            let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
            for item in rest[end + 1..close].split(',') {
                let item = item.trim();
                let item = item.split(" as ").next().unwrap_or(item);
                let mut b = base.clone();
                b.extend(
                    item.split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(str::to_string),
                );
                bases.push(b);
            }
        }
        bases.push(base);
        for b in bases {
            // Cut to the longest prefix that names a module file.
            for n in (1..=b.len()).rev() {
                let m = b[..n].join("::");
                if modules.contains(&m) {
                    if m != module {
                        found.insert(m);
                    }
                    break;
                }
            }
        }
        i += end.max(1);
    }
    found
}

struct House {
    /// module → the modules its non-test code names.
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn read_house() -> House {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut texts = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Sibling test files (`#[path = "x_tests.rs"]`) are test code.
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("tests.rs"))
        {
            continue;
        }
        let m = module_of(&src, &f);
        modules.insert(m.clone());
        texts.push((m, text));
    }
    let mut edges = BTreeMap::new();
    for (m, text) in &texts {
        edges.insert(m.clone(), named_modules(non_test_code(text), m, &modules));
    }
    House { edges }
}

/// Strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.edges.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = vec![];
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        next: 0,
        out: vec![],
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_file_imports_itself_round_a_circle() {
    let house = read_house();
    let found = circles(&house.edges);
    let mut report = String::new();
    for c in &found {
        report.push_str(&format!("circle of {} modules:\n", c.len()));
        for m in c {
            let inside: Vec<&String> = house.edges[m].iter().filter(|n| c.contains(n)).collect();
            report.push_str(&format!("  {m} -> {inside:?}\n"));
        }
    }
    assert!(found.is_empty(), "import circles in src/:\n{report}");
}

#[test]
fn every_module_imports_only_its_layer_and_below() {
    let house = read_house();
    let mut wrong = vec![];
    for (m, named) in &house.edges {
        let Some(mine) = layer_of(m) else {
            if !m.is_empty() {
                wrong.push(format!(
                    "{m}: in no layer (add it to LAYERS and docs/architecture.md)"
                ));
            }
            continue;
        };
        for n in named {
            if let Some(theirs) = layer_of(n).filter(|t| *t > mine) {
                wrong.push(format!("{m} (layer {mine}) imports {n} (layer {theirs})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run up the layers:\n{}",
        wrong.join("\n")
    );
}
