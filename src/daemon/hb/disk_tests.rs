//! The unit tests of disk.rs, beside it so that the module reads as code.

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

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_slot_is_the_rank_in_the_sorted_node_list() {
    let nodes = names(&["node3", "node1", "node2", "node1"]);
    assert_eq!(slot_of("node1", &nodes).unwrap(), 0);
    assert_eq!(slot_of("node2", &nodes).unwrap(), 1);
    assert_eq!(slot_of("node3", &nodes).unwrap(), 2);
    assert!(slot_of("node4", &nodes).is_err());
    let many: Vec<String> = (0..70).map(|i| format!("n{i:02}")).collect();
    assert_eq!(slot_of("n63", &many).unwrap(), 63);
    assert!(slot_of("n64", &many).is_err());
}

/// The race a claim by read-then-write lost (the same slot for two
/// agents claiming at once): agents starting at the same instant, on
/// threads released together, each compute their own slot and write it.
#[test]
fn agents_starting_at_the_same_instant_never_share_a_slot() {
    let (_d, p) = disk();
    let nodes = names(&["node1", "node2", "node3"]);
    for _ in 0..300 {
        let barrier = std::sync::Barrier::new(nodes.len());
        let slots: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = nodes
                .iter()
                .map(|n| {
                    let (p, nodes, barrier) = (&p, &nodes, &barrier);
                    s.spawn(move || {
                        let f = open_dev(p).unwrap();
                        barrier.wait();
                        let slot = slot_of(n, nodes).unwrap();
                        write_meta(&f, slot, n).unwrap();
                        slot
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut uniq = slots.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), nodes.len(), "{slots:?}");
    }
    let meta = read_meta(&open_dev(&p).unwrap()).unwrap();
    assert_eq!(&meta[..4], ["node1", "node2", "node3", ""]);
}

#[test]
fn frames_are_read_back() {
    let (_d, p) = disk();
    let f = open_dev(&p).unwrap();
    write_slot(&f, 1, b"short").unwrap();
    assert_eq!(read_slot(&f, 1).unwrap(), b"short");
    let big = vec![7u8; 10_000];
    write_slot(&f, 0, &big).unwrap();
    assert_eq!(read_slot(&f, 0).unwrap(), big);
    assert!(read_slot(&f, 2).unwrap().is_empty());
    assert!(write_slot(&f, 2, &vec![0u8; DATA_SLOT as usize]).is_err());
}

fn sealed(node: &str, payload: &str, seq_age: std::time::Duration) -> (Vec<u8>, Opener) {
    let key = crate::daemon::wire::Key::from_secret("0123456789abcdef0123456789abcdef");
    let mut s = Sealer::new(key.clone(), node, "c").unwrap();
    let f = s
        .seal_aged(FrameKind::HbDisk, payload.as_bytes(), seq_age)
        .unwrap();
    (f, Opener::new(key, "c", FrameKind::HbDisk).without_clock())
}

#[test]
fn a_stale_frame_found_at_start_is_evidence_but_not_a_beat() {
    let log = Logger::named("node", "test");
    let t = std::time::Duration::from_secs(3);
    let (old, mut o) = sealed("node2", r#"{"watchdog": 3.5}"#, 60 * t);
    let (seen, data) = read_beat("hb#2.rx", &old, "node2", true, t, &mut o, &log).unwrap();
    assert!(!seen.heard && data.is_none());
    assert_eq!(seen.watchdog, Some(std::time::Duration::from_millis(3500)));
    // The same frame seen changing under a running rx is a beat.
    let (new, mut o) = sealed("node2", r#"{"watchdog": 3.5}"#, std::time::Duration::ZERO);
    let (seen, data) = read_beat("hb#2.rx", &new, "node2", true, t, &mut o, &log).unwrap();
    assert!(seen.heard && data.is_some());
    let (old, mut o) = sealed("node2", "{}", 60 * t);
    let (seen, _) = read_beat("hb#2.rx", &old, "node2", false, t, &mut o, &log).unwrap();
    assert!(seen.heard);
    // Another node's frame in node2's slot is refused.
    let (other, mut o) = sealed("node3", "{}", std::time::Duration::ZERO);
    assert!(read_beat("hb#2.rx", &other, "node2", false, t, &mut o, &log).is_none());
    assert!(read_beat("hb#2.rx", b"", "node2", false, t, &mut o, &log).is_none());
}

#[test]
fn info_is_the_device_base_name() {
    assert_eq!(info("/dev/loop3"), "loop3");
}
