//! Actions on the config file itself: validate, print, get/set/unset,
//! enable/disable. They work even when the config does not load, so a
//! broken file can be inspected and repaired with svcmgr.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::action::{Action, BAD_CONFIG, Env, FAILED, OK, Outcome};
use crate::config::edit::{EditError, Planned};
use crate::config::guard::{self, Refusal};
use crate::config::ini::Ini;
use crate::config::{self, edit};
use crate::log::Logger;
use crate::render::{self, json::VERSION};

pub(super) fn validate(env: &Env, name: &str) -> Outcome {
    if env.opts.json {
        return validate_doc(env, name);
    }
    match config::validate(env.paths, name, env.nodename) {
        Ok(problems) if problems.is_empty() => {
            let file = config::find_file(env.paths, name)
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            println!("{file}: no problem found");
            OK
        }
        Ok(problems) => {
            let mut out = std::io::stdout().lock();
            for p in &problems {
                let _ = writeln!(out, "{p}");
            }
            BAD_CONFIG
        }
        Err(e) => {
            eprintln!("{e}");
            BAD_CONFIG
        }
    }
    .into()
}

/// `validate config --format json`: every problem, located (docs/json.md).
fn validate_doc(env: &Env, name: &str) -> Outcome {
    let problems = match config::validate(env.paths, name, env.nodename) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG.into();
        }
    };
    let file = config::find_file(env.paths, name).unwrap_or_default();
    let code = if problems.is_empty() { OK } else { BAD_CONFIG };
    Outcome::data(code, render::json::problems(&file, &problems))
}

/// `print config --format json`: each section's effective keys, as the
/// file spells them (docs/json.md).
fn config_doc(file: &Path, bytes: &[u8]) -> Value {
    let ini = Ini::parse(&String::from_utf8_lossy(bytes));
    let mut sections = Map::new();
    for s in ini.default_section().into_iter().chain(ini.sections()) {
        let keys: Map<String, Value> = s
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone().into()))
            .collect();
        sections.insert(s.name.clone(), Value::Object(keys));
    }
    json!({
        "version": VERSION,
        "file": file.display().to_string(),
        "sections": sections,
    })
}

pub(super) fn run(env: &Env, name: &str, action: Action, log: &Logger) -> Outcome {
    if env.opts.json && matches!(action, Action::PrintConfig | Action::Get) {
        return data(env, name, action, log);
    }
    run_text(env, name, action, log).into()
}

/// `print config` and `get` with `--format json`: the same checks and exit
/// codes, the answer as a document (docs/json.md).
fn data(env: &Env, name: &str, action: Action, log: &Logger) -> Outcome {
    let file = match config::find_file(env.paths, name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG.into();
        }
    };
    if action == Action::PrintConfig {
        return match std::fs::read(&file) {
            Ok(bytes) => Outcome::data(OK, config_doc(&file, &bytes)),
            Err(e) => {
                eprintln!("cannot read {}: {e}", file.display());
                BAD_CONFIG.into()
            }
        };
    }
    let Some(p) = env.opts.param.as_deref() else {
        eprintln!("--param is required for 'get'");
        return BAD_CONFIG.into();
    };
    match edit::get(&file, p) {
        Ok(Some(v)) => Outcome::data(OK, render::json::param(p, &v)),
        Ok(None) => {
            eprintln!("{p} is not set in {}", file.display());
            FAILED.into()
        }
        Err(e) => edit_failed(e, log).into(),
    }
}

