//! The unit tests of wire.rs, beside it so that the module reads as code.

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const T0: u64 = 1_700_000_000_000_000;

fn sealer(node: &str) -> Sealer {
    Sealer::new(Key::from_secret(SECRET), node, "c1").unwrap()
}

/// A unicast heartbeat path, without the clock bound: most tests seal
/// at the fixed time T0.
fn opener() -> Opener {
    opener_of(FrameKind::HbUnicast)
}

fn opener_of(kind: FrameKind) -> Opener {
    Opener::new(Key::from_secret(SECRET), "c1", kind).without_clock()
}

/// Layout offsets of a frame from node "n1" in cluster "c1".
const NAME_AT: usize = 6;
const CLUSTER_AT: usize = 9;
const TO_AT: usize = 11;
const SEQ_AT: usize = 12;
const NONCE_AT: usize = 20;
const SEALED_AT: usize = 44;

fn is_replayed(r: Result<Opened, WireError>) -> bool {
    matches!(r, Err(WireError::Replayed { .. }))
}

fn is_stale(r: Result<Opened, WireError>) -> bool {
    matches!(r, Err(WireError::Stale { .. }))
}

#[test]
fn a_frame_older_than_the_clock_bound_is_refused_with_its_skew() {
    let mut o = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
    let mut s = sealer("n1");
    let old = s
        .seal_aged(FrameKind::HbUnicast, b"", MAX_AGE + Duration::from_secs(15))
        .unwrap();
    let err = o.open(&old).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "frame from n1 is 45.0 s older than this node's clock, more than the 30 s allowed"
        ) && msg.ends_with("(check NTP on both)"),
        "{msg}"
    );
    assert_eq!(o.stats.stale, 1);
    assert!(o.windows.is_empty(), "a refused frame opens no window");
    // A month-old beat too; moderate skew (20 s behind) is heard.
    let month = s
        .seal_aged(FrameKind::HbUnicast, b"", Duration::from_secs(30 * 86400))
        .unwrap();
    assert!(is_stale(o.open(&month)));
    let mut lagging = sealer("n2");
    let skewed = lagging
        .seal_aged(FrameKind::HbUnicast, b"", Duration::from_secs(20))
        .unwrap();
    assert!(o.open(&skewed).is_ok());
}

#[test]
fn a_frame_ahead_of_the_clock_bound_is_refused_with_its_skew() {
    let mut o = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
    let mut s = sealer("n1");
    let ahead = s
        .seal_at(FrameKind::HbUnicast, b"", now_us() + 60_000_000)
        .unwrap();
    let msg = o.open(&ahead).unwrap_err().to_string();
    assert!(
            msg.starts_with("frame from n1 is dated 60.0 s ahead of this node's clock, more than the 10 s allowed: check NTP on n1"),
            "{msg}"
        );
    assert_eq!(o.stats.stale, 1);
    // 5 s ahead is tolerated.
    let mut s2 = sealer("n2");
    let near = s2
        .seal_at(FrameKind::HbUnicast, b"", now_us() + 5_000_000)
        .unwrap();
    assert!(o.open(&near).is_ok());
    // The bound is checked on authenticated frames only: a forged
    // frame far in the past says forged, not "check NTP".
    let mut forger = Sealer::new(Key::from_secret("guess"), "n1", "c1").unwrap();
    let forged = forger.seal_at(FrameKind::HbUnicast, b"", T0).unwrap();
    assert!(matches!(o.open(&forged), Err(WireError::Forged { .. })));
}

