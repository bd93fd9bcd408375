//! The node.conf in force in the daemon: read once per change by run.rs
//! (the one watcher of the file), then shared as a snapshot with every
//! thread that acts on it (heartbeats, listener, quorum). A file with
//! problems never gets here: the previous snapshot stays in force.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::node::NodeConfig;

pub(crate) struct InForce {
    conf: RwLock<Arc<NodeConfig>>,
    /// Bumped at each reload, so that a thread can tell a new snapshot
    /// from the one it last applied without comparing them.
    generation: AtomicU64,
}

impl InForce {
    pub(crate) fn new(conf: NodeConfig) -> InForce {
        InForce {
            conf: RwLock::new(Arc::new(conf)),
            generation: AtomicU64::new(0),
        }
    }

    /// The snapshot in force now.
    pub(crate) fn get(&self) -> Arc<NodeConfig> {
        match self.conf.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, conf: NodeConfig) {
        let new = Arc::new(conf);
        match self.conf.write() {
            Ok(mut c) => *c = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
