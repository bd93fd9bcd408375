//! The LVM volume group resource (docs/behaviour.md, "vg"): activation with `vgchange`,
//! ownership shown by an `@<nodename>` host tag.

use std::collections::HashMap;
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

pub(crate) struct Vg {
    conf: VgConf,
}

impl Vg {
    pub(crate) fn new(conf: VgConf) -> Vg {
        Vg { conf }
    }

    fn name(&self) -> &str {
        &self.conf.vgname
    }

    /// One look at the VG: `vgs` gives its tags and LV count, and only a VG
    /// with LVs needs `lvs` for their states. LVM commands cost ~80 ms each,
    /// most of a start or stop, so each operation reads the state once. A
    /// pass over many services reads it from one listing of every VG.
    fn read(&self, ctx: &Ctx) -> Option<VgState> {
        if let Some(cache) = ctx.cache.filter(|c| c.is_wide())
            && let Some(listing) = cache.memo("vgs listing", || list_vgs(ctx)).as_ref()
        {
            let (tags, lv_count) = listing.get(self.name())?.clone();
            let lv_attrs = match lv_count {
                0 => Vec::new(),
                _ => match cache.memo("lvs listing", || list_lvs(ctx)).as_ref() {
                    Some(lvs) => lvs.get(self.name()).cloned().unwrap_or_default(),
                    None => self.lv_attrs(ctx),
                },
            };
            return Some(VgState {
                tags,
                lv_count,
                lv_attrs,
            });
        }
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
            self.lv_attrs(ctx)
        };
        Some(VgState {
            tags: parse_tags(tags),
            lv_count,
            lv_attrs,
        })
    }

    /// `lv_attr` of each of this VG's LVs.
    fn lv_attrs(&self, ctx: &Ctx) -> Vec<String> {
        let cmd = Cmd::new(["lvs", "--noheadings", "-o", "lv_attr", self.name()]);
        match ctx.probe(&cmd) {
            Ok(out) if out.ok() => out.stdout.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
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

/// Per VG name, its tags and LV count; None when the listing fails, and
/// each VG is then asked about on its own, as outside a wide pass.
type VgListing = Option<HashMap<String, (Vec<String>, usize)>>;

/// Per VG name, its LVs' `lv_attr`; None when the listing fails.
type LvListing = Option<HashMap<String, Vec<String>>>;

/// Every VG's name, tags and LV count, one a line.
const VG_LISTING: [&str; 6] = [
    "vgs",
    "--noheadings",
    "--separator",
    "|",
    "-o",
    "vg_name,vg_tags,lv_count",
];

/// Every LV's VG and `lv_attr`, one a line.
const LV_LISTING: [&str; 6] = [
    "lvs",
    "--noheadings",
    "--separator",
    "|",
    "-o",
    "vg_name,lv_attr",
];

/// Runs a listing through the pass's cache and parses it; None when it
/// fails.
fn listing<T>(ctx: &Ctx, argv: [&str; 6], parse: fn(&str) -> T) -> Option<T> {
    let out = ctx.probe(&Cmd::new(argv)).ok().filter(|o| o.ok())?;
    Some(parse(&out.stdout))
}

fn list_vgs(ctx: &Ctx) -> VgListing {
    listing(ctx, VG_LISTING, parse_vg_listing)
}

fn list_lvs(ctx: &Ctx) -> LvListing {
    listing(ctx, LV_LISTING, parse_lv_listing)
}

/// `vgs -o vg_name,vg_tags,lv_count --separator '|'`: `  vg1|@n1,@n2|2`
/// a line. LVM names never hold a `|`; a line that does not parse is left
/// out, and its VG then reads as not found (down), as a failed `vgs vg1`.
fn parse_vg_listing(out: &str) -> HashMap<String, (Vec<String>, usize)> {
    out.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let name = fields.next()?.trim();
            let tags = fields.next()?;
            let count = fields.next()?.trim().parse().ok()?;
            (!name.is_empty() && fields.next().is_none())
                .then(|| (name.to_string(), (parse_tags(tags), count)))
        })
        .collect()
}

/// `lvs -o vg_name,lv_attr --separator '|'`: `  vg1|-wi-a-----` a line.
fn parse_lv_listing(out: &str) -> HashMap<String, Vec<String>> {
    let mut by_vg: HashMap<String, Vec<String>> = HashMap::new();
    for line in out.lines() {
        if let Some((vg, attr)) = line.trim().split_once('|')
            && !vg.trim().is_empty()
            && !attr.trim().is_empty()
        {
            by_vg
                .entry(vg.trim().to_string())
                .or_default()
                .push(attr.trim().to_string());
        }
    }
    by_vg
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
#[path = "vg_tests.rs"]
mod tests;
