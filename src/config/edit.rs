//! `get`, `set`, `unset`, `enable`/`disable` on any INI file (service files
//! now, `node.conf` for nodemgr later), addressed as `section.key`.
//!
//! 1.5 rewrote the whole file through RawConfigParser and lost every
//! comment; here only the lines of the edited key change, and the file is
//! replaced atomically so a crash never leaves half a config behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, Perms, WriteOpts};

use super::ini::{DEFAULT, Ini, ParseError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum EditError {
    #[error("malformed parameter. format as 'section.key'")]
    Malformed,
    #[error("section '{0}' not found")]
    SectionNotFound(String),
    #[error("cannot read {file}: {err}")]
    Read { file: PathBuf, err: io::Error },
    #[error("cannot write {file}: {err}")]
    Write { file: PathBuf, err: io::Error },
    #[error("{} cannot be edited until these lines are fixed:\n{}", .file.display(), join_errors(.file, .errors))]
    Parse {
        file: PathBuf,
        errors: Vec<ParseError>,
    },
    #[error(
        "value '{0}' would not read back as written (blank continuation lines, or ' #' or ' ;' which start a comment)"
    )]
    Value(String),
}

fn join_errors(file: &Path, errors: &[ParseError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}:{}: {}", file.display(), e.line, e.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `section.key` → (section, lower-cased key); `default` means DEFAULT.
pub(crate) fn parse_param(param: &str) -> Result<(String, String), EditError> {
    let (section, key) = param.split_once('.').ok_or(EditError::Malformed)?;
    let bad_key = |k: &str| {
        k.is_empty()
            || k.starts_with(char::is_whitespace)
            || k.ends_with(char::is_whitespace)
            || k.contains(['=', ':', '\n', '\r', '[', '#', ';'])
    };
    let bad_section = |s: &str| s.is_empty() || s.contains([']', '\n', '\r']);
    if bad_section(section) || bad_key(key) {
        return Err(EditError::Malformed);
    }
    let section = if section.eq_ignore_ascii_case(DEFAULT) {
        DEFAULT
    } else {
        section
    };
    Ok((section.to_string(), key.to_lowercase()))
}

/// The raw value of `section.key`, DEFAULT inherited; None when unset.
pub(crate) fn get(file: &Path, param: &str) -> Result<Option<String>, EditError> {
    let (section, key) = parse_param(param)?;
    let ini = parsed(file, &read(file)?)?;
    require_section(&ini, &section)?;
    Ok(ini.get(&section, &key).map(|f| f.value.to_string()))
}

/// An edit computed and not written yet: a caller may check the new text
/// (the service's validation, issue 10 item 16) before `commit`.
#[derive(Debug)]
pub(crate) struct Planned {
    file: PathBuf,
    old: Vec<u8>,
    new: Vec<u8>,
    /// The `section.key` edited, DEFAULT spelt `DEFAULT`.
    pub section: String,
    pub key: String,
    /// `unset`: whether a line was removed.
    pub removed: bool,
    perms: Perms,
}

impl Planned {
    /// The text after the edit (invalid UTF-8 shown as U+FFFD; the bytes
    /// written are the original ones).
    pub(crate) fn new_text(&self) -> String {
        String::from_utf8_lossy(&self.new).into_owned()
    }

    pub(crate) fn changes(&self) -> bool {
        self.old != self.new
    }

    /// Writes the file atomically; an unchanged file is not touched.
    pub(crate) fn commit(self) -> Result<(), EditError> {
        if !self.changes() {
            return Ok(());
        }
        write_atomic_bytes(&self.file, &self.new, self.perms)
    }

    /// Written 0600 whatever the file's mode was: node.conf, which holds
    /// or may come to hold the cluster secret.
    pub(crate) fn private(mut self) -> Planned {
        self.perms = Perms::Private;
        self
    }
}

/// `set` without writing: the text with `section.key = value`.
pub(crate) fn plan_set(file: &Path, param: &str, value: &str) -> Result<Planned, EditError> {
    plan(file, param, |old, section, key| {
        Ok((set_in_bytes(old, section, key, value)?, false))
    })
}

/// `unset` without writing.
pub(crate) fn plan_unset(file: &Path, param: &str) -> Result<Planned, EditError> {
    plan(file, param, unset_in_bytes)
}

/// Reads and checks the file, then applies `edit` (new bytes, whether a
/// line was removed) to it.
fn plan(
    file: &Path,
    param: &str,
    edit: impl FnOnce(&[u8], &str, &str) -> Result<(Vec<u8>, bool), EditError>,
) -> Result<Planned, EditError> {
    let (section, key) = parse_param(param)?;
    let old = read(file)?;
    parsed(file, &old)?;
    let (new, removed) = edit(&old, &section, &key)?;
    Ok(Planned {
        file: file.to_path_buf(),
        old,
        new,
        section,
        key,
        removed,
        perms: Perms::Keep,
    })
}

/// `enable`/`disable`: `disable = true|false` in each rid section, or in
/// DEFAULT when `rids` is empty, in one atomic write.
pub(crate) fn set_disable(file: &Path, rids: &[String], disabled: bool) -> Result<(), EditError> {
    let old = read(file)?;
    parsed(file, &old)?;
    let value = if disabled { "true" } else { "false" };
    let default = [DEFAULT.to_string()];
    let sections = if rids.is_empty() { &default[..] } else { rids };
    let mut new = old.clone();
    for section in sections {
        new = set_in_bytes(&new, section, "disable", value)?;
    }
    write_if_changed(file, &old, &new)
}

/// `delete --rid`: the file without these sections, every header of each
/// and the keys under it; comment lines after a section's last key stay,
/// as they usually introduce the next section. One atomic write on commit.
pub(crate) fn plan_remove_sections(file: &Path, sections: &[String]) -> Result<Planned, EditError> {
    let old = read(file)?;
    parsed(file, &old)?;
    let mut doc = Doc::parse(&old);
    for name in sections {
        require_section(&doc.ini, name)?;
    }
    let headers = doc.ini.headers().to_vec();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (i, (name, line)) in headers.iter().enumerate() {
        if !sections.contains(name) {
            continue;
        }
        let next = headers.get(i + 1).map_or(usize::MAX, |(_, l)| *l);
        let mut end = doc
            .ini
            .key_spans()
            .iter()
            .filter(|s| s.first > *line && s.first < next)
            .map(|s| s.tail)
            .max()
            .unwrap_or(*line);
        // The blank lines that separated it from what follows go with it.
        while end < doc.lines.len() && end + 1 < next && is_blank(&doc.lines[end]) {
            end += 1;
        }
        ranges.push((*line, end));
    }
    for (first, last) in ranges.iter().rev() {
        doc.ends_with_newline |= *last == doc.lines.len();
        doc.lines.drain(first - 1..*last);
    }
    Ok(Planned {
        file: file.to_path_buf(),
        old,
        new: doc.into_bytes(),
        section: sections.join(","),
        key: String::new(),
        removed: !ranges.is_empty(),
        perms: Perms::Keep,
    })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A file's bytes as lines, for rewriting: lines the edit does not concern
/// keep their exact bytes (a Latin-1 comment stays Latin-1; 1.5 and our
/// earlier lossy read turned it into U+FFFD), and a BOM stays first.
struct Doc {
    bom: bool,
    lines: Vec<Vec<u8>>,
    ends_with_newline: bool,
    /// Parsed from the lossy text: U+FFFD never spans a `\n`, so its lines
    /// are `lines` one for one.
    ini: Ini,
}

const BOM_BYTES: &[u8] = "\u{feff}".as_bytes();

impl Doc {
    fn parse(bytes: &[u8]) -> Doc {
        let (bom, body) = match bytes.strip_prefix(BOM_BYTES) {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        let ends_with_newline = body.ends_with(b"\n");
        let mut lines: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        if ends_with_newline || body.is_empty() {
            lines.pop();
        }
        Doc {
            bom,
            lines,
            ends_with_newline,
            ini: Ini::parse(&String::from_utf8_lossy(body)),
        }
    }

    /// `\r` when the file's lines end with CRLF.
    fn eol(&self) -> &'static [u8] {
        if self.lines.first().is_some_and(|l| l.ends_with(b"\r")) {
            b"\r"
        } else {
            b""
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut out = if self.bom {
            BOM_BYTES.to_vec()
        } else {
            Vec::new()
        };
        out.extend(self.lines.join(&b'\n'));
        if self.ends_with_newline && !self.lines.is_empty() {
            out.push(b'\n');
        }
        out
    }
}

/// Sets `section.key = value`, creating the section (and the file) if needed.
#[cfg(test)]
pub(crate) fn set(file: &Path, param: &str, value: &str) -> Result<(), EditError> {
    plan_set(file, param, value)?.commit()
}

/// Removes `section.key` from that section only (a DEFAULT value it
/// inherited stays). Returns whether anything was removed.
#[cfg(test)]
pub(crate) fn unset(file: &Path, param: &str) -> Result<bool, EditError> {
    let plan = plan_unset(file, param)?;
    let removed = plan.removed;
    plan.commit()?;
    Ok(removed)
}

/// `set` on text: replaces the effective line of the key (continuation
/// lines included), else appends after the section's last key, else adds
/// the section (DEFAULT first in the file, others last).
#[cfg(test)]
pub(crate) fn set_in_text(
    text: &str,
    section: &str,
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    let out = set_in_bytes(text.as_bytes(), section, key, value)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `set_in_text` on bytes.
pub(crate) fn set_in_bytes(
    bytes: &[u8],
    section: &str,
    key: &str,
    value: &str,
) -> Result<Vec<u8>, EditError> {
    let mut doc = Doc::parse(bytes);
    let eol = doc.eol();
    let line = |l: &str| [l.as_bytes(), eol].concat();
    let kv: Vec<Vec<u8>> = key_lines(key, value)?.iter().map(|l| line(l)).collect();
    let ini = &doc.ini;
    let spans: Vec<_> = ini
        .key_spans()
        .iter()
        .filter(|s| s.section == section)
        .collect();
    let lines = &mut doc.lines;
    if let Some(span) = spans.iter().rev().find(|s| s.key == key) {
        // Indented comments after the value stay: they now follow the new line.
        lines.splice(span.first - 1..span.last, kv);
    } else if let Some(at) = spans.last().map(|s| s.tail).or_else(|| {
        ini.headers()
            .iter()
            .rev()
            .find(|(s, _)| s == section)
            .map(|(_, l)| *l)
    }) {
        // Text added as the new last line must end with a newline.
        doc.ends_with_newline |= at == lines.len();
        lines.splice(at..at, kv);
    } else {
        let mut block = vec![line(&format!("[{section}]"))];
        block.extend(kv);
        let first_header = ini.headers().first().map(|(_, l)| *l);
        match first_header {
            Some(l) if section == DEFAULT => {
                block.push(eol.to_vec());
                lines.splice(l - 1..l - 1, block);
            }
            _ => {
                if lines
                    .last()
                    .is_some_and(|l| !l.iter().all(u8::is_ascii_whitespace))
                {
                    lines.push(eol.to_vec());
                }
                lines.extend(block);
                doc.ends_with_newline = true;
            }
        }
    }
    Ok(doc.into_bytes())
}

/// `unset` on text: removes every line of `section.key` (earlier duplicates
/// too, or they would become effective), with the indented comments that
/// follow it: left after a header they would no longer parse. Returns the
/// text and whether anything was removed.
#[cfg(test)]
pub(crate) fn unset_in_text(
    text: &str,
    section: &str,
    key: &str,
) -> Result<(String, bool), EditError> {
    let (out, removed) = unset_in_bytes(text.as_bytes(), section, key)?;
    Ok((String::from_utf8_lossy(&out).into_owned(), removed))
}

/// `unset_in_text` on bytes.
pub(crate) fn unset_in_bytes(
    bytes: &[u8],
    section: &str,
    key: &str,
) -> Result<(Vec<u8>, bool), EditError> {
    let mut doc = Doc::parse(bytes);
    require_section(&doc.ini, section)?;
    let spans: Vec<(usize, usize)> = doc
        .ini
        .key_spans()
        .iter()
        .filter(|s| s.section == section && s.key == key)
        .map(|s| (s.first, s.tail))
        .collect();
    for (first, tail) in spans.iter().rev() {
        // The line before a removed last line keeps the newline it had.
        doc.ends_with_newline |= *tail == doc.lines.len();
        doc.lines.drain(first - 1..*tail);
    }
    Ok((doc.into_bytes(), !spans.is_empty()))
}

/// `key = value` and its continuation lines, refused when parsing them back
/// would not give `value` again.
fn key_lines(key: &str, value: &str) -> Result<Vec<String>, EditError> {
    let value = value.trim();
    let mut parts = value.split('\n');
    let mut lines = vec![format!("{key} = {}", parts.next().unwrap_or(""))];
    lines.extend(parts.map(|p| format!("\t{p}")));
    let probe = Ini::parse(&format!("[s]\n{}\n", lines.join("\n")));
    let back = probe.section("s").and_then(|s| s.entry(key));
    if !probe.errors().is_empty() || back.map(|e| e.value.as_str()) != Some(value) {
        return Err(EditError::Value(value.to_string()));
    }
    Ok(lines)
}

/// DEFAULT always exists, as in RawConfigParser.
fn require_section(ini: &Ini, section: &str) -> Result<(), EditError> {
    if section == DEFAULT || ini.has_section(section) {
        Ok(())
    } else {
        Err(EditError::SectionNotFound(section.to_string()))
    }
}

/// A missing file reads as empty: `set` on a fresh node's node.conf creates it.
fn read(file: &Path) -> Result<Vec<u8>, EditError> {
    match fs::read(file) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(EditError::Read {
            file: file.to_path_buf(),
            err,
        }),
    }
}

/// Rewriting a file we cannot parse could attach keys to the wrong section.
fn parsed(file: &Path, bytes: &[u8]) -> Result<Ini, EditError> {
    let ini = Doc::parse(bytes).ini;
    if ini.errors().is_empty() {
        Ok(ini)
    } else {
        Err(EditError::Parse {
            file: file.to_path_buf(),
            errors: ini.errors().to_vec(),
        })
    }
}

/// An unchanged file keeps its mtime: mtimes drive config sync and push.
fn write_if_changed(file: &Path, old: &[u8], new: &[u8]) -> Result<(), EditError> {
    if old == new {
        return Ok(());
    }
    write_atomic_bytes(file, new, Perms::Keep)
}

fn write_atomic_bytes(file: &Path, bytes: &[u8], perms: Perms) -> Result<(), EditError> {
    let opts = WriteOpts { perms, mtime: None };
    fsutil::write_atomic_with(file, bytes, opts).map_err(|err| EditError::Write {
        file: file.to_path_buf(),
        err,
    })
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
