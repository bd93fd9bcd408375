//! Entry points for `fuzz/` and for the corpus replay test
//! (`tests/integration/tier2/fuzz_corpus.rs`); each must never panic on any input.
//!
//! Each takes the raw bytes libFuzzer generates and calls the product code
//! that meets such bytes in real life: a file an operator wrote, a frame
//! from the network, a slot of a shared disk. A fuzz target's body is one
//! call to one of these, so that a stable `cargo test` replays the same
//! corpora where nightly (and so cargo-fuzz) is missing.
//!
//! A panic here is a finding: either the product panics on that input, or
//! an oracle below saw the product break a promise (an edit that changes
//! lines it was not asked to touch).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::config::node::NodeConfig;
use crate::config::{self, duration, edit, ini::Ini, node_validate, schedule};
use crate::daemon::hb::{self, disk as hb_disk};
use crate::daemon::orchestration::quorum;
use crate::daemon::wire::{self, FrameKind, Key, Opener, Sealer};
use crate::daemon::{peer, peer_listener, replicate, state};
use crate::log::Logger;
use crate::paths::Paths;
use crate::placement;

/// The fuzzers' cluster: a fixed key, so that frames sealed once (the seed
/// corpora) open on every run.
pub const SECRET: &str = "fuzz-0123456789abcdef0123456789abcdef";
pub const CLUSTER: &str = "fuzz";
/// The node the fuzzed frames come from, and the node reading them.
pub const PEER: &str = "n2";
pub const ME: &str = "n1";

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory of its corpus) and its function.
pub const TARGETS: &[(&str, Target)] = &[
    ("ini_edit", ini_edit),
    ("service_config", service_config),
    ("node_conf", node_conf),
    ("schedule", schedule),
    ("wire_raw", wire_raw),
    ("sealed_dataset", sealed_dataset),
    ("disk_slot", disk_slot),
    ("listener_request", listener_request),
    ("fetch_answer", fetch_answer),
];

fn key() -> Key {
    // HKDF once per process: the fuzzers call these millions of times.
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| Key::from_secret(SECRET)).clone()
}

fn members() -> Vec<String> {
    vec![ME.to_string(), PEER.to_string()]
}

