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
    write_slot(&f, 1, Part::Beat, b"short").unwrap();
    assert_eq!(read_slot(&f, 1, Part::Beat).unwrap(), b"short");
    assert!(read_slot(&f, 1, Part::Services).unwrap().is_empty());
    let big = vec![7u8; 10_000];
    write_slot(&f, 0, Part::Services, &big).unwrap();
    write_slot(&f, 0, Part::Beat, b"beat").unwrap();
    assert_eq!(
        read_slot(&f, 0, Part::Services).unwrap(),
        big,
        "the beat block is apart"
    );
    assert_eq!(read_slot(&f, 0, Part::Beat).unwrap(), b"beat");
    assert!(read_slot(&f, 2, Part::Beat).unwrap().is_empty());
    // A beat block is 4 KiB, a services part the rest of the 1 MiB slot.
    assert!(write_slot(&f, 2, Part::Beat, &[0u8; BLOCK - 3]).is_err());
    let most = vec![1u8; DATA_SLOT as usize - BLOCK - 4];
    write_slot(&f, 2, Part::Services, &most).unwrap();
    assert_eq!(read_slot(&f, 2, Part::Services).unwrap(), most);
    assert!(
        read_slot(&f, 3, Part::Beat).unwrap().is_empty(),
        "slot 3 untouched"
    );
    assert!(
        write_slot(
            &f,
            2,
            Part::Services,
            &vec![0u8; DATA_SLOT as usize - BLOCK - 3]
        )
        .is_err()
    );
    // Emptied: read as nothing.
    write_slot(&f, 2, Part::Services, &[]).unwrap();
    assert!(read_slot(&f, 2, Part::Services).unwrap().is_empty());
}

#[test]
fn the_rx_polls_five_times_an_interval_within_bounds() {
    let ms = std::time::Duration::from_millis;
    assert_eq!(poll_every(ms(1000)), ms(200));
    assert_eq!(poll_every(ms(500)), ms(100));
    assert_eq!(poll_every(ms(100)), ms(50));
    assert_eq!(poll_every(ms(5000)), ms(200));
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

/// The services part of a slot reaches the peer over the disk alone, and
/// only when its beat names a digest not held; a frame that does not match
/// the beat (torn, or older) is read again at the next poll.
#[test]
fn the_services_part_is_read_from_the_slot_when_the_beat_names_it() {
    let (_d, p) = disk();
    let f = open_dev(&p).unwrap();
    let key = crate::daemon::wire::Key::from_secret("0123456789abcdef0123456789abcdef");
    let mut sealer = Sealer::new(key.clone(), "node2", "c").unwrap();
    let log = Logger::named("node", "test");
    let shared = Shared::new("node1");
    let dataset = |avail: &str| {
        serde_json::json!({"load15": 0.1, "frozen": false,
            "services": {"svc1": {"avail": avail, "frozen": false}}})
    };
    let (up, down) = (
        dataset::split(dataset("up")),
        dataset::split(dataset("down")),
    );
    // node2 is slot 1 of [node1, node2].
    assert_eq!(
        write_services("t", &f, 1, &up, &mut sealer, &log),
        Some(up.digest.clone())
    );
    let beat = sealer
        .seal(FrameKind::HbDisk, up.beat.to_string().as_bytes())
        .unwrap();
    write_slot(&f, 1, Part::Beat, &beat).unwrap();
    let mut beats = Opener::new(key, "c", FrameKind::HbDisk).without_clock();
    let mut services = beats.sibling();
    let mut seen = Seen::default();
    let read = |seen: &mut Seen, beats: &mut Opener, services: &mut Opener| {
        let frame = read_slot(&f, 1, Part::Beat).unwrap();
        if seen.beat.as_ref() != Some(&frame) {
            seen.beat = Some(frame.clone());
            let (_, data) = read_beat(
                "hb#3.rx",
                &frame,
                "node2",
                false,
                std::time::Duration::from_secs(3),
                beats,
                &log,
            )
            .unwrap();
            let (data, sent) = data.unwrap();
            seen.wants = take_beat("hb#3.rx", "node2", dataset::beat_of(data), sent, &shared);
        }
        read_services(
            "hb#3.rx",
            &f,
            &mut SlotReader::new(),
            ("node2", 1),
            seen,
            services,
            &shared,
        )
        .unwrap();
    };
    read(&mut seen, &mut beats, &mut services);
    let view = |sh: &Shared| sh.peers.lock().unwrap()["node2"].view.clone();
    assert!(!view(&shared).pending && view(&shared).up("svc1"));
    assert_eq!(seen.wants, None);
    // The services change; the beat naming them is not written yet: the
    // rx has nothing to read, and reads nothing more.
    write_services("t", &f, 1, &down, &mut sealer, &log);
    read(&mut seen, &mut beats, &mut services);
    assert!(
        view(&shared).up("svc1"),
        "held until a beat names the change"
    );
    // A torn services frame: the beat is heard, the peer pending, and the
    // frame read again at the next poll.
    let good = read_slot(&f, 1, Part::Services).unwrap();
    let mut torn = good.clone();
    let mid = torn.len() / 2;
    torn[mid] ^= 0xff;
    write_slot(&f, 1, Part::Services, &torn).unwrap();
    let beat = sealer
        .seal(FrameKind::HbDisk, down.beat.to_string().as_bytes())
        .unwrap();
    write_slot(&f, 1, Part::Beat, &beat).unwrap();
    read(&mut seen, &mut beats, &mut services);
    assert!(view(&shared).pending, "heard, its services not read yet");
    assert_eq!(seen.wants, Some(down.digest.clone()));
    write_slot(&f, 1, Part::Services, &good).unwrap();
    read(&mut seen, &mut beats, &mut services);
    assert!(!view(&shared).pending && !view(&shared).up("svc1"));
    assert_eq!(shared.digest_of("node2"), Some(down.digest));
}

#[test]
fn services_too_big_for_a_slot_leave_the_disk_with_beats_only() {
    let (_d, p) = disk();
    let f = open_dev(&p).unwrap();
    let key = crate::daemon::wire::Key::from_secret("0123456789abcdef0123456789abcdef");
    let mut sealer = Sealer::new(key, "node2", "c").unwrap();
    let log = Logger::named("node", "test");
    write_slot(&f, 1, Part::Services, b"an older services frame").unwrap();
    let huge = dataset::Split {
        beat: serde_json::json!({}),
        services: format!("{{\"s\": \"{}\"}}", "x".repeat(DATA_SLOT as usize)).into(),
        digest: "0".repeat(64),
    };
    assert_eq!(
        write_services("t", &f, 1, &huge, &mut sealer, &log),
        Some("0".repeat(64)),
        "not tried again at every beat"
    );
    assert!(read_slot(&f, 1, Part::Services).unwrap().is_empty());
}
