//! `svcmgr ls`: the services of this node and their overall status, one
//! per line (`<name> <overall>`, then `frozen` when frozen), or one
//! summary each in JSON mode (docs/json.md). Read-only: no lock, no
//! collector stamp.

use std::io::Write;

use super::{BAD_CONFIG, Env, OK, Outcome, collect, freeze};
use crate::config::{self, ConfigError};
use crate::render;
use crate::service::Service;

/// The width of the name column: most service names fit, a longer one
/// pushes its status right rather than being cut.
const NAME_WIDTH: usize = 30;

pub(super) fn run(env: &Env, name: &str) -> Outcome {
    let cfg = match config::load(env.paths, name, env.nodename) {
        Ok(c) => c,
        // Listed by the file name but not for this node: not ours to show.
        Err(ConfigError::NotManagedHere { .. }) if env.opts.every_service => return OK.into(),
        Err(e) => {
            super::report_config_error(name, &e);
            return BAD_CONFIG.into();
        }
    };
    let svc = Service::build(cfg, env.nodename, env.paths, env.svcmgr_bin.clone());
    let st = collect(&svc, env.runner, freeze::is_frozen(env.paths, name));
    if env.opts.json {
        return Outcome::data(OK, render::json::summary(&st));
    }
    let frozen = if st.frozen { " frozen" } else { "" };
    let line = format!("{name:<NAME_WIDTH$} {}{frozen}", st.overall.as_str());
    let _ = writeln!(std::io::stdout().lock(), "{}", line.trim_end());
    OK.into()
}
