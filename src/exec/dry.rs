//! `--dry-run` (docs/behaviour.md, "Dry run"): a runner that runs the
//! read-only probes for real, so the plan is the one the current state
//! calls for, and runs nothing else. Each other command is printed on
//! stdout, in order, as the exact argv that would run, and answered as a
//! success.
//!
//! The drivers check their own work (an address is looked for after it is
//! plumbed, the mount table is read again after a umount): so that these
//! checks see what the plan would have done, the runner keeps what each
//! planned ip, vg, mount or umount command changes, and edits the answers
//! of the later probes accordingly.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{Cmd, ExecError, Output, Runner};

pub(crate) struct DryRunner<'a> {
    inner: &'a dyn Runner,
    sim: Mutex<Sim>,
}

impl<'a> DryRunner<'a> {
    pub(crate) fn new(inner: &'a dyn Runner) -> DryRunner<'a> {
        DryRunner {
            inner,
            sim: Mutex::new(Sim::default()),
        }
    }
}

/// Commands that only read: run for real. `arping -D` is the RFC 5227
/// probe (sender 0.0.0.0, no neighbour's cache changes); a launcher's
/// `status` is read-only by contract.
pub(super) fn is_read_only(argv: &[String]) -> bool {
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    let Some((first, args)) = a.split_first() else {
        return false;
    };
    let program = Some(first.rsplit('/').next().unwrap_or(first));
    match (program, args) {
        (Some("ip"), ["addr"] | ["addr", "show", ..] | ["-o", "addr", "show", ..]) => true,
        (Some("vgs" | "lvs" | "pvs" | "vgdisplay" | "lvdisplay" | "ps" | "ping" | "ping6"), _) => {
            true
        }
        (Some("mount"), []) => true,
        (Some("arping"), args) => args.contains(&"-D"),
        (Some(_), [.., "status"]) => first.starts_with('/'),
        _ => false,
    }
}

/// One argv as a shell would take it back: words with nothing special
/// as they are, others single-quoted.
pub(super) fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%#^".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Runner for DryRunner<'_> {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        if is_read_only(&cmd.argv) {
            let answer = self.sim.lock().ok().and_then(|s| s.answer(&cmd.argv));
            if let Some(out) = answer {
                return Ok(out);
            }
            // Not under the lock: probes run concurrently (arping and ping).
            let out = self.inner.run(cmd)?;
            return Ok(match self.sim.lock() {
                Ok(mut sim) => sim.edit(&cmd.argv, out),
                Err(_) => out,
            });
        }
        if self.inner.which(cmd.program()).is_none() {
            return Err(ExecError::NotFound(cmd.program().to_string()));
        }
        if let Ok(mut sim) = self.sim.lock() {
            sim.apply(&cmd.argv);
            // Printed under the lock: concurrent plans stay whole lines.
            let _ = writeln!(std::io::stdout().lock(), "{}", shell_words(&cmd.argv));
        }
        Ok(Output::default())
    }

    fn which(&self, bin: &str) -> Option<PathBuf> {
        self.inner.which(bin)
    }

    fn mountinfo(&self) -> Result<String, ExecError> {
        let text = self.inner.mountinfo()?;
        let sim = self.sim.lock().map(|s| s.clone()).unwrap_or_default();
        Ok(sim.edit_mountinfo(&text))
    }

    fn dry_run(&self) -> bool {
        true
    }
}

/// An address the plan plumbs.
#[derive(Debug, Clone)]
struct Plumbed {
    dev: String,
    /// The v4 alias (`eth0:1`), else the device.
    label: String,
    /// `inet` or `inet6`.
    family: &'static str,
    cidr: String,
}

impl Plumbed {
    fn new(dev: &str, label: &str, family: &'static str, cidr: String) -> Plumbed {
        Plumbed {
            dev: dev.to_string(),
            label: label.to_string(),
            family,
            cidr,
        }
    }
}

/// What the plan does to a VG.
#[derive(Debug, Clone, Default)]
struct VgPlan {
    name: String,
    tags_added: Vec<String>,
    tags_removed: Vec<String>,
    active: Option<bool>,
}

#[derive(Debug, Clone)]
struct Mounted {
    dev: String,
    mnt: String,
    fstype: String,
}

