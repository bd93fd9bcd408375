//! The push to peers (docs/behaviour.md, "sync"): which nodes, whether
//! each is due (`schedule`), what to send, the peer's host mode, the
//! transfer (`rsync`), and the timestamp files written and sent after each
//! success.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::schedule::{Verdict, verdict};
use super::stamp::{read_stamp, write_stamp};
use super::{Rsync, base_up, glob, py_list, rsync};
use crate::driver::{Ctx, Failed, SvcInfo, SyncRequest, Synced};
use crate::exec::{ErrLevel, run_logged, run_quiet};
use crate::log::Logger;
use crate::node;
use crate::remote;
use crate::status::Status;

use crate::config::load::SERVICE_TYPES;

/// One peer to push to, and the list it was found in: the host mode it
/// must have depends on it.
struct Dest {
    node: String,
    target: &'static str,
}

/// What to send and where on the peer.
struct Payload {
    src: Vec<String>,
    dst: String,
}

/// The routine messages of a sync: INFO, but DEBUG under cron, where
/// nobody reads them; each is said once per call even when it applies to
/// several peers.
struct Notes<'a> {
    log: &'a Logger,
    cron: bool,
    said: Vec<String>,
}

impl Notes<'_> {
    fn say(&mut self, msg: &str) {
        if self.said.iter().any(|m| m == msg) {
            return;
        }
        self.said.push(msg.to_string());
        if self.cron {
            self.log.debug(msg);
        } else {
            self.log.info(msg);
        }
    }
}

impl Rsync {
    /// The sync action at a given start time (the stamps' value), for tests.
    pub(super) fn sync_at(
        &self,
        ctx: &Ctx,
        req: &SyncRequest,
        start: NaiveDateTime,
    ) -> Result<Synced, Failed> {
        let svc = ctx.svc;
        let mut notes = Notes {
            log: &ctx.log,
            cron: req.cron,
            said: Vec::new(),
        };
        // A drp node receives; it never sends, not even to other drp nodes.
        let drp_only = svc.drpnodes.contains(&svc.nodename) && !svc.nodes.contains(&svc.nodename);
        let dests = if drp_only {
            Vec::new()
        } else {
            self.destinations(svc, &req.targets)
        };
        if dests.is_empty() {
            notes.say("no node to sync");
            return Ok(Synced::default());
        }
        if svc.service_type == "PRD" && node::host_mode(&svc.paths) != "PRD" {
            notes.say("won't sync a PRD service running on a !PRD node");
            return Ok(Synced::default());
        }
        let dests: Vec<Dest> = dests
            .into_iter()
            .filter(|d| req.force || self.on_schedule(svc, &mut notes, &d.node, start))
            .collect();
        if dests.is_empty() {
            return Ok(Synced::default());
        }
        if !base_up(req.base) {
            if req.base == Status::Warn {
                notes.say("won't sync this resource service in warn status");
            }
            notes.say("won't sync this resource for a service not up");
            return Ok(Synced::default());
        }
        let payload = self.payload(ctx)?;
        let mut modes = HashMap::new();
        let mut peers = Vec::new();
        for d in &dests {
            if self.push_to(ctx, d, &payload, &mut modes, start) {
                peers.push(d.node.clone());
            }
        }
        // Every peer was tried: none synced means each one failed.
        if peers.is_empty() {
            return Err(Failed::silent());
        }
        Ok(Synced { peers })
    }

    /// The requested target lists this resource also sends to, in config
    /// order (nodes, then drpnodes), without the local node.
    fn destinations(&self, svc: &SvcInfo, wanted: &[&str]) -> Vec<Dest> {
        let mut out: Vec<Dest> = Vec::new();
        for (target, list) in [("nodes", &svc.nodes), ("drpnodes", &svc.drpnodes)] {
            if !wanted.contains(&target) || !self.conf.target.iter().any(|t| t == target) {
                continue;
            }
            for n in list {
                if *n != svc.nodename && !out.iter().any(|d| d.node == *n) {
                    out.push(Dest {
                        node: n.clone(),
                        target,
                    });
                }
            }
        }
        out
    }

    fn on_schedule(
        &self,
        svc: &SvcInfo,
        notes: &mut Notes,
        peer: &str,
        now: NaiveDateTime,
    ) -> bool {
        let last = read_stamp(&svc.paths.sync_stamp(peer, &svc.name, &self.rid));
        match verdict(&self.conf.schedule, last, now) {
            Verdict::Go => true,
            Verdict::NoStamp => {
                notes.say("don't skip sync: no timestamp");
                true
            }
            Verdict::Skip(why) => {
                notes.say(&why);
                false
            }
        }
    }

    /// sync#i0 sends the service's own files; a user sync its `src`,
    /// expanded now so that files created since the config was read go too.
    fn payload(&self, ctx: &Ctx) -> Result<Payload, Failed> {
        if self.conf.internal {
            return internal_payload(ctx.svc, &ctx.log);
        }
        let mut src = Vec::new();
        let mut missing = false;
        for item in &self.conf.src {
            let found = glob::expand(item);
            if found.is_empty() {
                ctx.log.error(format!("{item} does not exist"));
                missing = true;
            }
            src.extend(found);
        }
        // A source missing (an unmounted fs, a typo) would make a partial
        // copy look like a good one: send nothing.
        if missing || src.is_empty() {
            return Err(Failed::silent());
        }
        Ok(Payload {
            src,
            dst: self.conf.dst.clone(),
        })
    }

