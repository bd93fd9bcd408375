//! The frame every peer message travels in: heartbeats, listener requests
//! and their responses, arbitrator pings, authenticated and encrypted with
//! a key derived from `[cluster] secret`.
//!
//! # Deliberately not 1.9's format
//!
//! 1.9 sent `{"clustername", "nodename", "iv", "data"}` with `data` AES-CBC
//! encrypted and no MAC: a captured message could be replayed at will, and
//! a forged one was "authenticated" only by decrypting to valid JSON. This
//! format is an AEAD (XChaCha20-Poly1305) over the payload, with the sender,
//! cluster, path, receiver and a sequence number authenticated in clear,
//! and a replay check per sender. svcmgr and 1.9 agents cannot talk to each
//! other; a 1.9 message is refused as [`WireError::BadMagic`], and so is a
//! frame of the first svcmgr format (`SVM1`, which bound neither the path
//! nor the receiver).
//!
//! # Frame
//!
//! ```text
//! offset 0      4      5     6          6+n   7+n        7+n+c  8+n+c    8+n+c+t  16+n+c+t   40+n+c+t
//!        +------+------+-----+----------+-----+----------+-----+--------+--------+----------+--------------------+
//!        | SVM2 | kind |  n  | nodename |  c  | cluster  |  t  |   to   |  seq   |  nonce   | ciphertext + tag   |
//!        |  4   |  1   |  1  | n bytes  |  1  | c bytes  |  1  | t bytes| u64 BE | 24 bytes | payload + 16 bytes |
//!        +------+------+-----+----------+-----+----------+-----+--------+--------+----------+--------------------+
//!        \______________ associated data: in clear, authenticated ______________/
//! ```
//!
//! - `kind`: the path the frame was sealed for ([`FrameKind`]): 1 unicast
//!   heartbeat, 2 listener request, 3 listener response, 4 multicast
//!   heartbeat, 5 disk heartbeat, 6 arbitrator ping, 7 its answer. Each
//!   [`Opener`] takes one kind, checked before any crypto: a unicast beat
//!   replayed on the multicast group, or a request replayed to a heartbeat
//!   port, is refused as [`WireError::WrongPath`].
//! - `nodename`: the sender, 1..=255 bytes of `a-z 0-9 . - _`.
//! - `cluster`: the sender's `[cluster] name`, 1..=255 bytes.
//! - `to`: the receiver's node name for requests and responses, empty for
//!   heartbeats (one beat goes to every peer) and arbitrator pings (the
//!   asker knows the arbitrator by address, not by node name). A request
//!   sealed for node3 and replayed to node1 is refused by node1 as
//!   [`WireError::Misaddressed`].
//! - `seq`: `max(previous seq + 1, microseconds since the epoch)`.
//! - `nonce`: 24 random bytes. XChaCha20's nonce is long enough to draw at
//!   random for the life of a key, so nothing is counted or persisted.
//! - The key is HKDF-SHA256(ikm = the secret's bytes, no salt,
//!   info = `svcmgr wire v1`). Arbitrator pings use another key,
//!   HKDF(info = `svcmgr arbitrator ping v1`) of the arbitrator's secret
//!   ([`Key::arbitrator`]): the secret a cluster is given to ping another
//!   cluster's node as its arbitrator does not key that node's heartbeats,
//!   requests or config offers, and its listener answers nothing but a
//!   ping under it.
//! - A whole frame is at most [`MAX_FRAME`] bytes; on a stream it is
//!   preceded by its length, u32 big-endian ([`read_frame`], [`write_frame`]).
//!
//! Why the path and receiver travel in the header rather than in per-path
//! keys (HKDF info strings per path): a per-path key would make a frame
//! on the wrong path fail as [`WireError::Forged`], the same as a wrong
//! secret, and the admin reading the log could not tell a misconfigured
//! secret from a replay across paths. In the header they are
//! authenticated just the same (the AEAD's associated data), cost no
//! decryption to refuse, and the refusal says what happened.
//!
//! # Checks, in order
//!
//! Size, magic, layout, kind (the path), cluster name, membership, receiver,
//! AEAD tag, then freshness: the clock bound and the sender's replay
//! window. Cheap checks come first so junk costs no crypto, and only a
//! frame that authenticates may touch a replay window or be reported as a
//! clock problem: a forged frame with a high `seq` cannot lock a peer out.
//!
//! # Freshness
//!
//! Three rules together make every frame acceptable at most once, across
//! restarts of either side:
//!
//! - Clock bound ([`Opener::new`] applies it unless told otherwise): a
//!   frame whose `seq` is more than [`MAX_AGE`] behind this node's clock,
//!   or more than [`MAX_AHEAD`] ahead of it, is refused as
//!   [`WireError::Stale`], naming the sender and the skew, so the log says
//!   "check NTP". 10 s ahead is the skew orders already tolerate
//!   (order.rs `MAX_SKEW`), and a seq far in the future would otherwise
//!   lock the sender's later frames out of the replay window. 30 s behind
//!   covers those same 10 s of skew, plus the longest a live beat may
//!   travel before it is useless anyway (the default heartbeat timeout
//!   is 3 s, 1.9's 15 s), plus margin; a beat older than that is a
//!   replay, or comes from a clock the cluster must not trust. So: a
//!   peer whose clock is up to 10 s ahead of, or up to about 20 s behind,
//!   this node's is heard; beyond that its beats are refused, it looks
//!   lost, and every refusal is logged (rate-limited) with the skew.
//! - Replay window (below), per sender, in memory.
//! - Floors across restarts ([`Opener::keep_floors`]): the newest `seq`
//!   accepted from each sender is kept in a small file per receive path,
//!   written atomically at most once a second and when the receiver
//!   stops, and read back by the next receiver on that path, which then
//!   refuses anything at or below it. A receiver killed outright may
//!   have missed the last second's write: a frame of that last second
//!   could be accepted once more, and the clock bound refuses it after
//!   30 s.
//!
//! The disk heartbeat keeps no floor and no clock bound: a dead peer's
//! last beat stays in its slot, and hb/disk.rs must read it, however old,
//! as evidence that the peer stopped writing (it then judges freshness by
//! the slot changing). Responses and arbitrator pings and their answers
//! skip the clock bound: a response is bound to its request's `seq`
//! (peer.rs), which no replay can match; a replayed ping gets an answer
//! no one can use; and refusing pings from a skewed node of another
//! cluster would make it lose its quorum vote.
//!
//! # Replay window
//!
//! `seq` is a timestamp, so consecutive frames are far apart (a heartbeat
//! every 5 s is 5,000,000 apart): an IPsec-style bitmap of the last 64 or
//! 128 values would cover 128 µs, and any frame overtaken by one sent a
//! millisecond later (two listener connections, a slow path) would be
//! refused. The window therefore remembers the exact `seq`s it accepted in
//! the last [`REPLAY_SPAN_US`] below the newest one, at most
//! [`REPLAY_ENTRIES`] of them; anything older, or at or below the oldest
//! `seq` it had to forget, is refused. Every frame is thus accepted at most
//! once, and out-of-order delivery within the span is accepted.
//!
//! # What callers must still do
//!
//! - Keep one [`Opener`] per receive path (each heartbeat, the listener):
//!   the same beat arriving over two paths is a replay for a shared one.
//!   A disk heartbeat rereading an unchanged slot gets `Replayed`: compare
//!   the slot with the last one read before opening it.
//! - Drop frames whose `nodename` is this node (a reflected frame
//!   authenticates).
//! - Bind a response to its request in the payload (e.g. echo the
//!   request's seq): the frame alone does not say which request it answers.
//! - A sender whose clock stepped back and which then restarts is refused
//!   by receivers until its clock passes the newest `seq` they accepted
//!   from it (the floor): keep clocks on NTP, and never step them back by
//!   hand on a running cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