/// `data` sealed by [`PEER`] with the fuzzers' key, for [`ME`] when the
/// kind names a receiver (requests and responses).
pub fn seal(kind: FrameKind, data: &[u8]) -> Option<Vec<u8>> {
    let mut s = Sealer::new(key(), PEER, CLUSTER).ok()?;
    match kind {
        FrameKind::Request | FrameKind::Response => s.seal_to(kind, ME, data),
        _ => s.seal(kind, data),
    }
    .ok()
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

// ---------------------------------------------------------------- INI edits

const SECTIONS: [&str; 5] = ["DEFAULT", "a", "ip#0", "b", "hb#1"];
const KEYS: [&str; 5] = ["k", "j", "nodes", "k@n1", "secret"];
const VALUES: [&str; 5] = ["1", "two words", "x\ny", "café", ""];

/// `set` or `unset` of one key on any file, checked by [`check_edit`].
/// Byte 0: bit 0 unset, bit 1 the param and value come from the first
/// line (`section.key value`, through `parse_param` as the CLI does),
/// else bytes 1-3 pick them from small lists. The rest is the file.
pub fn ini_edit(data: &[u8]) {
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let unsetting = op & 1 == 1;
    let (section, key, value, file) = if op & 2 == 2 {
        let (line, file) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let line = text(line);
        let (param, value) = line.split_once(' ').unwrap_or((&line, ""));
        let Ok((section, key)) = edit::parse_param(param) else {
            return;
        };
        (section, key, value.to_string(), file)
    } else {
        if rest.len() < 3 {
            return;
        }
        let pick = |list: &[&str], b: u8| list[usize::from(b) % list.len()].to_string();
        (
            pick(&SECTIONS, rest[0]),
            pick(&KEYS, rest[1]),
            pick(&VALUES, rest[2]),
            &rest[3..],
        )
    };
    // Only files that parse are edited (`plan` refuses the others).
    if !Ini::parse(&text(strip_bom(file))).errors().is_empty() {
        return;
    }
    let new = if unsetting {
        match edit::unset_in_bytes(file, &section, &key) {
            Ok((new, _)) => new,
            Err(_) => return,
        }
    } else {
        match edit::set_in_bytes(file, &section, &key, &value) {
            Ok(new) => new,
            // A value that would not read back is refused, not written.
            Err(_) => return,
        }
    };
    let value = (!unsetting).then_some(value.trim());
    if let Err(why) = check_edit(file, &new, &section, &key, value) {
        panic!(
            "{why}\n{} {section}.{key}\n--- before\n{}\n--- after\n{}",
            if unsetting { "unset" } else { "set" },
            String::from_utf8_lossy(file),
            String::from_utf8_lossy(&new)
        );
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// A file's lines as `edit` splits them: no BOM, no final empty line.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let body = strip_bom(bytes);
    let mut lines: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if body.ends_with(b"\n") || body.is_empty() {
        lines.pop();
    }
    lines
}

/// Every section's own values, sorted.
fn own_values(ini: &Ini) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = ini
        .default_section()
        .into_iter()
        .chain(ini.sections())
        .flat_map(|s| {
            s.entries
                .iter()
                .map(|e| (s.name.clone(), e.key.clone(), e.value.clone()))
        })
        .collect();
    v.sort();
    v
}

/// The read-back oracle of `set` (`value` Some) and `unset` (None) of
/// `section.key` from `old` to `new` (issue 10, items 19 and 21): `new`
/// parses, the BOM stays, every line the edit does not concern keeps its
/// bytes, every other key keeps its value, and the key reads back as set
/// (or is gone).
pub fn check_edit(
    old: &[u8],
    new: &[u8],
    section: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let unsetting = value.is_none();
    let (before, after) = (
        Ini::parse(&text(strip_bom(old))),
        Ini::parse(&text(strip_bom(new))),
    );
    if !after.errors().is_empty() {
        return Err(format!(
            "the edited file does not parse: {:?}",
            after.errors()
        ));
    }
    if old.starts_with(BOM) != new.starts_with(BOM) {
        return Err("the BOM was added or lost".into());
    }
    // The lines of the edited key: all its occurrences for unset, only
    // the effective one's key and continuation lines for set.
    let target = |ini: &Ini| -> Vec<(usize, usize)> {
        let mut spans: Vec<_> = ini
            .key_spans()
            .iter()
            .filter(|s| s.section == section && s.key == key)
            .map(|s| (s.first, if unsetting { s.tail } else { s.last }))
            .collect();
        if !unsetting {
            spans = spans.split_off(spans.len().saturating_sub(1));
        }
        spans
    };
    let outside = |lines: Vec<Vec<u8>>, spans: &[(usize, usize)]| -> Vec<Vec<u8>> {
        lines
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !spans.iter().any(|(a, b)| (*a..=*b).contains(&(i + 1))))
            .map(|(_, l)| l)
            .collect()
    };
    let kept = outside(lines(old), &target(&before));
    let mut rest = outside(lines(new), &target(&after));
    if !before.headers().iter().any(|(s, _)| s == section)
        && let Some(&(_, l)) = after.headers().iter().find(|(s, _)| s == section)
    {
        // A new section: its key lines follow the header, so it is still
        // line l once they are left out.
        if l == 0 || l > rest.len() {
            return Err(format!("new header line {l} out of range"));
        }
        rest.remove(l - 1);
        // A blank line may separate the new section from the others.
        let blank = |l: &Vec<u8>| l.iter().all(|b| *b == b'\r');
        if let Some(i) = (0..rest.len()).find(|&i| {
            blank(&rest[i])
                && rest[..i] == kept[..i.min(kept.len())]
                && rest[i + 1..] == kept[i.min(kept.len())..]
        }) {
            rest.remove(i);
        }
    }
    if rest != kept {
        return Err("lines the edit does not concern changed".into());
    }
    let others = |ini: &Ini| {
        own_values(ini)
            .into_iter()
            .filter(|(s, k, _)| !(s == section && k == key))
            .collect::<Vec<_>>()
    };
    if others(&after) != others(&before) {
        return Err("another key's value changed".into());
    }
    let got = after
        .section(section)
        .and_then(|s| s.entry(key))
        .map(|e| e.value.as_str());
    if got != value {
        return Err(format!(
            "{section}.{key} reads back as {got:?}, not {value:?}"
        ));
    }
    Ok(())
}

