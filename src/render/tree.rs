//! The `print status` tree (docs/behaviour.md, "Status tree"): fixed columns,
//! `....` flags, and the resource comments wrapped as one paragraph to 78
//! columns.
//!
//! The reference pads its header and row lines with trailing spaces; the
//! tutorial shows them stripped, and so do we.

use crate::status::{ResourceStatus, ServiceStatus, Status};

const WIDTH: usize = 78;
/// Comments start in the label column.
const COMMENT_PAD: usize = 29;

/// ANSI colours for status words, when the caller asked for them.
fn paint(s: Status, color: bool) -> String {
    let text = format!("{:<8}", s.as_str());
    if !color {
        return text;
    }
    let code = match s.as_str() {
        "up" => "32",
        "down" => "31",
        "warn" => "33",
        "stdby up" | "stdby down" => "36",
        _ => return text,
    };
    let word = s.as_str();
    format!("\x1b[{code}m{word}\x1b[0m{}", " ".repeat(8 - word.len()))
}

fn header(out: &mut String, name: &str, s: Status, color: bool) {
    push_line(out, &format!("{name:<20} {:4} {}", "", paint(s, color)));
}

fn row(out: &mut String, prefix: &str, sub: &str, r: &ResourceStatus, color: bool) {
    let flags: String = [
        (r.monitor, 'M'),
        (r.disable, 'D'),
        (r.optional, 'O'),
        (r.encap, 'E'),
    ]
    .iter()
    .map(|&(on, c)| if on { c } else { '.' })
    .collect();
    push_line(
        out,
        &format!(
            "{prefix}{:<14} {flags} {} {}",
            r.rid,
            paint(r.status, color),
            r.label
        ),
    );
    if !r.log.is_empty() {
        let text: Vec<String> = r.log.iter().map(|l| format!("# {l}")).collect();
        let indent = format!("{sub}{}", " ".repeat(COMMENT_PAD));
        for l in wrap(&text.join(" "), &indent, WIDTH) {
            push_line(out, &l);
        }
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Greedy word wrap like Python's textwrap: whitespace runs fold to one
/// space, every line starts with `indent`, words longer than a line are cut.
pub(crate) fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(indent.chars().count()).max(1);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let cur_len = cur.chars().count();
            let need = if cur.is_empty() {
                word.len()
            } else {
                cur_len + 1 + word.len()
            };
            if need <= room {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than a whole line: cut it.
            let rest = word.split_off(room);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.into_iter().map(|l| format!("{indent}{l}")).collect()
}

/// The tree without the first line (the service name), which the caller
/// prints before computing the status, as 1.5 did.
pub(crate) fn body(st: &ServiceStatus, color: bool) -> String {
    let mut out = String::new();
    header(&mut out, "overall", st.overall, color);
    header(&mut out, "|- avail", st.avail, color);
    let avail: Vec<&ResourceStatus> = st
        .resources
        .iter()
        .filter(|r| !matches!(r.group, "sync" | "hb"))
        .collect();
    children(
        &mut out, &avail, "|  |- ", "|  '- ", "|  |  ", "|     ", color,
    );
    header(&mut out, "|- sync", st.group("sync"), color);
    let sync: Vec<&ResourceStatus> = st.resources.iter().filter(|r| r.group == "sync").collect();
    children(
        &mut out, &sync, "|  |- ", "|  '- ", "|  |  ", "|     ", color,
    );
    header(&mut out, "'- hb", st.group("hb"), color);
    let hb: Vec<&ResourceStatus> = st.resources.iter().filter(|r| r.group == "hb").collect();
    children(&mut out, &hb, "   |- ", "   '- ", "   |  ", "      ", color);
    out
}

fn children(
    out: &mut String,
    rs: &[&ResourceStatus],
    mid: &str,
    last: &str,
    mid_sub: &str,
    last_sub: &str,
    color: bool,
) {
    for (i, r) in rs.iter().enumerate() {
        if i + 1 == rs.len() {
            row(out, last, last_sub, r, color);
        } else {
            row(out, mid, mid_sub, r, color);
        }
    }
}

/// The whole tree, name line included.
#[cfg(test)]
pub(crate) fn render(st: &ServiceStatus, color: bool) -> String {
    format!("{}\n{}", st.name, body(st, color))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Status::*, aggregate};

    fn res(
        rid: &str,
        group: &'static str,
        status: Status,
        label: &str,
        log: &[&str],
    ) -> ResourceStatus {
        ResourceStatus {
            rid: rid.into(),
            group,
            type_name: "x",
            label: label.into(),
            status,
            log: log.iter().map(|s| s.to_string()).collect(),
            monitor: false,
            disable: false,
            optional: false,
            encap: false,
        }
    }

    #[test]
    fn tutorial_first_status_tree() {
        let st = aggregate(
            "p26.opensvc.com",
            vec![
                res("vg#0", "disk", Up, "vgsvc1", &[]),
                res(
                    "fs#0",
                    "fs",
                    Down,
                    "/dev/mapper/vgsvc1-lvappsvc1@/svc1/app",
                    &[],
                ),
                res(
                    "fs#1",
                    "fs",
                    Down,
                    "/dev/mapper/vgsvc1-lvdatasvc1@/svc1/data",
                    &[],
                ),
                res("ip#0", "ip", Down, "p26.opensvc.com@eth0", &[]),
                res("app", "app", NotApplicable, "app", &[]),
                res(
                    "sync#i0",
                    "sync",
                    Warn,
                    "rsync svc config to drpnodes, nodes",
                    &["passive node needs update"],
                ),
            ],
            false,
        );
        let want = "\
p26.opensvc.com
overall                   warn
|- avail                  warn
|  |- vg#0           .... up       vgsvc1
|  |- fs#0           .... down     /dev/mapper/vgsvc1-lvappsvc1@/svc1/app
|  |- fs#1           .... down     /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data
|  |- ip#0           .... down     p26.opensvc.com@eth0
|  '- app            .... n/a      app
|- sync                   warn
|  '- sync#i0        .... warn     rsync svc config to drpnodes, nodes
|                                  # passive node needs update
'- hb                     n/a
";
        assert_eq!(render(&st, false), want);
    }

    #[test]
    fn hb_children_and_comments_use_the_hb_prefixes() {
        let st = aggregate(
            "p26.opensvc.com",
            vec![res(
                "hb#0",
                "hb",
                Warn,
                "hb.openha",
                &["open-ha daemons are not running"],
            )],
            false,
        );
        let text = render(&st, false);
        assert!(text.ends_with(
            "'- hb                     warn\n   '- hb#0           .... warn     hb.openha\n                                   # open-ha daemons are not running\n"
        ), "{text}");
    }

    #[test]
    fn two_messages_share_a_wrapped_paragraph() {
        let lines = wrap("# a # b", "|     ", 78);
        assert_eq!(lines, vec!["|     # a # b"]);
        let long = "# ".to_string() + &"word ".repeat(20);
        let lines = wrap(&long, &" ".repeat(35), 78);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 78), "{lines:?}");
    }

    #[test]
    fn colour_keeps_the_columns() {
        let plain = paint(Up, false);
        let painted = paint(Up, true);
        assert_eq!(plain, "up      ");
        assert_eq!(painted, "\x1b[32mup\x1b[0m      ");
    }
}
