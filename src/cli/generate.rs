//! `svcmgr --generate bash|zsh|fish|man [svcmgr|nodemgr|svcmon]`: shell
//! completions and man pages written from the same clap models the
//! commands parse with, so that they cannot drift; `make install` runs it.
//! Hidden: it is for packaging, not for operators.

use std::ffi::OsString;
use std::io::Write;

use clap_complete::Shell;

use super::{nodemgr, svcmgr, svcmon};

const USAGE: &str = "usage: svcmgr --generate bash|zsh|fish|man [svcmgr|nodemgr|svcmon]";

pub(super) fn main(args: &[OsString]) -> i32 {
    let words: Vec<String> = args
        .iter()
        .skip(2)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (what, prog) = match words.as_slice() {
        [what] => (what.as_str(), "svcmgr"),
        [what, prog] => (what.as_str(), prog.as_str()),
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let Some((cmd, actions, exit)) = model(prog) else {
        eprintln!("{USAGE}\nsvcmgr: error: unknown program '{prog}'");
        return 2;
    };
    let mut out = Vec::new();
    match what {
        "man" => {
            if let Err(e) = man(cmd, &actions, exit, &mut out) {
                eprintln!("svcmgr: cannot render the man page: {e}");
                return 1;
            }
        }
        shell => {
            let Ok(shell) = shell.parse::<Shell>() else {
                eprintln!("{USAGE}\nsvcmgr: error: unknown shell '{shell}'");
                return 2;
            };
            let mut cmd = cmd;
            clap_complete::generate(shell, &mut cmd, prog, &mut out);
        }
    }
    match std::io::stdout().write_all(&out) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("svcmgr: cannot write: {e}");
            1
        }
    }
}

/// svcmgr's exit codes (docs/contracts.md), as a roff section.
const SVCMGR_EXIT: &str = ".SH \"EXIT STATUS\"\n\
0 success, 1 the action failed, 2 bad input (usage, unknown service, config error: nothing was touched).\n\
.PP\n\
\\fBstatus\\fR exits with the service's status: 0 up, 1 down, 2 warn, 3 n/a, 4 todo, 5 undef, \
6 stdby up, 7 stdby down; 64 for a bad command line or an unknown service, 78 for a config that does not load.\n";

/// A program's clap model, its grouped action list (empty for svcmon) and
/// its EXIT STATUS section.
fn model(prog: &str) -> Option<(clap::Command, String, &'static str)> {
    match prog {
        "svcmgr" => Some((
            svcmgr::completion_command(),
            svcmgr::grouped_actions(),
            SVCMGR_EXIT,
        )),
        "nodemgr" => Some((
            nodemgr::completion_command(),
            nodemgr::grouped_actions(),
            "",
        )),
        "svcmon" => Some((svcmon::command(), String::new(), "")),
        _ => None,
    }
}

/// Section 8 (system administration); the actions as an ACTIONS section
/// grouped like the usage, since clap_mangen would list only the first
/// word of the multi-word ones.
fn man(cmd: clap::Command, actions: &str, exit: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    let cmd = cmd.subcommands(Vec::<clap::Command>::new());
    let man = clap_mangen::Man::new(cmd.clone()).section("8");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if !actions.is_empty() {
        out.extend_from_slice(roff_actions(actions).as_bytes());
    }
    man.render_options_section(out)?;
    out.extend_from_slice(exit.as_bytes());
    man.render_version_section(out)?;
    Ok(())
}

/// roff text needs `\` and a leading `.` or `'` escaped, and `-` written
/// `\-` to stay a hyphen-minus.
fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// The grouped usage (`Title:` lines, then `  words  about` lines) as a
/// roff section: a subsection per group, a tagged paragraph per action.
fn roff_actions(grouped: &str) -> String {
    let mut out = String::from(".SH ACTIONS\n");
    for line in grouped.lines() {
        if let Some(title) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            out.push_str(&format!(".SS \"{}\"\n", roff_escape(title)));
        } else if let Some((words, about)) = line.trim_start().split_once("  ") {
            out.push_str(&format!(
                ".TP\n\\fB{}\\fR\n{}\n",
                roff_escape(words),
                roff_escape(about.trim_start())
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_become_tagged_paragraphs() {
        assert_eq!(
            roff_actions(
                "Status:\n  print status  print the tree\n\nSync:\n  syncall  all-nodes\n"
            ),
            ".SH ACTIONS\n.SS \"Status\"\n.TP\n\\fBprint status\\fR\nprint the tree\n\
             .SS \"Sync\"\n.TP\n\\fBsyncall\\fR\nall\\-nodes\n"
        );
    }

    #[test]
    fn every_program_renders_every_output() {
        for prog in ["svcmgr", "nodemgr", "svcmon"] {
            let (cmd, actions, exit) = model(prog).unwrap();
            cmd.clone().debug_assert();
            let mut out = Vec::new();
            man(cmd.clone(), &actions, exit, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(".TH"), "{prog}: {text}");
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut cmd.clone(), prog, &mut out);
                assert!(!out.is_empty(), "{prog} {shell}");
            }
        }
    }
}
