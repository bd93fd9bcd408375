//! `svcmgr -s svc edit config [--recover | --discard]` (docs/behaviour.md,
//! "Edit config"): the config is edited in a copy, `<tmp>/<svc>.conf.tmp`, with
//! `$EDITOR` (else `$VISUAL`, else `vi`), checked like `validate config`,
//! and installed atomically only when it has no problem, so a typo never
//! reaches the live file, the daemon or the peers that replicate it.
//!
//! A copy left by an edit that was not installed (refused, or the editor
//! failed) is never overwritten silently: the next edit refuses to start
//! and says what to do, `--recover` edits that copy again, `--discard`
//! starts over from the live file.

use std::path::{Path, PathBuf};

use super::{BAD_CONFIG, Env, FAILED, OK};
use crate::config;
use crate::exec::{Cmd, RealRunner};
use crate::log::Logger;

pub(super) fn run(env: &Env, name: &str, recover: bool, discard: bool, log: &Logger) -> i32 {
    let live = match config::find_file(env.paths, name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG;
        }
    };
    // The pending copy may hold credentials and sits at a predictable
    // path: its directory must be ours alone (bad input otherwise).
    if let Err(e) = crate::safepath::private_dir(&env.paths.tmp) {
        eprintln!(
            "{e}: refusing to keep an edit of {} there (remove it, or fix with: chown root:root {d} && chmod 0700 {d})",
            live.display(),
            d = e.dir.display()
        );
        return BAD_CONFIG;
    }
    let pending = env.paths.tmp.join(format!("{name}.conf.tmp"));
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    if exists(&pending) {
        if discard {
            if let Err(e) = std::fs::remove_file(&pending) {
                eprintln!("cannot remove {}: {e}", pending.display());
                return FAILED;
            }
        } else if !recover {
            eprintln!(
                "{} holds an edit of {} that was not installed.\n\
                 Edit it again with --recover, or start over from the live file with --discard.",
                pending.display(),
                live.display()
            );
            return FAILED;
        }
    }
    if !exists(&pending)
        && let Err(e) = copy_private(&live, &pending)
    {
        eprintln!(
            "cannot copy {} to {}: {e}",
            live.display(),
            pending.display()
        );
        return FAILED;
    }
    let rc = match editor(&pending) {
        Ok(cmd) => RealRunner::new().run_on_terminal(&cmd),
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG;
        }
    };
    match rc {
        Ok(0) => {}
        Ok(rc) => {
            eprintln!(
                "the editor exited with {rc}: nothing installed, {} kept (--recover to go on)",
                pending.display()
            );
            return FAILED;
        }
        Err(e) => {
            eprintln!("{e}: set EDITOR to an editor on PATH");
            return FAILED;
        }
    }
    install(env, name, &live, &pending, log)
}

/// `live` copied to a new file, 0600 from its first byte, never through a
/// link (`fs::copy` followed one and copied the mode).
fn copy_private(live: &Path, pending: &Path) -> std::io::Result<()> {
    let text = std::fs::read(live)?;
    let mut f = crate::safepath::create_new(pending)?;
    let res = std::io::Write::write_all(&mut f, &text).and_then(|()| f.sync_all());
    if res.is_err() {
        let _ = std::fs::remove_file(pending);
    }
    res
}

/// `$EDITOR` split on white space (no shell: `EDITOR="vim -n"` works, shell
/// syntax does not), then the file.
fn editor(file: &Path) -> Result<Cmd, String> {
    let value = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".to_string());
    let mut argv: Vec<String> = value.split_whitespace().map(String::from).collect();
    if argv.is_empty() {
        return Err("EDITOR is set but empty".to_string());
    }
    argv.push(file.display().to_string());
    Ok(Cmd::new(argv))
}

fn install(env: &Env, name: &str, live: &PathBuf, pending: &Path, log: &Logger) -> i32 {
    let (text, before) = match (
        std::fs::read_to_string(pending),
        std::fs::read_to_string(live),
    ) {
        (Ok(t), Ok(b)) => (t, b),
        (Err(e), _) => {
            eprintln!("cannot read {}: {e}", pending.display());
            return FAILED;
        }
        (_, Err(e)) => {
            eprintln!("cannot read {}: {e}", live.display());
            return FAILED;
        }
    };
    if text == before {
        let _ = std::fs::remove_file(pending);
        eprintln!("no change to {}", live.display());
        return OK;
    }
    let scratch = env.paths.tmp.join(format!("{name}.edit"));
    match config::validate_text(env.paths, name, env.nodename, &text, &scratch, live) {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!(
                "not installed: {} kept; fix it with --recover, or drop it with --discard",
                pending.display()
            );
            return BAD_CONFIG;
        }
        Err(e) => {
            eprintln!("{e}");
            return FAILED;
        }
    }
    let _ = std::fs::remove_dir(&scratch);
    if let Err(e) = crate::fsutil::write_atomic(live, text.as_bytes()) {
        eprintln!("cannot write {}: {e}", live.display());
        return FAILED;
    }
    let _ = std::fs::remove_file(pending);
    log.info(format!("{} installed", live.display()));
    OK
}
