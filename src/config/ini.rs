//! INI documents with Python 2 `RawConfigParser` semantics (spec §2.1), plus
//! what that parser never gave: the 1-based line of every header and key, and
//! the raw lines, so that `edit` can rewrite a file without losing comments.
//!
//! rust-ini cannot report line numbers, and every config problem must name
//! its line (design.md), hence this small parser.

/// The section every other section inherits from.
pub const DEFAULT: &str = "DEFAULT";

/// One effective `key = value` of a section (the last one when repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased key, scope suffix included (`ipname@sles1`).
    pub key: String,
    /// Trimmed value; continuation lines joined with `\n`.
    pub value: String,
    /// 1-based line of the `key = value` line.
    pub line: usize,
}

/// A section after merging every header of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// 1-based line of the first header with this name.
    pub line: usize,
    /// Keys in order of first appearance, last value wins.
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// A line the parser could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Where one key line sits in the raw text, for rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpan {
    pub section: String,
    pub key: String,
    /// 1-based first and last line (continuation lines included).
    pub first: usize,
    pub last: usize,
}

/// A value found by a lookup, with where it physically comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// `DEFAULT` when inherited.
    pub section: &'a str,
    /// The key as written, scope suffix included.
    pub key: &'a str,
    pub value: &'a str,
    pub line: usize,
}

/// The local node's place in the service, for `kw@…` resolution (spec §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Lower-cased.
    pub nodename: &'a str,
    pub in_nodes: bool,
    pub in_drpnodes: bool,
    pub in_encapnodes: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Ini {
    raw: Vec<String>,
    ends_with_newline: bool,
    default: Option<Section>,
    sections: Vec<Section>,
    spans: Vec<KeySpan>,
    headers: Vec<(String, usize)>,
    errors: Vec<ParseError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Default,
    Section(usize),
}

impl Ini {
    /// Never fails: unparsable lines are collected in `errors()` and
    /// skipped, so that every problem of a file is reported at once.
    pub fn parse(text: &str) -> Ini {
        let mut ini = Ini {
            raw: text.split('\n').map(str::to_string).collect(),
            ends_with_newline: text.ends_with('\n'),
            ..Ini::default()
        };
        if ini.ends_with_newline || text.is_empty() {
            ini.raw.pop();
        }
        let lines: Vec<String> = ini
            .raw
            .iter()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        let mut cur: Option<Target> = None;
        let mut cur_key: Option<(String, usize)> = None;
        for (idx, line) in lines.iter().enumerate() {
            let lineno = idx + 1;
            if is_blank_or_comment(line) {
                continue;
            }
            let starts_with_space = line.starts_with(|c: char| c.is_whitespace());
            if starts_with_space
                && cur.is_some()
                && let Some((key, span)) = &cur_key
            {
                let value = strip_inline_comment(line).trim().to_string();
                if !value.is_empty() {
                    ini.append_value(cur, key, &value);
                    ini.spans[*span].last = lineno;
                }
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
                        let span = ini.set_value(target, &key, &value, lineno);
                        cur_key = Some((key, span));
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

    pub fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    /// Sections other than DEFAULT, in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn default_section(&self) -> Option<&Section> {
        self.default.as_ref()
    }

    /// Any section, DEFAULT included.
    pub fn section(&self, name: &str) -> Option<&Section> {
        if name == DEFAULT {
            return self.default.as_ref();
        }
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// `section.key`, else `DEFAULT.key`, like RawConfigParser. A missing
    /// section still sees DEFAULT: implicit resources (`app`, `sync#i0`)
    /// must be disabled by `[DEFAULT] disable = true` like the others.
    pub fn get(&self, section: &str, key: &str) -> Option<Found<'_>> {
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
    /// `kw@drpnodes`, `kw@encapnodes`, then `kw` (spec §2.2), each step
    /// with DEFAULT inheritance.
    pub fn get_scoped(&self, section: &str, kw: &str, scope: &Scope) -> Option<Found<'_>> {
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
    pub fn raw_lines(&self) -> &[String] {
        &self.raw
    }

    pub fn ends_with_newline(&self) -> bool {
        self.ends_with_newline
    }

    /// Every key line in file order, duplicates included.
    pub fn key_spans(&self) -> &[KeySpan] {
        &self.spans
    }

    /// Every section header in file order: (section name, line).
    pub fn headers(&self) -> &[(String, usize)] {
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
        if name == DEFAULT {
            self.default.get_or_insert_with(|| Section {
                name: DEFAULT.to_string(),
                line,
                entries: Vec::new(),
            });
            return Target::Default;
        }
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            return Target::Section(i);
        }
        self.sections.push(Section {
            name: name.to_string(),
            line,
            entries: Vec::new(),
        });
        Target::Section(self.sections.len() - 1)
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
        if let Some(section) = self.target_mut(target) {
            section_name = section.name.clone();
            let entry = Entry {
                key: key.to_string(),
                value: value.to_string(),
                line,
            };
            match section.entries.iter_mut().find(|e| e.key == key) {
                Some(existing) => *existing = entry,
                None => section.entries.push(entry),
            }
        }
        self.spans.push(KeySpan {
            section: section_name,
            key: key.to_string(),
            first: line,
            last: line,
        });
        self.spans.len() - 1
    }

    fn append_value(&mut self, target: Option<Target>, key: &str, more: &str) {
        let Some(section) = target.and_then(|t| self.target_mut(t)) else {
            return;
        };
        if let Some(entry) = section.entries.iter_mut().find(|e| e.key == key) {
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
fn key_value(line: &str) -> Option<(String, String)> {
    if line.starts_with(|c: char| c.is_whitespace() || c == '=' || c == ':') {
        return None;
    }
    let sep = line.find(['=', ':'])?;
    let key = line[..sep].trim_end().to_lowercase();
    let value = strip_inline_comment(&line[sep + 1..]).trim();
    // RawConfigParser reads `""` as the empty string.
    let value = if value == "\"\"" { "" } else { value };
    Some((key, value.to_string()))
}

/// Cuts the value at the first `#` or `;` preceded by whitespace. 1.5 only
/// did this for `;`; the tutorial's annotated file needs `#` too.
pub fn strip_inline_comment(text: &str) -> &str {
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