// ------------------------------------------------------------ config files

/// A service config as `load` and `validate config` read it.
pub fn service_config(data: &[u8]) {
    let file = Path::new("/etc/opensvc/svc1.conf");
    let (refused, lint) = config::problems_of_text(file, "svc1", ME, &text(data));
    for p in refused.iter().chain(&lint) {
        let _ = p.to_string();
    }
}

/// node.conf through its one parser (config/node.rs) and what the daemon
/// derives from it: the heartbeats (with their durations), the listener's
/// peers, the quorum; and `nodemgr set`'s check of its first line as
/// `section.key value`.
pub fn node_conf(data: &[u8]) {
    let file = Path::new("/etc/opensvc/node.conf");
    let text = text(data);
    let conf = NodeConfig::parse(file, &text);
    for p in &conf.problems {
        let _ = p.to_string();
    }
    let _ = conf.members(ME);
    let _ = conf.ruser(PEER);
    let _ = (conf.peer_host(PEER), conf.peer_port(PEER));
    for h in &conf.hbs {
        let _ = hb::path_kind(h);
        let _ = hb::frame_deadline(h);
        let _ = hb::listen_on(h);
        let _ = duration::deadline(std::time::Instant::now(), h.interval);
        let _ = duration::deadline(std::time::Instant::now(), h.timeout);
    }
    let q = quorum::of(&conf);
    let _ = quorum::grace(&q.arbitrators, &conf.hbs);
    let _ = quorum::fences_itself(&q);
    if let Some((param, value)) = text.lines().next().and_then(|l| l.split_once(' ')) {
        let _ = node_validate::check_param(file, param, value);
    }
}

/// The scheduling values (`sync_interval`, `sync_period`, `sync_days`)
/// and the duration parser every timeout goes through.
pub fn schedule(data: &[u8]) {
    let text = text(data);
    let _ = schedule::parse_minutes(&text);
    let _ = schedule::parse_periods(&text);
    let _ = schedule::parse_days(&text);
    // With the bound every keyword uses, and with none at all.
    for max in [duration::MAX, Duration::MAX] {
        if let Ok(d) = duration::parse_secs(&text, Duration::ZERO, max) {
            let _ = duration::deadline(std::time::Instant::now(), d);
        }
    }
}

// ----------------------------------------------------------------- network

/// Raw bytes as a unicast receiver meets them: a length-prefixed frame
/// read from a stream, then opened; and the bytes opened as one datagram,
/// by the listener's request path, and with no clock bound (the seed
/// frames were sealed long ago) so that the replay window is reached.
pub fn wire_raw(data: &[u8]) {
    let mut opener = Opener::new(key(), CLUSTER, FrameKind::HbUnicast).only_from(&members());
    let _ = opener.open(data);
    if let Ok(frame) = wire::read_frame(&mut &data[..]) {
        let _ = opener.open(&frame);
    }
    let kind = wire::peek_kind(data).unwrap_or(FrameKind::HbMulticast);
    let mut any = Opener::new(key(), CLUSTER, kind).without_clock();
    if matches!(kind, FrameKind::Request | FrameKind::Response) {
        any = any.to_me(ME);
    }
    let _ = any.open(data);
    let _ = Opener::new(key(), CLUSTER, FrameKind::Request)
        .to_me(ME)
        .open(data);
}

