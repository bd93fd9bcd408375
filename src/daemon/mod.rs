//! The agent daemon (`nodemgr daemon start`): its threads (listener,
//! monitor, scheduler), its shared state, and the local socket the CLI uses.

pub mod lsnr;
pub mod monitor;
pub mod run;
pub mod scheduler;
pub mod state;
