//! INI documents with Python 2 `RawConfigParser` semantics (docs/behaviour.md,
//! "Parser"), plus
//! what that parser never gave: the 1-based line of every header and key, and
//! the raw lines, so that `edit` can rewrite a file without losing comments.
//!
//! rust-ini cannot report line numbers, and every config problem must name
//! its line (docs/contracts.md, "Rules of the house"), hence this small
//! parser.
//!
//! Sections and keys are indexed by name: a config of 10,000 sections must
//! not cost 10,000 × 10,000 string compares (issue 10, item 22).

use std::borrow::Cow;
use std::collections::HashMap;

/// The section every other section inherits from.
pub(crate) const DEFAULT: &str = "DEFAULT";

/// One effective `key = value` of a section (the last one when repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Lower-cased key, scope suffix included (`ipname@sles1`).
    pub key: String,
    /// Trimmed value; continuation lines joined with `\n`.
    pub value: String,
    /// 1-based line of the `key = value` line.
    pub line: usize,
}

/// A section after merging every header of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub name: String,
    /// 1-based line of the first header with this name.
    pub line: usize,
    /// Keys in order of first appearance, last value wins.
    pub entries: Vec<Entry>,
    /// Key → position in `entries`, once there are more than
    /// [`SCAN_UP_TO`]; below that a scan of `entries` is cheaper than
    /// hashing, and a section has a handful of keys.
    index: HashMap<String, usize>,
    /// Some key has a `@scope`: only then are `kw@…` forms looked up,
    /// which costs four formatted names a lookup.
    scoped: bool,
}

impl Section {
    fn new(name: &str, line: usize) -> Section {
        Section {
            name: name.to_string(),
            line,
            entries: Vec::new(),
            index: HashMap::new(),
            scoped: false,
        }
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        self.position(key).map(|i| &self.entries[i])
    }

    fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.position(key).map(|i| &mut self.entries[i])
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.entries.len() <= SCAN_UP_TO {
            self.entries.iter().position(|e| e.key == key)
        } else {
            self.index.get(key).copied()
        }
    }

    /// Adds a key not in the section yet.
    fn push(&mut self, entry: Entry) {
        self.scoped |= entry.key.contains('@');
        self.entries.push(entry);
        if self.entries.len() > SCAN_UP_TO {
            if self.index.is_empty() {
                let keys = self.entries.iter().enumerate();
                self.index = keys.map(|(i, e)| (e.key.clone(), i)).collect();
            } else {
                let last = self.entries.len() - 1;
                self.index.insert(self.entries[last].key.clone(), last);
            }
        }
    }
}

/// How many keys a section looks up by scanning them (`Section::index`).
const SCAN_UP_TO: usize = 8;

/// A section header or a key written a second time: RawConfigParser merged
/// them silently (last wins), which hides which value is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    pub section: String,
    /// None for a repeated section header.
    pub key: Option<String>,
    /// 1-based line of the earlier occurrence.
    pub first: usize,
    /// 1-based line of this occurrence.
    pub line: usize,
}

impl Duplicate {
    /// What a config problem says of it, pointing at the first one.
    pub(crate) fn message(&self, file: &std::path::Path) -> String {
        let what = if self.key.is_some() {
            "keyword"
        } else {
            "section"
        };
        format!(
            "duplicate {what}, first at {}:{}",
            file.display(),
            self.first
        )
    }
}

/// A line the parser could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Where one key line sits in the raw text, for rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySpan {
    pub section: String,
    pub key: String,
    /// 1-based first and last line (continuation lines included).
    pub first: usize,
    pub last: usize,
    /// Last line that belongs to the key: `last`, or a later indented
    /// comment line. Such a line parses only after a key, so it goes with
    /// its key when the key is removed.
    pub tail: usize,
}

/// A value found by a lookup, with where it physically comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    /// `DEFAULT` when inherited.
    pub section: &'a str,
    /// The key as written, scope suffix included.
    pub key: &'a str,
    pub value: &'a str,
    pub line: usize,
}

