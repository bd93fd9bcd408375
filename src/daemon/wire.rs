//! The frame every peer message travels in: heartbeats, listener requests
//! and their responses, authenticated and encrypted with a key derived from
//! `[cluster] secret`.
//!
//! # Deliberately not 1.9's format
//!
//! 1.9 sent `{"clustername", "nodename", "iv", "data"}` with `data` AES-CBC
//! encrypted and no MAC: a captured message could be replayed at will, and
//! a forged one was "authenticated" only by decrypting to valid JSON. This
//! format is an AEAD (XChaCha20-Poly1305) over the payload, with the sender,
//! cluster, kind and a sequence number authenticated in clear, and a replay
//! check per sender. svcmgr and 1.9 agents cannot talk to each other; a 1.9
//! message is refused as [`WireError::BadMagic`].
//!
//! # Frame
//!
//! ```text
//! offset 0      4      5     6          6+n   7+n        7+n+c     15+n+c      39+n+c
//!        +------+------+-----+----------+-----+----------+---------+-----------+--------------------+
//!        | SVM1 | kind |  n  | nodename |  c  | cluster  |   seq   |   nonce   | ciphertext + tag   |
//!        |  4   |  1   |  1  | n bytes  |  1  | c bytes  | u64 BE  | 24 bytes  | payload + 16 bytes |
//!        +------+------+-----+----------+-----+----------+---------+-----------+--------------------+
//!        \_______ associated data: in clear, authenticated ________/
//! ```
//!
//! - `kind`: 1 heartbeat, 2 request, 3 response.
//! - `nodename`: the sender, 1..=255 bytes of `a-z 0-9 . - _`.
//! - `cluster`: the sender's `[cluster] name`, 1..=255 bytes.
//! - `seq`: `max(previous seq + 1, microseconds since the epoch)`, so it
//!   keeps growing across daemon restarts with no state on disk.
//! - `nonce`: 24 random bytes. XChaCha20's nonce is long enough to draw at
//!   random for the life of a key, so nothing is counted or persisted.
//! - The key is HKDF-SHA256(ikm = the secret's bytes, no salt,
//!   info = `svcmgr wire v1`): the secret can key other uses later under
//!   another info string without reusing this key.
//! - A whole frame is at most [`MAX_FRAME`] bytes; on a stream it is
//!   preceded by its length, u32 big-endian ([`read_frame`], [`write_frame`]).
//!
//! # Checks, in order
//!
//! Size, magic, layout, cluster name, AEAD tag, then the sender's replay
//! window. Cheap checks come first so junk costs no crypto, and only a frame
//! that authenticates may touch a replay window: a forged frame with a high
//! `seq` cannot lock a peer out.
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
//!   authenticates), and frames of a kind the path does not expect.
//! - Bind a response to its request in the payload (e.g. echo the
//!   request's seq): the frame alone does not say which request it answers.
//! - Windows live in memory: a freshly started receiver accepts, once each,
//!   frames it never saw, however old. A sender whose clock stepped back
//!   more than [`REPLAY_SPAN_US`] and which then restarts is refused by
//!   receivers that kept running until its clock passes its old `seq`s.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

pub const MAGIC: [u8; 4] = *b"SVM1";
/// Whole frame, header included (the stream length prefix is not counted).
pub const MAX_FRAME: usize = 1 << 20;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Far more than any path reorders frames, and less than the 15 s after
/// which a heartbeat is stale anyway.
pub const REPLAY_SPAN_US: u64 = 10_000_000;
/// Bounds a sender's window in memory however fast it sends.
pub const REPLAY_ENTRIES: usize = 512;
const KDF_INFO: &[u8] = b"svcmgr wire v1";
const NAME_RULE: &str = "1 to 255 bytes of a-z 0-9 . - _";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Heartbeat = 1,
    Request = 2,
    Response = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Heartbeat),
            2 => Some(Kind::Request),
            3 => Some(Kind::Response),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("frame of {len} bytes refused: the limit is {MAX_FRAME} bytes")]
    Oversized { len: usize },
    #[error(
        "not an svcmgr frame (no SVM1 magic): a 1.9 agent, which svcmgr cannot talk to, another program, or noise"
    )]
    BadMagic,
    #[error("frame of unknown kind {kind}: a newer svcmgr, or a damaged message")]
    BadKind { kind: u8 },
    #[error("frame truncated ({len} bytes): cut off by the sender or the network")]
    Truncated { len: usize },
    #[error("frame names no valid sender (a node name is {NAME_RULE})")]
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

