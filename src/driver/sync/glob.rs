//! Shell-style wildcards for user sync sources (`*`, `?`, `[a-z]`,
//! `[!x]`), as Python's glob expanded them in 1.5: a wildcard never
//! matches a leading dot, results are sorted per directory.

use std::path::{Path, PathBuf};

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The existing paths `pattern` names; a pattern without wildcards names
/// itself when it exists (a dangling link too: rsync copies links).
pub(super) fn expand(pattern: &str) -> Vec<String> {
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    if !has_magic(pattern) {
        return if exists(Path::new(pattern)) {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let root = if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    let mut found = vec![root];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if has_magic(part) {
                next.extend(matching_entries(base, part));
            } else {
                next.push(base.join(part));
            }
        }
        found = next;
    }
    // rsync reads a trailing slash as "the content of": keep it.
    let dirs_only = pattern.ends_with('/');
    found
        .into_iter()
        .filter(|p| exists(p) && (!dirs_only || p.is_dir()))
        .map(|p| {
            let s = p.to_string_lossy().into_owned();
            if dirs_only { format!("{s}/") } else { s }
        })
        .collect()
}

fn matching_entries(base: &Path, part: &str) -> Vec<PathBuf> {
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| matches(part, n))
        .collect();
    names.sort();
    names.into_iter().map(|n| base.join(n)).collect()
}

/// fnmatch for one path component.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    wild(&p, &n)
}

fn wild(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| wild(rest, &n[i..])),
        Some(('?', rest)) => !n.is_empty() && wild(rest, &n[1..]),
        Some(('[', rest)) => match (class(rest), n.split_first()) {
            (Some((set, after)), Some((c, n_rest))) => set.has(*c) && wild(after, n_rest),
            (Some(_), None) => false,
            // No closing bracket: a literal '['.
            (None, _) => n.first() == Some(&'[') && wild(rest, &n[1..]),
        },
        Some((c, rest)) => n.first() == Some(c) && wild(rest, &n[1..]),
    }
}

struct Class<'a> {
    items: &'a [char],
    negate: bool,
}

impl Class<'_> {
    fn has(&self, c: char) -> bool {
        let mut i = 0;
        let mut found = false;
        while i < self.items.len() {
            if i + 2 < self.items.len() && self.items[i + 1] == '-' {
                found |= self.items[i] <= c && c <= self.items[i + 2];
                i += 3;
            } else {
                found |= self.items[i] == c;
                i += 1;
            }
        }
        found != self.negate
    }
}

/// A bracket class after its `[`, and the pattern after its `]`; None when
/// it is not closed. A `]` right after `[` or `[!` is a member.
fn class(p: &[char]) -> Option<(Class<'_>, &[char])> {
    let (negate, body) = match p.first() {
        Some('!' | '^') => (true, &p[1..]),
        _ => (false, p),
    };
    let close = body.iter().skip(1).position(|c| *c == ']')? + 1;
    Some((
        Class {
            items: &body[..close],
            negate,
        },
        &body[close + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_matching() {
        assert!(matches("*.log", "a.log"));
        assert!(!matches("*.log", "a.log1"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("[ab]x", "bx"));
        assert!(!matches("[!ab]x", "bx"));
        assert!(matches("[!ab]x", "cx"));
        assert!(matches("f[0-9]", "f7"));
        assert!(!matches("f[0-9]", "fa"));
        assert!(matches("[]]", "]"));
        assert!(matches("a[", "a["));
        assert!(matches("*", "x"));
        assert!(!matches("*", ".hidden"));
        assert!(matches(".*", ".hidden"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b*", "xxbxxaxx"));
    }

    #[test]
    fn expansion_walks_directories_and_sorts() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_string_lossy().into_owned();
        for f in [
            "data/b.db",
            "data/a.db",
            "data/.c.db",
            "data/x.txt",
            "logs/a.db",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        assert_eq!(
            expand(&format!("{root}/data/*.db")),
            vec![format!("{root}/data/a.db"), format!("{root}/data/b.db")]
        );
        assert_eq!(
            expand(&format!("{root}/*/a.db")),
            vec![format!("{root}/data/a.db"), format!("{root}/logs/a.db")]
        );
        assert_eq!(
            expand(&format!("{root}/*/")),
            vec![format!("{root}/data/"), format!("{root}/logs/")]
        );
        assert!(expand(&format!("{root}/data/*.nope")).is_empty());
        assert!(expand(&format!("{root}/nodir/*")).is_empty());
        // No wildcard: the path itself, trailing slash kept, when it exists.
        assert_eq!(
            expand(&format!("{root}/data/")),
            vec![format!("{root}/data/")]
        );
        assert!(expand(&format!("{root}/missing")).is_empty());
        std::os::unix::fs::symlink("/nonexistent", d.path().join("dangling")).unwrap();
        assert_eq!(
            expand(&format!("{root}/dang*")),
            vec![format!("{root}/dangling")]
        );
    }
}
