//! The LVM volume group resource (docs/behaviour.md, "vg"): activation with `vgchange`,
//! ownership shown by an `@<nodename>` host tag.

use std::time::Duration;

use super::*;
use crate::config::VgConf;
use crate::exec::{Cmd, ErrLevel, run_logged};

/// Between deactivation retries; unit tests must not wait.
const PAUSE: Duration = if cfg!(test) {
    Duration::ZERO
} else {
    Duration::from_secs(1)
};

/// Deactivation retries after the first `vgchange -a n`.
const DEACTIVATE_RETRIES: u32 = 3;

pub struct Vg {
    conf: VgConf,
}

impl Vg {
    pub fn new(conf: VgConf) -> Vg {
        Vg { conf }
    }

    fn name(&self) -> &str {
        &self.conf.vgname
    }

    /// One look at the VG: `vgs` gives its tags and LV count, and only a VG
    /// with LVs needs `lvs` for their states. LVM commands cost ~80 ms each,
    /// most of a start or stop, so each operation reads the state once.
    fn read(&self, ctx: &Ctx) -> Option<VgState> {
        let cmd = Cmd::new([
            "vgs",
            "--noheadings",
            "--separator",
            "|",
            "-o",
            "vg_tags,lv_count",
            self.name(),
        ]);
        let out = ctx.probe(&cmd).ok().filter(|o| o.ok())?;
        let line = out.stdout.lines().find(|l| !l.trim().is_empty())?;
        let (tags, count) = line.rsplit_once('|')?;
        let lv_count: usize = count.trim().parse().ok()?;
        let lv_attrs = if lv_count == 0 {
            Vec::new()
        } else {
            let cmd = Cmd::new(["lvs", "--noheadings", "-o", "lv_attr", self.name()]);
            match ctx.probe(&cmd) {
                Ok(out) if out.ok() => out.stdout.split_whitespace().map(String::from).collect(),
                _ => Vec::new(),
            }
        };
        Some(VgState {
            tags: parse_tags(tags),
            lv_count,
            lv_attrs,
        })
    }

    fn lv_names(&self, ctx: &Ctx) -> Vec<String> {
        let cmd = Cmd::new(["lvs", "-o", "name", "--noheadings", self.name()]);
        match ctx.probe(&cmd) {
            Ok(out) if out.ok() => out.stdout.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
    }

    fn is_active(&self, ctx: &Ctx) -> bool {
        self.read(ctx).is_some_and(|s| s.active(&ctx.svc.nodename))
    }

    /// Runs a logged `vgchange`; false when it could not run or failed.
    fn vgchange(&self, ctx: &Ctx, args: &[&str], level: ErrLevel) -> bool {
        let mut argv = vec!["vgchange"];
        argv.extend_from_slice(args);
        argv.push(self.name());
        run_logged(ctx.runner, &ctx.log, &Cmd::new(argv), level).is_ok_and(|o| o.ok())
    }

    /// `untagged`: this node's tag is gone, which settles an LV-less VG.
    fn deactivate(&self, ctx: &Ctx, st: &VgState, untagged: bool) -> bool {
        for attempt in 0..=DEACTIVATE_RETRIES {
            if attempt > 0 {
                std::thread::sleep(PAUSE);
            }
            // The rc says little: LVM fails the whole call when one LV is
            // busy, so the LV states decide.
            self.vgchange(ctx, &["-a", "n"], ErrLevel::Info);
            if st.lv_count == 0 && untagged {
                return true;
            }
            if !self.is_active(ctx) {
                return true;
            }
        }
        false
    }
}

/// What `Vg::read` saw.
struct VgState {
    /// Tags without their `@`.
    tags: Vec<String>,
    lv_count: usize,
    /// `lv_attr` of each LV; empty when there is none.
    lv_attrs: Vec<String>,
}

impl VgState {
    /// A VG without LVs has no activation state of its own: it counts as
    /// active when it carries this node's tag (1.5 always said active).
    fn active(&self, node: &str) -> bool {
        match any_lv_active(&self.lv_attrs.join(" ")) {
            Some(active) => active,
            None => self.tags.iter().any(|t| t == node),
        }
    }
}

/// `vgs -o vg_tags` prints one comma-separated list per VG.
fn parse_tags(out: &str) -> Vec<String> {
    out.split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim_start_matches('@'))
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// From `lvs -o lv_attr` (`-wi-a-----`, the 5th character is the state):
/// whether some LV is active, None when the VG has no LV.
fn any_lv_active(out: &str) -> Option<bool> {
    let attrs: Vec<&str> = out.split_whitespace().collect();
    if attrs.is_empty() {
        return None;
    }
    Some(attrs.iter().any(|a| a.chars().nth(4) == Some('a')))
}

impl Driver for Vg {
    fn kind(&self) -> Kind {
        Kind::Vg
    }