pub const MAGIC: [u8; 4] = *b"SVM2";
/// Whole frame, header included (the stream length prefix is not counted).
pub const MAX_FRAME: usize = 1 << 20;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Far more than any path reorders frames, and less than the 15 s after
/// which a heartbeat is stale anyway.
pub const REPLAY_SPAN_US: u64 = 10_000_000;
/// Bounds a sender's window in memory however fast it sends.
pub const REPLAY_ENTRIES: usize = 512;
/// How far behind this node's clock a frame's `seq` may be (module doc,
/// Freshness: 10 s of skew, plus a live beat's longest useful transit).
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// How far ahead of this node's clock a frame's `seq` may be: the skew
/// orders tolerate (order.rs `MAX_SKEW`).
pub const MAX_AHEAD: Duration = Duration::from_secs(10);
/// How often, at most, a receive path writes its floors file.
pub const FLOOR_EVERY: Duration = Duration::from_secs(1);
const KDF_INFO: &[u8] = b"svcmgr wire v1";
const ARBITRATOR_KDF_INFO: &[u8] = b"svcmgr arbitrator ping v1";
const PING_SECRET_INFO: &[u8] = b"svcmgr arbitrator ping secret v1";
/// How a ping secret ([`ping_secret`]) begins, so that
/// `[arbitrator#N] secret` may hold either it or the arbitrator's
/// `[cluster] secret`.
pub const PING_SECRET_PREFIX: &str = "ping-";
const NAME_RULE: &str = "1 to 255 bytes of a-z 0-9 . - _";

