//! Entry point: argv[0] selects the CLI (docs/contracts.md, "Public
//! contracts").
//! `svcmgr`, `nodemgr`, `svcmon`, or any other name: a service
//! (`p26.opensvc.com print status`), `<svc>.cluster` in cluster mode.

mod nodemgr;
mod svcmgr;
mod svcmon;

use std::ffi::OsString;
use std::path::Path;

pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    match argv0.as_str() {
        "svcmgr" | "" => svcmgr::main(args, None),
        "nodemgr" => nodemgr::main(args),
        "svcmon" => svcmon::main(args),
        name => match name.strip_suffix(".cluster") {
            Some(svc) if !svc.is_empty() => svcmgr::main(args, Some((svc.to_string(), true))),
            _ => svcmgr::main(args, Some((name.to_string(), false))),
        },
    }
}

/// `--color auto|yes|no`; auto means a terminal and no NO_COLOR (no-color.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Yes,
    No,
}

impl Color {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Yes => true,
            Color::No => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}
