//! Actions on the config file itself: validate, print, get/set/unset,
//! enable/disable. They work even when the config does not load, so a
//! broken file can be inspected and repaired with svcmgr.

use std::io::Write;

use crate::action::{Action, BAD_CONFIG, Env, FAILED, OK};
use crate::config::{self, edit};
use crate::log::Logger;

pub fn validate(env: &Env, name: &str) -> i32 {
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
}

pub fn run(env: &Env, name: &str, action: Action, log: &Logger) -> i32 {
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
            edit::set(&file, p, v)
        }
        Action::Unset => match param() {
            Ok(p) => edit::unset(&file, p).map(|_| ()),
            Err(c) => return c,
        },
        Action::Enable | Action::Disable => {
            edit::set_disable(&file, &opts.rids, action == Action::Disable)
        }
        _ => return BAD_CONFIG,
    };
    match result {
        Ok(()) => OK,
        Err(e) => {
            log.error(e.to_string());
            FAILED
        }
    }
}