/// The ping secret of a cluster whose secret is `cluster_secret`
/// (`nodemgr arbitrator secret` prints it): what other clusters put in
/// `[arbitrator#N] secret` to ping this one. It keys pings only, and the
/// cluster secret cannot be computed back from it (HKDF is one-way), so
/// a cluster given it cannot seal anything this cluster's members accept.
pub fn ping_secret(cluster_secret: &str) -> String {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(None, cluster_secret.trim().as_bytes())
        .expand(PING_SECRET_INFO, &mut okm)
        .expect("32 bytes is within HKDF-SHA256's output limit");
    let hex: String = okm.iter().map(|b| format!("{b:02x}")).collect();
    okm.fill(0);
    format!("{PING_SECRET_PREFIX}{hex}")
}

/// The path a frame was sealed for: bound into its associated data, so a
/// frame is accepted only on the path it was sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A heartbeat over unicast TCP (hb.rs).
    HbUnicast = 1,
    /// A request to a peer's listener (peer.rs).
    Request = 2,
    /// The listener's answer to a request.
    Response = 3,
    /// A heartbeat to a multicast group (hb/mcast.rs).
    HbMulticast = 4,
    /// A heartbeat in a disk slot (hb/disk.rs).
    HbDisk = 5,
    /// A ping to an arbitrator, under its ping-only key (orchestration/quorum.rs).
    ArbPing = 6,
    /// The arbitrator's answer to a ping.
    ArbPong = 7,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::HbUnicast),
            2 => Some(FrameKind::Request),
            3 => Some(FrameKind::Response),
            4 => Some(FrameKind::HbMulticast),
            5 => Some(FrameKind::HbDisk),
            6 => Some(FrameKind::ArbPing),
            7 => Some(FrameKind::ArbPong),
            _ => None,
        }
    }

    /// For messages: what the path is called in node.conf and the docs.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::HbUnicast => "unicast heartbeat",
            FrameKind::Request => "listener request",
            FrameKind::Response => "listener response",
            FrameKind::HbMulticast => "multicast heartbeat",
            FrameKind::HbDisk => "disk heartbeat",
            FrameKind::ArbPing => "arbitrator ping",
            FrameKind::ArbPong => "arbitrator answer",
        }
    }
}

/// The kind a frame claims, read from its header without any check
/// beyond the magic: the listener picks the key (cluster or arbitrator)
/// a frame is opened with by it.
pub fn peek_kind(frame: &[u8]) -> Option<FrameKind> {
    if frame.len() <= MAGIC.len() || frame[..MAGIC.len()] != MAGIC {
        return None;
    }
    FrameKind::from_byte(frame[MAGIC.len()])
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame of {len} bytes refused: the limit is {MAX_FRAME} bytes")]
    Oversized { len: usize },
    #[error(
        "not an svcmgr frame (no SVM2 magic): a 1.9 agent, which svcmgr cannot talk to, an older svcmgr (SVM1: upgrade every node), another program, or noise"
    )]
    BadMagic,
    #[error("frame of unknown kind {kind}: a newer svcmgr, or a damaged message")]
    BadKind { kind: u8 },
    #[error("frame truncated ({len} bytes): cut off by the sender or the network")]
    Truncated { len: usize },
    #[error("frame names no valid sender or receiver (a node name is {NAME_RULE})")]
    BadName,
    #[error(
        "frame from {node} is for cluster '{cluster}', not this node's: check [cluster] name on both nodes"
    )]
    OtherCluster { node: String, cluster: String },
    #[error(
        "frame from {node} forged or not for this cluster's key: check [cluster] secret on both nodes"
    )]
    Forged { node: String },
    #[error(
        "frame from {node}, which is not in [cluster] nodes: dropped before decryption (add it there on every node if it is a new member)"
    )]
    Stranger { node: String },
    #[error(
        "a {} frame from {node} arrived on a {} path: refused (a frame is accepted only on the path it was sealed for; a replay, or a misdirected port)",
        .got.name(), .want.name()
    )]
    WrongPath {
        node: String,
        got: FrameKind,
        want: FrameKind,
    },
    #[error(
        "frame from {node} is addressed to '{to}', not to this node ({me}): a replay, or [listener] addr@ / port@ pointing at the wrong node"
    )]
    Misaddressed {
        node: String,
        to: String,
        me: String,
    },
    #[error("{}", stale_message(.node, *.skew_us))]
    Stale {
        node: String,
        seq: u64,
        skew_us: i64,
    },
    #[error("frame from {node} replayed (seq {seq}, {reason})")]
    Replayed {
        node: String,
        seq: u64,
        reason: &'static str,
    },
    #[error("connection closed before a frame")]
    Closed,
    #[error("cannot read or write a frame: {0}")]
    Io(#[from] io::Error),
    #[error("cannot draw a random nonce: {0}")]
    Random(getrandom::Error),
    #[error("node name '{0}' cannot be sent: a node name is {NAME_RULE}")]
    LocalNodename(String),
    #[error("cluster name '{0}' cannot be sent: it must be 1 to 255 bytes")]
    LocalCluster(String),
}

