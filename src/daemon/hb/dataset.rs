//! Compact beats (docs/behaviour.md, "Heartbeats"): a beat carries the
//! node-level fields of this node's dataset (load, frozen, monitor state,
//! watchdog, fencing, arbitrators) and, in place of the services, the
//! sha256 of their serialization. A receiver that holds another digest
//! fetches the services part (fetch.rs, over the listener; disk.rs, from
//! the slot), so a beat's size does not grow with the number of services.
//!
//! The digest travels in `services`, as a string: an agent of the previous
//! version, which read `services` as an object, refuses such a beat
//! (`services` is not an object) instead of reading it as a node that runs
//! nothing; mixed versions see each other as silent, which needs a proof
//! before any takeover, never as idle.
//!
//! The services part travels as its JSON text with the digest of those very
//! bytes: the receiver checks the bytes, never a re-serialization (a float
//! read back and printed again may differ in its last digit).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// This node's dataset cut in two: the beat, and the services part.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Split {
    /// The node-level fields, `services` holding the digest.
    pub beat: Value,
    /// The services part as sent: its JSON text (shared with the memo it
    /// comes from, state.rs).
    pub services: std::sync::Arc<str>,
    pub digest: String,
}

/// sha256 of `bytes`, lowercase hex.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Cuts a full dataset (`Shared::local_dataset`) into a beat and its
/// services part.
pub(crate) fn split(mut dataset: Value) -> Split {
    let services = dataset
        .as_object_mut()
        .and_then(|o| o.remove("services"))
        .unwrap_or_else(|| Value::Object(Map::new()));
    // serde_json's maps are sorted: the same services give the same text.
    let services = services.to_string();
    let digest = digest_of(services.as_bytes());
    dataset["services"] = json!(digest);
    Split {
        beat: dataset,
        services: services.into(),
        digest,
    }
}

/// The services part as the listener answers it and the disk slot holds
/// it: `{"digest": <hex>, "services": <JSON text>}`.
pub(crate) fn services_answer(s: &Split) -> Value {
    json!({"digest": s.digest, "services": &*s.services})
}

/// What a beat brought.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Beat {
    /// A compact beat: its node-level fields and the digest of the
    /// services part it names.
    Compact { fields: Value, digest: String },
    /// A whole dataset (`services` an object, or absent): a test, the
    /// fuzzer, or a peer's dataset read in full.
    Full(Value),
}

/// Reads a beat's payload; what does not decode (not JSON, not an object,
/// a digest that is not 64 hex digits) is Err, for the caller to count.
pub(crate) fn read_beat(payload: &[u8]) -> Result<Beat, String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|_| "a beat that is not JSON".to_string())?;
    beat_of(v)
}

/// [`read_beat`] of a payload already read as JSON.
pub(crate) fn beat_of(mut v: Value) -> Result<Beat, String> {
    let obj = v.as_object_mut().ok_or("the beat is not an object")?;
    match obj.get("services") {
        Some(Value::String(d)) if is_digest(d) => {
            let digest = d.clone();
            obj.remove("services");
            Ok(Beat::Compact { fields: v, digest })
        }
        Some(Value::String(_)) => Err("the beat's services digest is not 64 hex digits".into()),
        _ => Ok(Beat::Full(v)),
    }
}

/// A services part checked (its digest, its text), or why it was refused.
/// The text is shared: the disk rx keeps the last one it read, and the
/// peer's entry holds the same one once it is taken (peer_services.rs).
pub(crate) type Checked = Result<(String, Arc<str>), String>;

/// Checks a services answer (listener or disk slot): its digest is the
/// sha256 of its text. Returns the digest and the text, which the
/// receiver decodes (`Shared::fetched`, peer_services.rs) and refuses
/// when it is not an object of objects.
pub(crate) fn read_services(answer: &Value) -> Checked {
    let digest = answer["digest"]
        .as_str()
        .filter(|d| is_digest(d))
        .ok_or("the services answer has no digest")?;
    let text = answer["services"]
        .as_str()
        .ok_or("the services answer has no services text")?;
    let actual = digest_of(text.as_bytes());
    if actual != digest {
        return Err(format!(
            "the services answer claims digest {digest} but its text's is {actual}"
        ));
    }
    Ok((digest.to_string(), text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(n: usize) -> Value {
        let services: Map<String, Value> = (0..n)
            .map(|i| {
                (
                    format!("svc{i:04}"),
                    json!({"avail": "up", "config": {"mtime": 1_733_500_000.123_456 + i as f64, "cksum": "ab".repeat(32)}}),
                )
            })
            .collect();
        json!({"load15": 0.25, "frozen": false, "monitor": "idle", "watchdog": 3.5, "services": services})
    }

    #[test]
    fn a_beat_does_not_grow_with_the_services() {
        let small = split(dataset(1));
        let big = split(dataset(1000));
        assert_eq!(
            small.beat.to_string().len(),
            big.beat.to_string().len(),
            "{}",
            big.beat
        );
        assert!(big.beat.to_string().len() < 200, "{}", big.beat);
        assert_ne!(small.digest, big.digest);
        assert_eq!(
            split(dataset(1000)),
            big,
            "the same services, the same digest"
        );
    }

    #[test]
    fn a_beat_and_its_services_read_back() {
        let s = split(dataset(3));
        let Beat::Compact { fields, digest } = read_beat(s.beat.to_string().as_bytes()).unwrap()
        else {
            panic!("not compact: {}", s.beat)
        };
        assert_eq!(digest, s.digest);
        assert_eq!(fields["watchdog"], 3.5);
        assert!(fields.get("services").is_none());
        let (d, services) = read_services(&services_answer(&s)).unwrap();
        assert_eq!(d, s.digest);
        assert_eq!(&*services, dataset(3)["services"].to_string());
    }

    #[test]
    fn a_full_dataset_is_still_read_whole() {
        let full = dataset(2);
        assert_eq!(
            read_beat(full.to_string().as_bytes()).unwrap(),
            Beat::Full(full)
        );
        assert_eq!(
            read_beat(b"{}").unwrap(),
            Beat::Full(json!({})),
            "a node with no services"
        );
    }

    #[test]
    fn what_does_not_decode_or_match_is_refused() {
        for bad in [&b"nope"[..], b"[]", br#"{"services": "abc"}"#] {
            assert!(read_beat(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let s = split(dataset(2));
        let mut lying = services_answer(&s);
        lying["services"] = json!("{}");
        let e = read_services(&lying).unwrap_err();
        assert!(e.contains("claims digest"), "{e}");
        // A text that matches its digest but is no object of objects is
        // the receiver's to refuse (peer_services.rs, `Shared::fetched`).
        for bad in [
            json!({}),
            json!({"digest": s.digest}),
            json!({"digest": "x", "services": &*s.services}),
        ] {
            assert!(read_services(&bad).is_err(), "{bad}");
        }
    }
}
