//! Replays every fuzz corpus file, and every crash libFuzzer saved under
//! fuzz/artifacts/, through the functions the fuzz targets call: under
//! stable, on every `cargo test`, so the corpora are checked where nightly
//! (and so cargo-fuzz) is missing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use svcmgr::fuzzing::{TARGETS, seeds};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_corpus_file_and_past_crash_replays_without_a_panic() {
    let mut failed = Vec::new();
    for (name, run) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} has no seed");
        let crashes = files(&fuzz_dir().join("artifacts").join(name));
        for f in corpus.iter().chain(&crashes) {
            let data = std::fs::read(f).unwrap();
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(f.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "these inputs panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (name, _) in TARGETS {
        let f = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(
            text.contains(&format!("svcmgr::fuzzing::{name}(data)")),
            "{} must be one call to svcmgr::fuzzing::{name}",
            f.display()
        );
    }
}

/// Writes the seeds no test file holds: datasets, requests, and frames
/// sealed with the fuzzers' key. Run on demand:
/// `cargo test --test integration -- --ignored tier2::fuzz_corpus::write_seeds`.
#[test]
#[ignore = "writes fuzz/corpus/: run on demand"]
fn write_seeds() {
    for (target, name, data) in seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// The generated seeds themselves pass, before anyone writes them out.
#[test]
fn generated_seeds_replay_without_a_panic() {
    for (target, name, data) in seeds() {
        let run = TARGETS.iter().find(|(n, _)| *n == target).unwrap().1;
        assert!(
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_ok(),
            "{target}/{name}"
        );
    }
}