/// `skew_us`: the frame's seq minus this node's clock.
fn stale_message(node: &str, skew_us: i64) -> String {
    let s = skew_us.unsigned_abs() as f64 / 1e6;
    if skew_us < 0 {
        format!(
            "frame from {node} is {s:.1} s older than this node's clock, more than the {} s allowed: a replayed frame, or {node}'s clock is behind this node's (check NTP on both)",
            MAX_AGE.as_secs()
        )
    } else {
        format!(
            "frame from {node} is dated {s:.1} s ahead of this node's clock, more than the {} s allowed: check NTP on {node} and on this node",
            MAX_AHEAD.as_secs()
        )
    }
}

/// The AEAD key. Its Debug output never shows the key.
#[derive(Clone)]
pub struct Key {
    aead: XChaCha20Poly1305,
}

impl Key {
    /// The cluster key: heartbeats, requests and responses.
    pub fn from_secret(secret: &str) -> Key {
        Key::derive(secret, KDF_INFO)
    }

    /// The ping-only key of an arbitrator whose secret is `secret`: the
    /// arbitrator's listener answers a ping under it and nothing else,
    /// and no heartbeat or request opens under it.
    ///
    /// `secret` is either the arbitrator's `[cluster] secret` or the ping
    /// secret derived from it ([`ping_secret`]): both give the same key,
    /// so an arbitrator's administrator can hand out the ping secret and
    /// keep the cluster secret.
    pub fn arbitrator(secret: &str) -> Key {
        let secret = secret.trim();
        if secret.starts_with(PING_SECRET_PREFIX) {
            Key::derive(secret, ARBITRATOR_KDF_INFO)
        } else {
            Key::derive(&ping_secret(secret), ARBITRATOR_KDF_INFO)
        }
    }

    fn derive(secret: &str, info: &[u8]) -> Key {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret.as_bytes())
            .expand(info, &mut okm)
            // Only a request above 255 hash lengths (8160 bytes) can fail.
            .expect("32 bytes is within HKDF-SHA256's output limit");
        let aead = XChaCha20Poly1305::new(&okm.into());
        okm.fill(0);
        Key { aead }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Seals this node's outgoing frames.
#[derive(Debug)]
pub struct Sealer {
    key: Key,
    nodename: String,
    cluster: String,
    last_seq: u64,
}

impl Sealer {
    pub fn new(key: Key, nodename: &str, cluster: &str) -> Result<Sealer, WireError> {
        if !valid_nodename(nodename.as_bytes()) {
            return Err(WireError::LocalNodename(nodename.to_string()));
        }
        if cluster.is_empty() || cluster.len() > 255 {
            return Err(WireError::LocalCluster(cluster.to_string()));
        }
        Ok(Sealer {
            key,
            nodename: nodename.to_string(),
            cluster: cluster.to_string(),
            last_seq: 0,
        })
    }

    /// A frame for no one in particular: heartbeats, arbitrator pings.
    pub fn seal(&mut self, kind: FrameKind, payload: &[u8]) -> Result<Vec<u8>, WireError> {
        self.seal_at(kind, payload, now_us())
    }

    /// A frame only node `to` accepts: requests and responses.
    pub fn seal_to(
        &mut self,
        kind: FrameKind,
        to: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        if !valid_nodename(to.as_bytes()) {
            return Err(WireError::LocalNodename(to.to_string()));
        }
        self.seal_for(kind, to, payload, now_us())
    }

    /// The `seq` of the last frame sealed (0 before the first): a requester
    /// keeps it to bind the answer to its request.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Seals the next frames as if sealed `age` ago: tests of what a
    /// receiver does with old frames.
    #[cfg(test)]
    pub fn seal_aged(
        &mut self,
        kind: FrameKind,
        payload: &[u8],
        age: std::time::Duration,
    ) -> Result<Vec<u8>, WireError> {
        let age_us = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
        self.seal_at(kind, payload, now_us().saturating_sub(age_us))
    }

