//! The cluster daemon (spec cluster-1.9 §1-§3): for now the wire format and
//! crypto every peer message uses, and the cluster secret that keys them.

pub mod secret;
pub mod wire;
