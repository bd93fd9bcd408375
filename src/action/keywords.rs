//! `svcmgr print keywords`: every section and keyword a service file may
//! hold, with its default and what it does, from the keyword table
//! (src/config/keywords.rs). `markdown` renders the same table as
//! docs/keywords.md, which a test keeps current.

use std::io::Write;

use super::{OK, Opts};
use crate::config::keywords::{Keyword, reference};

const SCOPE_NOTE: &str =
    "Keys marked @ also take a scope: key@<node>, key@nodes, key@drpnodes, key@encapnodes.";

pub(crate) fn run(_opts: &Opts) -> i32 {
    let _ = std::io::stdout().lock().write_all(text().as_bytes());
    OK
}

fn key_name(k: &Keyword) -> String {
    format!("{}{}", k.name, if k.scoped { "@" } else { "" })
}

/// The terminal form: one block per section, one line per keyword.
pub(crate) fn text() -> String {
    let mut out = format!("{SCOPE_NOTE}\n");
    for (section, keys) in reference() {
        out.push_str(&format!("\n[{section}]\n"));
        for k in &keys {
            let mut line = format!("  {:<24} {}", key_name(k), k.doc);
            if !k.default.is_empty() {
                line.push_str(&format!(" (default: {})", k.default));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// docs/keywords.md.
#[cfg(test)]
pub(crate) fn markdown() -> String {
    let mut out = String::from(
        "# Service file keywords\n\n\
         Generated from src/config/keywords.rs; do not edit. Regenerate with\n\
         `UPDATE_DOCS=1 cargo test --lib keywords_md`; `svcmgr print keywords`\n\
         prints the same table.\n\n",
    );
    out.push_str(SCOPE_NOTE);
    out.push('\n');
    for (section, keys) in reference() {
        out.push_str(&format!(
            "\n## {section}\n\n| keyword | default | what it does |\n|---|---|---|\n"
        ));
        for k in &keys {
            let default = if k.default.is_empty() {
                String::new()
            } else {
                format!("`{}`", k.default)
            };
            out.push_str(&format!(
                "| `{}` | {default} | {} |\n",
                key_name(k),
                k.doc.replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/keywords.md is the table as it is: a stale copy fails here
    /// with the difference; `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn keywords_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/keywords.md");
        let want = markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let diff: Vec<String> = want
                .lines()
                .zip(got.lines().chain(std::iter::repeat("<missing>")))
                .filter(|(w, g)| w != g)
                .map(|(w, g)| format!("- {g}\n+ {w}"))
                .collect();
            panic!(
                "docs/keywords.md is stale; regenerate with `UPDATE_DOCS=1 cargo test --lib keywords_md`\n{}",
                diff.join("\n")
            );
        }
    }

    #[test]
    fn every_section_has_its_keys_and_each_key_says_what_it_does() {
        let t = text();
        for s in ["[DEFAULT]", "[ip#N]", "[fs#N]", "[sync#i0]"] {
            assert!(t.contains(s), "{s}\n{t}");
        }
        assert!(t.contains("  ipname@ "), "{t}");
        assert!(t.contains("(default: no)"), "{t}");
        for (_, keys) in reference() {
            assert!(keys.iter().all(|k| !k.doc.is_empty()), "{keys:?}");
        }
    }
}