#[test]
fn floors_are_kept_across_a_restart_of_the_receiver() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("wire").join("hb#1.floors.json");
    let new_opener = || {
        let mut o = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
        o.keep_floors(file.clone()).unwrap();
        o
    };
    let mut s = sealer("n1");
    let older = s.seal(FrameKind::HbUnicast, b"older").unwrap();
    let newest = s.seal(FrameKind::HbUnicast, b"newest").unwrap();
    let mut o = new_opener();
    assert!(o.open(&older).is_ok());
    assert!(o.open(&newest).is_ok());
    // The first accept wrote at once; the second waits for the next
    // second or the stop.
    let written: BTreeMap<String, u64> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written.len(), 1);
    drop(o);
    let written: BTreeMap<String, u64> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let newest_seq = u64::from_be_bytes(newest[SEQ_AT..NONCE_AT].try_into().unwrap());
    assert_eq!(written["n1"], newest_seq);
    // A new receiver refuses both, though it never saw them.
    let mut o = new_opener();
    let err = o.open(&newest).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "frame from n1 replayed (seq {newest_seq}, not newer than the last frame accepted before this receiver restarted)"
        )
    );
    assert!(is_replayed(o.open(&older)));
    assert_eq!(o.stats.replayed, 2);
    // The sender's next frame is heard.
    assert!(
        o.open(&s.seal(FrameKind::HbUnicast, b"next").unwrap())
            .is_ok()
    );
    // A damaged file is reported, and the path still opens frames.
    drop(o);
    std::fs::write(&file, "{not json").unwrap();
    let mut o = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
    let err = o.keep_floors(file.clone()).unwrap_err();
    assert!(err.contains("hb#1.floors.json is damaged"), "{err}");
    assert!(
        o.open(&s.seal(FrameKind::HbUnicast, b"after").unwrap())
            .is_ok()
    );
}

#[test]
fn a_frame_is_accepted_only_on_the_path_it_was_sealed_for() {
    let mut s = sealer("n1");
    let unicast = s.seal(FrameKind::HbUnicast, b"{}").unwrap();
    let mut mcast = opener_of(FrameKind::HbMulticast);
    let err = mcast.open(&unicast).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a unicast heartbeat frame from n1 arrived on a multicast heartbeat path: refused (a frame is accepted only on the path it was sealed for; a replay, or a misdirected port)"
    );
    assert_eq!(mcast.stats.wrong_path, 1);
    for kind in [FrameKind::HbDisk, FrameKind::Request, FrameKind::ArbPing] {
        let got = opener_of(kind).open(&unicast);
        assert!(matches!(got, Err(WireError::WrongPath { .. })), "{got:?}");
    }
    assert!(opener_of(FrameKind::HbUnicast).open(&unicast).is_ok());
}

#[test]
fn a_request_to_node3_is_refused_by_node1() {
    let mut s = sealer("n2");
    let to_node3 = s.seal_to(FrameKind::Request, "node3", b"{}").unwrap();
    let mut node1 = opener_of(FrameKind::Request).to_me("node1");
    let err = node1.open(&to_node3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "frame from n2 is addressed to 'node3', not to this node (node1): a replay, or [listener] addr@ / port@ pointing at the wrong node"
    );
    assert_eq!(node1.stats.misaddressed, 1);
    // The receiver is authenticated: rewritten to node1, it is forged.
    let mut moved = to_node3[..TO_AT].to_vec();
    moved.push(5);
    moved.extend_from_slice(b"node1");
    moved.extend_from_slice(&to_node3[TO_AT + 6..]);
    assert!(matches!(node1.open(&moved), Err(WireError::Forged { .. })));
    let mut node3 = opener_of(FrameKind::Request).to_me("node3");
    assert_eq!(node3.open(&to_node3).unwrap().payload, b"{}");
    // A request addressed to no one is not for node1 either.
    let anyone = s.seal(FrameKind::Request, b"{}").unwrap();
    assert!(matches!(
        node1.open(&anyone),
        Err(WireError::Misaddressed { .. })
    ));
}

