//! The disk heartbeat (docs/behaviour.md, "Heartbeats"): slots on a shared block
//! device, the path that still works when the network between the nodes
//! is cut, which is how a node tells a dead peer from a lost link.
//!
//! Layout: the first 4 MiB hold 4 KiB metadata slots, slot *i* naming (NUL
//! padded) the node that owns data slot *i*; data slot *i* starts at
//! 4 MiB + *i* MiB and holds that node's latest sealed frame (wire.rs) as a
//! u32 big-endian length and the frame. Only the first 64 slots are used,
//! so one scan reads 256 KiB. I/O is O_DIRECT: on a real SAN another host
//! writes the device, and a page cache would serve stale beats.
//!
//! A node's slot is its rank in the sorted `[cluster] nodes`: every node
//! computes every slot alone, so two nodes can never take the same one (a
//! claim by read-then-write, with no lock on a shared disk, let two agents
//! starting together take the same slot, and then one never heard the
//! other on disk while the disk still counted as proof). The metadata slot
//! is still written, for people reading the disk. A frame is taken only
//! when its sealed sender is the slot's node.
//!
//! What the rx saw of each slot goes to `Shared::slots` (proof.rs): since
//! when its content has not changed, and whether that content was a live
//! beat or a stale frame found on the disk when the rx started.

use crate::daemon::state::ThreadState;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{HbConf, sleep_until};
use crate::config::duration::deadline;
use crate::daemon::orchestration::proof::SlotSeen;
use crate::daemon::state::{Shared, advertised_watchdog};
use crate::daemon::wire::{FrameKind, Opener, Sealer};
use crate::log::Logger;

const BLOCK: usize = 4096;
const META_SLOT: u64 = 4096;
const DATA_OFFSET: u64 = 4 * 1024 * 1024;
const DATA_SLOT: u64 = 1024 * 1024;
pub(crate) const SLOTS: usize = 64;
/// How often a slow slot write is logged.
const SLOW_SAY: std::time::Duration = std::time::Duration::from_secs(10);

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

pub(crate) fn open_dev(dev: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
        .open(dev)
}

/// Slot owners, one name (or empty) per slot, as written for people.
#[cfg(test)]
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

/// `node`'s slot: its rank in the sorted cluster node list.
pub(crate) fn slot_of(node: &str, nodes: &[String]) -> std::io::Result<usize> {
    let mut sorted: Vec<&String> = nodes.iter().collect();
    sorted.sort();
    sorted.dedup();
    match sorted.iter().position(|n| *n == node) {
        Some(i) if i < SLOTS => Ok(i),
        Some(_) => Err(std::io::Error::other(format!(
            "{} cluster nodes: a disk heartbeat has {SLOTS} slots",
            sorted.len()
        ))),
        None => Err(std::io::Error::other(format!(
            "{node} is not in [cluster] nodes"
        ))),
    }
}

/// Names this node's slot in the metadata area, for people reading the disk.
fn write_meta(f: &File, slot: usize, nodename: &str) -> std::io::Result<()> {
    let mut b = Aligned::new(META_SLOT as usize);
    let name = &nodename.as_bytes()[..nodename.len().min(255)];
    b.bytes_mut()[..name.len()].copy_from_slice(name);
    f.write_all_at(b.bytes(), slot as u64 * META_SLOT)
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

/// The length of the frame a data slot holds, from the slot's first bytes
/// (at least 4); None for an empty slot or a length no slot can hold.
pub(crate) fn frame_len(head: &[u8]) -> Option<usize> {
    let prefix: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(prefix) as usize;
    (len != 0 && len + 4 <= DATA_SLOT as usize).then_some(len)
}

fn read_slot(f: &File, slot: usize) -> std::io::Result<Vec<u8>> {
    let off = DATA_OFFSET + slot as u64 * DATA_SLOT;
    let mut head = Aligned::new(BLOCK);
    f.read_exact_at(head.bytes_mut(), off)?;
    let Some(len) = frame_len(head.bytes()) else {
        return Ok(Vec::new());
    };
    if len + 4 <= BLOCK {
        return Ok(head.bytes()[4..4 + len].to_vec());
    }
    let mut all = Aligned::new(len + 4);
    f.read_exact_at(all.bytes_mut(), off)?;
    Ok(all.bytes()[4..4 + len].to_vec())
}

/// `hb#N.tx` on a disk: rewrites this node's slot every interval.
pub(crate) fn tx(
    conf: HbConf,
    dev: String,
    mut sealer: Sealer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.tx", conf.id);
    let nodes = shared
        .cluster_nodes
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    let opened = open_dev(Path::new(&dev)).and_then(|f| {
        let slot = slot_of(&shared.nodename, &nodes)?;
        write_meta(&f, slot, &shared.nodename)?;
        Ok((f, slot))
    });
    let (f, slot) = match opened {
        Ok(fs) => fs,
        Err(e) => {
            log.error(format!("{tid}: cannot use {dev}: {e}"));
            shared.set_thread(&tid, ThreadState::Stopped, &dev);
            return;
        }
    };
    let mut slow_said: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        shared.tick(&conf.id, |t, now| t.beat = Some(now));
        let payload = shared.local_dataset().to_string();
        let ok = sealer
            .seal(FrameKind::HbDisk, payload.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|frame| write_slot(&f, slot, &frame).map_err(|e| e.to_string()));
        // A slow device delays the watchdog's pets: say so, at most every
        // 10 s, so that a reset it causes can be explained.
        let took = started.elapsed();
        if took > conf.interval && slow_said.is_none_or(|t: Instant| t.elapsed() >= SLOW_SAY) {
            log.warn(format!(
                "{tid}: writing the slot took {:.2}s (interval {:.2}s)",
                took.as_secs_f64(),
                conf.interval.as_secs_f64()
            ));
            slow_said = Some(Instant::now());
        }
        match &ok {
            // Written: the peers see this node alive on the disk, and the
            // watchdog may be petted (watchdog.rs).
            // (Not once stopped: a replacement thread's history is its own.)
            Ok(()) if !stop.load(Ordering::Relaxed) => {
                shared.tick(&conf.id, |t, now| t.written = Some(now));
            }
            Ok(()) => {}
            Err(e) => log.warn(format!("{tid}: {e}")),
        }
        for peer in &nodes {
            if *peer != shared.nodename {
                shared.beat(&tid, peer, ok.is_ok());
            }
        }
        sleep_until(deadline(started, conf.interval), &stop, &shared);
    }
}

