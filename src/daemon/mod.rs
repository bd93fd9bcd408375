//! The agent daemon (`nodemgr daemon start`): its threads (listener,
//! monitor, scheduler), its shared state and the local socket the CLI uses;
//! and what peers will speak: the cluster secret and the authenticated,
//! encrypted frame format (wire.rs).

pub mod blacklist;
pub mod conns;
pub mod deadline;
pub mod hb;
pub mod inbox;
pub mod local_socket;
pub mod monitor;
pub mod node_conf;
pub mod orchestration;
pub mod peer;
pub mod peer_listener;
pub mod replicate;
pub mod run;
pub mod scheduler;
pub mod secret;
pub mod state;
pub mod status_memory;
pub mod watchdog;
pub mod watchdogd;
pub mod wire;
