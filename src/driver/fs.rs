//! The filesystem resource (docs/behaviour.md, "fs"): fsck then mount on start, umount
//! (killing the users of the mount if needed) on stop, a write test in status.

use std::path::Path;

use super::mountinfo::{self, Mount as MountEntry};
use super::*;
use crate::config::FsConf;
use crate::exec::{Cmd, ErrLevel, run_logged, run_passthrough};

/// No device to check, fsck or write-test on the node itself.
const NETWORK_FS: &[&str] = &[
    "nfs", "nfs4", "cifs", "smbfs", "9pfs", "gpfs", "afs", "ncpfs",
];

/// System mount points never worth killing processes for.
const PROTECTED: &[&str] = &[
    "/", "/usr", "/var", "/sys", "/proc", "/tmp", "/opt", "/dev", "/dev/pts", "/home", "/boot",
    "/dev/shm",
];

/// e2fsck exit codes that leave a mountable filesystem (0 clean, 1 fixed,
/// 32 cancelled, 33 fixed then cancelled).
const E2FSCK_OK: &[i32] = &[0, 1, 32, 33];

const UMOUNT_ROUNDS: usize = 3;
const KILL_ROUNDS: usize = 4;

pub(crate) struct Fs {
    conf: FsConf,
}

impl Fs {
    pub(crate) fn new(conf: FsConf) -> Fs {
        Fs { conf }
    }

    fn is_network(&self) -> bool {
        NETWORK_FS.contains(&self.conf.fstype.as_str())
    }

    /// Our entry in the mount table, if mounted. A status pass parses the
    /// table once for all its fs resources, and indexes it by mount point
    /// (exec/cache.rs): a scan of a thousand mounts for each of a thousand
    /// fs was most of a big node's probing.
    fn mounted(&self, ctx: &Ctx) -> Option<MountEntry> {
        let mnt = strip_slash(&self.conf.mnt);
        let ours = |m: &&MountEntry| strip_slash(&m.mnt) == mnt && same_dev(&m.dev, &self.conf.dev);
        let Some(cache) = ctx.cache else {
            return read_table(ctx)?.iter().find(ours).cloned();
        };
        let table = cache.memo("mountinfo", || Indexed::of(read_table(ctx)));
        let t = table.as_ref().as_ref()?;
        // In table order among the entries at that point, as a scan finds.
        t.by_mnt
            .get(mnt)?
            .iter()
            .map(|&i| &t.table[i])
            .find(ours)
            .cloned()
    }

    /// Status write test: a mount that went read-only after an I/O error
    /// still shows in the table, so only a write tells.
    fn write_test(&self, ctx: &Ctx, m: &MountEntry) -> Probe {
        let read_only = m.opts.iter().any(|o| o == "ro");
        if read_only || self.is_network() || NETWORK_FS.contains(&m.fstype.as_str()) {
            return Probe::new(Status::Up);
        }
        let stamp = format!("{}\n", chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.6f"));
        match write_stamp(&Path::new(&self.conf.mnt).join(".opensvc"), &stamp) {
            Ok(()) => Probe::new(Status::Up),
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ctx.log
                    .error("No space left on device. Invalidate writable test.");
                Probe::new(Status::Up)
            }
            Err(_) => Probe::with(Status::Warn, "fs is not writable"),
        }
    }

    fn fsck(&self, ctx: &Ctx) -> Result<(), Failed> {
        let t = self.conf.fstype.as_str();
        match t {
            "" => Ok(()),
            "ext2" | "ext3" | "ext4" => {
                if ctx.runner.which("e2fsck").is_none() {
                    ctx.log.warn(format!("{t} not found. bypass."));
                    return Ok(());
                }
                let cmd = Cmd::new(["e2fsck", "-p", &self.conf.dev]);
                match run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default) {
                    Ok(out) if E2FSCK_OK.contains(&out.rc) => Ok(()),
                    Ok(out) => Err(Failed::because(format!("{cmd} exited with {}", out.rc))),
                    Err(_) => Err(Failed::silent()),
                }
            }
            _ => {
                ctx.log.info(format!("fsck not implemented for {t}"));
                Ok(())
            }
        }
    }

    fn mount_cmd(&self) -> Cmd {
        let c = &self.conf;
        let mut argv = vec!["mount"];
        if !c.fstype.is_empty() {
            argv.extend(["-t", &c.fstype]);
        }
        if !c.mnt_opt.is_empty() {
            argv.extend(["-o", &c.mnt_opt]);
        }
        argv.extend([c.dev.as_str(), c.mnt.as_str()]);
        Cmd::new(argv)
    }

    /// One umount round; true when the fs is gone.
    fn try_umount(&self, ctx: &Ctx) -> bool {
        let mnt = self.conf.mnt.as_str();
        let umount = Cmd::new(["umount", mnt]);
        let done = run_logged(ctx.runner, &ctx.log, &umount, ErrLevel::Warn)
            .is_ok_and(|out| out.ok() || out.stderr.contains("not mounted"));
        if done {
            return true;
        }
        if PROTECTED.contains(&strip_slash(mnt)) {
            return false;
        }
        let _ = run_logged(ctx.runner, &ctx.log, &Cmd::new(["sync"]), ErrLevel::Default);
        for _ in 0..KILL_ROUNDS {
            // `fuser -km` on a directory that is no longer a mount point
            // would kill every user of the parent filesystem.
            if self.mounted(ctx).is_none() {
                return true;
            }
            let fuser = Cmd::new(["fuser", "-kmv", mnt]);
            let _ = run_logged(ctx.runner, &ctx.log, &fuser, ErrLevel::Info);
            // Logs the `umount <mnt>` line the reference prints here.
            if run_passthrough(ctx.runner, &ctx.log, &umount).is_ok_and(|o| o.ok()) {
                return true;
            }
        }
        false
    }
}

