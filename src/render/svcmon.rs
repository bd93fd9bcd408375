//! svcmon (docs/behaviour.md, "svcmon"): the Threads, Nodes and Services blocks
//! of the daemon's status. One width per column across all three blocks; the
//! per-node columns come after a `|`.

use serde_json::Value;

use crate::placement;

fn paint(text: &str, code: &str, color: bool) -> String {
    if color && !text.is_empty() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_esc = false;
    for c in s.chars() {
        match (in_esc, c) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// The fields of a service entry this table reads (`cell`, `leader`,
/// `notes`, the Services rows): the daemon sends svcmon only these of its
/// own services (daemon/status_text.rs, `push_svcmon_entry`). A test
/// renders a status whole and cut, and compares.
#[cfg(test)]
pub(crate) const FIELDS: &[&str] = &[
    "avail",
    "overall",
    "frozen",
    "smon",
    "error",
    "why",
    "nodes",
    "drpnodes",
    "placement",
    "orchestrate",
    "cluster_type",
];

/// A service's cell on one node: avail icon, `!` when overall is warn, `^`
/// on the placement leader, `*` when frozen; `?` when the node has no data
/// for it.
fn cell(s: &Value, leader: bool, color: bool) -> String {
    if !s["error"].is_null() {
        return paint("?", "31", color);
    }
    let icon = match s["avail"].as_str().unwrap_or("") {
        "up" => paint("O", "32", color),
        "down" => paint("X", "31", color),
        "stdby up" => paint("o", "32", color),
        "stdby down" => paint("x", "31", color),
        "warn" => paint("!", "33", color),
        "n/a" | "undef" => "/".to_string(),
        _ => paint("?", "31", color),
    };
    let mut out = icon;
    if s["overall"] == "warn" {
        out.push_str(&paint("!", "33", color));
    }
    if leader {
        out.push_str(&paint("^", "34", color));
    }
    if s["frozen"] == true {
        out.push_str(&paint("*", "34", color));
    }
    match s["smon"].as_str() {
        None | Some("idle") => {}
        Some(m) => out.push_str(&format!(" {m}")),
    }
    out
}

/// The placement leader of service `name`, as the orchestrator picks it
/// (src/placement.rs), from the datasets in the daemon's answer.
fn leader(status: &Value, name: &str, svc: &Value) -> Option<String> {
    let nodes: Vec<String> = svc["nodes"]
        .as_array()?
        .iter()
        .filter_map(|n| n.as_str().map(String::from))
        .collect();
    let placement = svc["placement"].as_str().unwrap_or(placement::NODES_ORDER);
    // svcmon shows the instances as they are: a pending order's thaw is
    // the daemons' business, and their notes say so.
    let instances = placement::Instances::AsTheyAre;
    placement::leader(name, &nodes, placement, instances, |n| {
        Some(&status["nodes"][n]).filter(|d| d.is_object())
    })
    .map(String::from)
}

/// The orchestrators' notes on service `name`, per node: why it does not
/// run where it could (a failed start, a missing proof, an order).
pub(crate) fn notes(status: &Value, name: &str) -> Vec<(String, String)> {
    let Some(nodes) = status["nodes"].as_object() else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter_map(|(n, d)| {
            let why = d["services"].get(name)?.get("why")?.as_str()?;
            Some((n.clone(), why.to_string()))
        })
        .collect()
}

/// The notes of every service, one line each, after the tables: only when
/// there is one, so that the tables stay the tutorial's otherwise.
fn why_block(status: &Value, services: &[String], color: bool) -> String {
    let lines: Vec<(String, String)> = services
        .iter()
        .flat_map(|name| {
            notes(status, name)
                .into_iter()
                .map(move |(n, why)| (name.clone(), format!("{n}: {why}")))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let width = lines.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    let mut out = format!("\n{}\n", paint("Why", "1", color));
    for (svc, note) in lines {
        out.push_str(&format!(" {svc:<width$}  {note}\n"));
    }
    out
}

pub(crate) fn render(status: &Value, color: bool) -> String {
    let local = status["node"].as_str().unwrap_or("").to_string();
    // The cluster's nodes, whether or not their heartbeats arrive (a lost
    // peer's services then read `?`); else those we have data for.
    let mut nodes: Vec<String> = status["cluster_nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .or_else(|| {
            status["nodes"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
        })
        .unwrap_or_default();
    nodes.sort();
    let bold = |s: &str| paint(s, "1", color);
    let title = |name: &str| {
        let mut row = vec![
            name.to_string(),
            String::new(),
            String::new(),
            String::new(),
        ];
        row.extend(nodes.iter().map(|n| bold(n)));
        row
    };
    let mut blocks: Vec<Vec<Vec<String>>> = Vec::new();

    let mut threads = vec![title("Threads")];
    if let Some(t) = status["threads"].as_object() {
        for (id, th) in t {
            let state = th["state"].as_str().unwrap_or("?");
            let code = if state == "running" { "32" } else { "31" };
            let mut row = vec![format!(" {}", bold(id)), paint(state, code, color)];
            let info = th["info"].as_str().unwrap_or("");
            if let Some(peers) = th["peers"].as_object() {
                // Heartbeats: how each peer beats on this thread.
                row.push(info.to_string());
                row.push("|".into());
                for n in &nodes {
                    row.push(if *n == local {
                        "/".to_string()
                    } else {
                        match peers.get(n).and_then(Value::as_bool) {
                            Some(true) => paint("O", "32", color),
                            _ => paint("X", "31", color),
                        }
                    });
                }
            } else if !info.is_empty() {
                row.push(info.to_string());
            }
            threads.push(row);
        }
    }
    // svcmon without a daemon has no threads to show (cli/svcmon.rs).
    if !status["threads"].is_null() {
        blocks.push(threads);
    }

    let mut node_rows = vec![title("Nodes")];
    let per_node = |f: &dyn Fn(&Value) -> String| -> Vec<String> {
        nodes.iter().map(|n| f(&status["nodes"][n])).collect()
    };
    let mut load = vec![
        format!(" {}", bold("15m")),
        String::new(),
        String::new(),
        "|".into(),
    ];
    // A node with no data here (lost, or not heard yet) has no load to
    // show: a made-up 0.00 would read as an idle node.
    load.extend(per_node(&|n| {
        n["load15"]
            .as_f64()
            .map(|l| format!("{l:.2}"))
            .unwrap_or_default()
    }));
    node_rows.push(load);
    let mut state = vec![
        format!(" {}", bold("state")),
        String::new(),
        String::new(),
        "|".into(),
    ];
    state.extend(per_node(&|n| {
        let mut s = match n["monitor"].as_str() {
            Some("idle") | None => String::new(),
            Some(m) => m.to_string(),
        };
        if n["frozen"] == true {
            s.push('*');
        }
        s
    }));
    node_rows.push(state);
    blocks.push(node_rows);

    let mut svc_rows = vec![title("Services")];
    if let Some(svcs) = status["nodes"][&local]["services"].as_object() {
        for (name, s) in svcs {
            let mut avail = s["avail"].as_str().unwrap_or("undef").to_string();
            if s["overall"] == "warn" {
                avail.push('!');
            }
            let mut row = vec![
                format!(" {}", bold(name)),
                avail,
                s["cluster_type"].as_str().unwrap_or("failover").to_string(),
                "|".into(),
            ];
            // Only the daemon's services have a leader: `^` says where the
            // daemon would start it, which means nothing for the others.
            let orchestrated = !matches!(s["orchestrate"].as_str(), None | Some("no"));
            let leader = leader(status, name, s).filter(|_| orchestrated);
            for n in &nodes {
                let member = s["nodes"]
                    .as_array()
                    .into_iter()
                    .chain(s["drpnodes"].as_array())
                    .flatten()
                    .any(|m| m.as_str() == Some(n));
                // Looked up only for a member: 16 nodes of a thousand rows
                // are 16,000 cells, most of them empty.
                row.push(if member {
                    match status["nodes"][n]["services"].get(name.as_str()) {
                        None | Some(Value::Null) => paint("?", "31", color),
                        Some(theirs) => cell(theirs, leader.as_deref() == Some(n.as_str()), color),
                    }
                } else {
                    String::new()
                });
            }
            svc_rows.push(row);
        }
    }
    blocks.push(svc_rows);

    // Only with arbitrators configured: the three blocks above are the
    // tutorial's, byte for byte. One cell per node: how that node's last
    // ping went (its dataset carries it).
    let names: std::collections::BTreeSet<String> = nodes
        .iter()
        .filter_map(|n| status["nodes"][n]["arbitrators"].as_object())
        .chain(status["arbitrators"].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    if !names.is_empty() {
        let mut arb_rows = vec![title("Arbitrators")];
        for name in &names {
            let mut row = vec![
                format!(" {}", bold(name)),
                String::new(),
                String::new(),
                "|".into(),
            ];
            row.extend(per_node(
                &|n| match n["arbitrators"][name]["status"].as_str() {
                    Some("up") => paint("O", "32", color),
                    Some(_) => paint("X", "31", color),
                    None => String::new(),
                },
            ));
            arb_rows.push(row);
        }
        blocks.push(arb_rows);
    }

    let ncols = blocks.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; ncols];
    for row in blocks.iter().flatten() {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(visible_len(c));
        }
    }
    // Written into one buffer: a thousand rows of sixteen nodes are tens
    // of thousands of cells.
    let text: Vec<String> = blocks
        .iter()
        .map(|rows| {
            let mut out = String::new();
            for row in rows {
                let start = out.len();
                for (i, c) in row.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(c);
                    out.extend(std::iter::repeat_n(' ', widths[i] - visible_len(c)));
                }
                let kept = start + out[start..].trim_end().len();
                out.truncate(kept);
                out.push('\n');
            }
            out
        })
        .collect();
    let services: Vec<String> = status["nodes"][&local]["services"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    text.join("\n") + &why_block(status, &services, color)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notes_follow_the_tables_only_when_there_is_one() {
        let st = json!({
            "node": "node1",
            "cluster_nodes": ["node1", "node2"],
            "threads": {},
            "nodes": {
                "node1": {"services": {"svc1": {"avail": "down", "nodes": ["node1", "node2"],
                    "orchestrate": "ha", "frozen": true,
                    "why": "frozen by order 'stopped' given on node2 at 23:35:50"}}},
                "node2": {"services": {"svc1": {"avail": "down", "nodes": ["node1", "node2"],
                    "orchestrate": "ha", "smon": "start failed",
                    "why": "start failed here (fs#0 failed), retry in 24s"}}},
            },
        });
        let out = render(&st, false);
        assert!(
            out.ends_with(
                "\nWhy\n svc1  node1: frozen by order 'stopped' given on node2 at 23:35:50\n svc1  node2: start failed here (fs#0 failed), retry in 24s\n"
            ),
            "{out}"
        );
        assert_eq!(notes(&st, "svc1").len(), 2);
        assert!(notes(&st, "other").is_empty());
    }

    #[test]
    fn the_seeds_first_svcmon() {
        let st = json!({
            "node": "node1",
            "threads": {
                "listener": {"state": "running", "info": "0.0.0.0:1214"},
                "monitor": {"state": "running", "info": ""},
                "scheduler": {"state": "running", "info": ""},
            },
            "nodes": {"node1": {"load15": 0.05, "frozen": false, "monitor": "idle", "services": {}}},
        });
        assert_eq!(
            render(&st, false),
            "Threads                           node1
 listener  running 0.0.0.0:1214
 monitor   running
 scheduler running

Nodes                             node1
 15m                            | 0.05
 state                          |

Services                          node1
"
        );
    }

    #[test]
    fn the_seeds_second_svcmon_with_a_heartbeat() {
        let st = json!({
            "node": "node1",
            "cluster_nodes": ["node1"],
            "threads": {
                "hb#1.rx": {"state": "running", "info": "0.0.0.0:10000", "peers": {}},
                "hb#1.tx": {"state": "running", "info": "", "peers": {}},
                "listener": {"state": "running", "info": "0.0.0.0:1214"},
                "monitor": {"state": "running", "info": ""},
                "scheduler": {"state": "running", "info": ""},
            },
            "nodes": {"node1": {"load15": 0.05, "frozen": false, "monitor": "idle", "services": {}}},
        });
        assert_eq!(
            render(&st, false),
            "Threads                            node1
 hb#1.rx   running 0.0.0.0:10000 | /
 hb#1.tx   running               | /
 listener  running 0.0.0.0:1214
 monitor   running
 scheduler running

Nodes                              node1
 15m                             | 0.05
 state                           |

Services                           node1
"
        );
    }

    #[test]
    fn arbitrators_as_each_node_sees_them() {
        let st = json!({
            "node": "node1",
            "cluster_nodes": ["node1", "node2"],
            "threads": {"monitor": {"state": "running", "info": ""}},
            "arbitrators": {"node3": {"status": "up", "votes": 1}},
            "nodes": {
                "node1": {"load15": 0.0, "frozen": false, "monitor": "idle", "services": {},
                          "arbitrators": {"node3": {"status": "up", "votes": 1}}},
                "node2": {"load15": 0.0, "frozen": false, "monitor": "idle", "services": {},
                          "arbitrators": {"node3": {"status": "down", "votes": 0}}},
            },
        });
        let out = render(&st, false);
        assert!(
            out.ends_with(
                "\n\nArbitrators            node1 node2\n node3               | O     X\n"
            ),
            "{out}"
        );
        // Without arbitrators, no block: the tutorial's three blocks only.
        let mut st = st;
        for n in ["node1", "node2"] {
            st["nodes"][n]
                .as_object_mut()
                .unwrap()
                .remove("arbitrators");
        }
        st.as_object_mut().unwrap().remove("arbitrators");
        let out = render(&st, false);
        assert!(!out.contains("Arbitrators"), "{out}");
        assert!(
            out.ends_with("\nServices            node1 node2\n"),
            "{out}"
        );
    }

    #[test]
    fn peers_beating_or_not_and_a_lost_peers_services() {
        let st = json!({
            "node": "node1",
            "cluster_nodes": ["node2", "node1"],
            "threads": {"hb#1.rx": {"state": "running", "info": "0.0.0.0:10000", "peers": {"node2": false}}},
            "nodes": {"node1": {"load15": 0.0, "frozen": false, "monitor": "idle", "services": {
                "svc1": {"avail": "up", "overall": "up", "frozen": false, "cluster_type": "failover",
                         "nodes": ["node1", "node2"], "drpnodes": [], "error": null, "orchestrate": "ha"}
            }}},
        });
        let out = render(&st, false);
        assert!(
            out.contains(" hb#1.rx running 0.0.0.0:10000 | /     X\n"),
            "{out}"
        );
        assert!(
            out.contains(" svc1    up      failover      | O^    ?\n"),
            "{out}"
        );
        // node2 lost: no load figure for it.
        let load = out.lines().find(|l| l.starts_with(" 15m")).unwrap();
        assert!(load.ends_with("| 0.00"), "{out}");
    }

    #[test]
    fn a_frozen_down_service_is_x_star() {
        let st = json!({
            "node": "node1",
            "threads": {"monitor": {"state": "running", "info": ""}},
            "nodes": {"node1": {"load15": 0.0, "frozen": true, "monitor": "idle", "services": {
                "svc1": {"avail": "down", "overall": "down", "frozen": true, "cluster_type": "failover",
                         "nodes": ["node1"], "drpnodes": [], "error": null}
            }}},
        });
        let out = render(&st, false);
        assert!(out.contains(" svc1    down    failover | X*\n"), "{out}");
        assert!(out.contains(" state                    | *\n"), "{out}");
    }

    #[test]
    fn with_load_avg_the_least_loaded_node_leads() {
        let svc = json!({"avail": "down", "overall": "down", "frozen": false,
                         "cluster_type": "failover", "nodes": ["node1", "node2"], "drpnodes": [],
                         "error": null, "orchestrate": "ha", "placement": "load avg"});
        let node = |load: f64| {
            json!({"load15": load, "frozen": false, "monitor": "idle",
                                      "services": {"svc1": svc.clone()}})
        };
        let st = json!({
            "node": "node1",
            "cluster_nodes": ["node1", "node2"],
            "threads": {},
            "nodes": {"node1": node(0.8), "node2": node(0.2)},
        });
        let out = render(&st, false);
        assert!(out.contains(" svc1    down failover | X     X^\n"), "{out}");
    }

    #[test]
    fn the_placement_leader_is_marked_and_moves_when_its_node_is_lost() {
        let svc = |avail: &str, frozen: bool| {
            json!({"avail": avail, "overall": avail, "frozen": frozen, "cluster_type": "failover",
                   "nodes": ["node1", "node2"], "drpnodes": [], "error": null, "orchestrate": "ha"})
        };
        let node = |s: Value| json!({"load15": 0.0, "frozen": false, "monitor": "idle", "services": {"svc1": s}});
        let mut st = json!({
            "node": "node2",
            "cluster_nodes": ["node1", "node2"],
            "threads": {},
            "nodes": {"node1": node(svc("up", false)), "node2": node(svc("down", false))},
        });
        let out = render(&st, false);
        assert!(out.contains(" svc1    down failover | O^    X\n"), "{out}");
        // A service the daemon does not run has no leader.
        st["nodes"]["node2"]["services"]["svc1"]["orchestrate"] = json!("no");
        let out = render(&st, false);
        assert!(out.contains(" svc1    down failover | O     X\n"), "{out}");
        st["nodes"]["node2"]["services"]["svc1"]["orchestrate"] = json!("ha");
        // A frozen instance is never a candidate: the next node leads.
        st["nodes"]["node1"]["services"]["svc1"]["frozen"] = json!(true);
        let out = render(&st, false);
        assert!(out.contains(" svc1    down failover | O*    X^\n"), "{out}");
        // node1 lost: no data, `?`, and node2 leads.
        st["nodes"].as_object_mut().unwrap().remove("node1");
        st["nodes"]["node2"]["services"]["svc1"] = svc("up", false);
        assert!(
            render(&st, false).contains(" svc1    up failover | ?     O^\n"),
            "{}",
            render(&st, false)
        );
    }
}