/// The AEAD key. Its Debug output never shows the key.
#[derive(Clone)]
pub struct Key {
    aead: XChaCha20Poly1305,
}

impl Key {
    pub fn from_secret(secret: &str) -> Key {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret.as_bytes())
            .expand(KDF_INFO, &mut okm)
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

    pub fn seal(&mut self, kind: Kind, payload: &[u8]) -> Result<Vec<u8>, WireError> {
        self.seal_at(kind, payload, now_us())
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
        kind: Kind,
        payload: &[u8],
        age: std::time::Duration,
    ) -> Result<Vec<u8>, WireError> {
        let age_us = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
        self.seal_at(kind, payload, now_us().saturating_sub(age_us))
    }

    fn seal_at(&mut self, kind: Kind, payload: &[u8], now_us: u64) -> Result<Vec<u8>, WireError> {
        let seq = now_us.max(self.last_seq.saturating_add(1));
        let mut frame = header(kind, &self.nodename, &self.cluster, seq);
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

fn header(kind: Kind, nodename: &str, cluster: &str, seq: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(MAGIC.len() + 3 + nodename.len() + cluster.len() + 8);
    h.extend_from_slice(&MAGIC);
    h.push(kind as u8);
    // Both lengths were checked to fit a u8 by Sealer::new.
    h.push(nodename.len() as u8);
    h.extend_from_slice(nodename.as_bytes());
    h.push(cluster.len() as u8);
    h.extend_from_slice(cluster.as_bytes());
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
    pub kind: Kind,
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
    seen: BTreeSet<u64>,
}

impl ReplayWindow {
    /// Records `seq`, or says why it is refused. Seq 0 is never sent.
    pub fn accept(&mut self, seq: u64) -> Result<(), &'static str> {
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

/// Opens the frames of one receive path.
#[derive(Debug)]
pub struct Opener {
    key: Key,
    cluster: String,
    windows: HashMap<String, ReplayWindow>,
    /// The senders heard; None: any holder of the key.
    members: Option<HashSet<String>>,
    pub stats: Rejections,
}

/// A frame's fields, borrowed from it.
struct Parsed<'a> {
    kind: Kind,
    nodename: &'a str,
    cluster: &'a [u8],
    seq: u64,
    aad: &'a [u8],
    nonce: [u8; NONCE_LEN],
    sealed: &'a [u8],
}

impl Opener {
    pub fn new(key: Key, cluster: &str) -> Opener {
        Opener {
            key,
            cluster: cluster.to_string(),
            windows: HashMap::new(),
            members: None,
            stats: Rejections::default(),
        }
    }

    /// Hears only `nodes` (`[cluster] nodes`): a frame naming anyone else
    /// is dropped on its header, before it costs a decryption or a replay
    /// window entry.
    pub fn only_from(mut self, nodes: &[String]) -> Opener {
        self.members = Some(nodes.iter().map(|n| n.to_lowercase()).collect());
        self
    }

    /// Every refusal is counted in `stats`.
    pub fn open(&mut self, frame: &[u8]) -> Result<Opened, WireError> {
        let result = self.check(frame);
        if let Err(e) = &result {
            self.stats.record(e);
        }
        result
    }

    fn check(&mut self, frame: &[u8]) -> Result<Opened, WireError> {
        if frame.len() > MAX_FRAME {
            return Err(WireError::Oversized { len: frame.len() });
        }
        let p = parse(frame)?;
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
    let kind = Kind::from_byte(kind_byte).ok_or(WireError::BadKind { kind: kind_byte })?;
    let name_len = r.byte()?;
    let name = r.take(usize::from(name_len))?;
    if !valid_nodename(name) {
        return Err(WireError::BadName);
    }
    let nodename = std::str::from_utf8(name).map_err(|_| WireError::BadName)?;
    let cluster_len = r.byte()?;
    let cluster = r.take(usize::from(cluster_len))?;
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
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const T0: u64 = 1_700_000_000_000_000;

    fn sealer(node: &str) -> Sealer {
        Sealer::new(Key::from_secret(SECRET), node, "c1").unwrap()
    }

    fn opener() -> Opener {
        Opener::new(Key::from_secret(SECRET), "c1")
    }

    /// Layout offsets of a frame from node "n1" in cluster "c1".
    const NAME_AT: usize = 6;
    const CLUSTER_AT: usize = 9;
    const SEQ_AT: usize = 11;
    const NONCE_AT: usize = 19;
    const SEALED_AT: usize = 43;

    fn is_replayed(r: Result<Opened, WireError>) -> bool {
        matches!(r, Err(WireError::Replayed { .. }))
    }

    #[test]
    fn a_stranger_is_dropped_before_decryption() {
        let members = vec!["n1".to_string(), "n2".to_string()];
        let mut o = opener().only_from(&members);
        let mut frame = sealer("n3").seal(Kind::Heartbeat, b"{}").unwrap();
        // Its sealed part garbled: still refused as a stranger, so the
        // check ran before the AEAD (which would say forged).
        let last = frame.len() - 1;
        frame[last] ^= 0xff;
        let got = o.open(&frame);
        assert!(
            matches!(got, Err(WireError::Stranger { ref node }) if node == "n3"),
            "{got:?}"
        );
        assert_eq!(o.stats.stranger, 1);
        let ok = sealer("n2").seal(Kind::Heartbeat, b"{}").unwrap();
        assert_eq!(o.open(&ok).unwrap().nodename, "n2");
    }

    #[test]
    fn round_trip() {
        let mut s = sealer("n1");
        let mut o = opener();
        let frame = s
            .seal(Kind::Request, b"{\"action\": \"daemon_status\"}")
            .unwrap();
        assert_eq!(&frame[..4], b"SVM1");
        assert_eq!(frame[4], 2);
        assert_eq!(&frame[5..8], b"\x02n1");
        assert_eq!(&frame[8..11], b"\x02c1");
        assert_eq!(frame.len(), SEALED_AT + 27 + TAG_LEN);
        let opened = o.open(&frame).unwrap();
        assert_eq!(opened.kind, Kind::Request);
        assert_eq!(opened.nodename, "n1");
        assert_eq!(opened.payload, b"{\"action\": \"daemon_status\"}");
        assert_eq!(
            opened.seq.to_be_bytes(),
            frame[SEQ_AT..NONCE_AT],
            "seq travels in clear"
        );
        assert_eq!(o.stats, Rejections::default());
    }

    #[test]
    fn empty_payload_and_every_kind_round_trip() {
        let mut s = sealer("node-1.example_x");
        let mut o = opener();
        for kind in [Kind::Heartbeat, Kind::Request, Kind::Response] {
            let opened = o.open(&s.seal(kind, b"").unwrap()).unwrap();
            assert_eq!(opened.kind, kind);
            assert!(opened.payload.is_empty());
        }
    }

    #[test]
    fn same_payload_seals_differently() {
        let mut s = sealer("n1");
        let a = s.seal(Kind::Heartbeat, b"same").unwrap();
        let b = s.seal(Kind::Heartbeat, b"same").unwrap();
        assert_ne!(a[NONCE_AT..], b[NONCE_AT..]);
    }

    #[test]
    fn key_and_sealer_debug_hide_the_key() {
        let key = Key::from_secret(SECRET);
        assert_eq!(format!("{key:?}"), "Key(..)");
        assert!(!format!("{:?}", sealer("n1")).contains(SECRET));
    }

    #[test]
    fn wrong_secret_is_forged() {
        let mut s = Sealer::new(Key::from_secret("other secret"), "n1", "c1").unwrap();
        let mut o = opener();
        let err = o
            .open(&s.seal(Kind::Heartbeat, b"hb").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame from n1 forged or not for this cluster's key: check [cluster] secret on both nodes"
        );
        assert_eq!(o.stats.forged, 1);
        assert_eq!(o.stats.total(), 1);
    }

    #[test]
    fn other_cluster_is_refused_before_crypto() {
        let mut s = Sealer::new(Key::from_secret(SECRET), "n1", "prod\x01").unwrap();
        let mut o = opener();
        let err = o
            .open(&s.seal(Kind::Heartbeat, b"hb").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame from n1 is for cluster 'prod\\x01', not this node's: check [cluster] name on both nodes"
        );
        assert_eq!(o.stats.other_cluster, 1);
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let mut s = sealer("n1");
        let frame = s.seal(Kind::Heartbeat, b"{\"x\":1}").unwrap();
        for i in 0..frame.len() {
            for bit in 0..8 {
                let mut o = opener();
                let mut bad = frame.clone();
                bad[i] ^= 1 << bit;
                let err = o.open(&bad).unwrap_err();
                let expected_ok = match i {
                    0..4 => matches!(err, WireError::BadMagic),
                    // 1 ^ 2 = 3 is a valid kind: only the tag catches it.
                    4 => matches!(err, WireError::BadKind { .. } | WireError::Forged { .. }),
                    5 => matches!(err, WireError::Truncated { .. } | WireError::BadName),
                    NAME_AT..8 => matches!(err, WireError::BadName | WireError::Forged { .. }),
                    8 => matches!(
                        err,
                        WireError::Truncated { .. } | WireError::OtherCluster { .. }
                    ),
                    CLUSTER_AT..SEQ_AT => matches!(err, WireError::OtherCluster { .. }),
                    _ => matches!(err, WireError::Forged { .. }),
                };
                assert!(expected_ok, "byte {i} bit {bit}: {err:?}");
                assert_eq!(o.stats.total(), 1, "byte {i} bit {bit} counted once");
            }
        }
    }

    #[test]
    fn truncation_at_every_length_is_refused() {
        let mut s = sealer("n1");
        let frame = s.seal(Kind::Heartbeat, b"payload").unwrap();
        let mut o = opener();
        for len in 0..frame.len() {
            let err = o.open(&frame[..len]).unwrap_err();
            if len < SEALED_AT + TAG_LEN {
                assert!(
                    matches!(err, WireError::Truncated { len: l } if l == len),
                    "{len}: {err:?}"
                );
            } else {
                assert!(matches!(err, WireError::Forged { .. }), "{len}: {err:?}");
            }
        }
        assert_eq!(o.stats.total(), frame.len() as u64);
        assert_eq!(
            o.open(&frame[..10]).unwrap_err().to_string(),
            "frame truncated (10 bytes): cut off by the sender or the network"
        );
        // Nothing was recorded for n1: the genuine frame still passes.
        assert!(o.open(&frame).is_ok());
    }

    #[test]
    fn garbage_and_json_are_bad_magic() {
        let mut o = opener();
        let json = br#"{"clustername": "default", "nodename": "n1", "iv": "x", "data": "y"}"#;
        let err = o.open(json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not an svcmgr frame (no SVM1 magic): a 1.9 agent, which svcmgr cannot talk to, another program, or noise"
        );
        assert!(matches!(o.open(b"x"), Err(WireError::BadMagic)));
        assert!(matches!(
            o.open(b"SV"),
            Err(WireError::Truncated { len: 2 })
        ));
        assert!(matches!(o.open(b""), Err(WireError::Truncated { len: 0 })));
        assert_eq!(o.stats.bad_magic, 2);
        assert_eq!(o.stats.truncated, 2);
    }

    #[test]
    fn replay_is_refused_and_counted_later_frame_accepted() {
        let mut s = sealer("n1");
        let mut o = opener();
        let first = s.seal(Kind::Heartbeat, b"1").unwrap();
        let seq = o.open(&first).unwrap().seq;
        let err = o.open(&first).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("frame from n1 replayed (seq {seq}, already seen)")
        );
        assert_eq!(o.stats.replayed, 1);
        assert_eq!(
            o.open(&s.seal(Kind::Heartbeat, b"2").unwrap())
                .unwrap()
                .payload,
            b"2"
        );
        assert!(is_replayed(o.open(&first)));
        assert_eq!(o.stats.replayed, 2);
    }

    #[test]
    fn windows_are_per_sender() {
        let mut a = sealer("a");
        let mut b = sealer("b");
        let mut o = opener();
        let fa = a
            .seal_at(Kind::Heartbeat, b"a", T0 + 1_000_000_000)
            .unwrap();
        let fb = b.seal_at(Kind::Heartbeat, b"b", T0).unwrap();
        assert!(o.open(&fa).is_ok());
        assert!(o.open(&fb).is_ok(), "a's newer seq does not age b's frames");
    }

    #[test]
    fn out_of_order_within_the_window_accepted_once() {
        let mut s = sealer("n1");
        let mut o = opener();
        let f1 = s.seal_at(Kind::Request, b"1", T0).unwrap();
        let f2 = s.seal_at(Kind::Request, b"2", T0 + 1_000).unwrap();
        let f3 = s.seal_at(Kind::Request, b"3", T0 + 5_000_000).unwrap();
        assert!(o.open(&f3).is_ok());
        assert!(o.open(&f1).is_ok());
        assert!(o.open(&f2).is_ok());
        for f in [&f1, &f2, &f3] {
            assert!(is_replayed(o.open(f)));
        }
        assert_eq!(o.stats.replayed, 3);
    }

    #[test]
    fn far_older_than_the_window_is_replayed() {
        let mut s = sealer("n1");
        let mut o = opener();
        let old = s.seal_at(Kind::Heartbeat, b"old", T0).unwrap();
        let new = s
            .seal_at(Kind::Heartbeat, b"new", T0 + REPLAY_SPAN_US + 1)
            .unwrap();
        let edge = s
            .seal_at(Kind::Heartbeat, b"edge", T0 + 2 * REPLAY_SPAN_US + 1)
            .unwrap();
        assert!(o.open(&old).is_ok());
        assert!(o.open(&edge).is_ok());
        assert_eq!(o.windows["n1"].seen.len(), 1, "old seqs are pruned");
        // Exactly REPLAY_SPAN_US below the newest is still inside.
        assert!(o.open(&new).is_ok());
        let err = o.open(&old).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("frame from n1 replayed (seq {T0}, older than the replay window)")
        );
    }

    #[test]
    fn window_forgets_beyond_its_capacity_by_refusing() {
        let mut s = sealer("n1");
        let mut o = opener();
        let frames: Vec<_> = (0..REPLAY_ENTRIES as u64 + 3)
            .map(|i| s.seal_at(Kind::Request, b"", T0 + i).unwrap())
            .collect();
        // frames[0] is held back; delivering one more than the window holds
        // makes it forget frames[1] and frames[2].
        for f in &frames[1..] {
            assert!(o.open(f).is_ok());
        }
        // Within the span, but no older than seqs the window forgot.
        for f in &frames[..4] {
            assert!(is_replayed(o.open(f)));
        }
        assert!(is_replayed(o.open(&frames[REPLAY_ENTRIES + 2])));
        assert_eq!(o.windows["n1"].seen.len(), REPLAY_ENTRIES);
    }

    #[test]
    fn forged_high_seq_does_not_move_the_window() {
        let mut s = sealer("n1");
        let mut forger = Sealer::new(Key::from_secret("guess"), "n1", "c1").unwrap();
        let mut o = opener();
        let genuine = s.seal_at(Kind::Heartbeat, b"ok", T0).unwrap();
        let forged = forger
            .seal_at(Kind::Heartbeat, b"evil", T0 + 100 * REPLAY_SPAN_US)
            .unwrap();
        assert!(matches!(o.open(&forged), Err(WireError::Forged { .. })));
        // A genuine frame's header moved to a high seq is forged too.
        let mut moved = genuine.clone();
        moved[SEQ_AT..NONCE_AT].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(o.open(&moved), Err(WireError::Forged { .. })));
        assert!(o.open(&genuine).is_ok());
        assert_eq!(o.stats.forged, 2);
    }

