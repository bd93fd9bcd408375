//! The disk heartbeat (spec cluster-1.9 §2.4): slots on a shared block
//! device, the path that still works when the network between the nodes
//! is cut, which is how a node tells a dead peer from a lost link.
//!
//! Layout: the first 4 MiB hold 4 KiB metadata slots, slot *i* naming (NUL
//! padded) the node that owns data slot *i*; data slot *i* starts at
//! 4 MiB + *i* MiB and holds that node's latest sealed frame (wire.rs) as a
//! u32 big-endian length and the frame. Only the first 64 slots are used,
//! so one scan reads 256 KiB. I/O is O_DIRECT: on a real SAN another host
//! writes the device, and a page cache would serve stale beats.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::hb::{HbConf, sleep_until};
use super::state::Shared;
use super::wire::{Kind, Opener, Sealer};
use crate::log::Logger;

const BLOCK: usize = 4096;
const META_SLOT: u64 = 4096;
const DATA_OFFSET: u64 = 4 * 1024 * 1024;
const DATA_SLOT: u64 = 1024 * 1024;
pub const SLOTS: usize = 64;

/// A buffer aligned for O_DIRECT (address and length multiples of 4 KiB).
struct Aligned {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let len = len.div_ceil(BLOCK) * BLOCK;
        let buf = vec![0u8; len + BLOCK];
        let start = buf.as_ptr().align_offset(BLOCK);
        Aligned { buf, start, len }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

pub fn open_dev(dev: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
        .open(dev)
}

/// Slot owners, one name (or empty) per slot.
fn read_meta(f: &File) -> std::io::Result<Vec<String>> {
    let mut b = Aligned::new(SLOTS * META_SLOT as usize);
    f.read_exact_at(b.bytes_mut(), 0)?;
    Ok(b.bytes()
        .chunks(META_SLOT as usize)
        .map(|c| {
            let end = c.iter().position(|&x| x == 0).unwrap_or(0).min(255);
            String::from_utf8_lossy(&c[..end]).into_owned()
        })
        .collect())
}

/// This node's slot: the one already named after it, else the first free one.
pub fn claim(f: &File, nodename: &str) -> std::io::Result<usize> {
    let meta = read_meta(f)?;
    if let Some(i) = meta.iter().position(|n| n == nodename) {
        return Ok(i);
    }
    let Some(i) = meta.iter().position(String::is_empty) else {
        return Err(std::io::Error::other(format!(
            "no free slot among the first {SLOTS}"
        )));
    };
    let mut b = Aligned::new(META_SLOT as usize);
    b.bytes_mut()[..nodename.len()].copy_from_slice(nodename.as_bytes());
    f.write_all_at(b.bytes(), i as u64 * META_SLOT)?;
    Ok(i)
}

fn write_slot(f: &File, slot: usize, frame: &[u8]) -> std::io::Result<()> {
    if frame.len() + 4 > DATA_SLOT as usize {
        return Err(std::io::Error::other("heartbeat larger than a disk slot"));
    }
    let mut b = Aligned::new(frame.len() + 4);
    b.bytes_mut()[..4].copy_from_slice(&(frame.len() as u32).to_be_bytes());
    b.bytes_mut()[4..4 + frame.len()].copy_from_slice(frame);
    f.write_all_at(b.bytes(), DATA_OFFSET + slot as u64 * DATA_SLOT)
}

fn read_slot(f: &File, slot: usize) -> std::io::Result<Vec<u8>> {
    let off = DATA_OFFSET + slot as u64 * DATA_SLOT;
    let mut head = Aligned::new(BLOCK);
    f.read_exact_at(head.bytes_mut(), off)?;
    let len = u32::from_be_bytes([
        head.bytes()[0],
        head.bytes()[1],
        head.bytes()[2],
        head.bytes()[3],
    ]) as usize;
    if len == 0 || len + 4 > DATA_SLOT as usize {
        return Ok(Vec::new());
    }
    if len + 4 <= BLOCK {
        return Ok(head.bytes()[4..4 + len].to_vec());
    }
    let mut all = Aligned::new(len + 4);
    f.read_exact_at(all.bytes_mut(), off)?;
    Ok(all.bytes()[4..4 + len].to_vec())
}

/// `hb#N.tx` on a disk: rewrites this node's slot every interval.
pub fn tx(
    conf: HbConf,
    dev: String,
    mut sealer: Sealer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.tx", conf.id);
    let slot =
        match open_dev(Path::new(&dev)).and_then(|f| claim(&f, &shared.nodename).map(|s| (f, s))) {
            Ok(fs) => fs,
            Err(e) => {
                log.error(format!("{tid}: cannot use {dev}: {e}"));
                shared.set_thread(&tid, "stopped", &dev);
                return;
            }
        };
    let (f, slot) = slot;
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        let payload = shared.local_dataset().to_string();
        let ok = sealer
            .seal(Kind::Heartbeat, payload.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|frame| write_slot(&f, slot, &frame).map_err(|e| e.to_string()));
        if let Err(e) = &ok {
            log.warn(format!("{tid}: {e}"));
        }
        for peer in shared
            .cluster_nodes
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default()
        {
            if peer != shared.nodename {
                shared.beat(&tid, &peer, ok.is_ok());
            }
        }
        sleep_until(started + conf.interval, &stop, &shared);
    }
}

