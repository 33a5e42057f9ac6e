#!/usr/bin/env bash
# Fuzz smoke run, for .ci/run: builds the seed corpus from spec/vectors and runs every fuzz
# target for FUZZ_SECONDS (default 30) seconds. Fails on any crash, hang, leak or OOM.
# Skips (exit 0, saying why) when nightly Rust or cargo-fuzz is not installed: the same
# properties still run on stable through `cargo test --workspace` (fuzz/checks).
#
#   bash fuzz/ci.sh              # from anywhere in a clone
#   FUZZ_SECONDS=5 bash fuzz/ci.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-30}"
targets=(frame_decode event_decode stream_chunks roundtrip json_differential connection)

if ! command -v cargo >/dev/null 2>&1; then
    echo "fuzz smoke run SKIPPED: cargo is not installed"
    exit 0
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz smoke run SKIPPED: no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke run SKIPPED: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "fuzz smoke run SKIPPED: python3 is needed to build the seed corpus"
    exit 0
fi

echo "fuzz smoke run: $(cargo +nightly fuzz --version), ${seconds}s per target"
python3 fuzz/make_corpus.py

failed=()
for target in "${targets[@]}"; do
    echo "== fuzz ${target} (${seconds}s)"
    # In-process (no -jobs): libFuzzer's exit status is the verdict. -timeout catches hangs.
    if ! nice -n 10 cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
        -dict=fuzz/uhome.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz smoke run FAILED: ${failed[*]} (reproducers in fuzz/artifacts/<target>/;" \
        "minimize with cargo +nightly fuzz tmin <target> <file>, then save under" \
        "fuzz/regressions/<target>/)"
    exit 1
fi
echo "fuzz smoke run passed: ${#targets[@]} targets, ${seconds}s each, no crash"
