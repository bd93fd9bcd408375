//! The disk heartbeat (docs/behaviour.md, "Heartbeats"): slots on a shared block
//! device, the path that still works when the network between the nodes
//! is cut, which is how a node tells a dead peer from a lost link.
//!
//! Layout: the first 4 MiB hold 4 KiB metadata slots, slot *i* naming (NUL
//! padded) the node that owns data slot *i*; data slot *i* starts at
//! 4 MiB + *i* MiB. Its first 4 KiB block holds that node's latest compact
//! beat (dataset.rs) as a u32 big-endian length and the sealed frame
//! (wire.rs); from 4 KiB to the end of the 1 MiB slot, the same way, the
//! frame of its services part (`{"digest", "services"}`, dataset.rs). Only
//! the first 64 slots are used. I/O is O_DIRECT: on a real SAN another
//! host writes the device, and a page cache would serve stale beats.
//!
//! The tx writes the services frame only when its digest changed, and
//! before the beat that names it; the beat block every interval (the
//! watchdog's `written` tick is that write). The rx reads each peer's beat
//! block every [`poll_every`], and the services frame only when the beat
//! names a digest this node does not hold; a frame that does not open or
//! does not match (a read torn by a write) is read again at the next poll.
//! So the disk still carries whole datasets when the network is cut, and
//! one poll reads 4 KiB per peer. Services too big for a slot are logged
//! as an error, and the disk then carries beats only.
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

use super::dataset;
use super::{HbConf, sleep_until, take_beat};
use crate::config::duration::deadline;
use crate::daemon::orchestration::proof::SlotSeen;
use crate::daemon::state::{Fresh, Shared, advertised_watchdog};
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

/// Where a frame goes in data slot `slot`: its beat block, or the
/// services frame after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Beat,
    Services,
}

impl Part {
    fn offset(self, slot: usize) -> u64 {
        let base = DATA_OFFSET + slot as u64 * DATA_SLOT;
        match self {
            Part::Beat => base,
            Part::Services => base + BLOCK as u64,
        }
    }

    /// The bytes it may take, length prefix included.
    pub(crate) fn room(self) -> usize {
        match self {
            Part::Beat => BLOCK,
            Part::Services => DATA_SLOT as usize - BLOCK,
        }
    }
}

fn write_slot(f: &File, slot: usize, part: Part, frame: &[u8]) -> std::io::Result<()> {
    if frame.len() + 4 > part.room() {
        return Err(std::io::Error::other(format!(
            "a frame of {} bytes does not fit the {} bytes of a disk slot's {}",
            frame.len(),
            part.room() - 4,
            match part {
                Part::Beat => "beat block",
                Part::Services => "services part",
            }
        )));
    }
    let mut b = Aligned::new(frame.len() + 4);
    b.bytes_mut()[..4].copy_from_slice(&(frame.len() as u32).to_be_bytes());
    b.bytes_mut()[4..4 + frame.len()].copy_from_slice(frame);
    f.write_all_at(b.bytes(), part.offset(slot))
}

/// The length of the frame a part holds, from its first bytes (at least
/// 4); None for an empty part or a length the part cannot hold.
pub(crate) fn frame_len(head: &[u8], part: Part) -> Option<usize> {
    let prefix: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(prefix) as usize;
    (len != 0 && len + 4 <= part.room()).then_some(len)
}

#[cfg(test)]
fn read_slot(f: &File, slot: usize, part: Part) -> std::io::Result<Vec<u8>> {
    SlotReader::new()
        .read(f, slot, part)
        .map(std::borrow::Cow::into_owned)
}

/// Reads slots through one block-sized buffer, kept: the rx reads a
/// block per peer several times a second, and an aligned buffer made
/// for each read was a zeroed 8 KiB allocation each time, most of the
/// rx's CPU after the reads themselves.
struct SlotReader {
    head: Aligned,
}

impl SlotReader {
    fn new() -> SlotReader {
        SlotReader {
            head: Aligned::new(BLOCK),
        }
    }

