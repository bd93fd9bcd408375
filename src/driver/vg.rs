//! The LVM volume group resource (spec §5.3): activation with `vgchange`,
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

    /// The VG's tags without their `@`; None when the VG cannot be read.
    fn tags(&self, ctx: &Ctx) -> Option<Vec<String>> {
        let cmd = Cmd::new(["vgs", "-o", "tags", "--noheadings", self.name()]);
        match ctx.probe(&cmd) {
            Ok(out) if out.ok() => Some(parse_tags(&out.stdout)),
            _ => None,
        }
    }

    fn lv_names(&self, ctx: &Ctx) -> Vec<String> {
        let cmd = Cmd::new(["lvs", "-o", "name", "--noheadings", self.name()]);
        match ctx.probe(&cmd) {
            Ok(out) if out.ok() => out.stdout.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
    }

    /// A VG without LVs has no activation state of its own: it counts as
    /// active when it carries this node's tag (1.5 always said active).
    fn is_active(&self, ctx: &Ctx) -> bool {
        let cmd = Cmd::new(["lvs", "--noheadings", "-o", "lv_attr", self.name()]);
        let out = match ctx.probe(&cmd) {
            Ok(out) if out.ok() => out,
            _ => return false,
        };
        match any_lv_active(&out.stdout) {
            Some(active) => active,
            None => self
                .tags(ctx)
                .is_some_and(|t| t.contains(&ctx.svc.nodename)),
        }
    }

    /// Runs a logged `vgchange`; false when it could not run or failed.
    fn vgchange(&self, ctx: &Ctx, args: &[&str], level: ErrLevel) -> bool {
        let mut argv = vec!["vgchange"];
        argv.extend_from_slice(args);
        argv.push(self.name());
        run_logged(ctx.runner, &ctx.log, &Cmd::new(argv), level).is_ok_and(|o| o.ok())
    }

    fn deactivate(&self, ctx: &Ctx) -> bool {
        for attempt in 0..=DEACTIVATE_RETRIES {
            if attempt > 0 {
                std::thread::sleep(PAUSE);
            }
            // The rc says little: LVM fails the whole call when one LV is
            // busy, so the LV states decide.
            self.vgchange(ctx, &["-a", "n"], ErrLevel::Info);
            if !self.is_active(ctx) {
                return true;
            }
        }
        false
    }
}

/// `vgs -o tags` prints one comma-separated line per VG.
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
        if self.is_active(ctx) {
            // Not Activated (1.5 said so): a rollback must never deactivate
            // a VG this action did not activate.
            ctx.log.info(format!("{vg} is already up"));
            return Ok(Started::AlreadyUp);
        }
        let node = &ctx.svc.nodename;
        for tag in self.tags(ctx).unwrap_or_default() {
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
        if !self.is_active(ctx) {
            ctx.log.info(format!("{vg} is already down"));
            return Ok(());
        }
        let node = &ctx.svc.nodename;
        if self.tags(ctx).is_some_and(|t| t.contains(node)) {
            // A stale tag only costs the next owner one --deltag: go on.
            self.vgchange(ctx, &["--deltag", &format!("@{node}")], ErrLevel::Default);
        }
        if ctx.runner.which("kpartx").is_some() {
            for lv in self.lv_names(ctx) {
                let cmd = Cmd::new(["kpartx", "-d", &format!("/dev/{vg}/{lv}")]);
                let _ = run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default);
            }
        }
        if !self.deactivate(ctx) {
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
    const TAGS: &[&str] = &["vgs", "-o", "tags", "--noheadings", "vgsvc1"];
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
        assert_eq!(parse_tags("  sles1,old-node\n"), ["sles1", "old-node"]);
        assert_eq!(parse_tags("  \n"), Vec::<String>::new());
        assert_eq!(any_lv_active(ACTIVE), Some(true));
        assert_eq!(any_lv_active("  -wi-------\n  -wi-a-----\n"), Some(true));
        assert_eq!(any_lv_active(INACTIVE), Some(false));
        assert_eq!(any_lv_active("\n"), None);
    }

    #[test]
    fn start_matches_the_seed() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 0, INACTIVE, "");
        r.on(TAGS, 0, "  \n", "");
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
                "lvs --noheadings -o lv_attr vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
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
        r.on(ATTR, 0, INACTIVE, "");
        r.on(TAGS, 0, "  sles1,sles2\n", "");
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
        r.on(ATTR, 0, ACTIVE, "");
        let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
        assert_eq!(res, Ok(Started::AlreadyUp));
        assert_eq!(r.calls(), ["lvs --noheadings -o lv_attr vgsvc1"]);
        assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already up"]);
    }

    #[test]
    fn start_fails_on_any_vgchange_error() {
        for failing in ["--deltag", "--addtag", "-a"] {
            let (s, r) = (svc(), FakeRunner::new());
            r.on(ATTR, 0, INACTIVE, "");
            r.on(TAGS, 0, "  sles2\n", "");
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
    fn a_vg_without_lvs_is_active_only_when_tagged_here() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 0, "", "");
        r.on_seq(TAGS, vec![out("  sles1\n"), out("  sles2\n")]);
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Up)
        );
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Down)
        );
    }

    #[test]
    fn a_missing_vg_is_down() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 5, "", "  Volume group \"vgsvc1\" not found\n");
        assert_eq!(
            vg().status(&ctx(&r, &s), &Deps::NONE),
            Probe::new(Status::Down)
        );
        assert_eq!(r.calls(), ["lvs --noheadings -o lv_attr vgsvc1"]);
    }

    #[test]
    fn stop_matches_the_seed() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
        r.on(TAGS, 0, "  sles1\n", "");
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
                "lvs --noheadings -o lv_attr vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
                "vgchange --deltag @sles1 vgsvc1",
                "lvs -o name --noheadings vgsvc1",
                "kpartx -d /dev/vgsvc1/lvappsvc1",
                "kpartx -d /dev/vgsvc1/lvdatasvc1",
                "vgchange -a n vgsvc1",
                "lvs --noheadings -o lv_attr vgsvc1",
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
        r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
        r.on(TAGS, 0, "  \n", "");
        r.missing("kpartx");
        let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                "lvs --noheadings -o lv_attr vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
                "vgchange -a n vgsvc1",
                "lvs --noheadings -o lv_attr vgsvc1",
            ]
        );
    }

    #[test]
    fn stop_of_an_inactive_vg_is_already_down() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 0, INACTIVE, "");
        let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(r.calls(), ["lvs --noheadings -o lv_attr vgsvc1"]);
        assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already down"]);
    }

    #[test]
    fn stop_retries_then_fails_on_a_vg_that_stays_active() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 0, ACTIVE, "");
        r.on(TAGS, 0, "  \n", "");
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
    fn stop_of_a_tagged_vg_without_lvs_drops_the_tag() {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(ATTR, 0, "", "");
        r.on_seq(TAGS, vec![out("  sles1\n"), out("  sles1\n"), out("  \n")]);
        r.on(&["lvs", "-o", "name"], 0, "", "");
        let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                "lvs --noheadings -o lv_attr vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
                "vgchange --deltag @sles1 vgsvc1",
                "lvs -o name --noheadings vgsvc1",
                "vgchange -a n vgsvc1",
                "lvs --noheadings -o lv_attr vgsvc1",
                "vgs -o tags --noheadings vgsvc1",
            ]
        );
    }
}