/// The local node's place in the service, for `kw@…` resolution
/// (docs/behaviour.md, "Keyword scoping").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    /// Lower-cased.
    pub nodename: &'a str,
    pub in_nodes: bool,
    pub in_drpnodes: bool,
    pub in_encapnodes: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Ini {
    #[cfg(test)]
    raw: Vec<String>,
    ends_with_newline: bool,
    default: Option<Section>,
    sections: Vec<Section>,
    /// Section name → position in `sections`.
    by_name: HashMap<String, usize>,
    spans: Vec<KeySpan>,
    headers: Vec<(String, usize)>,
    errors: Vec<ParseError>,
    duplicates: Vec<Duplicate>,
}

/// The UTF-8 byte order mark some editors write first; it is not part of
/// the first line's text.
pub(crate) const BOM: char = '\u{feff}';

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Default,
    Section(usize),
}

impl Ini {
    /// Never fails: unparsable lines are collected in `errors()` and
    /// skipped, so that every problem of a file is reported at once.
    pub(crate) fn parse(text: &str) -> Ini {
        let mut ini = Ini {
            ends_with_newline: text.ends_with('\n'),
            ..Ini::default()
        };
        // Borrowed from `text`: the daemon's monitor loads every config it
        // probes, a hundred a second on a node of 1000 services, and a
        // copy of each line was most of the parse.
        let mut lines: Vec<&str> = text.split('\n').collect();
        if ini.ends_with_newline || text.is_empty() {
            lines.pop();
        }
        #[cfg(test)]
        {
            ini.raw = lines.iter().map(|l| l.to_string()).collect();
        }
        for line in &mut lines {
            *line = line.trim_end_matches('\r');
        }
        if let Some(first) = lines.first_mut()
            && let Some(rest) = first.strip_prefix(BOM)
        {
            *first = rest;
        }
        let mut cur: Option<Target> = None;
        // The last key line's span: continuation lines extend it.
        let mut cur_key: Option<usize> = None;
        for (idx, &line) in lines.iter().enumerate() {
            let lineno = idx + 1;
            if is_blank_or_comment(line) {
                continue;
            }
            let starts_with_space = line.starts_with(|c: char| c.is_whitespace());
            if starts_with_space
                && cur.is_some()
                && let Some(span) = cur_key
            {
                let value = strip_inline_comment(line).trim();
                if !value.is_empty() {
                    let key = ini.spans[span].key.clone();
                    ini.append_value(cur, &key, value);
                    ini.spans[span].last = lineno;
                }
                ini.spans[span].tail = lineno;
                continue;
            }
            if let Some(name) = header(line) {
                cur = Some(ini.open_section(name, lineno));
                cur_key = None;
                continue;
            }
            match key_value(line) {
                Some((key, value)) => match cur {
                    Some(target) => {
                        cur_key = Some(ini.set_value(target, &key, value, lineno));
                    }
                    None => ini.error(
                        lineno,
                        format!("'{}' is outside of any [section]", line.trim()),
                    ),
                },
                None => ini.error(
                    lineno,
                    format!(
                        "cannot parse '{}': expected [section], key = value, or a comment",
                        line.trim()
                    ),
                ),
            }
        }
        ini
    }

    pub(crate) fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    /// Repeated section headers and keys, in file order.
    pub(crate) fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// Sections other than DEFAULT, in file order.
    pub(crate) fn sections(&self) -> &[Section] {
        &self.sections
    }

    #[cfg(test)]
    pub(crate) fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    pub(crate) fn default_section(&self) -> Option<&Section> {
        self.default.as_ref()
    }

    /// Any section, DEFAULT included.
    pub(crate) fn section(&self, name: &str) -> Option<&Section> {
        if name == DEFAULT {
            return self.default.as_ref();
        }
        self.by_name.get(name).map(|&i| &self.sections[i])
    }

