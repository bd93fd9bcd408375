//! What one pass of the monitor thread sees, as the resource restarts
//! (restarts.rs) read it: plain data the threads only read, below every
//! module that acts on it.

use std::collections::BTreeMap;

use crate::action::Env;
use crate::daemon::state::{PeerData, Shared};
use crate::log::Logger;

#[derive(Clone, Copy)]
pub(crate) struct Pass<'a> {
    pub env: &'a Env<'a>,
    pub shared: &'a Shared,
    /// The peers heard, by name.
    pub peers: &'a BTreeMap<String, PeerData>,
    pub log: &'a Logger,
}