/// `hb#N.rx` on a disk: reads the peers' slots every interval; a slot
/// whose bytes did not change brings nothing (the peer may be dead).
pub fn rx(
    conf: HbConf,
    dev: String,
    mut opener: Opener,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.rx", conf.id);
    let f = match open_dev(Path::new(&dev)) {
        Ok(f) => f,
        Err(e) => {
            log.error(format!("{tid}: cannot open {dev}: {e}"));
            shared.set_thread(&tid, "stopped", &dev);
            return;
        }
    };
    let mut last: Vec<Vec<u8>> = vec![Vec::new(); SLOTS];
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        match read_meta(&f) {
            Ok(meta) => {
                for (i, owner) in meta.iter().enumerate() {
                    if owner.is_empty() || *owner == shared.nodename {
                        continue;
                    }
                    let Ok(frame) = read_slot(&f, i) else {
                        continue;
                    };
                    if frame.is_empty() || frame == last[i] {
                        continue;
                    }
                    match opener.open(&frame) {
                        // The slot's owner must be the frame's sender.
                        Ok(o) if o.nodename == *owner && o.kind == Kind::Heartbeat => {
                            let data = serde_json::from_slice(&o.payload)
                                .unwrap_or(serde_json::Value::Null);
                            shared.received(&tid, &o.nodename, data);
                        }
                        Ok(o) => log.warn(format!(
                            "{tid}: slot {i} of {owner} holds a frame from {}",
                            o.nodename
                        )),
                        Err(e) => log.warn(format!("{tid}: slot {i} of {owner}: {e}")),
                    }
                    last[i] = frame;
                }
            }
            Err(e) => log.warn(format!("{tid}: cannot read {dev}: {e}")),
        }
        shared.set_rejections(&tid, opener.stats.total());
        sleep_until(started + conf.interval, &stop, &shared);
    }
}

/// What svcmon shows for a disk heartbeat: the device's base name.
pub fn info(dev: &str) -> String {
    Path::new(dev)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dev.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A regular file stands in for the device (O_DIRECT works on ext4
    /// and xfs files; tmpfs refuses it, hence a file next to the target dir).
    fn disk() -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let p = d.path().join("hb.img");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(DATA_OFFSET + 4 * DATA_SLOT).unwrap();
        (d, p)
    }

    #[test]
    fn slots_are_claimed_once_and_frames_read_back() {
        let (_d, p) = disk();
        let f = open_dev(&p).unwrap();
        assert_eq!(claim(&f, "node1").unwrap(), 0);
        assert_eq!(claim(&f, "node2").unwrap(), 1);
        assert_eq!(
            claim(&f, "node1").unwrap(),
            0,
            "a restarted node keeps its slot"
        );
        let meta = read_meta(&f).unwrap();
        assert_eq!(&meta[..3], ["node1", "node2", ""]);
        write_slot(&f, 1, b"short").unwrap();
        assert_eq!(read_slot(&f, 1).unwrap(), b"short");
        let big = vec![7u8; 10_000];
        write_slot(&f, 0, &big).unwrap();
        assert_eq!(read_slot(&f, 0).unwrap(), big);
        assert!(read_slot(&f, 2).unwrap().is_empty());
        assert!(write_slot(&f, 2, &vec![0u8; DATA_SLOT as usize]).is_err());
    }

    #[test]
    fn info_is_the_device_base_name() {
        assert_eq!(info("/dev/loop3"), "loop3");
    }
}
