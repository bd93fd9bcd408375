//! node.conf checked against node_keywords.rs, every problem located as
//! `svcmgr validate config` locates a service file's: `nodemgr validate
//! config` lists them, `nodemgr set` refuses a value with the same
//! message, and the daemon refuses to start on (or reload) a file with any.

use std::net::Ipv4Addr;
use std::path::Path;

use super::Problem;
use super::edit;
use super::ini::{Ini, Section};
use super::node_keywords::{self as nk, HbMedium, SectionKind};

fn problem(
    file: &Path,
    line: Option<usize>,
    section: &str,
    key: Option<&str>,
    msg: String,
) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        section: Some(section.to_string()),
        key: key.map(str::to_string),
        message: msg,
    }
}

/// Every problem of node.conf's text, in file order of the sections.
#[cfg(test)]
pub(crate) fn validate_text(file: &Path, text: &str) -> Vec<Problem> {
    problems(file, &Ini::parse(text))
}

/// Every problem of node.conf once parsed (config/node.rs parses it once
/// for these and for its typed fields).
pub(crate) fn problems(file: &Path, ini: &Ini) -> Vec<Problem> {
    let mut out: Vec<Problem> = ini
        .errors()
        .iter()
        .map(|e| Problem {
            file: file.to_path_buf(),
            line: Some(e.line),
            section: None,
            key: None,
            message: e.message.clone(),
        })
        .collect();
    if let Some(d) = ini.default_section() {
        // RawConfigParser would pass its keys to every section: nothing
        // node.conf means, and a way to set keys nobody sees written.
        let msg = "node.conf has no [DEFAULT] section".to_string();
        out.push(problem(file, Some(d.line), &d.name, None, msg));
    }
    // Last one wins, silently: which value is in force would be hidden.
    for d in ini.duplicates() {
        let msg = d.message(file);
        out.push(problem(
            file,
            Some(d.line),
            &d.section,
            d.key.as_deref(),
            msg,
        ));
    }
    for s in ini.sections() {
        match nk::section_kind(&s.name) {
            Ok(kind) => check_section(file, s, kind, &mut out),
            Err(msg) => out.push(problem(file, Some(s.line), &s.name, None, msg)),
        }
    }
    out
}

fn check_section(file: &Path, s: &Section, kind: SectionKind, out: &mut Vec<Problem>) {
    for e in &s.entries {
        let checked = nk::keyword(kind, &e.key).and_then(|k| nk::check_value(k.kind, &e.value));
        if let Err(msg) = checked {
            out.push(problem(file, Some(e.line), &s.name, Some(&e.key), msg));
        }
    }
    let value = |k: &str| s.entry(k).map(|e| e.value.trim()).filter(|v| !v.is_empty());
    let mut need = |key: &str, msg: String| {
        out.push(problem(file, Some(s.line), &s.name, Some(key), msg));
    };
    match kind {
        SectionKind::Hb => {
            match value("type").map(HbMedium::parse) {
                None => need(
                    "type",
                    "a heartbeat needs a type (unicast, multicast or disk)".into(),
                ),
                Some(Some(HbMedium::Disk)) if value("dev").is_none() => need(
                    "dev",
                    "a disk heartbeat needs dev (the shared block device)".into(),
                ),
                Some(Some(HbMedium::Multicast)) => {
                    let multicast = |a: &str| a.parse::<Ipv4Addr>().is_ok_and(|a| a.is_multicast());
                    if let Some(a) = value("addr").filter(|a| !multicast(a)) {
                        need("addr", format!("'{a}' is not an IPv4 multicast group"));
                    }
                }
                // Some(None): an unknown type, reported on its line above.
                _ => {}
            }
        }
        SectionKind::Arbitrator => {
            for key in ["name", "secret"] {
                if value(key).is_none() {
                    need(key, format!("an arbitrator needs {key}"));
                }
            }
        }
        _ => {}
    }
}

