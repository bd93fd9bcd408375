//! `svcmon`: the cluster as the agent daemon sees it (docs/behaviour.md,
//! "svcmon"), answered from the daemon's memory through its local socket;
//! without a daemon, the local services as `print status` computes them.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use serde_json::{Value, json};

use super::Color;
use crate::exec::RealRunner;
use crate::paths::{self, Paths};
use crate::{action, client, config, render};

#[derive(Parser, Debug)]
#[command(
    name = "svcmon",
    about = "Show the daemon's view of the nodes and services (without a daemon: this node's services)",
    version
)]
struct Args {
    /// Output format
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// Redraw every second until interrupted
    #[arg(short, long)]
    watch: bool,
    /// Colour the states
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    color: Color,
}

/// The clap model, for the completions and the man page.
pub(super) fn command() -> clap::Command {
    Args::command()
}

pub(super) fn main(args: Vec<OsString>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let paths = Paths::from_env();
    crate::log::init(false, Some(&paths.log));
    let json = a.format.as_deref() == Some("json");
    let color = a.color.enabled();
    if !a.watch {
        return monitor(&paths, json, color);
    }
    // Screen codes only for a screen: a pipe or a file gets the frames one
    // after the other.
    let clear = std::io::stdout().is_terminal();
    loop {
        if clear {
            // Flushed now, so that the no-daemon note on stderr lands on
            // the cleared screen, not before it.
            print!("\x1b[H\x1b[2J");
            let _ = std::io::stdout().flush();
        }
        monitor(&paths, json, color);
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The daemon's view, else this node's services with a note on stderr
/// (exit 1: the daemon does not run).
fn monitor(paths: &Paths, json: bool, color: bool) -> i32 {
    if let Some(answer) = daemon_status(paths, json) {
        print_view(&answer["data"], json, color);
        return 0;
    }
    eprintln!(
        "svcmon: no agent daemon answers on {}: this node's services only (start it with 'nodemgr daemon start')",
        client::socket_path(paths).display()
    );
    print_view(&local_view(paths), json, color);
    1
}

/// The one call to the daemon's local socket: the whole status for
/// `--format json`, the table's part of it otherwise.
fn daemon_status(paths: &Paths, json: bool) -> Option<Value> {
    if json {
        client::request(paths, "daemon_status")
    } else {
        client::ask(
            paths,
            &json!({"action": "daemon_status", "options": {"view": "svcmon"}}),
        )
    }
}

fn print_view(data: &Value, json: bool, color: bool) {
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
}

/// This node's services, probed as `print status` probes them, shaped like
/// the daemon's answer (one node, no threads) so that one renderer shows
/// both.
fn local_view(paths: &Paths) -> Value {
    let nodename = paths::nodename();
    let runner = RealRunner::new();
    let mut services = serde_json::Map::new();
    for name in config::list_services(paths) {
        let entry = match config::load(paths, &name, &nodename) {
            Ok(cfg) => {
                let svc =
                    crate::service::Service::build(cfg, &nodename, paths, action::svcmgr_bin());
                let frozen = action::is_frozen(paths, &name);
                let st = action::collect(&svc, &runner, frozen);
                json!({
                    "avail": st.avail.as_str(),
                    "overall": st.overall.as_str(),
                    "frozen": frozen,
                    "cluster_type": "failover",
                    "nodes": svc.info.nodes,
                    "drpnodes": svc.info.drpnodes,
                    "error": null,
                    "orchestrate": svc.config.orchestrate,
                    "placement": svc.config.placement,
                    "smon": "idle",
                    "config": null,
                    "restart": {},
                })
            }
            Err(e) => json!({
                "avail": "undef",
                "overall": "undef",
                "frozen": false,
                "cluster_type": "failover",
                "nodes": [nodename],
                "drpnodes": [],
                "error": e.to_string(),
                "orchestrate": "no",
                "placement": "nodes order",
                "smon": "idle",
                "config": null,
                "restart": {},
            }),
        };
        services.insert(name, entry);
    }
    json!({
        "node": nodename,
        "cluster_nodes": [nodename],
        "nodes": {
            nodename.clone(): {
                "load15": crate::node::load15(),
                "frozen": paths.frozen_node().exists(),
                "monitor": "idle",
                "services": services,
            }
        },
    })
}

/// `nodemgr daemon status`: the daemon's view only; 1 when no daemon
/// answers.
pub(super) fn show(paths: &Paths, json: bool, color: bool) -> i32 {
    let Some(answer) = daemon_status(paths, json) else {
        eprintln!(
            "svcmon: no agent daemon answers on {}: start it with 'nodemgr daemon start'",
            client::socket_path(paths).display()
        );
        return 1;
    };
    print_view(&answer["data"], json, color);
    0
}
