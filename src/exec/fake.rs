//! A scripted runner for driver unit tests: answers by argv prefix and
//! records every command it was asked to run.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Cmd, ExecError, Output, Runner};

struct Rule {
    prefix: Vec<String>,
    /// Successive answers; the last one repeats.
    answers: VecDeque<Output>,
}

#[derive(Default)]
pub(crate) struct FakeRunner {
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<Cmd>>,
    missing: Mutex<HashSet<String>>,
}

impl FakeRunner {
    pub(crate) fn new() -> FakeRunner {
        FakeRunner::default()
    }

    /// Answer commands starting with `prefix`. Later rules take precedence,
    /// so a test can override a general answer with a specific one.
    pub(crate) fn on(&self, prefix: &[&str], rc: i32, stdout: &str, stderr: &str) -> &Self {
        self.on_seq(
            prefix,
            vec![Output {
                rc,
                stdout: stdout.into(),
                stderr: stderr.into(),
            }],
        )
    }

    /// Answer successive calls with successive outputs; the last repeats.
    pub(crate) fn on_seq(&self, prefix: &[&str], answers: Vec<Output>) -> &Self {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push(Rule {
                prefix: prefix.iter().map(|s| s.to_string()).collect(),
                answers: answers.into(),
            });
        }
        self
    }

    /// Make `bin` look uninstalled: `which` fails and running it is NotFound.
    pub(crate) fn missing(&self, bin: &str) -> &Self {
        if let Ok(mut m) = self.missing.lock() {
            m.insert(bin.to_string());
        }
        self
    }

    /// Every command run so far, as its log line.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .map(|c| c.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default()
    }

    /// Every command run so far, whole (env, output file).
    pub(crate) fn cmds(&self) -> Vec<Cmd> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Runner for FakeRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        if let Some(p) = self.which(cmd.program()).is_none().then(|| cmd.program()) {
            return Err(ExecError::NotFound(p.to_string()));
        }
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(cmd.clone());
        }
        let Ok(mut rules) = self.rules.lock() else {
            return Ok(Output::default());
        };
        for rule in rules.iter_mut().rev() {
            if cmd.argv.len() >= rule.prefix.len()
                && cmd.argv[..rule.prefix.len()] == rule.prefix[..]
            {
                let out = if rule.answers.len() > 1 {
                    rule.answers.pop_front()
                } else {
                    rule.answers.front().cloned()
                };
                return Ok(out.unwrap_or_default());
            }
        }
        Ok(Output::default())
    }

    fn which(&self, bin: &str) -> Option<PathBuf> {
        let missing = self.missing.lock().is_ok_and(|m| m.contains(bin));
        (!missing).then(|| PathBuf::from("/fake/bin").join(bin))
    }

    /// Answered and recorded as a command named `mountinfo`.
    fn mountinfo(&self) -> Result<String, ExecError> {
        self.run(&Cmd::new(["mountinfo"])).map(|o| o.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_rules_win_and_sequences_advance() {
        let f = FakeRunner::new();
        f.on(&["ip"], 0, "general", "");
        f.on_seq(
            &["ip", "addr"],
            vec![
                Output {
                    rc: 0,
                    stdout: "one".into(),
                    stderr: String::new(),
                },
                Output {
                    rc: 0,
                    stdout: "two".into(),
                    stderr: String::new(),
                },
            ],
        );
        let run = |a: &[&str]| f.run(&Cmd::new(a.iter().copied())).unwrap().stdout;
        assert_eq!(run(&["ip", "link"]), "general");
        assert_eq!(run(&["ip", "addr"]), "one");
        assert_eq!(run(&["ip", "addr"]), "two");
        assert_eq!(run(&["ip", "addr"]), "two");
        assert_eq!(f.calls().len(), 4);
    }

    #[test]
    fn missing_tools_are_not_found() {
        let f = FakeRunner::new();
        f.missing("arping");
        assert!(f.which("arping").is_none());
        assert!(matches!(
            f.run(&Cmd::new(["arping"])),
            Err(ExecError::NotFound(_))
        ));
        assert!(f.calls().is_empty());
    }
}