/// A heartbeat payload as a peer sends it, authenticated, through what the
/// daemon does with it (hb::take_beat: a compact beat, or a whole
/// dataset); the same bytes as the services part a fetch or a disk slot
/// brings; then the peer as stored, read by svcmon, the replication,
/// placement and the watchdog proof.
pub fn sealed_dataset(data: &[u8]) {
    let Some(frame) = seal(FrameKind::HbUnicast, data) else {
        return;
    };
    let mut opener = Opener::new(key(), CLUSTER, FrameKind::HbUnicast).only_from(&members());
    let Ok(opened) = opener.open(&frame) else {
        return;
    };
    let shared = state::Shared::new(ME);
    let beat = hb::dataset::read_beat(&opened.payload);
    hb::take_beat("hb#1.rx", &opened.nodename, beat, opened.seq, &shared);
    take_services(&shared, &opened.nodename, &services_of(&opened.payload));
    consume(&shared, &opened.nodename);
}

/// `bytes` as the text of a services part, with their true digest, as an
/// honest peer would send them.
fn services_of(bytes: &[u8]) -> Value {
    serde_json::json!({
        "digest": hb::dataset::digest_of(bytes),
        "services": String::from_utf8_lossy(bytes),
    })
}

/// A services answer (fetch or disk) as hb/fetch.rs takes it.
fn take_services(shared: &state::Shared, peer: &str, answer: &Value) {
    match hb::dataset::read_services(answer) {
        Ok((digest, services)) => {
            let asked = state::Fresh::AskedAt(std::time::Instant::now());
            shared.fetched("hb#1.rx", peer, &digest, services, asked);
        }
        Err(_) => shared.refuse_dataset("hb#1.rx"),
    }
}

/// Everything that reads a peer's dataset once it is stored.
fn consume(shared: &state::Shared, peer: &str) {
    let dataset = shared
        .peers
        .lock()
        .ok()
        .and_then(|p| p.get(peer).map(|p| p.dataset()))
        .unwrap_or(Value::Null);
    let _ = shared.in_maintenance(peer);
    let _ = state::advertised_watchdog(&dataset);
    let status = shared.status_json();
    let _ = crate::render::svcmon::render(&status, false);
    let _ = crate::render::svcmon::render(&status, true);
    let peers = BTreeMap::from([(
        peer.to_string(),
        state::PeerData::from_dataset(dataset.clone()),
    )]);
    let offers = replicate::choose(ME, &BTreeMap::new(), &peers);
    for (svc, offer) in &offers {
        let _ = replicate::wanted(ME, None, offer);
        let _ = crate::render::svcmon::notes(&status, svc);
    }
    if let Some(services) = dataset["services"].as_object() {
        let nodes = members();
        for svc in services.keys() {
            for how in [placement::NODES_ORDER, placement::LOAD_AVG] {
                for inst in [
                    placement::Instances::AsTheyAre,
                    placement::Instances::Thawing,
                ] {
                    let _ = placement::leader(svc, &nodes, how, inst, |n| {
                        (n == peer).then_some(&dataset)
                    });
                }
            }
        }
    }
    let _ = shared.prune(&BTreeMap::from([(
        "hb#1.rx".to_string(),
        Duration::from_secs(10),
    )]));
}

