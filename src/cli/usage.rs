//! What svcmgr and nodemgr print when they are asked for help or given a
//! word they do not know: the actions grouped by theme, one line each, and
//! the nearest action names (docs/behaviour.md, "Command line").

/// One action as the usage shows it.
pub(super) struct Line {
    /// Its words, space separated (`print status`).
    pub words: String,
    pub group: &'static str,
    pub about: &'static str,
}

/// `help ACTION` is `ACTION --help`: the action's words, and whether help
/// was asked for.
pub(super) fn help_request(words: &[String], help_flag: bool) -> (Vec<String>, bool) {
    match words.split_first() {
        Some((first, rest)) if first == "help" => (rest.to_vec(), true),
        _ => (words.to_vec(), help_flag),
    }
}

/// Action names are typed with spaces and stored with `_`.
pub(super) fn spaced(name: &str) -> String {
    name.replace('_', " ")
}

/// The actions under their group titles, in the order of `groups`, one
/// line each with its description aligned; groups without actions are left
/// out.
pub(super) fn grouped(lines: &[Line], groups: &[&str]) -> String {
    let width = lines.iter().map(|l| l.words.len()).max().unwrap_or(0);
    let mut out = String::new();
    for g in groups {
        let mine: Vec<&Line> = lines.iter().filter(|l| l.group == *g).collect();
        if mine.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{g}:\n"));
        for l in mine {
            out.push_str(&format!("  {:<width$}  {}\n", l.words, l.about));
        }
    }
    out
}

/// Optimal string alignment distance: Levenshtein plus the swap of two
/// neighbours, the commonest typo (`strat`, `stauts`) counting as one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The known names nearest to `typed` (words joined by `_`): those within
/// a third of its length, else those its first word starts.
pub(super) fn suggestions<'a>(typed: &str, names: &[&'a str]) -> Vec<&'a str> {
    let limit = (typed.chars().count() / 3).clamp(1, 3);
    let scored: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (distance(typed, n), *n))
        .filter(|(d, _)| *d <= limit)
        .collect();
    if let Some(best) = scored.iter().map(|(d, _)| *d).min() {
        return scored
            .into_iter()
            .filter(|(d, _)| *d == best)
            .map(|(_, n)| n)
            .collect();
    }
    let first = typed.split('_').next().unwrap_or(typed);
    if first.is_empty() {
        return Vec::new();
    }
    names
        .iter()
        .copied()
        .filter(|n| n.starts_with(first))
        .collect()
}

/// `unsupported action 'strat'; did you mean 'start'?`
pub(super) fn unsupported(words: &[String], names: &[&str]) -> String {
    let typed = words.join("_");
    let mut msg = format!("unsupported action '{}'", words.join(" "));
    let near: Vec<String> = suggestions(&typed, names)
        .iter()
        .map(|n| format!("'{}'", spaced(n)))
        .collect();
    match near.as_slice() {
        [] => {}
        [one] => msg.push_str(&format!("; did you mean {one}?")),
        [init @ .., last] => {
            msg.push_str(&format!("; did you mean {} or {last}?", init.join(", ")));
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &[
        "start",
        "startip",
        "stop",
        "status",
        "print_status",
        "print_config",
        "syncall",
    ];

    #[test]
    fn typos_find_their_action() {
        assert_eq!(suggestions("strat", NAMES), ["start"]);
        assert_eq!(suggestions("stauts", NAMES), ["status"]);
        assert_eq!(suggestions("prnt_status", NAMES), ["print_status"]);
        assert_eq!(suggestions("printstatus", NAMES), ["print_status"]);
        assert_eq!(
            suggestions("print", NAMES),
            ["print_status", "print_config"]
        );
        assert!(suggestions("foo", NAMES).is_empty());
    }

    #[test]
    fn the_message_repeats_the_words_typed() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            unsupported(&w("prnt status"), NAMES),
            "unsupported action 'prnt status'; did you mean 'print status'?"
        );
        assert_eq!(
            unsupported(&w("print"), NAMES),
            "unsupported action 'print'; did you mean 'print status' or 'print config'?"
        );
        assert_eq!(unsupported(&w("foo"), NAMES), "unsupported action 'foo'");
    }

    #[test]
    fn groups_keep_their_order_and_align() {
        let l = |words: &str, group, about| Line {
            words: words.into(),
            group,
            about,
        };
        let lines = [l("stop", "B", "stops"), l("print status", "A", "prints")];
        assert_eq!(
            grouped(&lines, &["A", "B", "C"]),
            "A:\n  print status  prints\n\nB:\n  stop          stops\n"
        );
    }
}