    /// Syncs one peer; false when it failed (already logged).
    fn push_to(
        &self,
        ctx: &Ctx,
        d: &Dest,
        payload: &Payload,
        modes: &mut HashMap<String, Option<String>>,
        start: NaiveDateTime,
    ) -> bool {
        let ruser = node::ruser(&ctx.svc.paths, &d.node);
        let Some(mode) = remote_mode(ctx, &ruser, &d.node, modes) else {
            return false;
        };
        let expected: Vec<&str> = match d.target {
            "nodes" => vec![ctx.svc.service_type.as_str()],
            _ => SERVICE_TYPES.into_iter().filter(|t| *t != "PRD").collect(),
        };
        let fits = match d.target {
            "nodes" => mode == ctx.svc.service_type,
            _ => mode != "PRD",
        };
        if !fits {
            ctx.log.error(format!(
                "incompatible remote node '{}' host mode: '{mode}' (expected in {})",
                d.node,
                py_list(&expected)
            ));
            return false;
        }
        let cmd = rsync::data_cmd(&self.conf, &ruser, &d.node, &payload.src, &payload.dst);
        // 1.5 ran its internal syncs quietly: the tutorial shows no rsync line.
        let out = if self.conf.internal {
            run_quiet(ctx.runner, &ctx.log, &cmd)
        } else {
            run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default)
        };
        if !out.is_ok_and(|o| o.ok()) {
            ctx.log.error(format!(
                "node {} synchronization failed ({} => {})",
                d.node,
                payload.src.join(" "),
                payload.dst
            ));
            return false;
        }
        self.record(ctx, &d.node, &ruser, start);
        true
    }

    /// After a sync to `peer`: the start time goes to the peer's stamp,
    /// ours and the cron scheduler's, and both stamps go to the peer, whose
    /// status reads its own. A failure here leaves the data synced: WARNING.
    fn record(&self, ctx: &Ctx, peer: &str, ruser: &str, start: NaiveDateTime) {
        let paths = &ctx.svc.paths;
        let svc = &ctx.svc.name;
        let theirs = paths.sync_stamp(peer, svc, &self.rid);
        let ours = paths.sync_stamp(&ctx.svc.nodename, svc, &self.rid);
        let sched = paths.var.join(format!("last_sync_{svc}_{}", self.rid));
        for f in [&theirs, &ours, &sched] {
            if let Err(e) = write_stamp(f, start) {
                ctx.log.warn(format!("cannot write {}: {e}", f.display()));
                return;
            }
        }
        let cmd = rsync::stamps_cmd(ruser, peer, &theirs, &ours);
        match run_quiet(ctx.runner, &ctx.log, &cmd) {
            Ok(o) if o.ok() => {}
            Ok(o) => ctx.log.warn(format!(
                "could not send the sync timestamps to node {peer} (rsync rc {})",
                o.rc
            )),
            Err(_) => ctx
                .log
                .warn(format!("could not send the sync timestamps to node {peer}")),
        }
    }
}

/// `<etc>/<svc>` (if there), the config file, and if there the `.d`
/// launcher link, the `.cluster` link and the `.dir` tree. Never
/// `.stonith`, which 1.5 never sent: each node sets up its own (hb status).
fn internal_payload(svc: &SvcInfo, log: &Logger) -> Result<Payload, Failed> {
    let p = &svc.paths;
    let name = &svc.name;
    let conf = crate::config::find_file(p, name).map_err(|e| {
        log.error(e.to_string());
        Failed::silent()
    })?;
    let present = |f: &std::path::PathBuf| f.symlink_metadata().is_ok();
    let mut src = Vec::new();
    let link = p.svc_link(name);
    if present(&link) {
        src.push(link);
    }
    src.push(conf);
    for extra in [
        p.launcher_dir(name),
        p.etc.join(format!("{name}.cluster")),
        p.etc.join(format!("{name}.dir")),
    ] {
        if present(&extra) {
            src.push(extra);
        }
    }
    Ok(Payload {
        src: src
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect(),
        dst: "/".into(),
    })
}

/// The peer's host mode, asked once per call; None when it cannot be
/// reached (logged). A peer whose nodemgr fails answers TST, its default:
/// 1.5 dropped it silently, and the user never learned why.
fn remote_mode(
    ctx: &Ctx,
    ruser: &str,
    peer: &str,
    cache: &mut HashMap<String, Option<String>>,
) -> Option<String> {
    if let Some(m) = cache.get(peer) {
        return m.clone();
    }
    let cmd = remote::ssh(
        ruser,
        peer,
        &["nodemgr", "get", "--param", "node.host_mode"],
    );
    let mode = match run_quiet(ctx.runner, &ctx.log, &cmd) {
        Err(_) => None,
        Ok(out) if out.rc == remote::SSH_FAILED => {
            let why = out
                .stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("ssh failed");
            ctx.log.error(format!("node {peer} is unreachable: {why}"));
            None
        }
        Ok(out) if out.ok() && !out.stdout.trim().is_empty() => {
            Some(out.stdout.trim().to_uppercase())
        }
        Ok(_) => Some("TST".to_string()),
    };
    cache.insert(peer.to_string(), mode.clone());
    mode
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