/// Why `nodemgr set --param <param> --value <value>` must write nothing:
/// the section, the keyword and the value are checked as `validate_text`
/// checks them. Cross-key needs (a disk heartbeat's dev) are not: they are
/// set one key at a time.
pub(crate) fn check_param(file: &Path, param: &str, value: &str) -> Result<(), Problem> {
    let (section, key) = edit::parse_param(param).map_err(|e| Problem {
        file: file.to_path_buf(),
        line: None,
        section: None,
        key: None,
        message: e.to_string(),
    })?;
    let at = |key: Option<&str>, msg| problem(file, None, &section, key, msg);
    let kind = nk::section_kind(&section).map_err(|m| at(None, m))?;
    let k = nk::keyword(kind, &key).map_err(|m| at(Some(&key), m))?;
    nk::check_value(k.kind, value).map_err(|m| at(Some(&key), m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        validate_text(Path::new("/etc/opensvc/node.conf"), text)
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn the_tutorials_node_conf_is_clean() {
        let text = "[cluster]\nnodes = node1 node2\nsecret = 0123456789abcdef0123456789abcdef\nname = c1\nquorum = true\n\
            [node]\nruser = svcsync admin@node3\nhost_mode = PRD\nsplit_action = crash\n\
            watchdog = yes\nwatchdog_timeout = 0.5\nready_period = 0.2\n\
            [listener]\naddr = 0.0.0.0\nport = 1214\naddr@node2 = 127.0.0.1\nport@node2 = 0\n\
            [hb#1]\ntype = unicast\ninterval = 0.2\ntimeout = 0.8\nport = 10000\n\
            [hb#2]\ntype = disk\ndev = /dev/mapper/hb\n\
            [hb#3]\ntype = multicast\naddr = 224.3.29.71\nintf = eth0\n\
            [arbitrator#1]\nname = arb1\nsecret = q83vEjRWeJCrze8SNFZ4kA==\ncluster = arbiters\ntimeout = 1\nport = 1214\n\
            [stonith#node2]\ncmd = /usr/local/sbin/fence-node2 --hard\n";
        assert_eq!(problems(text), Vec::<String>::new());
        assert_eq!(problems(""), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let text = "[hb#1]\ntype = unicat\ninterval = 500ms\nport = abc\n\
            [hb#2]\ntype = unicast\ntimeout = 1e20\n\
            [arbitrator#1]\nname = arb1\nsecret = s\ntimeout = 1e19\n\
            [cluster]\nnodes = n1 -oproxycommand=x\ncolour = blue\n\
            [nodes]\nx = 1\n\
            [hb#3]\ntype = disk\n";
        let f = "/etc/opensvc/node.conf";
        assert_eq!(
            problems(text),
            vec![
                format!(
                    "{f}:2: [hb#1] type: 'unicat' is not a heartbeat type (one of unicast, multicast, disk)"
                ),
                format!(
                    "{f}:3: [hb#1] interval: '500ms' is not a number of seconds from 0.001 to 86400 (e.g. 2, 0.5 or 2s)"
                ),
                format!("{f}:4: [hb#1] port: 'abc' is not a port (1 to 65535)"),
                format!(
                    "{f}:7: [hb#2] timeout: '1e20' is not a number of seconds from 0.001 to 86400 (e.g. 2, 0.5 or 2s)"
                ),
                format!(
                    "{f}:10: [arbitrator#1] secret: a secret of length 1 is too weak: use at least 128 random bits, as 32 or more hex digits or 22 or more base64 characters (openssl rand -hex 32)"
                ),
                format!(
                    "{f}:11: [arbitrator#1] timeout: '1e19' is not a number of seconds from 0.001 to 60 (e.g. 2, 0.5 or 2s)"
                ),
                format!(
                    "{f}:13: [cluster] nodes: '-oproxycommand=x' is not a valid node name: only letters, digits, hyphens and dots are allowed"
                ),
                format!(
                    "{f}:14: [cluster] colour: unknown keyword (this section has: nodes, secret, name, quorum)"
                ),
                format!(
                    "{f}:15: [nodes]: unknown section (node.conf has [node], [cluster], [listener], [hb#N], [arbitrator#N] and [stonith#<node>])"
                ),
                format!("{f}:17: [hb#3] dev: a disk heartbeat needs dev (the shared block device)"),
            ]
        );
    }

    #[test]
    fn set_checks_one_value_with_the_same_message() {
        let f = Path::new("/etc/opensvc/node.conf");
        let msg = |p, v| check_param(f, p, v).unwrap_err().to_string();
        assert_eq!(
            msg("hb#1.port", "abc"),
            "/etc/opensvc/node.conf: [hb#1] port: 'abc' is not a port (1 to 65535)"
        );
        assert!(msg("hb#1.type", "unicat").contains("not a heartbeat type"));
        assert!(msg("hb#1.colour", "x").contains("unknown keyword"));
        assert!(msg("nodes.x", "1").contains("unknown section"));
        // One key at a time: a disk heartbeat's type before its dev.
        assert_eq!(check_param(f, "hb#2.type", "disk"), Ok(()));
        assert_eq!(
            check_param(f, "cluster.secret", "0123456789abcdef0123456789abcdef"),
            Ok(())
        );
        assert!(msg("cluster.secret", "any thing").contains("too weak"));
    }
}
