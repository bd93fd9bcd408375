//! `nodemgr`: node-level settings in `<etc>/node.conf` (spec §9.2).

use std::ffi::OsString;

use clap::Parser;

use crate::config::edit;
use crate::paths::Paths;

#[derive(Parser, Debug)]
#[command(name = "nodemgr", about = "Manage this node's settings (node.conf)")]
struct Args {
    /// `section.key`, e.g. node.host_mode
    #[arg(long)]
    param: Option<String>,
    /// The value for set
    #[arg(long)]
    value: Option<String>,
    /// Log at DEBUG level
    #[arg(long)]
    debug: bool,
    /// get, set or unset
    action: Vec<String>,
}

pub fn main(args: Vec<OsString>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if !nix::unistd::geteuid().is_root() {
        let cmd: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!("Insufficient privileges. Try:\n sudo {}", cmd.join(" "));
        return 1;
    }
    let word = a.action.join("_");
    let paths = Paths::from_env();
    let file = paths.node_conf();
    let Some(param) = a.param.as_deref() else {
        eprintln!("nodemgr: error: --param section.key is required");
        return 2;
    };
    let res = match word.as_str() {
        "get" => {
            if !file.exists() {
                return 1;
            }
            match edit::get(&file, param) {
                Ok(Some(v)) => {
                    println!("{v}");
                    return 0;
                }
                Ok(None) => return 1,
                Err(e) => Err(e),
            }
        }
        "set" => {
            let Some(v) = a.value.as_deref() else {
                eprintln!("nodemgr: error: --value is required for set");
                return 2;
            };
            if let Err(e) = ensure_file(&file) {
                eprintln!("cannot create {}: {e}", file.display());
                return 1;
            }
            edit::set(&file, param, v)
        }
        "unset" => edit::unset(&file, param).map(|_| ()),
        "" => {
            eprintln!("nodemgr: error: Missing action");
            return 2;
        }
        _ => {
            eprintln!("nodemgr: error: unsupported action");
            return 2;
        }
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn ensure_file(p: &std::path::Path) -> std::io::Result<()> {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    if !p.exists() {
        std::fs::write(p, b"")?;
    }
    Ok(())
}
