//! The agent daemon (`nodemgr daemon start`): its threads (listener,
//! monitor, scheduler), its shared state and the local socket the CLI uses;
//! and what peers will speak: the cluster secret and the authenticated,
//! encrypted frame format (wire.rs).

pub mod act;
pub mod blacklist;
pub mod conns;
pub mod deadline;
pub mod expect;
pub mod failures;
pub mod hb;
pub mod hb_disk;
pub mod hb_mcast;
pub mod inbox;
pub mod local_socket;
pub mod memory;
pub mod monitor;
pub mod orchestrator;
pub mod order;
pub mod peer;
pub mod peer_listener;
pub mod placement;
pub mod proof;
pub mod quorum;
pub mod replicate;
pub mod restart;
pub mod run;
pub mod scheduler;
pub mod secret;
pub mod split;
pub mod state;
pub mod status_memory;
pub mod watchdog;
pub mod watchdogd;
pub mod wire;
