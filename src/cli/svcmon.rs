//! `svcmon`: one line per service of this node with its group statuses.
//! Until the agent daemon exists, it probes the services itself.

use std::ffi::OsString;

use clap::Parser;

use crate::action::{self, Env, Opts};
use crate::config;
use crate::exec::RealRunner;
use crate::paths::{self, Paths};

#[derive(Parser, Debug)]
#[command(
    name = "svcmon",
    about = "Show the status of every service of this node"
)]
struct Args {
    /// Log at DEBUG level
    #[arg(long)]
    debug: bool,
}

pub fn main(args: Vec<OsString>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let paths = Paths::from_env();
    let nodename = paths::nodename();
    crate::log::init(a.debug, None);
    let runner = RealRunner::new();
    let opts = Opts::default();
    let env = Env {
        paths: &paths,
        nodename: &nodename,
        runner: &runner,
        opts: &opts,
        svcmgr_bin: action::svcmgr_bin(),
    };
    let cols = ["disk", "fs", "ip", "app", "sync", "hb"];
    println!(
        "{:<24} {:<10} {}  {:<10} {:<10}",
        "service",
        "node",
        cols.iter().map(|c| format!("{c:<10}")).collect::<String>(),
        "avail",
        "overall"
    );
    let mut code = 0;
    for name in config::list_services(&paths) {
        let Ok(svc) = action::load(&env, &name) else {
            code = action::BAD_CONFIG;
            continue;
        };
        let st = action::collect(&svc, &runner, action::is_frozen(&paths, &name));
        let groups: String = cols
            .iter()
            .map(|c| format!("{:<10}", st.group(c).as_str()))
            .collect();
        println!(
            "{:<24} {:<10} {}  {:<10} {:<10}",
            name,
            nodename,
            groups,
            st.avail.as_str(),
            st.overall.as_str()
        );
    }
    code
}