/// What the planned commands would have changed.
#[derive(Debug, Clone, Default)]
struct Sim {
    added: Vec<Plumbed>,
    /// Addresses (without prefix) and v4 labels unplumbed.
    removed: Vec<String>,
    /// (label, address) of the v4 addresses `ip addr` showed: a label
    /// taken down takes its address with it.
    seen: Vec<(String, String)>,
    vgs: Vec<VgPlan>,
    /// Mounted by the plan, and mount points it unmounts.
    mounted: Vec<Mounted>,
    unmounted: Vec<String>,
}

fn strip_slash(p: &str) -> &str {
    if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    }
}

fn prefix_of(mask: &str) -> u32 {
    mask.parse::<std::net::Ipv4Addr>()
        .map(|m| u32::from(m).count_ones())
        .or_else(|_| mask.parse::<u32>())
        .unwrap_or(32)
}

impl Sim {
    fn vg(&mut self, name: &str) -> &mut VgPlan {
        if let Some(i) = self.vgs.iter().position(|v| v.name == name) {
            return &mut self.vgs[i];
        }
        self.vgs.push(VgPlan {
            name: name.to_string(),
            ..VgPlan::default()
        });
        let last = self.vgs.len() - 1;
        &mut self.vgs[last]
    }

    fn remove_addr(&mut self, what: String) {
        let planned = self
            .added
            .iter()
            .map(|p| (p.label.clone(), addr_of(&p.cidr)));
        let by_label: Vec<String> = self
            .seen
            .iter()
            .cloned()
            .chain(planned)
            .filter(|(l, _)| *l == what)
            .map(|(_, a)| a)
            .collect();
        self.added
            .retain(|p| p.label != what && addr_of(&p.cidr) != what);
        self.removed.extend(by_label);
        self.removed.push(what);
    }