/// A disk heartbeat data slot: the bytes read from the disk as its beat
/// block and as its services part (a length prefix and a frame, zero
/// padded as the disk would be), then the same slot holding genuine
/// frames that seal these bytes as the beat and as the services part.
pub fn disk_slot(data: &[u8]) {
    let log = Logger::named("node", "fuzz");
    let timeout = Duration::from_secs(10);
    let first = data.first().is_some_and(|b| b & 1 == 1);
    let mut opener = Opener::new(key(), CLUSTER, FrameKind::HbDisk)
        .only_from(&members())
        .without_clock();
    let mut services = opener.sibling();
    let shared = state::Shared::new(ME);
    let take = |slot: &[u8], opener: &mut Opener, services: &mut Opener| {
        if let Some(Some((beat, sent))) = read_beat_block(slot, first, timeout, opener, &log) {
            let beat = hb::dataset::beat_of(beat);
            hb::take_beat("hb#2.rx", PEER, beat, sent, &shared);
        }
        if let Some(frame) = read_part(slot, hb_disk::Part::Services) {
            match hb_disk::open_services(&frame, PEER, services) {
                Some(Ok((digest, s))) => {
                    shared.fetched("hb#2.rx", PEER, &digest, s, state::Fresh::AsNamed);
                }
                Some(Err(_)) => shared.refuse_dataset("hb#2.rx"),
                None => {}
            }
        }
    };
    take(data, &mut opener, &mut services);
    let prefixed = |frame: Vec<u8>| {
        let mut slot = (frame.len() as u32).to_be_bytes().to_vec();
        slot.extend_from_slice(&frame);
        slot
    };
    if let Some(frame) = seal(FrameKind::HbDisk, data) {
        take(&prefixed(frame), &mut opener, &mut services);
    }
    if let Some(frame) = seal(FrameKind::HbDisk, services_of(data).to_string().as_bytes()) {
        take(&prefixed(frame), &mut opener, &mut services);
    }
    consume(&shared, PEER);
}

/// A part of a slot as `hb_disk::read_slot` reads it: the frame, read up
/// to the declared length (what the input lacks reads as zeros); None for
/// an empty part.
fn read_part(slot: &[u8], part: hb_disk::Part) -> Option<Vec<u8>> {
    let mut head = slot.to_vec();
    head.resize(head.len().max(4), 0);
    let len = hb_disk::frame_len(&head, part)?;
    let mut frame = head.get(4..).unwrap_or_default().to_vec();
    frame.resize(len, 0);
    Some(frame)
}

/// As the disk rx does with a beat block: None for an empty block.
#[allow(
    clippy::option_option,
    reason = "None: nothing in the slot; Some(None): a beat with no dataset, as read_beat returns"
)]
fn read_beat_block(
    slot: &[u8],
    first: bool,
    timeout: Duration,
    opener: &mut Opener,
    log: &Logger,
) -> Option<Option<(Value, u64)>> {
    let frame = read_part(slot, hb_disk::Part::Beat)?;
    let (seen, dataset) = hb_disk::read_beat("hb#2.rx", &frame, PEER, first, timeout, opener, log)?;
    let _ = seen.watchdog;
    Some(dataset)
}

/// An answer to `get_dataset` as hb/fetch.rs meets it: `data` as the
/// payload of a response frame sealed for this node, opened, read as
/// `peer::request` reads an answer, checked as a services part, and
/// stored for a peer heard with its services pending.
pub fn fetch_answer(data: &[u8]) {
    let Ok(mut sealer) = Sealer::new(key(), PEER, CLUSTER) else {
        return;
    };
    let Ok(frame) = sealer.seal_to(FrameKind::Response, ME, data) else {
        return;
    };
    let mut opener = Opener::new(key(), CLUSTER, FrameKind::Response)
        .only_from(&[PEER.to_string()])
        .to_me(ME)
        .without_clock();
    let Ok(opened) = opener.open(&frame) else {
        return;
    };
    // The request's seq as the payload claims it, so that the rest is
    // reached.
    let want = serde_json::from_slice::<Value>(&opened.payload)
        .ok()
        .and_then(|v| v["req"].as_u64())
        .unwrap_or(0);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1214));
    let Ok(answer) = peer::read_answer(&opened.payload, want, addr, "get_dataset") else {
        return;
    };
    let shared = state::Shared::new(ME);
    let beat = serde_json::json!({"services": hb::dataset::digest_of(data)});
    let sent = crate::daemon::wire::now_us();
    hb::take_beat("hb#1.rx", PEER, hb::dataset::beat_of(beat), sent, &shared);
    take_services(&shared, PEER, &answer);
    consume(&shared, PEER);
}