    /// The frame in `part` of `slot` (empty when there is none), borrowed
    /// from the buffer when it fits one block.
    fn read(
        &mut self,
        f: &File,
        slot: usize,
        part: Part,
    ) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        let off = part.offset(slot);
        f.read_exact_at(self.head.bytes_mut(), off)?;
        let Some(len) = frame_len(self.head.bytes(), part) else {
            return Ok(Vec::new().into());
        };
        if len + 4 <= BLOCK {
            return Ok(self.head.bytes()[4..4 + len].into());
        }
        let mut all = Aligned::new(len + 4);
        f.read_exact_at(all.bytes_mut(), off)?;
        Ok(all.bytes()[4..4 + len].to_vec().into())
    }
}

/// How often the rx reads the beat blocks: a fifth of the interval, at
/// least every 0.2 s and never more often than every 50 ms. The time a
/// slot's change is first seen is the proof's clock (`SlotSeen.since`,
/// proof.rs): the sooner a change is seen, the closer the proof is to the
/// peer's real last write, and the sooner a dead peer is proven down. A
/// poll reads 4 KiB per peer, so polling often costs little.
pub(crate) fn poll_every(interval: std::time::Duration) -> std::time::Duration {
    (interval / 5).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_millis(200),
    )
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
    // The digest of the services frame on the disk.
    let mut on_disk: Option<String> = None;
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        shared.tick(&conf.id, |t, now| t.beat = Some(now));
        let sent = super::promise(&shared);
        let claims = shared.claims_changed();
        let split = shared.local_split();
        if on_disk.as_ref() != Some(&split.digest) {
            // Before the beat that names it: a reader never finds a beat
            // naming services that are not on the disk yet.
            on_disk = write_services(&tid, &f, slot, &split, &mut sealer, &log);
        }
        let ok = sealer
            .seal(FrameKind::HbDisk, split.beat.to_string().as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|frame| write_slot(&f, slot, Part::Beat, &frame).map_err(|e| e.to_string()));
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
        super::sleep_until_promise_changes(
            deadline(started, conf.interval),
            &stop,
            &shared,
            sent,
            claims,
        );
    }
}

/// Writes the services frame of `split`; returns the digest now on the
/// disk (None: written again at the next beat). Services too big for the
/// slot are an error, logged, and the part is emptied so that readers do
/// not read an older one for nothing: the disk carries beats only.
fn write_services(
    tid: &str,
    f: &File,
    slot: usize,
    split: &dataset::Split,
    sealer: &mut Sealer,
    log: &Logger,
) -> Option<String> {
    let payload = dataset::services_answer(split).to_string();
    // Checked before sealing too: a frame is longer than its payload, and
    // the sealer refuses what no frame may carry.
    let frame = if payload.len() + 4 > Part::Services.room() {
        None
    } else {
        match sealer.seal(FrameKind::HbDisk, payload.as_bytes()) {
            Ok(frame) => Some(frame).filter(|f| f.len() + 4 <= Part::Services.room()),
            Err(e) => {
                log.error(format!("{tid}: cannot seal the services part: {e}"));
                return None;
            }
        }
    };
    let Some(frame) = frame else {
        log.error(format!(
            "{tid}: this node's services part is {} bytes, more than the {} a disk slot holds: \
             the disk carries beats only, and the peers get the services over the network",
            payload.len(),
            Part::Services.room() - 4
        ));
        let empty = write_slot(f, slot, Part::Services, &[]);
        return empty.ok().map(|()| split.digest.clone());
    };
    match write_slot(f, slot, Part::Services, &frame) {
        Ok(()) => Some(split.digest.clone()),
        Err(e) => {
            log.warn(format!("{tid}: cannot write the services part: {e}"));
            None
        }
    }
}

/// What the rx keeps of one peer's slot.
#[derive(Default)]
struct Seen {
    /// The beat block's frame last read.
    beat: Option<Vec<u8>>,
    /// The digest its beat named that this node does not hold yet.
    wants: Option<String>,
    /// The digest of the services frame last opened, and what it held (a
    /// frame opens once: its seq is then taken), or why it was refused.
    /// The frame itself is not kept: at 1000 services it is 300 kB per
    /// peer, held for as long as the peer's services do not change. The
    /// text is the one the peer's entry holds once taken, not a copy.
    services: Option<(String, dataset::Checked)>,
}