/// The arbitrator's administrator hands out the ping secret, not the
/// cluster secret: it keys the same pings, and nothing else.
#[test]
fn the_ping_secret_keys_the_same_pings_and_no_heartbeat() {
    let published = ping_secret(SECRET);
    assert!(published.starts_with(PING_SECRET_PREFIX), "{published}");
    assert_eq!(published.len(), PING_SECRET_PREFIX.len() + 64);
    assert_eq!(published, ping_secret(SECRET), "stable");
    assert_ne!(ping_secret("another secret"), published);
    assert!(crate::config::node_keywords::check_strength(&published).is_ok());
    let mut asker = Sealer::new(Key::arbitrator(&published), "other", "c1").unwrap();
    let ping = asker.seal(FrameKind::ArbPing, b"{}").unwrap();
    let mut pings = Opener::new(Key::arbitrator(SECRET), "c1", FrameKind::ArbPing).without_clock();
    assert_eq!(pings.open(&ping).unwrap().nodename, "other");
    let beat = asker.seal(FrameKind::HbUnicast, b"{}").unwrap();
    let mut hb = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
    assert!(matches!(hb.open(&beat), Err(WireError::Forged { .. })));
    // Nor does the ping secret taken as a cluster secret open anything.
    let mut fake = Sealer::new(Key::from_secret(&published), "other", "c1").unwrap();
    let beat = fake.seal(FrameKind::HbUnicast, b"{}").unwrap();
    assert!(matches!(hb.open(&beat), Err(WireError::Forged { .. })));
}

#[test]
fn the_arbitrator_key_opens_pings_and_no_heartbeat() {
    let arb = Key::arbitrator(SECRET);
    let mut s = Sealer::new(arb.clone(), "n1", "c1").unwrap();
    let beat = s.seal(FrameKind::HbUnicast, b"{}").unwrap();
    let mut hb = Opener::new(Key::from_secret(SECRET), "c1", FrameKind::HbUnicast);
    assert!(matches!(hb.open(&beat), Err(WireError::Forged { .. })));
    let ping = s.seal(FrameKind::ArbPing, b"{}").unwrap();
    let mut pings = Opener::new(arb.clone(), "c1", FrameKind::ArbPing).without_clock();
    assert_eq!(pings.open(&ping).unwrap().nodename, "n1");
    // A ping under the cluster key does not open with the ping key.
    let mut cs = sealer("n1");
    let cluster_ping = cs.seal(FrameKind::ArbPing, b"{}").unwrap();
    assert!(matches!(
        pings.open(&cluster_ping),
        Err(WireError::Forged { .. })
    ));
    // The arbitrator key is HKDF of the ping secret, with its own info
    // string.
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(None, ping_secret(SECRET).as_bytes())
        .expand(b"svcmgr arbitrator ping v1", &mut okm)
        .unwrap();
    let direct = XChaCha20Poly1305::new(&okm.into());
    let nonce: [u8; NONCE_LEN] = ping[NONCE_AT..SEALED_AT].try_into().unwrap();
    let plain = direct.decrypt(
        &XNonce::from(nonce),
        Payload {
            msg: &ping[SEALED_AT..],
            aad: &ping[..NONCE_AT],
        },
    );
    assert_eq!(plain.unwrap(), b"{}");
}

#[test]
fn a_stranger_is_dropped_before_decryption() {
    let members = vec!["n1".to_string(), "n2".to_string()];
    let mut o = opener().only_from(&members);
    let mut frame = sealer("n3").seal(FrameKind::HbUnicast, b"{}").unwrap();
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
    let ok = sealer("n2").seal(FrameKind::HbUnicast, b"{}").unwrap();
    assert_eq!(o.open(&ok).unwrap().nodename, "n2");
}