/// `hb#N.rx` on a disk: reads the peers' slots every interval; a slot
/// whose bytes did not change brings nothing (the peer may be dead).
pub(crate) fn rx(
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
            shared.set_thread(&tid, ThreadState::Stopped, &dev);
            return;
        }
    };
    let nodes = shared
        .cluster_nodes
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    let peers: Vec<(String, usize)> = nodes
        .iter()
        .filter(|n| **n != shared.nodename)
        .filter_map(|n| slot_of(n, &nodes).ok().map(|i| (n.clone(), i)))
        .collect();
    let mut last: Vec<Option<Vec<u8>>> = vec![None; SLOTS];
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        let mut failed = None;
        for (peer, i) in &peers {
            let frame = match read_slot(&f, *i) {
                Ok(frame) => frame,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if last[*i].as_ref() == Some(&frame) {
                continue;
            }
            // A first read finds whatever the disk held: a beat written
            // long ago by a dead node is not a sign of life.
            let first = last[*i].is_none();
            last[*i] = Some(frame.clone());
            let seen = read_beat(&tid, &frame, peer, first, conf.timeout, &mut opener, &log);
            if let Some((seen, data)) = seen {
                if let Ok(mut s) = shared.slots.lock() {
                    s.entry(conf.id.clone())
                        .or_default()
                        .insert(peer.clone(), seen);
                }
                if let Some(data) = data {
                    shared.received(&tid, peer, data);
                }
            }
        }
        match failed {
            // Read through: what the slots say is current (proof.rs).
            None => shared.tick(&conf.id, |t, now| t.scanned = Some(now)),
            Some(e) => log.warn(format!("{tid}: cannot read {dev}: {e}")),
        }
        shared.set_rejections(&tid, opener.stats.total());
        sleep_until(deadline(started, conf.interval), &stop, &shared);
    }
}

/// What a changed slot of `peer` holds: how the proof must see it, and the
/// dataset to deliver when it is a live beat. None for an empty slot or a
/// frame refused (logged).
pub(crate) fn read_beat(
    tid: &str,
    frame: &[u8],
    peer: &str,
    first: bool,
    timeout: std::time::Duration,
    opener: &mut Opener,
    log: &Logger,
) -> Option<(SlotSeen, Option<serde_json::Value>)> {
    if frame.is_empty() {
        return None;
    }
    let o = match opener.open(frame) {
        Ok(o) => o,
        Err(e) => {
            log.warn(format!("{tid}: slot of {peer}: {e}"));
            return None;
        }
    };
    // The slot's node must be the frame's sender.
    if o.nodename != peer {
        log.warn(format!(
            "{tid}: the slot of {peer} holds a frame from {}",
            o.nodename
        ));
        return None;
    }
    let data: serde_json::Value =
        serde_json::from_slice(&o.payload).unwrap_or(serde_json::Value::Null);
    // seq is the sender's clock in microseconds: a first read is a live
    // beat only when it was written within the timeout.
    let age_us = crate::daemon::wire::now_us().saturating_sub(o.seq);
    let live = !first || u128::from(age_us) <= timeout.as_micros();
    let seen = SlotSeen {
        since: Instant::now(),
        heard: live,
        watchdog: advertised_watchdog(&data),
    };
    Some((seen, live.then_some(data)))
}

/// What svcmon shows for a disk heartbeat: the device's base name.
pub(crate) fn info(dev: &str) -> String {
    Path::new(dev)
        .file_name()
        .map_or_else(|| dev.to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