fn run_text(env: &Env, name: &str, action: Action, log: &Logger) -> i32 {
    let file = match config::find_file(env.paths, name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG;
        }
    };
    let opts = env.opts;
    let param = || -> Result<&str, i32> {
        opts.param.as_deref().ok_or_else(|| {
            eprintln!("--param is required for '{}'", action.name());
            BAD_CONFIG
        })
    };
    let result = match action {
        Action::PrintConfig => match std::fs::read(&file) {
            Ok(bytes) => {
                let _ = std::io::stdout().write_all(&bytes);
                return OK;
            }
            Err(e) => {
                eprintln!("cannot read {}: {e}", file.display());
                return BAD_CONFIG;
            }
        },
        Action::Get => {
            let p = match param() {
                Ok(p) => p,
                Err(c) => return c,
            };
            match edit::get(&file, p) {
                Ok(Some(v)) => {
                    println!("{v}");
                    return OK;
                }
                Ok(None) => {
                    eprintln!("{p} is not set in {}", file.display());
                    return FAILED;
                }
                Err(e) => Err(e),
            }
        }
        Action::Set => {
            let p = match param() {
                Ok(p) => p,
                Err(c) => return c,
            };
            let Some(v) = opts.value.as_deref() else {
                eprintln!("--value is required for 'set'");
                return BAD_CONFIG;
            };
            return match edit::plan_set(&file, p, v) {
                Ok(plan) => checked_commit(env, name, &file, plan, log),
                Err(e) => edit_failed(e, log),
            };
        }
        Action::Unset => {
            let p = match param() {
                Ok(p) => p,
                Err(c) => return c,
            };
            return match edit::plan_unset(&file, p) {
                Ok(plan) if !plan.removed => {
                    let ini = Ini::parse(&plan.new_text());
                    match guard::check_unset_absent(&ini, &file, &plan.section, &plan.key) {
                        Ok(()) => OK,
                        Err(r) => refused(r),
                    }
                }
                Ok(plan) => checked_commit(env, name, &file, plan, log),
                Err(e) => edit_failed(e, log),
            };
        }
        Action::Enable | Action::Disable => {
            if let Err(msg) = check_rids(&file, opts) {
                eprintln!("{msg}");
                return BAD_CONFIG;
            }
            edit::set_disable(&file, &opts.rids, action == Action::Disable)
        }
        _ => return BAD_CONFIG,
    };
    match result {
        Ok(()) => OK,
        Err(e) => edit_failed(e, log),
    }
}

/// A bad parameter or a file that cannot be edited is bad input (exit 2);
/// a file that cannot be read or written is a failure (exit 1).
fn edit_failed(e: EditError, log: &Logger) -> i32 {
    log.error(e.to_string());
    match e {
        EditError::Read { .. } | EditError::Write { .. } => FAILED,
        _ => BAD_CONFIG,
    }
}

/// Writes `plan` unless `validate config` would then find something wrong
/// at the key it edits (config/guard.rs).
fn checked_commit(env: &Env, name: &str, file: &Path, plan: Planned, log: &Logger) -> i32 {
    if let Err(r) = guard::check_edit(&plan, file, name, env.nodename, env.opts.force) {
        return refused(r);
    }
    match plan.commit() {
        Ok(()) => OK,
        Err(e) => edit_failed(e, log),
    }
}

/// The problems as `validate config` prints them, on stderr; exit 2.
fn refused(r: Refusal) -> i32 {
    for p in &r.problems {
        eprintln!("{p}");
    }
    if r.forcible {
        eprintln!("nothing written (--force writes an unknown keyword anyway)");
    }
    BAD_CONFIG
}

/// `enable`/`disable --rid` name resources of the file: a typo used to add
/// a section that no longer loads. They take no `--tags`: ignored, it
/// would have turned a tagged disable into a disable of everything.
fn check_rids(file: &Path, opts: &crate::action::Opts) -> Result<(), String> {
    if !opts.tags.is_empty() {
        return Err("enable and disable take --rid, not --tags".to_string());
    }
    if opts.rids.is_empty() {
        return Ok(());
    }
    // An unreadable file is reported by the edit itself.
    let text = std::fs::read(file).unwrap_or_default();
    let ini = Ini::parse(&String::from_utf8_lossy(&text));
    guard::check_rids(file, &opts.rids, &guard::resource_ids(&ini))
}