    fn apply(&mut self, argv: &[String]) {
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["ifconfig", dev, "inet6", "add", cidr] => {
                self.added
                    .push(Plumbed::new(dev, dev, "inet6", cidr.to_string()));
            }
            ["ifconfig", _, "inet6", "del", cidr] => self.remove_addr(addr_of(cidr)),
            ["ifconfig", label, addr, "netmask", mask, "up"] => {
                let dev = label.split(':').next().unwrap_or(label);
                let cidr = format!("{addr}/{}", prefix_of(mask));
                self.added.push(Plumbed::new(dev, label, "inet", cidr));
            }
            ["ifconfig", label, "down"] => self.remove_addr(label.to_string()),
            ["ip", "addr", "add", cidr, "dev", dev] => {
                let family = if cidr.contains(':') { "inet6" } else { "inet" };
                self.added
                    .push(Plumbed::new(dev, dev, family, cidr.to_string()));
            }
            ["ip", "addr", "del", cidr, "dev", _] => self.remove_addr(addr_of(cidr)),
            ["vgchange", "--addtag", tag, vg] => {
                let t = tag.trim_start_matches('@').to_string();
                let v = self.vg(vg);
                v.tags_removed.retain(|x| *x != t);
                v.tags_added.push(t);
            }
            ["vgchange", "--deltag", tag, vg] => {
                let t = tag.trim_start_matches('@').to_string();
                let v = self.vg(vg);
                v.tags_added.retain(|x| *x != t);
                v.tags_removed.push(t);
            }
            ["vgchange", "-a", state, vg] => self.vg(vg).active = Some(*state == "y"),
            ["mount", .., dev, mnt] if !mnt.starts_with('-') => {
                let fstype = a
                    .iter()
                    .position(|w| *w == "-t")
                    .and_then(|i| a.get(i + 1))
                    .unwrap_or(&"none");
                let m = strip_slash(mnt).to_string();
                self.unmounted.retain(|u| *u != m);
                self.mounted.push(Mounted {
                    dev: dev.to_string(),
                    mnt: m,
                    fstype: fstype.to_string(),
                });
            }
            ["umount", mnt] => {
                let m = strip_slash(mnt).to_string();
                self.mounted.retain(|x| x.mnt != m);
                self.unmounted.push(m);
            }
            _ => {}
        }
    }

    /// A probe of an address the plan removed: nobody answers it any more.
    fn answer(&self, argv: &[String]) -> Option<Output> {
        let target = argv.last()?;
        if !self.removed.contains(target) {
            return None;
        }
        match argv.first().map(String::as_str) {
            Some("ping" | "ping6") => Some(Output {
                rc: 1,
                ..Output::default()
            }),
            Some("arping") => Some(Output::default()),
            _ => None,
        }
    }

    /// A real probe's answer, with the plan's changes.
    fn edit(&mut self, argv: &[String], mut out: Output) -> Output {
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["ip", "addr", ..] => {
                self.learn_labels(&out.stdout);
                out.stdout = self.edit_ip_addr(&out.stdout);
            }
            ["vgs", .., vg] if a.contains(&"vg_tags,lv_count") => {
                if let Some(v) = self.vgs.iter().find(|v| v.name == *vg) {
                    out.stdout = edit_tags(&out.stdout, &v.tags_added, &v.tags_removed);
                }
            }
            ["lvs", .., vg] if a.contains(&"lv_attr") => {
                let active = self
                    .vgs
                    .iter()
                    .find(|v| v.name == *vg)
                    .and_then(|v| v.active);
                if let Some(active) = active {
                    out.stdout = edit_attrs(&out.stdout, active);
                }
            }
            _ => {}
        }
        out
    }

    fn learn_labels(&mut self, text: &str) {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let (Some(&"inet"), Some(cidr), Some(label)) =
                (words.first(), words.get(1), words.last())
                && !self
                    .seen
                    .iter()
                    .any(|(l, a)| l == label && *a == addr_of(cidr))
            {
                self.seen.push((label.to_string(), addr_of(cidr)));
            }
        }
    }

    fn edit_ip_addr(&self, text: &str) -> String {
        let mut out = String::new();
        let mut current: Option<String> = None;
        let flush = |out: &mut String, dev: &Option<String>| {
            for p in &self.added {
                if Some(&p.dev) == dev.as_ref() {
                    let tail = if p.family == "inet" {
                        format!(" {}", p.label)
                    } else {
                        String::new()
                    };
                    out.push_str(&format!(
                        "    {} {} scope global secondary{tail}\n",
                        p.family, p.cidr
                    ));
                }
            }
        };
        for line in text.lines() {
            if line.starts_with(char::is_whitespace) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let gone = matches!(words.first(), Some(&"inet" | &"inet6"))
                    && (words
                        .get(1)
                        .is_some_and(|c| self.removed.contains(&addr_of(c)))
                        || (words[0] == "inet"
                            && words
                                .last()
                                .is_some_and(|l| self.removed.iter().any(|r| r == l))));
                if gone {
                    continue;
                }
            } else {
                flush(&mut out, &current);
                current = line
                    .split(": ")
                    .nth(1)
                    .map(|n| n.split('@').next().unwrap_or(n).to_string());
            }
            out.push_str(line);
            out.push('\n');
        }
        flush(&mut out, &current);
        out
    }

    fn edit_mountinfo(&self, text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            let mnt = line.split(' ').nth(4).map(unescape_spaces);
            if mnt.is_some_and(|m| self.unmounted.iter().any(|u| *u == strip_slash(&m))) {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        for m in &self.mounted {
            out.push_str(&format!(
                "0 0 0:0 / {} rw - {} {} rw\n",
                escape(&m.mnt),
                escape(&m.fstype),
                escape(&m.dev)
            ));
        }
        out
    }
}

fn addr_of(cidr: &str) -> String {
    cidr.split('/').next().unwrap_or(cidr).to_string()
}

/// `  @a,@b|2` with tags added and removed.
fn edit_tags(text: &str, add: &[String], del: &[String]) -> String {
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return text.to_string();
    };
    let Some((tags, count)) = line.rsplit_once('|') else {
        return text.to_string();
    };
    let mut list: Vec<String> = tags
        .split(',')
        .map(|t| t.trim().trim_start_matches('@').to_string())
        .filter(|t| !t.is_empty() && !del.contains(t))
        .collect();
    for t in add {
        if !list.contains(t) {
            list.push(t.clone());
        }
    }
    let tags: Vec<String> = list.iter().map(|t| format!("@{t}")).collect();
    format!("  {}|{count}\n", tags.join(","))
}