    #[test]
    fn swapped_header_is_forged() {
        let mut a = sealer("n1");
        let mut b = sealer("n2");
        let mut o = opener();
        let fa = a.seal(Kind::Heartbeat, b"a").unwrap();
        let fb = b.seal(Kind::Request, b"b").unwrap();
        let mut spliced = fb[..NONCE_AT].to_vec();
        spliced.extend_from_slice(&fa[NONCE_AT..]);
        assert!(matches!(o.open(&spliced), Err(WireError::Forged { .. })));
        let mut rekind = fa.clone();
        rekind[4] = Kind::Response as u8;
        assert!(matches!(o.open(&rekind), Err(WireError::Forged { .. })));
    }

    #[test]
    fn oversized_is_refused_before_crypto() {
        let mut s = sealer("n1");
        let mut o = opener();
        let mut frame = s.seal(Kind::Heartbeat, b"x").unwrap();
        frame.resize(MAX_FRAME + 1, 0);
        let err = o.open(&frame).unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame of 1048577 bytes refused: the limit is 1048576 bytes"
        );
        assert_eq!(o.stats.oversized, 1);
        assert_eq!(o.stats.total(), 1);
        assert!(o.windows.is_empty());
    }

    #[test]
    fn sealing_an_oversized_payload_fails_and_uses_no_seq() {
        let mut s = sealer("n1");
        let header = SEALED_AT + TAG_LEN;
        let fits = vec![0u8; MAX_FRAME - header];
        let too_big = vec![0u8; MAX_FRAME - header + 1];
        assert!(matches!(
            s.seal_at(Kind::Response, &too_big, T0),
            Err(WireError::Oversized { len }) if len == MAX_FRAME + 1
        ));
        assert_eq!(s.last_seq, 0);
        let frame = s.seal_at(Kind::Response, &fits, T0).unwrap();
        assert_eq!(frame.len(), MAX_FRAME);
        assert_eq!(opener().open(&frame).unwrap().payload.len(), fits.len());
    }

    #[test]
    fn seq_grows_within_a_sealer_even_if_the_clock_steps_back() {
        let mut s = sealer("n1");
        let mut o = opener();
        let a = o
            .open(&s.seal_at(Kind::Heartbeat, b"", T0).unwrap())
            .unwrap();
        let b = o
            .open(&s.seal_at(Kind::Heartbeat, b"", T0 - 1_000).unwrap())
            .unwrap();
        assert_eq!(b.seq, a.seq + 1);
    }

    #[test]
    fn seq_grows_across_a_restart() {
        let mut o = opener();
        let first = sealer("n1").seal(Kind::Heartbeat, b"before").unwrap();
        // A restart takes far more than the microsecond the seq counts in.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = sealer("n1").seal(Kind::Heartbeat, b"after").unwrap();
        let a = o.open(&first).unwrap();
        let b = o.open(&second).unwrap();
        assert!(b.seq > a.seq);
        assert!(a.seq > T0, "seq is microseconds since the epoch");
    }

    #[test]
    fn invalid_local_names_are_refused() {
        let key = Key::from_secret(SECRET);
        for name in ["", "Node1", "n 1", "n/1", "é", &"a".repeat(256)] {
            assert!(
                matches!(
                    Sealer::new(key.clone(), name, "c1"),
                    Err(WireError::LocalNodename(_))
                ),
                "{name:?}"
            );
        }
        assert!(Sealer::new(key.clone(), &"a".repeat(255), "c1").is_ok());
        assert_eq!(
            Sealer::new(key.clone(), "N1", "c1")
                .unwrap_err()
                .to_string(),
            "node name 'N1' cannot be sent: a node name is 1 to 255 bytes of a-z 0-9 . - _"
        );
        assert!(matches!(
            Sealer::new(key.clone(), "n1", ""),
            Err(WireError::LocalCluster(_))
        ));
        assert!(matches!(
            Sealer::new(key, "n1", &"c".repeat(256)),
            Err(WireError::LocalCluster(_))
        ));
    }

    #[test]
    fn bad_sender_names_on_the_wire_are_refused() {
        let mut o = opener();
        let frame = sealer("n1").seal(Kind::Heartbeat, b"").unwrap();
        for name in [&b""[..], b"N1", b"n\0", b"\xff\xfe"] {
            let mut bad = frame[..5].to_vec();
            bad.push(name.len() as u8);
            bad.extend_from_slice(name);
            bad.extend_from_slice(&frame[8..]);
            let err = o.open(&bad).unwrap_err();
            assert!(matches!(err, WireError::BadName), "{name:?}: {err:?}");
        }
        assert_eq!(o.stats.bad_name, 4);
        assert_eq!(
            WireError::BadName.to_string(),
            "frame names no valid sender (a node name is 1 to 255 bytes of a-z 0-9 . - _)"
        );
    }

    #[test]
    fn unknown_kind_is_refused() {
        let mut o = opener();
        let mut frame = sealer("n1").seal(Kind::Heartbeat, b"").unwrap();
        frame[4] = 0;
        let err = o.open(&frame).unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame of unknown kind 0: a newer svcmgr, or a damaged message"
        );
        assert_eq!(o.stats.bad_kind, 1);
    }

    #[test]
    fn key_derivation_is_stable() {
        // HKDF output for a fixed secret must never change: it is the wire
        // format. A frame sealed by this build must open in any other.
        let a = Key::from_secret("s");
        let b = Key::from_secret("s");
        let frame = Sealer::new(a, "n1", "c1")
            .unwrap()
            .seal(Kind::Heartbeat, b"x")
            .unwrap();
        assert!(Opener::new(b, "c1").open(&frame).is_ok());
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(None, b"s")
            .expand(b"svcmgr wire v1", &mut okm)
            .unwrap();
        let direct = XChaCha20Poly1305::new(&okm.into());
        let nonce: [u8; NONCE_LEN] = frame[NONCE_AT..SEALED_AT].try_into().unwrap();
        let plain = direct
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &frame[SEALED_AT..],
                    aad: &frame[..NONCE_AT],
                },
            )
            .unwrap();
        assert_eq!(plain, b"x");
    }

    #[test]
    fn stream_round_trip() {
        let frame = sealer("n1").seal(Kind::Request, b"req").unwrap();
        let mut stream = Vec::new();
        write_frame(&mut stream, &frame).unwrap();
        write_frame(&mut stream, b"second").unwrap();
        assert_eq!(&stream[..4], &(frame.len() as u32).to_be_bytes());
        let mut r = io::Cursor::new(stream);
        assert_eq!(read_frame(&mut r).unwrap(), frame);
        assert_eq!(read_frame(&mut r).unwrap(), b"second");
        assert!(matches!(read_frame(&mut r), Err(WireError::Closed)));
    }

    #[test]
    fn oversized_length_prefix_is_refused_without_reading() {
        let mut stream = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        stream.extend_from_slice(&[7u8; 64]);
        let mut r = io::Cursor::new(stream);
        let err = read_frame(&mut r).unwrap_err();
        assert!(matches!(err, WireError::Oversized { len } if len == MAX_FRAME + 1));
        assert_eq!(r.position(), 4, "the body was not read");
        let mut r = io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        assert!(matches!(
            read_frame(&mut r),
            Err(WireError::Oversized { .. })
        ));
        let mut sink = Vec::new();
        assert!(matches!(
            write_frame(&mut sink, &vec![0; MAX_FRAME + 1]),
            Err(WireError::Oversized { .. })
        ));
        assert!(sink.is_empty());
    }

    #[test]
    fn short_streams_are_truncated() {
        let mut r = io::Cursor::new(vec![0u8, 0]);
        assert!(matches!(
            read_frame(&mut r),
            Err(WireError::Truncated { len: 2 })
        ));
        let mut stream = 10u32.to_be_bytes().to_vec();
        stream.extend_from_slice(b"abc");
        let err = read_frame(&mut io::Cursor::new(stream)).unwrap_err();
        assert!(matches!(err, WireError::Truncated { len: 3 }));
        let mut stats = Rejections::default();
        stats.record(&err);
        stats.record(&WireError::Closed);
        assert_eq!(stats.truncated, 1);
        assert_eq!(stats.total(), 1);
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_input_never_panics_nor_opens() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let genuine = sealer("n1").seal(Kind::Heartbeat, b"{\"beat\":1}").unwrap();
        let mut o = opener();
        let mut frames = 0u64;
        for round in 0..4000 {
            let len = (rng.next() % 160) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            match round % 4 {
                // Past the magic, to reach the parser.
                1 if len >= 4 => input[..4].copy_from_slice(&MAGIC),
                // A genuine frame with a few random bytes changed.
                2 | 3 => {
                    input = genuine.clone();
                    for _ in 0..1 + rng.next() % 3 {
                        let i = (rng.next() as usize) % input.len();
                        input[i] = rng.next() as u8;
                    }
                    if round % 4 == 3 {
                        input.truncate((rng.next() as usize) % (input.len() + 1));
                    }
                }
                _ => {}
            }
            if input == genuine {
                continue;
            }
            frames += 1;
            assert!(o.open(&input).is_err(), "round {round} opened");
            let _ = read_frame(&mut io::Cursor::new(&input));
        }
        assert_eq!(o.stats.total(), frames);
        assert!(o.stats.bad_magic > 0 && o.stats.truncated > 0 && o.stats.forged > 0);
        assert!(o.windows.is_empty(), "no refused frame opened a window");
    }
}
