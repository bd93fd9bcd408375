//! `svcmon`: the cluster as the agent daemon sees it (docs/behaviour.md,
//! "svcmon"), answered
//! from the daemon's memory through its local socket.

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use clap::Parser;

use super::Color;
use crate::client;
use crate::paths::Paths;
use crate::render;

#[derive(Parser, Debug)]
#[command(
    name = "svcmon",
    about = "Show the daemon's view of the nodes and services"
)]
struct Args {
    /// Output format
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// Redraw every second until interrupted
    #[arg(short, long)]
    watch: bool,
    /// Colour the states
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
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
    let json = a.format.as_deref() == Some("json");
    if !a.watch {
        return show(&paths, json, a.color.enabled());
    }
    loop {
        print!("\x1b[H\x1b[2J");
        let code = show(&paths, json, a.color.enabled());
        let _ = std::io::stdout().flush();
        if code != 0 {
            return code;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One rendering of `daemon_status`; 1 when no daemon answers.
pub fn show(paths: &Paths, json: bool, color: bool) -> i32 {
    let Some(answer) = client::request(paths, "daemon_status") else {
        eprintln!(
            "svcmon: no agent daemon answers on {}: start it with 'nodemgr daemon start'",
            client::socket_path(paths).display()
        );
        return 1;
    };
    let data = &answer["data"];
    let mut out = std::io::stdout().lock();
    let _ = if json {
        // Our document's schema version (docs/json.md) beside the
        // daemon's view.
        let mut doc = data.clone();
        if let Some(map) = doc.as_object_mut() {
            map.insert("version".into(), render::json::VERSION.into());
        }
        write!(out, "{}", render::json::to_text(&doc))
    } else {
        write!(out, "{}", render::svcmon::render(data, color))
    };
    0
}