    fn seal_at(
        &mut self,
        kind: FrameKind,
        payload: &[u8],
        now_us: u64,
    ) -> Result<Vec<u8>, WireError> {
        self.seal_for(kind, "", payload, now_us)
    }

    fn seal_for(
        &mut self,
        kind: FrameKind,
        to: &str,
        payload: &[u8],
        now_us: u64,
    ) -> Result<Vec<u8>, WireError> {
        let seq = now_us.max(self.last_seq.saturating_add(1));
        let mut frame = header(kind, &self.nodename, &self.cluster, to, seq);
        let len = frame.len() + NONCE_LEN + payload.len() + TAG_LEN;
        if len > MAX_FRAME {
            return Err(WireError::Oversized { len });
        }
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(WireError::Random)?;
        let sealed = self
            .key
            .aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: payload,
                    aad: &frame,
                },
            )
            // Only a payload of 256 GiB can fail, far above MAX_FRAME.
            .map_err(|_| WireError::Oversized { len })?;
        frame.extend_from_slice(&nonce);
        frame.extend_from_slice(&sealed);
        self.last_seq = seq;
        Ok(frame)
    }
}

fn header(kind: FrameKind, nodename: &str, cluster: &str, to: &str, seq: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(MAGIC.len() + 4 + nodename.len() + cluster.len() + to.len() + 8);
    h.extend_from_slice(&MAGIC);
    h.push(kind as u8);
    // The three lengths were checked to fit a u8 by Sealer::new and seal_to.
    h.push(nodename.len() as u8);
    h.extend_from_slice(nodename.as_bytes());
    h.push(cluster.len() as u8);
    h.extend_from_slice(cluster.as_bytes());
    h.push(to.len() as u8);
    h.extend_from_slice(to.as_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h
}

/// Microseconds since the epoch: what `seq` counts in.
pub fn now_us() -> u64 {
    // A clock before 1970 gives 0: seq still grows through last_seq + 1.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn valid_nodename(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

/// An authenticated, fresh frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub kind: FrameKind,
    pub nodename: String,
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// How many frames were refused, by reason (for svcmon).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rejections {
    pub oversized: u64,
    pub bad_magic: u64,
    pub bad_kind: u64,
    pub truncated: u64,
    pub bad_name: u64,
    pub other_cluster: u64,
    pub forged: u64,
    pub replayed: u64,
    pub stranger: u64,
    /// Sealed for another path (kind).
    pub wrong_path: u64,
    /// Addressed to another node.
    pub misaddressed: u64,
    /// Outside the clock bound.
    pub stale: u64,
    /// Connections closed unread: their source held too many at once.
    pub crowded: u64,
}

impl Rejections {
    /// Also for errors met outside [`Opener::open`], such as those of
    /// [`read_frame`]. Local and I/O errors are not refusals and are not
    /// counted.
    pub fn record(&mut self, err: &WireError) {
        let counter = match err {
            WireError::Oversized { .. } => &mut self.oversized,
            WireError::BadMagic => &mut self.bad_magic,
            WireError::BadKind { .. } => &mut self.bad_kind,
            WireError::Truncated { .. } => &mut self.truncated,
            WireError::BadName => &mut self.bad_name,
            WireError::OtherCluster { .. } => &mut self.other_cluster,
            WireError::Forged { .. } => &mut self.forged,
            WireError::Replayed { .. } => &mut self.replayed,
            WireError::Stranger { .. } => &mut self.stranger,
            WireError::WrongPath { .. } => &mut self.wrong_path,
            WireError::Misaddressed { .. } => &mut self.misaddressed,
            WireError::Stale { .. } => &mut self.stale,
            WireError::Closed
            | WireError::Io(_)
            | WireError::Random(_)
            | WireError::LocalNodename(_)
            | WireError::LocalCluster(_) => return,
        };
        *counter = counter.saturating_add(1);
    }

    pub fn total(&self) -> u64 {
        [
            self.oversized,
            self.bad_magic,
            self.bad_kind,
            self.truncated,
            self.bad_name,
            self.other_cluster,
            self.forged,
            self.replayed,
            self.stranger,
            self.wrong_path,
            self.misaddressed,
            self.stale,
            self.crowded,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// The `seq`s of one sender already accepted (see the module doc for why
/// a set and not a bitmap). Invariant: every accepted seq is in `seen`,
/// below `newest - REPLAY_SPAN_US`, or at or below `floor`.
#[derive(Debug, Default, Clone)]
pub struct ReplayWindow {
    newest: u64,
    floor: u64,
    /// The floor read back from the floors file: what a previous receiver
    /// on this path accepted.
    restored: u64,
    seen: BTreeSet<u64>,
}

impl ReplayWindow {
    /// A window that refuses everything at or below `floor`, accepted by
    /// a previous receiver.
    fn restored(floor: u64) -> ReplayWindow {
        ReplayWindow {
            newest: floor,
            floor,
            restored: floor,
            seen: BTreeSet::new(),
        }
    }

    /// Records `seq`, or says why it is refused. Seq 0 is never sent.
    pub fn accept(&mut self, seq: u64) -> Result<(), &'static str> {
        if seq <= self.restored {
            return Err("not newer than the last frame accepted before this receiver restarted");
        }
        if seq <= self.floor || seq < self.oldest() {
            return Err("older than the replay window");
        }
        if !self.seen.insert(seq) {
            return Err("already seen");
        }
        if seq > self.newest {
            self.newest = seq;
            self.seen = self.seen.split_off(&self.oldest());
        }
        while self.seen.len() > REPLAY_ENTRIES {
            if let Some(forgotten) = self.seen.pop_first() {
                self.floor = self.floor.max(forgotten);
            }
        }
        Ok(())
    }

    fn oldest(&self) -> u64 {
        self.newest.saturating_sub(REPLAY_SPAN_US)
    }
}

/// Where a receive path keeps the newest seq accepted per sender, and
/// when it last wrote it.
#[derive(Debug)]
struct Floors {
    file: PathBuf,
    written: Option<Instant>,
    dirty: bool,
    /// The last write's error, until taken for the log.
    error: Option<String>,
    said: Option<String>,
}

/// Two receivers of one path can be alive at once (a heartbeat thread
/// being replaced on a reload), and write_atomic's temp file is named
/// per process: one write at a time.
static FLOOR_WRITES: Mutex<()> = Mutex::new(());

/// The floors file's content: `{"<node>": <seq>, ...}`. An unreadable or
/// damaged file reads as empty: the clock bound still refuses anything
/// older than [`MAX_AGE`].
fn read_floors(file: &std::path::Path) -> Result<BTreeMap<String, u64>, String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is damaged ({e}): replays are refused by the clock bound only until it is rewritten",
            file.display()
        )
    })
}

