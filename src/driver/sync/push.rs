//! The push to peers (docs/behaviour.md, "sync"): which nodes, when, the rsync command,
//! and the timestamp files written and sent after each success.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};

use super::stamp::{read_stamp, write_stamp};
use super::{Rsync, base_up, glob};
use crate::config::Schedule;
use crate::driver::{Ctx, Failed, SvcInfo, SyncRequest, Synced};
use crate::exec::{Cmd, ErrLevel, run_logged, run_quiet};
use crate::log::Logger;
use crate::node;
use crate::remote;
use crate::status::Status;

use crate::config::load::SERVICE_TYPES;

/// rsync's own `--timeout` ends a stalled transfer; this only bounds one
/// that keeps moving, so that a sync never holds the service lock forever.
const RSYNC_RUN_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The rsync options of every data transfer (docs/behaviour.md, "sync").
const RSYNC_BASE: [&str; 6] = [
    "rsync",
    "-HpogDtrlvx",
    "--stats",
    "--delete",
    "--force",
    "--timeout=3600",
];

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

/// What the schedule says about one peer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Go,
    /// Go, and say so: the peer never received this resource.
    NoStamp,
    Skip(String),
}

/// The schedule check of one peer (docs/behaviour.md, "sync"), as a pure
/// function of the local time and the peer's last sync.
pub(super) fn verdict(s: &Schedule, last: Option<NaiveDateTime>, now: NaiveDateTime) -> Verdict {
    if s.interval_min == 0 {
        return Verdict::Skip("skip sync: disabled by sync_interval = 0".into());
    }
    if !in_days(&s.days, now) {
        return Verdict::Skip(format!(
            "skip sync: not in allowed days ({})",
            py_list(&s.days)
        ));
    }
    if !in_periods(&s.periods, now) {
        return Verdict::Skip(format!(
            "skip sync: not in allowed period ({})",
            periods_repr(&s.periods)
        ));
    }
    let Some(last) = last else {
        return Verdict::NoStamp;
    };
    let interval = TimeDelta::try_minutes(i64::try_from(s.interval_min).unwrap_or(i64::MAX))
        .unwrap_or(TimeDelta::MAX);
    if now.signed_duration_since(last) < interval {
        Verdict::Skip(format!("skip sync: too soon ({})", s.interval_min))
    } else {
        Verdict::Go
    }
}

/// No days listed means every day.
pub(super) fn in_days(days: &[String], now: NaiveDateTime) -> bool {
    let today = day_name(now);
    days.is_empty() || days.iter().any(|d| d.eq_ignore_ascii_case(today))
}

fn day_name(now: NaiveDateTime) -> &'static str {
    match now.weekday() {
        chrono::Weekday::Mon => "monday",
        chrono::Weekday::Tue => "tuesday",
        chrono::Weekday::Wed => "wednesday",
        chrono::Weekday::Thu => "thursday",
        chrono::Weekday::Fri => "friday",
        chrono::Weekday::Sat => "saturday",
        chrono::Weekday::Sun => "sunday",
    }
}

/// Inside one of the periods, to the minute, bounds included; a period
/// whose end comes before its start wraps past midnight. 1.5 crashed on an
/// empty list; here it means no restriction.
pub(super) fn in_periods(periods: &[(String, String)], now: NaiveDateTime) -> bool {
    let m = now.hour() * 60 + now.minute();
    periods.is_empty()
        || periods.iter().any(|(a, b)| match (minutes(a), minutes(b)) {
            (Some(a), Some(b)) if a <= b => a <= m && m <= b,
            (Some(a), Some(b)) => m >= a || m <= b,
            _ => false,
        })
}

fn minutes(hh_mm: &str) -> Option<u32> {
    let (h, m) = hh_mm.split_once(':')?;
    Some(h.trim().parse::<u32>().ok()? * 60 + m.trim().parse::<u32>().ok()?)
}

/// Python's repr of a list of strings: `['a', 'b']`.
fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// One period prints as a pair, several as a list of pairs (1.5 printed
/// the config value).
fn periods_repr(periods: &[(String, String)]) -> String {
    match periods {
        [(a, b)] => py_list(&[a, b]),
        _ => {
            let pairs: Vec<String> = periods.iter().map(|(a, b)| py_list(&[a, b])).collect();
            format!("[{}]", pairs.join(", "))
        }
    }
}