/// A request to the listener, authenticated, decoded and answered, and the
/// answer decoded as `peer::request` does.
pub fn listener_request(data: &[u8]) {
    let Some(frame) = seal(FrameKind::Request, data) else {
        return;
    };
    let _ = peer_listener::arbitrator_ping(data);
    let mut opener = Opener::new(key(), CLUSTER, FrameKind::Request)
        .only_from(&members())
        .to_me(ME);
    let Ok(opened) = opener.open(&frame) else {
        return;
    };
    // No service here: a request for a config is answered "no service".
    let paths = Paths::under(Path::new("/nonexistent/svcmgr-fuzz"));
    let shared = state::Shared::new(ME);
    let result = peer_listener::dispatch(&paths, &shared, &opened.payload, &opened.nodename);
    let answer = peer::answer(opened.seq, result);
    if let Ok(v) = serde_json::from_slice::<Value>(&answer) {
        let _ = (v["req"].as_u64(), v["status"].as_i64(), v["error"].as_str());
    }
}

/// Seed inputs the corpora cannot take from files: sealed frames, with and
/// without the length prefix, and local datasets as a daemon sends them
/// (`tests/integration/tier2/fuzz_corpus.rs` writes them, on demand).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let shared = state::Shared::new(PEER);
    let dataset = shared.local_dataset().to_string().into_bytes();
    let rich = br#"{"load15":0.5,"frozen":false,"monitor":"maintenance","watchdog":12.5,"fences_itself":true,"arbitrators":{"a1":{"status":"up","votes":1}},"services":{"svc1":{"avail":"up","overall":"up","frozen":false,"cluster_type":"failover","nodes":["n1","n2"],"drpnodes":[],"orchestrate":"ha","placement":"load avg","smon":"idle","config":{"mtime":1700000000.5,"cksum":"00ff"},"restart":{}}}}"#.to_vec();
    let mut out = vec![
        (
            "sealed_dataset",
            "local_dataset.json".into(),
            dataset.clone(),
        ),
        ("sealed_dataset", "rich_dataset.json".into(), rich.clone()),
        ("disk_slot", "rich_dataset.json".into(), rich.clone()),
        (
            "listener_request",
            "ping.json".into(),
            br#"{"action":"ping","options":{}}"#.to_vec(),
        ),
        (
            "listener_request",
            "status.json".into(),
            br#"{"action":"daemon_status"}"#.to_vec(),
        ),
        (
            "listener_request",
            "get_dataset.json".into(),
            br#"{"action":"get_dataset","options":{}}"#.to_vec(),
        ),
        (
            "listener_request",
            "get_config.json".into(),
            br#"{"action":"get_service_config","options":{"svcname":"svc1"}}"#.to_vec(),
        ),
    ];
    // A compact beat, and the services part it names, as a fetch answer.
    let rich_value: Value = serde_json::from_slice(&rich).unwrap_or(Value::Null);
    let split = hb::dataset::split(rich_value);
    let compact = split.beat.to_string().into_bytes();
    let services = hb::dataset::services_answer(&split)
        .to_string()
        .into_bytes();
    out.push((
        "sealed_dataset",
        "compact_beat.json".into(),
        compact.clone(),
    ));
    out.push((
        "fetch_answer",
        "answer.json".into(),
        peer::answer(1, Ok(hb::dataset::services_answer(&split))),
    ));
    out.push((
        "fetch_answer",
        "refused.json".into(),
        peer::answer(1, Err("unknown action get_dataset".into())),
    ));
    for (name, payload) in [("beat.slot", &compact), ("services.slot", &services)] {
        if let Some(frame) = seal(FrameKind::HbDisk, payload) {
            let mut prefixed = (frame.len() as u32).to_be_bytes().to_vec();
            prefixed.extend_from_slice(&frame);
            out.push(("disk_slot", name.into(), prefixed));
        }
    }
    // A node.conf using every section the daemon reads.
    let node_conf = "[node]\nhost_mode = PRD\nwatchdog_timeout = 10\n\n[cluster]\nname = fuzz\nnodes = n1 n2\nsecret = 0123456789abcdef0123456789abcdef\nquorum = true\n\n[listener]\naddr = 0.0.0.0\nport = 1214\nport@n2 = 1215\n\n[hb#1]\ntype = unicast\naddr = 127.0.0.1\nport = 10000\ninterval = 1\ntimeout = 5s\n\n[hb#2]\ntype = multicast\naddr = 224.3.29.71\nintf = eth0\n\n[hb#3]\ntype = disk\ndev = /dev/sdb\ninterval = 0.5\n\n[arbitrator#1]\nname = arb1\nsecret = fedcba9876543210fedcba9876543210\ntimeout = 2\n";
    out.push((
        "node_conf",
        "every_section.conf".into(),
        node_conf.as_bytes().to_vec(),
    ));
    // Slots as a disk holds them when no frame is there yet, or garbage.
    out.push(("disk_slot", "empty.slot".into(), vec![0; 16]));
    out.push(("disk_slot", "oversized.slot".into(), vec![0xff; 16]));
    for (kind, name) in [
        (FrameKind::HbUnicast, "hb"),
        (FrameKind::Request, "req"),
        (FrameKind::Response, "resp"),
        (FrameKind::HbMulticast, "mcast"),
        (FrameKind::HbDisk, "disk"),
        (FrameKind::ArbPing, "ping"),
    ] {
        if let Some(frame) = seal(kind, &rich) {
            let mut prefixed = (frame.len() as u32).to_be_bytes().to_vec();
            prefixed.extend_from_slice(&frame);
            out.push(("wire_raw", format!("{name}.frame"), frame));
            out.push(("wire_raw", format!("{name}.prefixed"), prefixed.clone()));
            if kind == FrameKind::HbDisk {
                out.push(("disk_slot", "hb.slot".into(), prefixed));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"[a]\nk = 1\n# c\n[b]\nj = 2\n";

    #[test]
    fn the_edit_oracle_passes_a_good_edit_and_catches_bad_ones() {
        let good = edit::set_in_bytes(OLD, "a", "k", "3").unwrap();
        assert_eq!(check_edit(OLD, &good, "a", "k", Some("3")), Ok(()));
        let touched = b"[a]\nk = 3\n# C\n[b]\nj = 2\n";
        assert!(check_edit(OLD, touched, "a", "k", Some("3")).is_err());
        let other = b"[a]\nk = 3\n# c\n[b]\nj = 5\n";
        assert!(check_edit(OLD, other, "a", "k", Some("3")).is_err());
        assert!(check_edit(OLD, &good, "a", "k", Some("4")).is_err());
        let broken = b"[a]\nk = 3\n  # c\n[b\n";
        assert!(check_edit(OLD, broken, "a", "k", Some("3")).is_err());
        let (gone, _) = edit::unset_in_bytes(OLD, "a", "k").unwrap();
        assert_eq!(check_edit(OLD, &gone, "a", "k", None), Ok(()));
    }

    #[test]
    fn every_target_takes_empty_and_junk_input() {
        for (name, run) in TARGETS {
            for data in [&b""[..], b"\x00", b"\xff\xfe[", b"\x03a.b c\n[a]\n"] {
                run(data);
                let _ = name;
            }
        }
    }
}