/// Each `lv_attr` with its 5th character (the state) set.
fn edit_attrs(text: &str, active: bool) -> String {
    let state = if active { 'a' } else { '-' };
    let attrs: Vec<String> = text
        .split_whitespace()
        .map(|a| {
            a.chars()
                .enumerate()
                .map(|(i, c)| if i == 4 { state } else { c })
                .collect()
        })
        .collect();
    attrs.iter().map(|a| format!("  {a}\n")).collect()
}

/// mountinfo's octal escapes for the characters it escapes.
fn escape(s: &str) -> String {
    s.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012")
}

fn unescape_spaces(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::FakeRunner;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn probes_are_read_only_and_actions_are_not() {
        for c in [
            "ip addr",
            "vgs --noheadings -o vg_tags,lv_count vg1",
            "lvs x",
            "ps -ef",
            "ping -c 1 1.2.3.4",
            "arping -D -c 2 -I eth0 1.2.3.4",
            "mount",
            "/etc/opensvc/s.d/C10x status",
        ] {
            assert!(is_read_only(&argv(c)), "{c}");
        }
        for c in [
            "ip addr add 1.2.3.4/24 dev eth0",
            "ifconfig eth0:1 1.2.3.4 netmask 255.255.255.0 up",
            "arping -U -c 1 -I eth0 -s 1.2.3.4 0.0.0.0",
            "vgchange -a y vg1",
            "mount -t ext4 /dev/x /mnt",
            "e2fsck -p /dev/x",
            "/etc/opensvc/s.d/S10x start",
            "status",
        ] {
            assert!(!is_read_only(&argv(c)), "{c}");
        }
    }

    #[test]
    fn planned_commands_run_nothing_and_later_probes_see_them() {
        let f = FakeRunner::new();
        f.on(
            &["ip", "addr"],
            0,
            "2: eth0: <UP> mtu 1500\n    inet 10.0.0.1/24 scope global eth0\n",
            "",
        );
        f.on(&["vgs"], 0, "  @other|1\n", "");
        f.on(&["lvs"], 0, "  -wi-------\n", "");
        f.on(
            &["mountinfo"],
            0,
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n",
            "",
        );
        let d = DryRunner::new(&f);
        let run = |s: &str| d.run(&Cmd::new(argv(s))).unwrap();
        run("ifconfig eth0:1 10.0.0.9 netmask 255.255.255.0 up");
        assert!(
            run("ip addr")
                .stdout
                .contains("inet 10.0.0.9/24 scope global secondary eth0:1")
        );
        run("vgchange --deltag @other vg1");
        run("vgchange --addtag @n1 vg1");
        run("vgchange -a y vg1");
        let vgs = "vgs --noheadings --separator | -o vg_tags,lv_count vg1";
        assert_eq!(run(vgs).stdout, "  @n1|1\n");
        assert_eq!(
            run("lvs --noheadings -o lv_attr vg1").stdout,
            "  -wi-a-----\n"
        );
        run("mount -t ext4 /dev/x /srv/my");
        assert!(
            d.mountinfo()
                .unwrap()
                .contains(" /srv/my rw - ext4 /dev/x rw")
        );
        run("umount /srv/my");
        assert!(!d.mountinfo().unwrap().contains("/srv/my"));
        run("ifconfig eth0:1 down");
        assert!(!run("ip addr").stdout.contains("10.0.0.9"));
        assert_eq!(run("ping -c 1 10.0.0.9").rc, 1);
        // Only the probes reached the real runner.
        assert_eq!(
            f.calls(),
            [
                "ip addr",
                "vgs --noheadings --separator | -o vg_tags,lv_count vg1",
                "lvs --noheadings -o lv_attr vg1",
                "mountinfo",
                "mountinfo",
                "ip addr",
            ]
        );
    }

    #[test]
    fn argv_is_printed_as_shell_words() {
        assert_eq!(
            shell_words(&argv("mount -t ext4 /dev/x /mnt")),
            "mount -t ext4 /dev/x /mnt"
        );
        assert_eq!(
            shell_words(&["a b".into(), "it's".into()]),
            r"'a b' 'it'\''s'"
        );
    }
}
