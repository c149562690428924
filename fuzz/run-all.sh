#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10 million), starting
# from the seeds in seeds/, and prints libFuzzer's final line per target.
# Needs a nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")"
runs="${RUNS:-10000000}"
for target in token_response expiry arc_challenge vault_challenge secret_and_error caller_input egress_check core_rules; do
    mkdir -p "corpus/$target"
    cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
    echo "== $target ($runs runs)"
    cargo +nightly fuzz run -O -a "$target" "corpus/$target" -- -runs="$runs" -max_len=4096 2>&1 | grep -E "^Done|crash|panicked|ERROR|SUMMARY" || true
done