fn write_floors(file: &std::path::Path, mine: &BTreeMap<String, u64>) -> Result<(), String> {
    let _one = FLOOR_WRITES.lock().unwrap_or_else(|p| p.into_inner());
    // Another receiver of this path may have written newer floors.
    let mut all = read_floors(file).unwrap_or_default();
    for (node, seq) in mine {
        let e = all.entry(node.clone()).or_default();
        *e = (*e).max(*seq);
    }
    let text = serde_json::to_string(&all).unwrap_or_default();
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)
        .and_then(|()| crate::fsutil::write_atomic(file, text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// The floors file of receive path `path` (`hb#1`, `listener`), under the
/// daemon's var directory.
pub fn floors_file(paths: &crate::paths::Paths, path: &str) -> PathBuf {
    paths.var.join("wire").join(format!("{path}.floors.json"))
}

/// Opens the frames of one receive path.
#[derive(Debug)]
pub struct Opener {
    key: Key,
    cluster: String,
    kind: FrameKind,
    /// The receiver frames must be addressed to; None: frames addressed to
    /// no one (heartbeats, pings).
    me: Option<String>,
    /// Whether the clock bound applies (module doc, Freshness).
    clock: bool,
    windows: HashMap<String, ReplayWindow>,
    /// The senders heard; None: any holder of the key.
    members: Option<HashSet<String>>,
    floors: Option<Floors>,
    pub stats: Rejections,
}

/// A frame's fields, borrowed from it.
struct Parsed<'a> {
    kind: FrameKind,
    nodename: &'a str,
    cluster: &'a [u8],
    to: &'a str,
    seq: u64,
    aad: &'a [u8],
    nonce: [u8; NONCE_LEN],
    sealed: &'a [u8],
}

impl Opener {
    /// Opens frames of `kind` only, under the clock bound.
    pub fn new(key: Key, cluster: &str, kind: FrameKind) -> Opener {
        Opener {
            key,
            cluster: cluster.to_string(),
            kind,
            me: None,
            clock: true,
            windows: HashMap::new(),
            members: None,
            floors: None,
            stats: Rejections::default(),
        }
    }

    /// Hears only `nodes` (`[cluster] nodes`): a frame naming anyone else
    /// is dropped on its header, before it costs a decryption or a replay
    /// window entry.
    pub fn only_from(mut self, nodes: &[String]) -> Opener {
        self.set_members(nodes);
        self
    }

    /// An opener of the same path, key, members and bounds, with replay
    /// windows of its own and no floors: for frames of one path that are
    /// sealed at very different times (a disk slot's beat, rewritten every
    /// interval, and its services frame, rewritten on change only).
    pub fn sibling(&self) -> Opener {
        Opener {
            key: self.key.clone(),
            cluster: self.cluster.clone(),
            kind: self.kind,
            me: self.me.clone(),
            clock: self.clock,
            windows: HashMap::new(),
            members: self.members.clone(),
            floors: None,
            stats: Rejections::default(),
        }
    }

    /// A new `[cluster] nodes`, keeping the replay windows.
    pub fn set_members(&mut self, nodes: &[String]) {
        self.members = Some(nodes.iter().map(|n| n.to_lowercase()).collect());
    }

    /// Accepts only frames addressed to node `me` (requests, responses).
    pub fn to_me(mut self, me: &str) -> Opener {
        self.me = Some(me.to_string());
        self
    }

    /// No clock bound: for the paths the module doc names (disk slots,
    /// responses, arbitrator pings).
    pub fn without_clock(mut self) -> Opener {
        self.clock = false;
        self
    }

    /// Keeps the newest seq accepted per sender in `file` across restarts:
    /// reads the floors a previous receiver left there now, and writes
    /// them at most every [`FLOOR_EVERY`] and when dropped. An error
    /// (an unreadable or damaged file) is returned for the log, and the
    /// path still opens frames, under the clock bound alone.
    pub fn keep_floors(&mut self, file: PathBuf) -> Result<(), String> {
        let read = read_floors(&file);
        for (node, seq) in read.as_ref().cloned().unwrap_or_default() {
            let w = self.windows.entry(node).or_default();
            if seq > w.newest {
                *w = ReplayWindow::restored(seq);
            }
        }
        self.floors = Some(Floors {
            file,
            written: None,
            dirty: false,
            error: None,
            said: None,
        });
        read.map(|_| ())
    }

    /// A floors write error not yet reported, once per distinct error.
    pub fn take_floor_error(&mut self) -> Option<String> {
        let f = self.floors.as_mut()?;
        let e = f.error.take()?;
        if f.said.as_ref() == Some(&e) {
            return None;
        }
        f.said = Some(e.clone());
        Some(e)
    }

    /// Writes the floors now if anything was accepted since the last write.
    pub fn save_floors(&mut self) {
        let Some(f) = self.floors.as_mut() else {
            return;
        };
        if !f.dirty {
            return;
        }
        let mine: BTreeMap<String, u64> = self
            .windows
            .iter()
            .map(|(n, w)| (n.clone(), w.newest))
            .collect();
        f.written = Some(Instant::now());
        match write_floors(&f.file, &mine) {
            Ok(()) => {
                f.dirty = false;
                f.said = None;
            }
            Err(e) => f.error = Some(e),
        }
    }

    /// Every refusal is counted in `stats`.
    pub fn open(&mut self, frame: &[u8]) -> Result<Opened, WireError> {
        let result = self.check(frame);
        match &result {
            Err(e) => self.stats.record(e),
            Ok(_) => {
                if let Some(f) = self.floors.as_mut() {
                    f.dirty = true;
                    if f.written.is_none_or(|t| t.elapsed() >= FLOOR_EVERY) {
                        self.save_floors();
                    }
                }
            }
        }
        result
    }

    fn check(&mut self, frame: &[u8]) -> Result<Opened, WireError> {
        if frame.len() > MAX_FRAME {
            return Err(WireError::Oversized { len: frame.len() });
        }
        let p = parse(frame)?;
        if p.kind != self.kind {
            return Err(WireError::WrongPath {
                node: p.nodename.to_string(),
                got: p.kind,
                want: self.kind,
            });
        }
        if p.cluster != self.cluster.as_bytes() {
            return Err(WireError::OtherCluster {
                node: p.nodename.to_string(),
                cluster: p.cluster.escape_ascii().to_string(),
            });
        }
        if let Some(m) = &self.members
            && !m.contains(p.nodename)
        {
            return Err(WireError::Stranger {
                node: p.nodename.to_string(),
            });
        }
        if p.to != self.me.as_deref().unwrap_or("") {
            return Err(WireError::Misaddressed {
                node: p.nodename.to_string(),
                to: p.to.to_string(),
                me: self.me.clone().unwrap_or_else(|| "no one".to_string()),
            });
        }
        let payload = self
            .key
            .aead
            .decrypt(
                &XNonce::from(p.nonce),
                Payload {
                    msg: p.sealed,
                    aad: p.aad,
                },
            )
            .map_err(|_| WireError::Forged {
                node: p.nodename.to_string(),
            })?;
        if self.clock {
            check_clock(p.nodename, p.seq, now_us())?;
        }
        self.windows
            .entry(p.nodename.to_string())
            .or_default()
            .accept(p.seq)
            .map_err(|reason| WireError::Replayed {
                node: p.nodename.to_string(),
                seq: p.seq,
                reason,
            })?;
        Ok(Opened {
            kind: p.kind,
            nodename: p.nodename.to_string(),
            seq: p.seq,
            payload,
        })
    }
}

impl Drop for Opener {
    /// A clean stop or a replaced receiver leaves exact floors behind.
    fn drop(&mut self) {
        self.save_floors();
    }
}

/// The clock bound (module doc, Freshness) of a frame `seq` read at `now`.
fn check_clock(node: &str, seq: u64, now: u64) -> Result<(), WireError> {
    let (age, ahead) = (MAX_AGE.as_micros() as u64, MAX_AHEAD.as_micros() as u64);
    if seq < now.saturating_sub(age) || seq > now.saturating_add(ahead) {
        // Both below 2^63 for the next 290,000 years.
        let skew_us =
            (i128::from(seq) - i128::from(now)).clamp(i64::MIN.into(), i64::MAX.into()) as i64;
        return Err(WireError::Stale {
            node: node.to_string(),
            seq,
            skew_us,
        });
    }
    Ok(())
}

fn parse(frame: &[u8]) -> Result<Parsed<'_>, WireError> {
    if frame.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(frame) {
            WireError::Truncated { len: frame.len() }
        } else {
            WireError::BadMagic
        });
    }
    let mut r = Reader { frame, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(WireError::BadMagic);
    }
    let kind_byte = r.byte()?;
    let kind = FrameKind::from_byte(kind_byte).ok_or(WireError::BadKind { kind: kind_byte })?;
    let name_len = r.byte()?;
    let name = r.take(usize::from(name_len))?;
    if !valid_nodename(name) {
        return Err(WireError::BadName);
    }
    let nodename = std::str::from_utf8(name).map_err(|_| WireError::BadName)?;
    let cluster_len = r.byte()?;
    let cluster = r.take(usize::from(cluster_len))?;
    let to_len = r.byte()?;
    let to = r.take(usize::from(to_len))?;
    if !to.is_empty() && !valid_nodename(to) {
        return Err(WireError::BadName);
    }
    let to = std::str::from_utf8(to).map_err(|_| WireError::BadName)?;
    let seq = u64::from_be_bytes(r.array()?);
    let aad = &frame[..r.pos];
    let nonce = r.array()?;
    let sealed = &frame[r.pos..];
    if sealed.len() < TAG_LEN {
        return Err(WireError::Truncated { len: frame.len() });
    }
    Ok(Parsed {
        kind,
        nodename,
        cluster,
        to,
        seq,
        aad,
        nonce,
        sealed,
    })
}

