//! The orchestration wing of the daemon, from the bottom up: `view` (a
//! node's dataset, typed) and `core` (the pure decisions: placement,
//! takeover, orders, start failures) know nothing of threads or files;
//! `pass` is what the monitor thread hands the resource restarts; the
//! shell that runs the core's commands is orchestrator.rs. `sim` runs the
//! core on simulated nodes (`cargo test --lib sim`).

pub mod core;
pub mod pass;
pub mod view;

#[cfg(test)]
mod sim;
