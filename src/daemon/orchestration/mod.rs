//! The orchestration wing of the daemon, from the bottom up:
//!
//! - plain data and pure rules (an order itself is `src/order.rs`, below
//!   the CLI that gives it): `failures` (the
//!   start back-off), `proof` (is a silent node down), `view` (a node's
//!   dataset, typed), `orders` (the newest-wins register, reached),
//!   `memory` (what survives a daemon restart), `claims` (no two nodes
//!   start one service: a claim and every peer's acknowledgment);
//! - `core`: the pure decisions (placement, takeover, orders, start
//!   failures) as a function of the view and the time, returning commands;
//!   `restart_core` (resource restarts, the monitor action) and
//!   `quorum_core` (the vote's verdict, the split action), its pure
//!   siblings, return the same commands;
//! - `local`: this node's services as one pass reads them, under one
//!   lock of the monitor's dataset;
//! - `pass`: what the monitor thread hands the resource restarts;
//! - the shells that act: `actions` (runs svcmgr actions), `restarts`
//!   (resource restarts, the monitor action), `split` and `quorum` (the
//!   split action, the arbitrator vote), `shell` (runs the core's commands
//!   for the monitor thread), `takeover` (the starts of one pass, run at
//!   once, bounded by `[node] max_parallel`).
//!
//! `sim` runs the core on simulated nodes (`cargo test --lib sim`).

pub(crate) mod actions;
pub(crate) mod claims;
pub(crate) mod core;
pub(crate) mod failures;
pub(crate) mod local;
pub(crate) mod memory;
pub(crate) mod orders;
pub(crate) mod pass;
pub(crate) mod proof;
pub(crate) mod quorum;
pub(crate) mod quorum_core;
pub(crate) mod restart_core;
pub(crate) mod restarts;
pub(crate) mod shell;
pub(crate) mod split;
pub(crate) mod takeover;
pub(crate) mod view;

#[cfg(test)]
pub(crate) mod sim;