    pub(crate) fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// `section.key`, else `DEFAULT.key`, like RawConfigParser. A missing
    /// section still sees DEFAULT: implicit resources (`app`, `sync#i0`)
    /// must be disabled by `[DEFAULT] disable = true` like the others.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<Found<'_>> {
        let own = self
            .section(section)
            .and_then(|s| s.entry(key).map(|e| found(&s.name, e)));
        own.or_else(|| {
            self.default
                .as_ref()
                .and_then(|d| d.entry(key).map(|e| found(DEFAULT, e)))
        })
    }

    /// Resolves `kw` for the local node: `kw@<node>`, `kw@nodes`,
    /// `kw@drpnodes`, `kw@encapnodes`, then `kw` (docs/behaviour.md, "Keyword
    /// scoping"), each step
    /// with DEFAULT inheritance.
    pub(crate) fn get_scoped(&self, section: &str, kw: &str, scope: &Scope) -> Option<Found<'_>> {
        let has_scoped = |s: Option<&Section>| s.is_some_and(|s| s.scoped);
        if !has_scoped(self.section(section)) && !has_scoped(self.default.as_ref()) {
            return self.get(section, kw);
        }
        let candidates = [
            (format!("{kw}@{}", scope.nodename), true),
            (format!("{kw}@nodes"), scope.in_nodes),
            (format!("{kw}@drpnodes"), scope.in_drpnodes),
            (format!("{kw}@encapnodes"), scope.in_encapnodes),
        ];
        candidates
            .iter()
            .filter(|(_, applies)| *applies)
            .find_map(|(key, _)| self.get(section, key))
            .or_else(|| self.get(section, kw))
    }

    /// Raw lines, without line terminators (a `\r` of CRLF files is kept).
    #[cfg(test)]
    pub(crate) fn raw_lines(&self) -> &[String] {
        &self.raw
    }

    #[cfg(test)]
    pub(crate) fn ends_with_newline(&self) -> bool {
        self.ends_with_newline
    }

    /// Every key line in file order, duplicates included.
    pub(crate) fn key_spans(&self) -> &[KeySpan] {
        &self.spans
    }

    /// Every section header in file order: (section name, line).
    pub(crate) fn headers(&self) -> &[(String, usize)] {
        &self.headers
    }

    fn error(&mut self, line: usize, message: String) {
        self.errors.push(ParseError { line, message });
    }

    fn open_section(&mut self, name: &str, line: usize) -> Target {
        let name = if name.eq_ignore_ascii_case(DEFAULT) {
            DEFAULT
        } else {
            name
        };
        self.headers.push((name.to_string(), line));
        let target = if name == DEFAULT {
            Target::Default
        } else if let Some(&i) = self.by_name.get(name) {
            Target::Section(i)
        } else {
            self.by_name.insert(name.to_string(), self.sections.len());
            self.sections.push(Section::new(name, line));
            return Target::Section(self.sections.len() - 1);
        };
        match self.target_mut(target).map(|s| s.line) {
            Some(first) => self.duplicates.push(Duplicate {
                section: name.to_string(),
                key: None,
                first,
                line,
            }),
            None => self.default = Some(Section::new(DEFAULT, line)),
        }
        target
    }

    fn target_mut(&mut self, target: Target) -> Option<&mut Section> {
        match target {
            Target::Default => self.default.as_mut(),
            Target::Section(i) => self.sections.get_mut(i),
        }
    }

    /// Returns the index of the new key span.
    fn set_value(&mut self, target: Target, key: &str, value: &str, line: usize) -> usize {
        let mut section_name = String::new();
        let mut earlier = None;
        if let Some(section) = self.target_mut(target) {
            section_name = section.name.clone();
            let entry = Entry {
                key: key.to_string(),
                value: value.to_string(),
                line,
            };
            if let Some(existing) = section.entry_mut(key) {
                earlier = Some(existing.line);
                *existing = entry;
            } else {
                section.push(entry);
            }
        }
        if let Some(first) = earlier {
            self.duplicates.push(Duplicate {
                section: section_name.clone(),
                key: Some(key.to_string()),
                first,
                line,
            });
        }
        self.spans.push(KeySpan {
            section: section_name,
            key: key.to_string(),
            first: line,
            last: line,
            tail: line,
        });
        self.spans.len() - 1
    }

    fn append_value(&mut self, target: Option<Target>, key: &str, more: &str) {
        let Some(section) = target.and_then(|t| self.target_mut(t)) else {
            return;
        };
        if let Some(entry) = section.entry_mut(key) {
            entry.value.push('\n');
            entry.value.push_str(more);
        }
    }
}

