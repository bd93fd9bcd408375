#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 30) and prints,
# per target, the executions and the crashes. Exits non-zero on any crash,
# naming the input libFuzzer saved and how to replay it.
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizers); installs
# cargo-fuzz from crates.io when it is missing. Without nightly it says so
# loudly and exits 0: tests/integration/tier2/fuzz_corpus.rs still replays
# every corpus file and every saved crash under stable, in `cargo test`.
#
# New inputs libFuzzer finds go to a scratch directory, so that a run never
# grows the committed corpora; copy an interesting one into fuzz/corpus/.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }

skipped() {
    {
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!!! FUZZING SKIPPED: $1"
        echo "!!!! Only the corpus replay (cargo test --test integration tier2::fuzz_corpus) ran."
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    } >&2
    exit 0
}

# Build and fuzz politely: the machine may be running other tests.
quiet=(nice -n 19 ionice -c3)

# CI installs what it needs: the nightly toolchain too.
if ! rustup toolchain list 2>/dev/null | grep -q nightly; then
    echo "== installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal ||
        skipped "no nightly toolchain, and rustup could not install it"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz from crates.io"
    "${quiet[@]}" cargo +nightly install cargo-fuzz --locked ||
        skipped "cargo-fuzz is missing and could not be installed"
fi

echo "== cargo fuzz build"
"${quiet[@]}" cargo +nightly fuzz build || { echo "the fuzz targets do not build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
summary=()
for t in $(cargo +nightly fuzz list); do
    echo "== fuzz $t for ${secs}s"
    mkdir -p "$work/$t" "fuzz/artifacts/$t"
    log=$work/$t.log
    # One process (libFuzzer's -jobs would fork workers that log to files
    # of their own); -timeout turns a hang into a saved input too.
    "${quiet[@]}" cargo +nightly fuzz run "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [[ -n $execs ]] || execs=$(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' "$log" | tail -1)
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [[ $rc -ne 0 || -n $crash ]]; then
        failed=1
        summary+=("$(printf '%-18s %12s executions  CRASH' "$t" "${execs:-?}")")
        tail -40 "$log" >&2
        echo "!!!! $t: crash saved in ${crash:-(no input saved; see the log above)}" >&2
        echo "!!!! replay: cargo +nightly fuzz run $t ${crash:-<file>}" >&2
        echo "!!!!     or: cargo test --test integration tier2::fuzz_corpus (replays fuzz/artifacts/ under stable)" >&2
    else
        summary+=("$(printf '%-18s %12s executions  0 crashes' "$t" "${execs:-?}")")
    fi
done

echo "== fuzzing, ${secs}s per target"
printf '%s\n' "${summary[@]}"
exit $failed
