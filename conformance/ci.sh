#!/usr/bin/env bash
# Conformance runs for .ci/run: the reference runtime (the embedded default), then the
# Python peer's decoder through every vector and 60 s of differential fuzzing, its node through
# the node cases and 60 s of fuzzing, and its node in service mode (--registry) through the
# service role, started by the suite; then the `uhome` binary's broker and registry in secure
# mode through the secure roles (secure-ci.sh).
# Reports go to target/conformance/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="target/conformance"
mkdir -p "$out"
cargo build -q -p uhome-conformance
suite="target/debug/uhome-conformance"

echo "== the reference runtime (broker, registry and a service, in-process)"
"$suite" --json "$out/reference.json" --junit "$out/reference.xml"

peer="conformance/peers/python"
echo "== the Python peer's decoder through every vector"
"$suite" vectors --exec "python3 $peer/decode.py" --json "$out/python-codec.json" --junit "$out/python-codec.xml"

echo "== 60 s of differential fuzzing of the Python peer's decoder against the reference"
"$suite" fuzz --exec "python3 $peer/decode.py" --time 60s --seed "${FUZZ_SEED:-$(date +%s)}" --out "$out/fuzz-findings"

echo "== the Python peer's node"
log="$(mktemp)"
python3 "$peer/node.py" --listen 127.0.0.1:0 --id python/peer --idle-timeout 5 >"$log" 2>&1 &
node=$!
trap 'kill "$node" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
    grep -q '^listening on ' "$log" && break
    sleep 0.1
done
addr="$(sed -n 's/^listening on //p' "$log" | head -n 1)"
if [ -z "$addr" ]; then
    echo "the Python node did not start:"; cat "$log"; exit 2
fi
"$suite" node --target "$addr" --profile "$peer/profile.json" --json "$out/python-node.json" --junit "$out/python-node.xml"

echo "== 60 s of differential fuzzing of the Python peer's node: replies against the reference exchange core"
"$suite" fuzz --target "$addr" --profile "$peer/profile.json" --time 60s --seed "${FUZZ_SEED:-$(date +%s)}" --out "$out/fuzz-node-findings"

echo "== the Python peer's node as a service, started by the suite"
"$suite" service --profile "$peer/service-profile.json" \
    --start-cmd "exec python3 $peer/node.py --listen 127.0.0.1:0 --id python/service --idle-timeout 5 --registry {registry} --broker {broker} --subscribe 'python.>' --refresh-interval 1" \
    --json "$out/python-service.json" --junit "$out/python-service.xml"

echo "== the uhome binary's broker and registry in secure mode, through the secure roles"
bash conformance/secure-ci.sh
