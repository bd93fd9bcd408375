//! The chaos suite: seeded, replayable random faults on a lab cluster
//! (lab/chaos-cluster.sh), one at a time, each followed by waiting for the
//! cluster to settle, judged by an auditor that trusts only kernel objects
//! (addresses, mounts, processes, flag files), never the daemons' view.
//!
//!   cargo test --test chaos -- [--seed S] [--faults N] [--nodes N]
//!                              [--max-minutes M] [--keep] [-v] [--plan]
//!
//! `--plan` prints the faults the seed gives and runs nothing.
//!
//! As root (the lab needs namespaces and loop devices); skipped otherwise.
//! A failing run prints its seed: `--seed S` replays the same faults.
// Tests drive the lab and the binary from outside: the "only src/exec/
// starts processes" rule is for the product.
#![allow(clippy::disallowed_methods)]

#[path = "../integration/lab.rs"]
mod lab;

mod args;
mod audit;
mod cluster;
mod inject;
mod interrupt;
mod kernel;
mod model;
mod orders;
mod plan;
mod power;
mod report;
mod rng;
mod runner;
mod settle;
mod topology;

use std::sync::atomic::{AtomicBool, Ordering};

use audit::Auditor;
use cluster::{Clock, Cluster, sleep};
use lab::Lab;
use plan::Step;
use power::Power;
use report::{End, Line, Summary};
use runner::Runner;

fn main() {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::exit(2);
        }
    };
    if args.list {
        println!("chaos: test");
        return;
    }
    if args.plan_only {
        let seed = seed_of(&args);
        let nodes: Vec<topology::Node> = (1..=args.nodes as u8).map(topology::Node).collect();
        println!("chaos: seed {seed}, {} nodes: the plan", args.nodes);
        for n in 1..=args.faults {
            let s = plan::step(seed, n, &nodes);
            println!("  #{n:<3} after {:.1}s: {s}", s.pause);
        }
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("!!!! SKIPPED chaos: needs root (CI runs it as root) !!!!");
        return;
    }
    let seed = seed_of(&args);
    println!(
        "chaos: seed {seed} (replay: cargo test --test chaos -- --seed {seed} --faults {} --nodes {})",
        args.faults, args.nodes
    );
    interrupt::install();
    let code = run(&args, seed);
    std::process::exit(code);
}

fn seed_of(args: &args::Args) -> u64 {
    if args.seed_given {
        args.seed
    } else {
        rng::random_seed()
    }
}

/// Sets the flag when dropped, also when a panic unwinds: the auditor and
/// reviver threads end, and the scope that waits for them can return.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The whole run; the lab is gone (unless --keep) when it returns.
fn run(args: &args::Args, seed: u64) -> i32 {
    let clock = Clock::start();
    let lab = Lab::up_for_chaos(args.nodes);
    println!(
        "chaos: lab {} (if this run is interrupted: bash lab/lab.sh down {})",
        lab.id, lab.id
    );
    let cl = Cluster::of(&lab, args.verbose, clock);
    let code = match cl.install() {
        Ok(()) => chaos(&cl, args, seed),
        Err(e) => {
            println!("chaos: lab/chaos-cluster.sh failed:\n{e}");
            1
        }
    };
    if args.keep {
        println!(
            "chaos: --keep: lab {} left up (bash lab/lab.sh down {} removes it)",
            lab.id, lab.id
        );
        std::mem::forget(lab);
    }
    code
}

fn chaos(cl: &Cluster, args: &args::Args, seed: u64) -> i32 {
    let plan: Vec<Step> = (1..=args.faults)
        .map(|n| plan::step(seed, n, cl.nodes()))
        .collect();
    if args.verbose {
        println!("chaos: the plan:");
        for s in &plan {
            println!("  #{:<3} {s}", s.n);
        }
    }
    let auditor = Auditor::default();
    let power = Power::default();
    let stop = AtomicBool::new(false);
    let mut lines: Vec<Line> = Vec::new();
    let cap = args.max_minutes * 60.0;
    let mut ended = End::Done;
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| auditor.run(cl, &stop, seed));
        s.spawn(|| power.revive(cl, &stop, seed));
        let mut runner = Runner::new(cl, &auditor, &power);
        let start = runner.start();
        start.print();
        let started = !start.failed();
        lines.push(start);
        if !started {
            ended = End::NeverSettled;
            return;
        }
        for step in &plan {
            if interrupt::interrupted() {
                ended = End::Interrupted;
                break;
            }
            if cl.clock.now() > cap {
                ended = End::Capped;
                break;
            }
            sleep(step.pause);
            let line = runner.step(step);
            line.print();
            lines.push(line);
        }
    });
    let all_dual = auditor.all_dual();
    let summary = Summary {
        seed,
        lines: &lines,
        planned: plan.len(),
        samples: auditor.samples(),
        dual: &all_dual,
        ended,
    };
    summary.print();
    if !summary.failed() {
        println!("chaos: PASSED (seed {seed})");
        return 0;
    }
    failure_report(seed, args, &plan, &lines);
    1
}

fn failure_report(seed: u64, args: &args::Args, plan: &[Step], lines: &[Line]) {
    println!("\n==== chaos FAILED: seed {seed}");
    println!(
        "replay: cargo test --test chaos -- --seed {seed} --faults {} --nodes {}",
        args.faults, args.nodes
    );
    println!("the faults (as planned from the seed; as run):");
    for step in plan {
        println!("  #{:<3} planned: {step}", step.n);
        if let Some(l) = lines.iter().find(|l| l.n == step.n) {
            println!("        ran: {}", l.short());
        }
    }
    for l in lines.iter().filter(|l| l.new_failure()) {
        println!("\n==== failure at fault #{}:", l.n);
        l.print();
        if let Some(d) = &l.dump {
            print!("{d}");
        }
    }
    let carried: Vec<String> = lines
        .iter()
        .filter(|l| l.failed() && !l.new_failure())
        .map(|l| format!("#{}", l.n))
        .collect();
    if !carried.is_empty() {
        println!(
            "\n(faults {} only show what an earlier fault left: see that one)",
            carried.join(" ")
        );
    }
    println!("\n==== chaos FAILED: seed {seed} (see above)");
}