#[test]
fn round_trip() {
    let mut s = sealer("n1");
    let mut o = opener_of(FrameKind::Request);
    let frame = s
        .seal(FrameKind::Request, b"{\"action\": \"daemon_status\"}")
        .unwrap();
    assert_eq!(&frame[..4], b"SVM2");
    assert_eq!(frame[4], 2);
    assert_eq!(&frame[5..8], b"\x02n1");
    assert_eq!(&frame[8..11], b"\x02c1");
    assert_eq!(frame.len(), SEALED_AT + 27 + TAG_LEN);
    let opened = o.open(&frame).unwrap();
    assert_eq!(opened.kind, FrameKind::Request);
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
    for b in 1..=7 {
        let kind = FrameKind::from_byte(b).unwrap();
        assert_eq!(kind as u8, b);
        let opened = opener_of(kind).open(&s.seal(kind, b"").unwrap()).unwrap();
        assert_eq!(opened.kind, kind);
        assert!(opened.payload.is_empty());
    }
}

#[test]
fn same_payload_seals_differently() {
    let mut s = sealer("n1");
    let a = s.seal(FrameKind::HbUnicast, b"same").unwrap();
    let b = s.seal(FrameKind::HbUnicast, b"same").unwrap();
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
        .open(&s.seal(FrameKind::HbUnicast, b"hb").unwrap())
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
        .open(&s.seal(FrameKind::HbUnicast, b"hb").unwrap())
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
    let frame = s.seal(FrameKind::HbUnicast, b"{\"x\":1}").unwrap();
    for i in 0..frame.len() {
        for bit in 0..8 {
            let mut o = opener();
            let mut bad = frame.clone();
            bad[i] ^= 1 << bit;
            let err = o.open(&bad).unwrap_err();
            let expected_ok = match i {
                0..4 => matches!(err, WireError::BadMagic),
                // 1 ^ 2 = 3 is a valid kind: the path check catches it.
                4 => matches!(err, WireError::BadKind { .. } | WireError::WrongPath { .. }),
                5 => matches!(err, WireError::Truncated { .. } | WireError::BadName),
                NAME_AT..8 => matches!(err, WireError::BadName | WireError::Forged { .. }),
                // The cluster's length: the receiver's length is then
                // read from another byte, and the bytes it names may
                // not be a name (they hold seq and nonce, which vary).
                8 => matches!(
                    err,
                    WireError::Truncated { .. }
                        | WireError::OtherCluster { .. }
                        | WireError::BadName
                ),
                CLUSTER_AT..TO_AT => matches!(err, WireError::OtherCluster { .. }),
                // The receiver's length: the name then eats into seq.
                TO_AT => matches!(
                    err,
                    WireError::BadName
                        | WireError::Misaddressed { .. }
                        | WireError::Truncated { .. }
                ),
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
    let frame = s.seal(FrameKind::HbUnicast, b"payload").unwrap();
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
        "not an svcmgr frame (no SVM2 magic): a 1.9 agent, which svcmgr cannot talk to, an older svcmgr (SVM1: upgrade every node), another program, or noise"
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
    let first = s.seal(FrameKind::HbUnicast, b"1").unwrap();
    let seq = o.open(&first).unwrap().seq;
    let err = o.open(&first).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("frame from n1 replayed (seq {seq}, already seen)")
    );
    assert_eq!(o.stats.replayed, 1);
    assert_eq!(
        o.open(&s.seal(FrameKind::HbUnicast, b"2").unwrap())
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
        .seal_at(FrameKind::HbUnicast, b"a", T0 + 1_000_000_000)
        .unwrap();
    let fb = b.seal_at(FrameKind::HbUnicast, b"b", T0).unwrap();
    assert!(o.open(&fa).is_ok());
    assert!(o.open(&fb).is_ok(), "a's newer seq does not age b's frames");
}

#[test]
fn out_of_order_within_the_window_accepted_once() {
    let mut s = sealer("n1");
    let mut o = opener();
    let f1 = s.seal_at(FrameKind::HbUnicast, b"1", T0).unwrap();
    let f2 = s.seal_at(FrameKind::HbUnicast, b"2", T0 + 1_000).unwrap();
    let f3 = s
        .seal_at(FrameKind::HbUnicast, b"3", T0 + 5_000_000)
        .unwrap();
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
    let old = s.seal_at(FrameKind::HbUnicast, b"old", T0).unwrap();
    let new = s
        .seal_at(FrameKind::HbUnicast, b"new", T0 + REPLAY_SPAN_US + 1)
        .unwrap();
    let edge = s
        .seal_at(FrameKind::HbUnicast, b"edge", T0 + 2 * REPLAY_SPAN_US + 1)
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
        .map(|i| s.seal_at(FrameKind::HbUnicast, b"", T0 + i).unwrap())
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
    let genuine = s.seal_at(FrameKind::HbUnicast, b"ok", T0).unwrap();
    let forged = forger
        .seal_at(FrameKind::HbUnicast, b"evil", T0 + 100 * REPLAY_SPAN_US)
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
    let fa = a.seal(FrameKind::HbUnicast, b"a").unwrap();
    let fb = b.seal(FrameKind::HbUnicast, b"b").unwrap();
    let mut spliced = fb[..NONCE_AT].to_vec();
    spliced.extend_from_slice(&fa[NONCE_AT..]);
    assert!(matches!(o.open(&spliced), Err(WireError::Forged { .. })));
    // A beat relabelled as another path: refused by that path's key
    // check, since the kind is authenticated.
    let mut rekind = fa.clone();
    rekind[4] = FrameKind::HbMulticast as u8;
    let got = opener_of(FrameKind::HbMulticast).open(&rekind);
    assert!(matches!(got, Err(WireError::Forged { .. })), "{got:?}");
}

#[test]
fn oversized_is_refused_before_crypto() {
    let mut s = sealer("n1");
    let mut o = opener();
    let mut frame = s.seal(FrameKind::HbUnicast, b"x").unwrap();
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
        s.seal_at(FrameKind::Response, &too_big, T0),
        Err(WireError::Oversized { len }) if len == MAX_FRAME + 1
    ));
    assert_eq!(s.last_seq, 0);
    let frame = s.seal_at(FrameKind::Response, &fits, T0).unwrap();
    assert_eq!(frame.len(), MAX_FRAME);
    let opened = opener_of(FrameKind::Response).open(&frame).unwrap();
    assert_eq!(opened.payload.len(), fits.len());
}

#[test]
fn seq_grows_within_a_sealer_even_if_the_clock_steps_back() {
    let mut s = sealer("n1");
    let mut o = opener();
    let a = o
        .open(&s.seal_at(FrameKind::HbUnicast, b"", T0).unwrap())
        .unwrap();
    let b = o
        .open(&s.seal_at(FrameKind::HbUnicast, b"", T0 - 1_000).unwrap())
        .unwrap();
    assert_eq!(b.seq, a.seq + 1);
}

#[test]
fn seq_grows_across_a_restart() {
    let mut o = opener();
    let first = sealer("n1").seal(FrameKind::HbUnicast, b"before").unwrap();
    // A restart takes far more than the microsecond the seq counts in.
    std::thread::sleep(std::time::Duration::from_millis(2));
    let second = sealer("n1").seal(FrameKind::HbUnicast, b"after").unwrap();
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
    let frame = sealer("n1").seal(FrameKind::HbUnicast, b"").unwrap();
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
        "frame names no valid sender or receiver (a node name is 1 to 255 bytes of a-z 0-9 . - _)"
    );
}

#[test]
fn unknown_kind_is_refused() {
    let mut o = opener();
    let mut frame = sealer("n1").seal(FrameKind::HbUnicast, b"").unwrap();
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
        .seal(FrameKind::HbUnicast, b"x")
        .unwrap();
    assert!(
        Opener::new(b, "c1", FrameKind::HbUnicast)
            .open(&frame)
            .is_ok()
    );
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
    let frame = sealer("n1").seal(FrameKind::Request, b"req").unwrap();
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
    let genuine = sealer("n1")
        .seal(FrameKind::HbUnicast, b"{\"beat\":1}")
        .unwrap();
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
                for _ in 0..=(rng.next() % 3) {
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
