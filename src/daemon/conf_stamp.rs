//! What a node advertises of one service's config file (its dataset's
//! `config`), compared by config replication (replicate.rs). A module of
//! its own: the shared state and a peer's decoded services both hold it.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfStamp {
    /// Seconds since the epoch.
    pub mtime: f64,
    /// sha256 of the file's bytes, hex.
    pub cksum: String,
}

impl ConfStamp {
    pub(crate) fn to_json(&self) -> Value {
        json!({"mtime": self.mtime, "cksum": self.cksum})
    }

    pub(crate) fn from_json(v: &Value) -> Option<ConfStamp> {
        Some(ConfStamp {
            mtime: v["mtime"].as_f64().filter(|m| m.is_finite())?,
            cksum: v["cksum"].as_str()?.to_string(),
        })
    }
}