/// `hb#N.rx` on a disk: reads the peers' beat blocks every
/// [`poll_every`]; a block whose bytes did not change brings nothing (the
/// peer may be dead). A beat naming services not held has them read from
/// the slot, at this poll and the next ones until they match.
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
    // The services frames have an opener of their own: one is sealed
    // long before the beats read with it, and would be older than their
    // replay window.
    let mut services_opener = opener.sibling();
    let mut last: Vec<Seen> = (0..SLOTS).map(|_| Seen::default()).collect();
    let mut reader = SlotReader::new();
    let poll = poll_every(conf.interval);
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        let mut failed = None;
        for (peer, i) in &peers {
            let seen = &mut last[*i];
            let frame = match reader.read(&f, *i, Part::Beat) {
                Ok(frame) => frame,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if seen.beat.as_deref() != Some(&*frame) {
                // A first read finds whatever the disk held: a beat written
                // long ago by a dead node is not a sign of life.
                let first = seen.beat.is_none();
                let frame = seen.beat.insert(frame.into_owned());
                let beat = read_beat(&tid, frame, peer, first, conf.timeout, &mut opener, &log);
                if let Some((slot_seen, data)) = beat {
                    if let Ok(mut s) = shared.slots.lock() {
                        s.entry(conf.id.clone())
                            .or_default()
                            .insert(peer.clone(), slot_seen);
                    }
                    if let Some((data, sent)) = data {
                        let beat = dataset::beat_of(data);
                        seen.wants = take_beat(&tid, peer, beat, sent, &shared);
                    }
                }
            }
            if seen.wants.is_some()
                && let Err(e) = read_services(
                    &tid,
                    &f,
                    &mut reader,
                    (peer, *i),
                    seen,
                    &mut services_opener,
                    &shared,
                )
            {
                failed = Some(e);
                break;
            }
        }
        match failed {
            // Read through: what the slots say is current (proof.rs).
            None => shared.tick(&conf.id, |t, now| t.scanned = Some(now)),
            Some(e) => log.warn(format!("{tid}: cannot read {dev}: {e}")),
        }
        shared.set_rejections(&tid, opener.stats.total() + services_opener.stats.total());
        sleep_until(deadline(started, poll), &stop, &shared);
    }
}

/// Reads `peer`'s services frame for the digest `seen.wants` and delivers
/// it when it matches; otherwise (torn, older, refused) it is read again
/// at the next poll. Err only when the device cannot be read.
fn read_services(
    tid: &str,
    f: &File,
    reader: &mut SlotReader,
    (peer, slot): (&str, usize),
    seen: &mut Seen,
    opener: &mut Opener,
    shared: &Shared,
) -> std::io::Result<()> {
    let Some(want) = seen.wants.clone() else {
        return Ok(());
    };
    // Fetched over the network meanwhile (hb/fetch.rs).
    if shared.digest_of(peer).as_ref() == Some(&want) {
        seen.wants = None;
        return Ok(());
    }
    let frame = reader.read(f, slot, Part::Services)?;
    let frame_digest = dataset::digest_of(&frame);
    if seen
        .services
        .as_ref()
        .is_none_or(|(d, _)| *d != frame_digest)
    {
        if frame.is_empty() {
            return Ok(());
        }
        // A frame that does not open may be a read torn by a write: read
        // again at the next poll, and counted as refused by the opener.
        let Some(read) = open_services(&frame, peer, opener) else {
            return Ok(());
        };
        if read.is_err() {
            // Sealed by the peer and wrong: refused once, not at each poll.
            shared.refuse_dataset(tid);
        }
        seen.services = Some((frame_digest, read));
    }
    if let Some((_, Ok((digest, services)))) = &seen.services
        && *digest == want
    {
        shared.fetched(tid, peer, digest, services.clone(), Fresh::AsNamed);
        seen.wants = None;
    }
    Ok(())
}

/// What a services frame read from `peer`'s slot holds (dataset.rs): None
/// when it does not open or is not `peer`'s (torn, or misplaced), else
/// the services checked against their digest, or why they are refused.
pub(crate) fn open_services(
    frame: &[u8],
    peer: &str,
    opener: &mut Opener,
) -> Option<dataset::Checked> {
    let o = opener.open(frame).ok().filter(|o| o.nodename == peer)?;
    let answer: serde_json::Value =
        serde_json::from_slice(&o.payload).unwrap_or(serde_json::Value::Null);
    Some(dataset::read_services(&answer))
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
) -> Option<(SlotSeen, Option<(serde_json::Value, u64)>)> {
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
    Some((seen, live.then_some((data, o.seq))))
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