    fn type_name(&self) -> &'static str {
        "disk.vg"
    }

    fn label(&self) -> String {
        self.conf.vgname.clone()
    }

    fn start(&self, ctx: &Ctx) -> Result<Started, Failed> {
        let vg = self.name();
        let node = &ctx.svc.nodename;
        let st = self.read(ctx);
        if st.as_ref().is_some_and(|s| s.active(node)) {
            // Not Activated (1.5 said so): a rollback must never deactivate
            // a VG this action did not activate.
            ctx.log.info(format!("{vg} is already up"));
            return Ok(Started::AlreadyUp);
        }
        for tag in st.map(|s| s.tags).unwrap_or_default() {
            if tag != *node
                && !self.vgchange(ctx, &["--deltag", &format!("@{tag}")], ErrLevel::Default)
            {
                return Err(Failed::silent());
            }
        }
        let ok = self.vgchange(ctx, &["--addtag", &format!("@{node}")], ErrLevel::Default)
            && self.vgchange(ctx, &["-a", "y"], ErrLevel::Default);
        if !ok {
            return Err(Failed::silent());
        }
        Ok(Started::Activated)
    }

    fn stop(&self, ctx: &Ctx) -> Result<(), Failed> {
        let vg = self.name();
        let node = &ctx.svc.nodename;
        let Some(st) = self.read(ctx).filter(|s| s.active(node)) else {
            ctx.log.info(format!("{vg} is already down"));
            return Ok(());
        };
        let mut untagged = true;
        if st.tags.iter().any(|t| t == node) {
            // A stale tag only costs the next owner one --deltag: go on.
            untagged = self.vgchange(ctx, &["--deltag", &format!("@{node}")], ErrLevel::Default);
        }
        if st.lv_count > 0 && ctx.runner.which("kpartx").is_some() {
            for lv in self.lv_names(ctx) {
                let cmd = Cmd::new(["kpartx", "-d", &format!("/dev/{vg}/{lv}")]);
                let _ = run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default);
            }
        }
        if !self.deactivate(ctx, &st, untagged) {
            ctx.log.error(format!("{vg} is still active"));
            return Err(Failed::silent());
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, _deps: &Deps) -> Probe {
        if self.is_active(ctx) {
            Probe::new(Status::Up)
        } else {
            Probe::new(Status::Down)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{FakeRunner, Output};
    use crate::log::capture;
    use crate::paths::Paths;

    const ATTR: &[&str] = &["lvs", "--noheadings", "-o", "lv_attr", "vgsvc1"];
    const STATE: &[&str] = &[
        "vgs",
        "--noheadings",
        "--separator",
        "|",
        "-o",
        "vg_tags,lv_count",
        "vgsvc1",
    ];
    const STATE_CALL: &str = "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1";
    const ATTR_CALL: &str = "lvs --noheadings -o lv_attr vgsvc1";
    const ACTIVE: &str = "  -wi-a-----\n  -wi-a-----\n";
    const INACTIVE: &str = "  -wi-------\n  -wi-------\n";

    fn svc() -> SvcInfo {
        SvcInfo {
            name: "s1".into(),
            nodename: "sles1".into(),
            nodes: vec!["sles1".into()],
            drpnodes: vec![],
            service_type: "PRD".into(),
            paths: Paths::under(std::path::Path::new("/nonexistent")),
            svcmgr_bin: "/usr/bin/svcmgr".into(),
        }
    }

    fn ctx<'a>(runner: &'a FakeRunner, svc: &'a SvcInfo) -> Ctx<'a> {
        Ctx {
            runner,
            log: Logger::service("s1").resource("vg#0"),
            svc,
            env: &[],
            force: false,
            conflict_checked: false,
            cache: None,
        }
    }

    fn vg() -> Vg {
        Vg::new(VgConf {
            vgname: "vgsvc1".into(),
        })
    }

    fn out(stdout: &str) -> Output {
        Output {
            rc: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    const CHANGED: &str = "  Volume group \"vgsvc1\" successfully changed\n";

    #[test]
    fn parsers() {
        assert_eq!(parse_tags("  sles1,old-node"), ["sles1", "old-node"]);
        assert_eq!(parse_tags("  "), Vec::<String>::new());
        assert_eq!(any_lv_active(ACTIVE), Some(true));
        assert_eq!(any_lv_active("  -wi-------\n  -wi-a-----\n"), Some(true));
        assert_eq!(any_lv_active(INACTIVE), Some(false));
        assert_eq!(any_lv_active("\n"), None);
    }

    #[test]
    fn start_matches_the_seed() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  |2\n", "");
        r.on(ATTR, 0, INACTIVE, "");
        r.on(&["vgchange", "--addtag"], 0, CHANGED, "");
        r.on(
            &["vgchange", "-a", "y"],
            0,
            "  2 logical volume(s) in volume group \"vgsvc1\" now active\n",
            "",
        );
        let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(
            r.calls(),
            [
                STATE_CALL,
                ATTR_CALL,
                "vgchange --addtag @sles1 vgsvc1",
                "vgchange -a y vgsvc1",
            ]
        );
        assert_eq!(
            lines,
            [
                "INFO S1.VG#0 vgchange --addtag @sles1 vgsvc1",
                "INFO S1.VG#0 output:\n  Volume group \"vgsvc1\" successfully changed\n",
                "INFO S1.VG#0 vgchange -a y vgsvc1",
                "INFO S1.VG#0 output:\n  2 logical volume(s) in volume group \"vgsvc1\" now active\n",
            ]
        );
    }

    #[test]
    fn start_removes_stale_tags_first() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  sles1,sles2|2\n", "");
        r.on(ATTR, 0, INACTIVE, "");
        let (res, _) = capture(|| vg().start(&ctx(&r, &s)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(
            r.calls()[2..],
            [
                "vgchange --deltag @sles2 vgsvc1",
                "vgchange --addtag @sles1 vgsvc1",
                "vgchange -a y vgsvc1",
            ]
        );
    }

    #[test]
    fn start_of_an_active_vg_is_already_up() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  |2\n", "");
        r.on(ATTR, 0, ACTIVE, "");
        let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
        assert_eq!(res, Ok(Started::AlreadyUp));
        assert_eq!(r.calls(), [STATE_CALL, ATTR_CALL]);
        assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already up"]);
    }

    #[test]
    fn start_fails_on_any_vgchange_error() {
        for failing in ["--deltag", "--addtag", "-a"] {
            let (s, r) = (svc(), FakeRunner::new());
            r.on(STATE, 0, "  sles2|2\n", "");
            r.on(ATTR, 0, INACTIVE, "");
            r.on(&["vgchange", failing], 5, "", "  boom\n");
            let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
            assert_eq!(res, Err(Failed::silent()), "{failing}");
            assert_eq!(lines.last().unwrap(), "ERROR S1.VG#0 stderr:\n  boom\n");
            assert!(
                r.calls()
                    .last()
                    .unwrap()
                    .starts_with(&format!("vgchange {failing}"))
            );
        }
    }

    #[test]
    fn a_vg_without_lvs_is_active_only_when_tagged_here_and_needs_one_command() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on_seq(STATE, vec![out("  sles1|0\n"), out("  sles2|0\n")]);
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Up)
        );
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Down)
        );
        assert_eq!(r.calls(), [STATE_CALL, STATE_CALL]);
    }

    #[test]
    fn a_missing_vg_is_down() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 5, "", "  Volume group \"vgsvc1\" not found\n");
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Down)
        );
        assert_eq!(r.calls(), [STATE_CALL]);
    }

    #[test]
    fn stop_matches_the_seed() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on_seq(STATE, vec![out("  sles1|2\n"), out("  |2\n")]);
        r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
        r.on(&["vgchange", "--deltag"], 0, CHANGED, "");
        r.on(&["lvs", "-o", "name"], 0, "  lvappsvc1\n  lvdatasvc1\n", "");
        r.on(
            &["vgchange", "-a", "n"],
            0,
            "  0 logical volume(s) in volume group \"vgsvc1\" now active\n",
            "",
        );
        let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                STATE_CALL,
                ATTR_CALL,
                "vgchange --deltag @sles1 vgsvc1",
                "lvs -o name --noheadings vgsvc1",
                "kpartx -d /dev/vgsvc1/lvappsvc1",
                "kpartx -d /dev/vgsvc1/lvdatasvc1",
                "vgchange -a n vgsvc1",
                STATE_CALL,
                ATTR_CALL,
            ]
        );
        assert_eq!(
            lines,
            [
                "INFO S1.VG#0 vgchange --deltag @sles1 vgsvc1",
                "INFO S1.VG#0 output:\n  Volume group \"vgsvc1\" successfully changed\n",
                "INFO S1.VG#0 kpartx -d /dev/vgsvc1/lvappsvc1",
                "INFO S1.VG#0 kpartx -d /dev/vgsvc1/lvdatasvc1",
                "INFO S1.VG#0 vgchange -a n vgsvc1",
                "INFO S1.VG#0 output:\n  0 logical volume(s) in volume group \"vgsvc1\" now active\n",
            ]
        );
    }

    #[test]
    fn stop_without_our_tag_or_kpartx_only_deactivates() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  |2\n", "");
        r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
        r.missing("kpartx");
        let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                STATE_CALL,
                ATTR_CALL,
                "vgchange -a n vgsvc1",
                STATE_CALL,
                ATTR_CALL
            ]
        );
    }

    #[test]
    fn stop_of_an_inactive_vg_is_already_down() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  |2\n", "");
        r.on(ATTR, 0, INACTIVE, "");
        let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(r.calls(), [STATE_CALL, ATTR_CALL]);
        assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already down"]);
    }

    #[test]
    fn stop_retries_then_fails_on_a_vg_that_stays_active() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  |1\n", "");
        r.on(ATTR, 0, ACTIVE, "");
        r.missing("kpartx");
        r.on(
            &["vgchange", "-a", "n"],
            5,
            "",
            "  Logical volume vgsvc1/lv1 in use.\n",
        );
        let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Err(Failed::silent()));
        let tries = r
            .calls()
            .iter()
            .filter(|c| *c == "vgchange -a n vgsvc1")
            .count();
        assert_eq!(tries, 4);
        assert_eq!(
            lines[..2],
            [
                "INFO S1.VG#0 vgchange -a n vgsvc1",
                "INFO S1.VG#0 stderr:\n  Logical volume vgsvc1/lv1 in use.\n",
            ]
        );
        assert_eq!(
            lines.last().unwrap(),
            "ERROR S1.VG#0 vgsvc1 is still active"
        );
    }

    #[test]
    fn stop_of_a_tagged_vg_without_lvs_drops_the_tag_with_three_commands() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  sles1|0\n", "");
        let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                STATE_CALL,
                "vgchange --deltag @sles1 vgsvc1",
                "vgchange -a n vgsvc1",
            ]
        );
    }

    #[test]
    fn a_failed_deltag_on_a_vg_without_lvs_is_checked_again() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  sles1|0\n", "");
        r.on(&["vgchange", "--deltag"], 5, "", "  boom\n");
        let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines.last().unwrap(),
            "ERROR S1.VG#0 vgsvc1 is still active"
        );
    }
}