struct Reader<'a> {
    frame: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.frame.len())
            .ok_or(WireError::Truncated {
                len: self.frame.len(),
            })?;
        let bytes = &self.frame[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

/// Reads one length-prefixed frame. A length above [`MAX_FRAME`] is refused
/// before anything is allocated or read past the prefix. The caller sets
/// the read timeout; a timeout comes back as [`WireError::Io`].
pub fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, WireError> {
    let prefix = read_up_to(r, 4)?;
    match prefix.len() {
        0 => return Err(WireError::Closed),
        4 => {}
        len => return Err(WireError::Truncated { len }),
    }
    let declared = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let len = usize::try_from(declared).unwrap_or(usize::MAX);
    if len > MAX_FRAME {
        return Err(WireError::Oversized { len });
    }
    let frame = read_up_to(r, len)?;
    if frame.len() < len {
        return Err(WireError::Truncated { len: frame.len() });
    }
    Ok(frame)
}

fn read_up_to(r: &mut impl Read, len: usize) -> Result<Vec<u8>, WireError> {
    let mut buf = Vec::with_capacity(len);
    // usize to u64 is lossless on every target Rust supports.
    r.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Writes one frame with its length prefix, in one write.
pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> Result<(), WireError> {
    if frame.len() > MAX_FRAME {
        return Err(WireError::Oversized { len: frame.len() });
    }
    let mut buf = Vec::with_capacity(4 + frame.len());
    // MAX_FRAME fits a u32, so the length does too.
    buf.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    buf.extend_from_slice(frame);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