/// `-e <rsh>`, and rsync through sudo on the peer for a non-root user.
fn transport(ruser: &str) -> Vec<String> {
    let mut out = vec!["-e".to_string(), remote::rsh()];
    if ruser != "root" {
        out.extend(["--rsync-path".to_string(), "sudo rsync".to_string()]);
    }
    out
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
        let cmd = self.rsync_cmd(&ruser, &d.node, payload);
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

    fn rsync_cmd(&self, ruser: &str, peer: &str, payload: &Payload) -> Cmd {
        let mut argv: Vec<String> = RSYNC_BASE.iter().map(|s| s.to_string()).collect();
        if self.conf.internal {
            argv.extend(["-R".to_string(), "--exclude=*.core".to_string()]);
        }
        argv.extend(self.conf.options.iter().cloned());
        argv.extend(transport(ruser));
        if let Some(bw) = self.conf.bwlimit {
            argv.push(format!("--bwlimit={bw}"));
        }
        // `--`: no source path, however named, is read as an rsync option.
        argv.push("--".to_string());
        argv.extend(payload.src.iter().cloned());
        argv.push(format!("{ruser}@{peer}:{}", payload.dst));
        Cmd::new(argv).timeout(RSYNC_RUN_LIMIT)
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
        let mut argv = vec!["rsync".to_string()];
        argv.extend(transport(ruser));
        argv.extend([
            "-R".to_string(),
            "--".to_string(),
            theirs.to_string_lossy().into_owned(),
            ours.to_string_lossy().into_owned(),
            format!("{ruser}@{peer}:/"),
        ]);
        match run_quiet(ctx.runner, &ctx.log, &Cmd::new(argv)) {
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
mod tests {
    use super::*;
    use crate::config::SyncConf;
    use crate::exec::{FakeRunner, Runner};
    use crate::log::capture;
    use crate::paths::Paths;
    use std::path::PathBuf;

    const SVC: &str = "p26.opensvc.com";
    const I0: &str = "P26.OPENSVC.COM.SYNC#I0";
    const RSH: &str = "ssh -q -o StrictHostKeyChecking=accept-new -o ForwardX11=no -o BatchMode=yes -o ConnectTimeout=10";

    fn ts(s: &str) -> NaiveDateTime {
        super::super::stamp::parse_stamp(s).unwrap()
    }

    /// A Monday, inside the default period.
    fn in_period() -> NaiveDateTime {
        ts("2014-02-17 04:30:00.250000")
    }

    /// When the tutorial's first `syncnodes` ran, outside the default period.
    fn out_of_period() -> NaiveDateTime {
        ts("2014-02-17 17:20:37.000000")
    }

    fn sched(periods: &[(&str, &str)], days: &[&str]) -> Schedule {
        Schedule {
            periods: periods
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            days: days.iter().map(|d| d.to_string()).collect(),
            ..Schedule::default()
        }
    }

    fn at(hh_mm_ss: &str) -> NaiveDateTime {
        ts(&format!("2014-02-17 {hh_mm_ss}"))
    }

    #[test]
    fn the_fixed_times_are_what_the_tests_think() {
        assert_eq!(day_name(in_period()), "monday");
        assert_eq!(day_name(ts("2014-02-23 00:00:00")), "sunday");
    }

    #[test]
    fn periods_are_inclusive_to_the_minute() {
        let p = sched(&[("03:59", "05:59")], &[]).periods;
        assert!(!in_periods(&p, at("03:58:59")));
        assert!(in_periods(&p, at("03:59:00")));
        assert!(in_periods(&p, at("05:59:59")));
        assert!(!in_periods(&p, at("06:00:00")));
        assert!(!in_periods(&p, at("17:20:37")));
    }

    #[test]
    fn periods_wrap_past_midnight() {
        let p = sched(&[("23:00", "01:00")], &[]).periods;
        assert!(in_periods(&p, at("23:00:00")));
        assert!(in_periods(&p, at("23:59:59")));
        assert!(in_periods(&p, at("00:00:00")));
        assert!(in_periods(&p, at("01:00:30")));
        assert!(!in_periods(&p, at("01:01:00")));
        assert!(!in_periods(&p, at("22:59:00")));
        assert!(!in_periods(&p, at("12:00:00")));
    }

    #[test]
    fn any_of_several_periods_will_do() {
        let p = sched(&[("03:59", "05:59"), ("22:00", "23:00")], &[]).periods;
        assert!(in_periods(&p, at("04:00:00")));
        assert!(in_periods(&p, at("22:30:00")));
        assert!(!in_periods(&p, at("12:00:00")));
        assert!(in_periods(&[], at("12:00:00")), "no period: any time");
        // A single-minute period.
        let one = sched(&[("12:00", "12:00")], &[]).periods;
        assert!(in_periods(&one, at("12:00:59")));
        assert!(!in_periods(&one, at("12:01:00")));
    }

    #[test]
    fn days_are_english_lower_case_names() {
        let monday = in_period();
        assert!(in_days(&[], monday));
        assert!(in_days(&["monday".into(), "friday".into()], monday));
        assert!(!in_days(&["tuesday".into()], monday));
        assert!(!in_days(&["friday".into()], monday + TimeDelta::days(1)));
    }

    #[test]
    fn verdicts_in_reference_order_with_python_reprs() {
        let now = out_of_period();
        let skip = |s: &str| Verdict::Skip(s.to_string());
        let mut s = Schedule::default();
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed period (['03:59', '05:59'])")
        );
        s.periods = sched(&[("03:59", "05:59"), ("22:00", "23:00")], &[]).periods;
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed period ([['03:59', '05:59'], ['22:00', '23:00']])")
        );
        s.days = vec!["tuesday".into(), "friday".into()];
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed days (['tuesday', 'friday'])")
        );
        s.interval_min = 0;
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: disabled by sync_interval = 0")
        );
        let s = Schedule::default();
        let now = in_period();
        assert_eq!(verdict(&s, None, now), Verdict::NoStamp);
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::minutes(120)), now),
            skip("skip sync: too soon (121)")
        );
        assert_eq!(
            verdict(&s, Some(now + TimeDelta::minutes(5)), now),
            skip("skip sync: too soon (121)"),
            "a stamp from the future is not old enough"
        );
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::minutes(121)), now),
            Verdict::Go
        );
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::days(3)), now),
            Verdict::Go
        );
    }

    struct Lab {
        _dir: tempfile::TempDir,
        svc: SvcInfo,
        runner: FakeRunner,
    }

    impl Lab {
        /// A service with its config file, `<etc>/<svc>` link and `.d`
        /// link, as in the tutorial; ssh answers host mode TST.
        fn new(local: &str, nodes: &[&str], drpnodes: &[&str]) -> Lab {
            let dir = tempfile::tempdir().unwrap();
            let paths = Paths::under(dir.path());
            std::fs::create_dir_all(&paths.etc).unwrap();
            std::fs::write(paths.etc.join(format!("{SVC}.conf")), "[DEFAULT]\n").unwrap();
            std::os::unix::fs::symlink("/usr/bin/svcmgr", paths.svc_link(SVC)).unwrap();
            std::os::unix::fs::symlink("/svc1/app/init.d", paths.launcher_dir(SVC)).unwrap();
            let svc = SvcInfo {
                name: SVC.into(),
                nodename: local.into(),
                nodes: nodes.iter().map(|s| s.to_string()).collect(),
                drpnodes: drpnodes.iter().map(|s| s.to_string()).collect(),
                service_type: "TST".into(),
                paths,
                svcmgr_bin: PathBuf::from("/usr/bin/svcmgr"),
            };
            let runner = FakeRunner::new();
            runner.on(&["ssh"], 0, "TST\n", "");
            Lab {
                _dir: dir,
                svc,
                runner,
            }
        }

        fn etc(&self, name: &str) -> String {
            self.svc.paths.etc.join(name).to_string_lossy().into_owned()
        }

        fn stamp_path(&self, node: &str, rid: &str) -> PathBuf {
            self.svc.paths.sync_stamp(node, SVC, rid)
        }

        fn node_conf(&self, text: &str) {
            std::fs::write(self.svc.paths.node_conf(), text).unwrap();
        }

        fn run(
            &self,
            s: &Rsync,
            req: &SyncRequest,
            now: NaiveDateTime,
        ) -> (Result<Synced, Failed>, Vec<String>) {
            let ctx = Ctx {
                runner: &self.runner as &dyn Runner,
                log: Logger::service(SVC).resource(&s.rid),
                svc: &self.svc,
                env: &[],
                force: req.force,
                conflict_checked: false,
                cache: None,
            };
            capture(|| s.sync_at(&ctx, req, now))
        }

        fn argvs(&self) -> Vec<Vec<String>> {
            self.runner.cmds().into_iter().map(|c| c.argv).collect()
        }
    }

    fn i0() -> Rsync {
        Rsync::new(
            "sync#i0".into(),
            SyncConf {
                internal: true,
                src: vec![],
                dst: "/".into(),
                target: vec!["drpnodes".into(), "nodes".into()],
                options: vec![],
                bwlimit: None,
                schedule: Schedule::default(),
            },
        )
    }

    fn user_sync(src: &[&str], dst: &str) -> Rsync {
        Rsync::new(
            "sync#1".into(),
            SyncConf {
                internal: false,
                src: src.iter().map(|s| s.to_string()).collect(),
                dst: dst.into(),
                target: vec!["nodes".into()],
                options: vec![],
                bwlimit: None,
                schedule: Schedule::default(),
            },
        )
    }

    fn req(targets: &[&'static str], force: bool, base: Status) -> SyncRequest {
        SyncRequest {
            targets: targets.to_vec(),
            force,
            cron: false,
            base,
        }
    }

    fn syncnodes() -> SyncRequest {
        req(&["nodes"], false, Status::Up)
    }

    fn forced() -> SyncRequest {
        req(&["nodes"], true, Status::Up)
    }

    fn peers(p: &[&str]) -> Result<Synced, Failed> {
        Ok(Synced {
            peers: p.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn host_mode_argv(user: &str, node: &str) -> Vec<String> {
        let remote = if user == "root" {
            "nodemgr get --param node.host_mode".to_string()
        } else {
            "sudo nodemgr get --param node.host_mode".to_string()
        };
        let mut a = v(&["ssh", "-q"]);
        a.extend(remote::SSH_OPTS.iter().map(|s| s.to_string()));
        a.extend(v(&["-l", user, "--", node]));
        a.push(remote);
        a
    }

    fn transport_argv(user: &str) -> Vec<String> {
        let mut a = v(&["-e", RSH]);
        if user != "root" {
            a.extend(v(&["--rsync-path", "sudo rsync"]));
        }
        a
    }

    fn i0_rsync_argv(lab: &Lab, user: &str, node: &str, src: &[&str]) -> Vec<String> {
        let mut a = v(&[
            "rsync",
            "-HpogDtrlvx",
            "--stats",
            "--delete",
            "--force",
            "--timeout=3600",
            "-R",
            "--exclude=*.core",
        ]);
        a.extend(transport_argv(user));
        a.push("--".into());
        a.extend(src.iter().map(|s| lab.etc(s)));
        a.push(format!("{user}@{node}:/"));
        a
    }

    fn stamp_argv(lab: &Lab, user: &str, local: &str, node: &str, rid: &str) -> Vec<String> {
        let mut a = v(&["rsync"]);
        a.extend(transport_argv(user));
        a.push("-R".into());
        a.push("--".into());
        a.push(lab.stamp_path(node, rid).to_string_lossy().into_owned());
        a.push(lab.stamp_path(local, rid).to_string_lossy().into_owned());
        a.push(format!("{user}@{node}:/"));
        a
    }

    const TUTORIAL_FILES: [&str; 3] = [SVC, "p26.opensvc.com.conf", "p26.opensvc.com.d"];

    #[test]
    fn forced_i0_sync_as_root_runs_quietly_and_stamps_both_sides() {
        // The tutorial's `syncnodes --force` on the up node ("Service
        // Failover").
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (r, lines) = lab.run(&i0(), &forced(), out_of_period());
        assert_eq!(r, peers(&["sles2"]));
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(
            lab.argvs(),
            vec![
                host_mode_argv("root", "sles2"),
                i0_rsync_argv(&lab, "root", "sles2", &TUTORIAL_FILES),
                stamp_argv(&lab, "root", "sles1", "sles2", "sync#i0"),
            ]
        );
        let text = "2014-02-17 17:20:37.000000\n";
        for f in [
            lab.stamp_path("sles2", "sync#i0"),
            lab.stamp_path("sles1", "sync#i0"),
            lab.svc.paths.var.join("last_sync_p26.opensvc.com_sync#i0"),
        ] {
            assert_eq!(
                std::fs::read_to_string(&f).unwrap(),
                text,
                "{}",
                f.display()
            );
        }
        assert_eq!(
            lab.runner.cmds()[1].timeout,
            RSYNC_RUN_LIMIT,
            "the transfer is bounded by rsync's own timeout, not the default"
        );
    }

    #[test]
    fn non_root_ruser_goes_through_sudo() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        lab.node_conf("[node]\nruser = svcsync root@sles3\n");
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2", "sles3"]));
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(
            lab.argvs(),
            vec![
                host_mode_argv("svcsync", "sles2"),
                i0_rsync_argv(&lab, "svcsync", "sles2", &TUTORIAL_FILES),
                stamp_argv(&lab, "svcsync", "sles1", "sles2", "sync#i0"),
                host_mode_argv("root", "sles3"),
                i0_rsync_argv(&lab, "root", "sles3", &TUTORIAL_FILES),
                stamp_argv(&lab, "root", "sles1", "sles3", "sync#i0"),
            ]
        );
    }

    #[test]
    fn out_of_period_is_skipped_without_force() {
        // The tutorial's first `syncnodes`: skipped outside the period.
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (r, lines) = lab.run(&i0(), &syncnodes(), out_of_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} skip sync: not in allowed period (['03:59', '05:59'])"
            )]
        );
        assert!(lab.runner.calls().is_empty());
    }

    #[test]
    fn schedule_messages_are_said_once_and_not_under_cron() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        let (r, lines) = lab.run(&i0(), &syncnodes(), out_of_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(lines.len(), 1, "{lines:?}");
        let mut cron = syncnodes();
        cron.cron = true;
        let (r, lines) = lab.run(&i0(), &cron, out_of_period());
        assert_eq!(r, peers(&[]));
        assert!(lines.is_empty(), "{lines:?}");
        assert!(lab.runner.calls().is_empty());
    }

    #[test]
    fn interval_zero_and_days_skip() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let mut s = i0();
        s.conf.schedule.days = vec!["monday".into(), "friday".into()];
        let tuesday = in_period() + TimeDelta::days(1);
        let (r, lines) = lab.run(&s, &syncnodes(), tuesday);
        assert_eq!(r, peers(&[]));
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} skip sync: not in allowed days (['monday', 'friday'])"
            )]
        );
        s.conf.schedule.interval_min = 0;
        let (_, lines) = lab.run(&s, &syncnodes(), in_period());
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} skip sync: disabled by sync_interval = 0"
            )]
        );
        assert!(lab.runner.calls().is_empty());
        // --force bypasses all of it.
        let (r, lines) = lab.run(&s, &forced(), tuesday);
        assert_eq!(r, peers(&["sles2"]));
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn in_period_first_sync_then_too_soon() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let now = in_period();
        let (r, lines) = lab.run(&i0(), &syncnodes(), now);
        assert_eq!(r, peers(&["sles2"]));
        assert_eq!(
            lines,
            vec![format!("INFO {I0} don't skip sync: no timestamp")]
        );
        assert_eq!(lab.runner.calls().len(), 3);
        // A second sync within the interval (121 min) is too soon.
        let later = now + TimeDelta::minutes(30);
        let (r, lines) = lab.run(&i0(), &syncnodes(), later);
        assert_eq!(r, peers(&[]));
        assert_eq!(lines, vec![format!("INFO {I0} skip sync: too soon (121)")]);
        assert_eq!(lab.runner.calls().len(), 3, "nothing more run");
        // Old enough (here a window wide enough for two syncs): synced
        // again, quietly.
        let mut s = i0();
        s.conf.schedule.periods = vec![("00:00".into(), "23:59".into())];
        let (r, lines) = lab.run(&s, &syncnodes(), now + TimeDelta::minutes(121));
        assert_eq!(r, peers(&["sles2"]));
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn only_peers_due_are_synced() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        let now = in_period();
        write_stamp(
            &lab.stamp_path("sles2", "sync#i0"),
            now - TimeDelta::minutes(10),
        )
        .unwrap();
        write_stamp(
            &lab.stamp_path("sles3", "sync#i0"),
            now - TimeDelta::minutes(200),
        )
        .unwrap();
        let (r, lines) = lab.run(&i0(), &syncnodes(), now);
        assert_eq!(r, peers(&["sles3"]));
        assert_eq!(lines, vec![format!("INFO {I0} skip sync: too soon (121)")]);
        assert_eq!(lab.argvs()[0], host_mode_argv("root", "sles3"));
    }

    #[test]
    fn force_does_not_bypass_the_up_rule() {
        // --force bypasses the schedule, never the rule that the service be up.
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (r, lines) = lab.run(&i0(), &req(&["nodes"], true, Status::Down), in_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} won't sync this resource for a service not up"
            )]
        );
        let (r, lines) = lab.run(&i0(), &req(&["nodes"], true, Status::Warn), in_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(
            lines,
            vec![
                format!("INFO {I0} won't sync this resource service in warn status"),
                format!("INFO {I0} won't sync this resource for a service not up"),
            ]
        );
        assert!(lab.runner.calls().is_empty());
        // A service without ip, disk or fs counts as up.
        for base in [Status::Undef, Status::NotApplicable, Status::StdbyUpWithUp] {
            let (r, _) = lab.run(&i0(), &req(&["nodes"], true, base), in_period());
            assert_eq!(r, peers(&["sles2"]), "{base:?}");
        }
    }

    #[test]
    fn the_schedule_is_checked_before_the_up_rule() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (_, lines) = lab.run(
            &i0(),
            &req(&["nodes"], false, Status::Down),
            out_of_period(),
        );
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} skip sync: not in allowed period (['03:59', '05:59'])"
            )]
        );
    }

    #[test]
    fn unreachable_peer_is_an_error_and_others_still_sync() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        lab.runner.on(
            &host_mode_argv("root", "sles2")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            255,
            "",
            "ssh: connect to host sles2 port 22: No route to host\r\nmore\n",
        );
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles3"]));
        assert_eq!(
            lines,
            vec![format!(
                "ERROR {I0} node sles2 is unreachable: ssh: connect to host sles2 port 22: No route to host"
            )]
        );
        assert_eq!(
            lab.argvs(),
            vec![
                host_mode_argv("root", "sles2"),
                host_mode_argv("root", "sles3"),
                i0_rsync_argv(&lab, "root", "sles3", &TUTORIAL_FILES),
                stamp_argv(&lab, "root", "sles1", "sles3", "sync#i0"),
            ]
        );
        assert!(
            lab.stamp_path("sles2", "sync#i0")
                .symlink_metadata()
                .is_err()
        );
    }

    #[test]
    fn every_peer_failing_fails_the_action() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.runner.on(&["ssh"], 255, "", "");
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, Err(Failed::silent()));
        assert_eq!(
            lines,
            vec![format!("ERROR {I0} node sles2 is unreachable: ssh failed")]
        );
    }

    #[test]
    fn incompatible_host_modes() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &["drp1"]);
        lab.runner.on(&["ssh"], 0, "prd\n", "");
        let all = req(&["nodes", "drpnodes"], true, Status::Up);
        let (r, lines) = lab.run(&i0(), &all, in_period());
        assert_eq!(r, Err(Failed::silent()));
        assert_eq!(
            lines,
            vec![
                format!(
                    "ERROR {I0} incompatible remote node 'sles2' host mode: 'PRD' (expected in ['TST'])"
                ),
                format!(
                    "ERROR {I0} incompatible remote node 'drp1' host mode: 'PRD' (expected in ['PPRD', 'REC', 'INT', 'DEV', 'TST', 'TMP', 'DRP', 'FOR', 'PRA'])"
                ),
            ]
        );
        assert!(lab.runner.calls().iter().all(|c| c.starts_with("ssh ")));
    }

    #[test]
    fn a_drp_node_may_have_any_mode_but_prd() {
        let lab = Lab::new("sles1", &["sles1"], &["drp1"]);
        lab.runner.on(&["ssh"], 0, "DEV\n", "");
        let (r, lines) = lab.run(&i0(), &req(&["drpnodes"], true, Status::Up), in_period());
        assert_eq!(r, peers(&["drp1"]));
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn a_failing_or_silent_nodemgr_means_tst() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        let prefix = |n: &str| host_mode_argv("root", n);
        let p2 = prefix("sles2");
        let p3 = prefix("sles3");
        lab.runner.on(
            &p2.iter().map(String::as_str).collect::<Vec<_>>(),
            1,
            "",
            "no such key",
        );
        lab.runner.on(
            &p3.iter().map(String::as_str).collect::<Vec<_>>(),
            0,
            "  \n",
            "",
        );
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2", "sles3"]));
        assert!(lines.is_empty(), "{lines:?}");
        // A PRD service does not go to them.
        let mut lab = lab;
        lab.svc.service_type = "PRD".into();
        lab.node_conf("[node]\nhost_mode = PRD\n");
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, Err(Failed::silent()));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("host mode: 'TST' (expected in ['PRD'])"));
    }

    #[test]
    fn prd_service_on_a_non_prd_node_is_not_synced() {
        let mut lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.svc.service_type = "PRD".into();
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(
            lines,
            vec![format!(
                "INFO {I0} won't sync a PRD service running on a !PRD node"
            )]
        );
        assert!(lab.runner.calls().is_empty());
        lab.node_conf("[node]\nhost_mode = PRD\n");
        lab.runner.on(&["ssh"], 0, "PRD\n", "");
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2"]));
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn nothing_to_sync() {
        // One node only.
        let lab = Lab::new("sles1", &["sles1"], &[]);
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
        // syncdrp without drpnodes, and not under cron.
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let mut r2 = req(&["drpnodes"], true, Status::Up);
        let (r, lines) = lab.run(&i0(), &r2, in_period());
        assert_eq!(r, peers(&[]));
        assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
        r2.cron = true;
        let (_, lines) = lab.run(&i0(), &r2, in_period());
        assert!(lines.is_empty());
        // A resource that does not target the requested list.
        let mut s = i0();
        s.conf.target = vec!["drpnodes".into()];
        let (r, _) = lab.run(&s, &forced(), in_period());
        assert_eq!(r, peers(&[]));
        // A drp node never sends, even when up.
        let lab = Lab::new("drp1", &["sles1"], &["drp1", "drp2"]);
        let (r, lines) = lab.run(
            &i0(),
            &req(&["nodes", "drpnodes"], true, Status::Up),
            in_period(),
        );
        assert_eq!(r, peers(&[]));
        assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
        assert!(lab.runner.calls().is_empty());
    }

    #[test]
    fn syncall_reaches_nodes_and_drpnodes_once_each() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &["drp1", "sles2"]);
        let (r, _) = lab.run(
            &i0(),
            &req(&["nodes", "drpnodes"], true, Status::Up),
            in_period(),
        );
        assert_eq!(r, peers(&["sles2", "drp1"]));
        assert_eq!(lab.runner.calls().len(), 6);
    }

    #[test]
    fn rsync_failure_goes_on_with_the_next_node() {
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
        // Only sles3's data transfer succeeds.
        lab.runner.on_seq(
            &["rsync", "-HpogDtrlvx"],
            vec![
                crate::exec::Output {
                    rc: 12,
                    stdout: String::new(),
                    stderr: "rsync error".into(),
                },
                crate::exec::Output::default(),
            ],
        );
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles3"]));
        let files: Vec<String> = TUTORIAL_FILES.iter().map(|f| lab.etc(f)).collect();
        assert_eq!(
            lines,
            vec![format!(
                "ERROR {I0} node sles2 synchronization failed ({} => /)",
                files.join(" ")
            )]
        );
        assert!(
            lab.stamp_path("sles2", "sync#i0")
                .symlink_metadata()
                .is_err()
        );
        assert!(lab.stamp_path("sles3", "sync#i0").exists());
    }

    #[test]
    fn a_failed_stamp_send_is_a_warning_and_the_peer_still_counts() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.runner.on(&["rsync", "-e"], 12, "", "connection reset");
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2"]));
        assert_eq!(
            lines,
            vec![format!(
                "WARNING {I0} could not send the sync timestamps to node sles2 (rsync rc 12)"
            )]
        );
    }

    #[test]
    fn payload_follows_the_files_present() {
        // Without the link and the .d: the config file alone.
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        std::fs::remove_file(lab.svc.paths.svc_link(SVC)).unwrap();
        std::fs::remove_file(lab.svc.paths.launcher_dir(SVC)).unwrap();
        std::fs::write(lab.svc.paths.etc.join(format!("{SVC}.stonith")), "").unwrap();
        let (r, _) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2"]));
        assert_eq!(
            lab.argvs()[1],
            i0_rsync_argv(&lab, "root", "sles2", &["p26.opensvc.com.conf"])
        );
        // With .env instead of .conf, the .cluster link and the .dir tree;
        // never .stonith.
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let etc = &lab.svc.paths.etc;
        std::fs::rename(
            etc.join(format!("{SVC}.conf")),
            etc.join(format!("{SVC}.env")),
        )
        .unwrap();
        std::os::unix::fs::symlink("/usr/bin/svcmgr", etc.join(format!("{SVC}.cluster"))).unwrap();
        std::os::unix::fs::symlink("/usr/bin/svcmgr", etc.join(format!("{SVC}.stonith"))).unwrap();
        std::fs::create_dir_all(etc.join(format!("{SVC}.dir/sub"))).unwrap();
        let (r, _) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, peers(&["sles2"]));
        assert_eq!(
            lab.argvs()[1],
            i0_rsync_argv(
                &lab,
                "root",
                "sles2",
                &[
                    SVC,
                    "p26.opensvc.com.env",
                    "p26.opensvc.com.d",
                    "p26.opensvc.com.cluster",
                    "p26.opensvc.com.dir",
                ]
            )
        );
    }

    #[test]
    fn a_missing_config_file_fails_before_any_transfer() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        std::fs::remove_file(lab.svc.paths.etc.join(format!("{SVC}.conf"))).unwrap();
        let (r, lines) = lab.run(&i0(), &forced(), in_period());
        assert_eq!(r, Err(Failed::silent()));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(&format!("ERROR {I0} ")));
        assert!(lab.runner.calls().is_empty());
    }

    #[test]
    fn i0_options_and_bwlimit_take_their_places() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let mut s = i0();
        s.conf.options = v(&["--exclude=*.tmp", "--numeric-ids"]);
        s.conf.bwlimit = Some(1000);
        lab.run(&s, &forced(), in_period()).0.unwrap();
        let mut want = v(&[
            "rsync",
            "-HpogDtrlvx",
            "--stats",
            "--delete",
            "--force",
            "--timeout=3600",
            "-R",
            "--exclude=*.core",
            "--exclude=*.tmp",
            "--numeric-ids",
        ]);
        want.extend(transport_argv("root"));
        want.push("--bwlimit=1000".into());
        want.push("--".into());
        want.extend(TUTORIAL_FILES.iter().map(|f| lab.etc(f)));
        want.push("root@sles2:/".into());
        assert_eq!(lab.argvs()[1], want);
    }

    /// A user data tree under the lab root.
    fn data(lab: &Lab) -> (String, String) {
        let root = lab.svc.paths.etc.parent().unwrap().join("svc1");
        for f in ["data/a.db", "data/b.db", "app/bin"] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let r = root.to_string_lossy().into_owned();
        (format!("{r}/data/*.db"), format!("{r}/app"))
    }

    #[test]
    fn user_sync_is_logged_with_globs_expanded() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.node_conf("[node]\nruser = svcsync\n");
        let (glob_src, app) = data(&lab);
        let s = user_sync(&[&glob_src, &app], "/backup");
        lab.runner
            .on(&["rsync", "-HpogDtrlvx"], 0, "sent 10 bytes\n", "");
        let (r, lines) = lab.run(&s, &forced(), in_period());
        assert_eq!(r, peers(&["sles2"]));
        let root = app.trim_end_matches("/app");
        let want = format!(
            "rsync -HpogDtrlvx --stats --delete --force --timeout=3600 -e {RSH} --rsync-path sudo rsync -- {root}/data/a.db {root}/data/b.db {app} svcsync@sles2:/backup"
        );
        let name = "P26.OPENSVC.COM.SYNC#1";
        assert_eq!(
            lines,
            vec![
                format!("INFO {name} {want}"),
                format!("INFO {name} output:\nsent 10 bytes\n"),
            ]
        );
        assert_eq!(lab.runner.calls()[1], want);
        assert_eq!(
            lab.argvs()[2],
            stamp_argv(&lab, "svcsync", "sles1", "sles2", "sync#1")
        );
        assert_eq!(
            std::fs::read_to_string(lab.stamp_path("sles2", "sync#1")).unwrap(),
            "2014-02-17 04:30:00.250000\n"
        );
    }

    #[test]
    fn user_sync_failure_names_sources_and_destination() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (_, app) = data(&lab);
        let s = user_sync(&[&app], "/backup");
        lab.runner
            .on(&["rsync", "-HpogDtrlvx"], 23, "", "some files vanished\n");
        let (r, lines) = lab.run(&s, &forced(), in_period());
        assert_eq!(r, Err(Failed::silent()));
        let name = "P26.OPENSVC.COM.SYNC#1";
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[1],
            format!("ERROR {name} stderr:\nsome files vanished\n")
        );
        assert_eq!(
            lines[2],
            format!("ERROR {name} node sles2 synchronization failed ({app} => /backup)")
        );
    }

    #[test]
    fn a_missing_user_source_fails_without_transfer() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let (_, app) = data(&lab);
        let gone = format!("{app}/nothing*");
        let s = user_sync(&[&app, &gone, "/nonexistent/dir"], "/backup");
        let (r, lines) = lab.run(&s, &forced(), in_period());
        assert_eq!(r, Err(Failed::silent()));
        let name = "P26.OPENSVC.COM.SYNC#1";
        assert_eq!(
            lines,
            vec![
                format!("ERROR {name} {gone} does not exist"),
                format!("ERROR {name} /nonexistent/dir does not exist"),
            ]
        );
        assert!(lab.runner.calls().is_empty());
    }

    #[test]
    fn through_the_driver_trait() {
        use crate::driver::Driver;
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let ctx = Ctx {
            runner: &lab.runner as &dyn Runner,
            log: Logger::service(SVC).resource("sync#i0"),
            svc: &lab.svc,
            env: &[],
            force: true,
            conflict_checked: false,
            cache: None,
        };
        let before = chrono::Local::now().naive_local();
        let r = i0().sync(&ctx, &forced());
        assert_eq!(r, peers(&["sles2"]));
        let stamp = read_stamp(&lab.stamp_path("sles2", "sync#i0")).unwrap();
        assert!(stamp >= before && stamp <= chrono::Local::now().naive_local());
    }
}
