//! Entry point: argv[0] selects the CLI (docs/contracts.md, "Public
//! contracts").
//! `svcmgr`, `nodemgr`, `svcmon`, or any other name: a service
//! (`p26.opensvc.com print status`), `<svc>.cluster` in cluster mode.

mod generate;
mod nodemgr;
mod svcmgr;
mod svcmon;
mod usage;

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
        "svcmgr" | "" if args.get(1).is_some_and(|a| a == "--generate") => generate::main(&args),
        "svcmgr" | "" => svcmgr::main(args, None),
        "nodemgr" => nodemgr::main(args),
        "svcmon" => svcmon::main(args),
        name => match name.strip_suffix(".cluster") {
            Some(svc) if !svc.is_empty() => svcmgr::main(args, Some((svc.to_string(), true))),
            _ => svcmgr::main(args, Some((name.to_string(), false))),
        },
    }
}

/// `--color auto|always|never` (`yes` and `no`, the older names, still
/// work); auto means a terminal that can show colour and no NO_COLOR
/// (no-color.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    #[value(alias = "yes")]
    Always,
    #[value(alias = "no")]
    Never,
}

impl Color {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        self.resolve(
            std::io::stdout().is_terminal(),
            std::env::var_os("TERM").as_deref(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    fn resolve(
        self,
        terminal: bool,
        term: Option<&std::ffi::OsStr>,
        no_color: Option<&std::ffi::OsStr>,
    ) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                terminal
                    && no_color.is_none_or(|v| v.is_empty())
                    && term.is_none_or(|t| t != "dumb")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Color;
    use std::ffi::OsStr;

    #[test]
    fn auto_colours_only_a_capable_terminal() {
        let xterm = Some(OsStr::new("xterm"));
        assert!(Color::Auto.resolve(true, xterm, None));
        assert!(Color::Auto.resolve(true, None, Some(OsStr::new(""))));
        assert!(!Color::Auto.resolve(false, xterm, None));
        assert!(!Color::Auto.resolve(true, Some(OsStr::new("dumb")), None));
        assert!(!Color::Auto.resolve(true, xterm, Some(OsStr::new("1"))));
        assert!(Color::Always.resolve(false, Some(OsStr::new("dumb")), None));
        assert!(!Color::Never.resolve(true, xterm, None));
    }
}