/// Keeps `/` itself.
fn strip_slash(p: &str) -> &str {
    match p.strip_suffix('/') {
        Some("") | None => p,
        Some(s) => s,
    }
}

/// `/dev/<vg>/<lv>` as device-mapper names it: `-` inside names doubled.
fn mapper_form(dev: &str) -> Option<String> {
    let rest = dev.strip_prefix("/dev/")?;
    let (vg, lv) = rest.split_once('/')?;
    if vg.is_empty() || lv.is_empty() || vg == "mapper" || lv.contains('/') {
        return None;
    }
    Some(format!(
        "/dev/mapper/{}-{}",
        vg.replace('-', "--"),
        lv.replace('-', "--")
    ))
}

/// Writes the write test's stamp over the previous one rather than
/// truncating and rewriting the file: ext4 then frees and allocates no
/// block, and the write test was a third of an idle daemon's CPU at 1000
/// services. A longer file left by another writer loses its tail.
fn write_stamp(path: &Path, stamp: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    f.write_all(stamp.as_bytes())?;
    let len = stamp.len() as u64;
    if f.metadata().is_ok_and(|m| m.is_file() && m.len() > len) {
        f.set_len(len)?;
    }
    Ok(())
}

/// The kernel's mount table, parsed; None when it cannot be read (the
/// reason logged at debug level: every fs then reads down).
/// The mount table and, by mount point (without its trailing slash), the
/// positions of its entries there.
struct Indexed {
    table: Vec<MountEntry>,
    by_mnt: std::collections::HashMap<String, Vec<usize>>,
}

impl Indexed {
    fn of(table: Option<Vec<MountEntry>>) -> Option<Indexed> {
        let table = table?;
        let mut by_mnt = std::collections::HashMap::<String, Vec<usize>>::new();
        for (i, m) in table.iter().enumerate() {
            by_mnt
                .entry(strip_slash(&m.mnt).to_string())
                .or_default()
                .push(i);
        }
        Some(Indexed { table, by_mnt })
    }
}

fn read_table(ctx: &Ctx) -> Option<Vec<MountEntry>> {
    match ctx.runner.mountinfo() {
        Ok(text) => Some(mountinfo::parse(&text)),
        Err(e) => {
            ctx.log.debug(e.to_string());
            None
        }
    }
}

/// Two names of one device: equal, the LVM and mapper forms, or links to
/// the same node (`/dev/mapper/x` -> `/dev/dm-0`).
fn same_dev(a: &str, b: &str) -> bool {
    if a == b || mapper_form(a).as_deref() == Some(b) || mapper_form(b).as_deref() == Some(a) {
        return true;
    }
    // Relative names (`tmpfs`, `server:/x`) would resolve against our cwd.
    let canon = |p: &str| {
        Path::new(p)
            .is_absolute()
            .then(|| std::fs::canonicalize(p).ok())
            .flatten()
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

impl Driver for Fs {
    fn kind(&self) -> Kind {
        Kind::Fs
    }

    fn type_name(&self) -> &'static str {
        "fs"
    }

    fn label(&self) -> String {
        format!("{}@{}", self.conf.dev, self.conf.mnt)
    }

    fn sort_key(&self) -> String {
        self.conf.mnt.clone()
    }

    fn start(&self, ctx: &Ctx) -> Result<Started, Failed> {
        let FsConf { dev, mnt, .. } = &self.conf;
        if !self.is_network() && !Path::new(dev).exists() {
            ctx.log.error(format!("device does not exist {dev}"));
            return Err(Failed::silent());
        }
        // A dry run writes nothing: the mount in its plan needs no directory.
        if !Path::new(mnt).exists() && !ctx.runner.dry_run() {
            if let Err(e) = std::fs::create_dir_all(mnt) {
                ctx.log
                    .info(format!("failed to create missing mountpoint {mnt}"));
                return Err(Failed::because(format!("{mnt}: {e}")));
            }
            ctx.log.info(format!("create missing mountpoint {mnt}"));
        }
        if self.mounted(ctx).is_some() {
            ctx.log.info(format!("fs({dev} {mnt}) is already mounted"));
            return Ok(Started::AlreadyUp);
        }
        self.fsck(ctx)?;
        let cmd = self.mount_cmd();
        match run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default) {
            Ok(out) if out.ok() => Ok(Started::Activated),
            Ok(out) => Err(Failed::because(format!("{cmd} exited with {}", out.rc))),
            Err(_) => Err(Failed::silent()),
        }
    }

    fn stop(&self, ctx: &Ctx) -> Result<(), Failed> {
        let FsConf { dev, mnt, .. } = &self.conf;
        if self.mounted(ctx).is_none() {
            ctx.log.info(format!("fs({dev} {mnt}) is already umounted"));
            return Ok(());
        }
        for _ in 0..UMOUNT_ROUNDS {
            if self.try_umount(ctx) {
                break;
            }
        }
        if self.mounted(ctx).is_some() {
            ctx.log.error(format!("failed to umount {mnt}"));
            return Err(Failed::silent());
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, _deps: &Deps) -> Probe {
        match self.mounted(ctx) {
            Some(m) => self.write_test(ctx, &m),
            None => Probe::new(Status::Down),
        }
    }
}

#[cfg(test)]
#[path = "fs_tests.rs"]
mod tests;