fn found<'a>(section: &'a str, e: &'a Entry) -> Found<'a> {
    Found {
        section,
        key: &e.key,
        value: &e.value,
        line: e.line,
    }
}

/// Blank lines, `#`/`;` comments, and lines whose first word is `rem`
/// (a DOS-ism RawConfigParser still honours).
fn is_blank_or_comment(line: &str) -> bool {
    if line.trim().is_empty() || line.starts_with('#') || line.starts_with(';') {
        return true;
    }
    line.starts_with(['r', 'R'])
        && line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("rem"))
}

/// `[name]` at the start of the line; anything after `]` is ignored.
fn header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

/// `key = value` or `key: value`, split at the first `=` or `:`.
fn key_value(line: &str) -> Option<(Cow<'_, str>, &str)> {
    if line.starts_with(|c: char| c.is_whitespace() || c == '=' || c == ':') {
        return None;
    }
    let sep = line.find(['=', ':'])?;
    let key = line[..sep].trim_end();
    // Keys are nearly always written in ASCII lower case already: no copy.
    let key = if key.is_ascii() && !key.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(key.to_lowercase())
    };
    let value = strip_inline_comment(&line[sep + 1..]).trim();
    // RawConfigParser reads `""` as the empty string.
    let value = if value == "\"\"" { "" } else { value };
    Some((key, value))
}

/// Cuts the value at the first `#` or `;` preceded by whitespace. 1.5 only
/// did this for `;`; the tutorial's annotated file needs `#` too.
pub(crate) fn strip_inline_comment(text: &str) -> &str {
    let mut prev_space = false;
    for (i, c) in text.char_indices() {
        if prev_space && (c == '#' || c == ';') {
            return &text[..i];
        }
        prev_space = c.is_whitespace();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(ini: &'a Ini, s: &str, k: &str) -> Option<&'a str> {
        ini.get(s, k).map(|f| f.value)
    }

    #[test]
    fn key_value_forms_and_lowercase_keys() {
        let ini = Ini::parse("[s]\nA = 1\nb: 2\nc=x=y\nd :e:f\nempty =\nq = \"\"\n");
        assert!(ini.errors().is_empty());
        assert_eq!(value(&ini, "s", "a"), Some("1"));
        assert_eq!(value(&ini, "s", "b"), Some("2"));
        assert_eq!(value(&ini, "s", "c"), Some("x=y"));
        assert_eq!(value(&ini, "s", "d"), Some("e:f"));
        assert_eq!(value(&ini, "s", "empty"), Some(""));
        assert_eq!(value(&ini, "s", "q"), Some(""));
        assert_eq!(ini.get("s", "a").map(|f| f.line), Some(2));
        assert_eq!(ini.get("s", "d").map(|f| f.line), Some(5));
    }

    #[test]
    fn header_text_after_bracket_is_ignored_and_lines_are_kept() {
        let ini = Ini::parse("# top\n\n[ip#0]   # a comment\nipname = x\n");
        assert_eq!(ini.section_names(), vec!["ip#0"]);
        assert_eq!(ini.section("ip#0").map(|s| s.line), Some(3));
        assert_eq!(ini.headers(), &[("ip#0".to_string(), 3)]);
    }

    #[test]
    fn comments_whole_line_and_rem() {
        let ini = Ini::parse("[s]\n# c\n; c\nrem c = 1\nREM x\nremote = 1\n");
        assert!(ini.errors().is_empty(), "{:?}", ini.errors());
        let keys: Vec<_> = ini.sections()[0].entries.iter().map(|e| &e.key).collect();
        assert_eq!(keys, vec!["remote"]);
    }

    #[test]
    fn inline_comments_are_stripped_only_after_whitespace() {
        let ini = Ini::parse(
            "[s]\na = x y  # comment\nb = x;y ; c\nc = a#b\nd = # all comment\ne = v\t; tab\n",
        );
        assert_eq!(value(&ini, "s", "a"), Some("x y"));
        assert_eq!(value(&ini, "s", "b"), Some("x;y"));
        assert_eq!(value(&ini, "s", "c"), Some("a#b"));
        assert_eq!(value(&ini, "s", "d"), Some(""));
        assert_eq!(value(&ini, "s", "e"), Some("v"));
    }

    #[test]
    fn continuation_lines_join_with_newline() {
        let text = "[s]\na = one\n  two\n\n\tthree # c\n    # only a comment\nb = 2\n";
        let ini = Ini::parse(text);
        assert!(ini.errors().is_empty());
        assert_eq!(value(&ini, "s", "a"), Some("one\ntwo\nthree"));
        assert_eq!(value(&ini, "s", "b"), Some("2"));
        let a = &ini.key_spans()[0];
        assert_eq!((a.first, a.last), (2, 5));
    }

    #[test]
    fn duplicates_merge_and_last_value_wins() {
        let ini = Ini::parse("[a]\nk = 1\n[b]\nx = 0\n[a]\nk = 2\nj = 3\n");
        assert_eq!(ini.section_names(), vec!["a", "b"]);
        let a = ini.section("a").unwrap();
        assert_eq!(a.line, 1);
        assert_eq!(a.entry("k").map(|e| (&*e.value, e.line)), Some(("2", 6)));
        assert_eq!(value(&ini, "a", "j"), Some("3"));
        assert_eq!(ini.key_spans().len(), 4);
        let dup = |key: Option<&str>, first, line| Duplicate {
            section: "a".into(),
            key: key.map(str::to_string),
            first,
            line,
        };
        assert_eq!(ini.duplicates(), &[dup(None, 1, 5), dup(Some("k"), 2, 6)]);
    }

    #[test]
    fn repeated_default_headers_and_keys_are_duplicates_in_any_case() {
        let ini = Ini::parse("[default]\nK = 1\n[DEFAULT]\nk = 2\n");
        let got: Vec<_> = ini
            .duplicates()
            .iter()
            .map(|d| (d.section.as_str(), d.key.as_deref(), d.first, d.line))
            .collect();
        assert_eq!(
            got,
            vec![("DEFAULT", None, 1, 3), ("DEFAULT", Some("k"), 2, 4)]
        );
        assert!(
            Ini::parse("[a]\nk = 1\nk@n1 = 2\n[b]\nk = 3\n")
                .duplicates()
                .is_empty()
        );
    }

    #[test]
    fn a_utf8_bom_is_not_part_of_the_first_line() {
        let ini = Ini::parse("\u{feff}[DEFAULT]\nk = v\n");
        assert!(ini.errors().is_empty(), "{:?}", ini.errors());
        assert_eq!(value(&ini, "s", "k"), Some("v"));
        assert_eq!(ini.raw_lines()[0], "\u{feff}[DEFAULT]");
        let ini = Ini::parse("\u{feff}# c\n[s]\nk = v\n");
        assert!(ini.errors().is_empty(), "{:?}", ini.errors());
        assert_eq!(ini.section("s").map(|s| s.line), Some(2));
    }

    #[test]
    fn indented_comments_after_a_key_belong_to_its_tail() {
        let ini = Ini::parse("[s]\na = 1\n  two\n\n  # note\n# col 0\n  # after col 0\nb = 2\n");
        assert!(ini.errors().is_empty(), "{:?}", ini.errors());
        let a = &ini.key_spans()[0];
        assert_eq!((a.first, a.last, a.tail), (2, 3, 7));
        let b = &ini.key_spans()[1];
        assert_eq!((b.first, b.last, b.tail), (8, 8, 8));
    }

    #[test]
    fn lowercase_default_header_is_default_and_inherited() {
        let ini = Ini::parse("[default]\nnodes = n1\n[s]\nk = v\n[DEFAULT]\nz = 1\n");
        assert!(ini.sections().iter().all(|s| s.name != DEFAULT));
        assert_eq!(ini.section_names(), vec!["s"]);
        let f = ini.get("s", "nodes").unwrap();
        assert_eq!((f.section, f.value, f.line), (DEFAULT, "n1", 2));
        assert_eq!(value(&ini, "s", "z"), Some("1"));
        assert_eq!(value(&ini, "missing", "z"), Some("1"));
        assert_eq!(value(&ini, DEFAULT, "k"), None);
    }

    #[test]
    fn own_key_shadows_default() {
        let ini = Ini::parse("[DEFAULT]\nk = d\n[s]\nk = own\n");
        let f = ini.get("s", "k").unwrap();
        assert_eq!((f.section, f.value), ("s", "own"));
    }

    #[test]
    fn bad_lines_are_errors_with_their_line_and_parsing_goes_on() {
        let ini = Ini::parse("k = v\n[s]\nno separator\n  [x]\n= v\n[t\nok = 1\n");
        let lines: Vec<_> = ini.errors().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 6]);
        assert_eq!(
            ini.errors()[0].message,
            "'k = v' is outside of any [section]"
        );
        assert_eq!(
            ini.errors()[1].message,
            "cannot parse 'no separator': expected [section], key = value, or a comment"
        );
        assert_eq!(value(&ini, "s", "ok"), Some("1"));
    }

    #[test]
    fn indented_line_right_after_a_header_is_an_error() {
        let ini = Ini::parse("[s]\n  k = v\n");
        assert_eq!(ini.errors().len(), 1);
        assert_eq!(ini.errors()[0].line, 2);
    }

    #[test]
    fn empty_text_has_no_lines() {
        let ini = Ini::parse("");
        assert!(ini.raw_lines().is_empty());
        assert!(ini.sections().is_empty() && ini.errors().is_empty());
        assert_eq!(Ini::parse("[s]").raw_lines(), &["[s]".to_string()]);
        assert!(!Ini::parse("[s]").ends_with_newline());
    }

    #[test]
    fn crlf_lines_parse_and_raw_lines_round_trip() {
        let text = "[s]\r\nk = v\r\n";
        let ini = Ini::parse(text);
        assert_eq!(value(&ini, "s", "k"), Some("v"));
        assert_eq!(ini.raw_lines().len(), 2);
        assert!(ini.ends_with_newline());
    }

    fn scope(in_nodes: bool, in_drpnodes: bool, in_encapnodes: bool) -> Scope<'static> {
        Scope {
            nodename: "n1",
            in_nodes,
            in_drpnodes,
            in_encapnodes,
        }
    }

    #[test]
    fn scoping_order_node_then_nodes_drpnodes_encapnodes_then_plain() {
        let text = "[s]\nk = plain\nk@encapnodes = encap\nk@drpnodes = drp\nk@nodes = nodes\nk@n1 = mine\nk@n2 = other\n";
        let ini = Ini::parse(text);
        let get = |sc: Scope| ini.get_scoped("s", "k", &sc).map(|f| f.value);
        assert_eq!(get(scope(true, true, true)), Some("mine"));
        let ini2 = Ini::parse(&text.replace("k@n1 = mine\n", ""));
        let get2 = |sc: Scope| ini2.get_scoped("s", "k", &sc).map(|f| f.value);
        assert_eq!(get2(scope(true, true, true)), Some("nodes"));
        assert_eq!(get2(scope(false, true, true)), Some("drp"));
        assert_eq!(get2(scope(false, false, true)), Some("encap"));
        assert_eq!(get2(scope(false, false, false)), Some("plain"));
    }

    #[test]
    fn scoped_default_key_beats_plain_section_key() {
        let ini = Ini::parse("[DEFAULT]\nk@n1 = from-default\n[s]\nk = plain\n");
        let f = ini
            .get_scoped("s", "k", &scope(true, false, false))
            .unwrap();
        assert_eq!(
            (f.section, f.key, f.value),
            (DEFAULT, "k@n1", "from-default")
        );
    }

    #[test]
    fn scoped_lookup_reports_missing() {
        let ini = Ini::parse("[s]\nother = 1\n");
        assert_eq!(ini.get_scoped("s", "k", &scope(true, true, true)), None);
    }
}
