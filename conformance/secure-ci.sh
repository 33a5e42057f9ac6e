#!/usr/bin/env bash
# The `uhome` binary's broker, registry and a service in secure mode, and the Python peer's
# node in secure mode, checked by the secure roles of uhome-conformance as a user would: keys
# from `uhome key new`, a policy file, a profile holding the test keys' secrets. Reports go to
# target/conformance/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="target/conformance"
mkdir -p "$out"
cargo build -q -p uhome-conformance -p uhome-cli
suite="target/debug/uhome-conformance"
uhome="target/debug/uhome"

work="$(mktemp -d)"
# The nodes' process ids, one per line: `start` runs in a command substitution's subshell.
pidfile="$work/pids"
: >"$pidfile"
cleanup() {
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$pidfile"
    rm -rf "$work"
}
trap cleanup EXIT

for name in registry broker client service python; do
    "$uhome" key new "$work/$name.key" >"$work/$name.pub"
done
public() { sed -n 's/^public //p' "$work/$1.pub"; }
secret() { tr -d '\n' <"$work/$1.key"; }

cat >"$work/policy.toml" <<EOF
mode = "secure"

[outbound]
allow = ["127.0.0.1/32"]

[[node]]
id = "µHome/core/serviceRegistry"
key = "$(public registry)"
role = "registry"

[[node]]
id = "µHome/core/eventBroker"
key = "$(public broker)"
role = "broker"

[[node]]
id = "ci/client"
key = "$(public client)"
publish = ["ci.secure.allowed"]
subscribe = ["ci.secure.*"]

[[node]]
id = "ci/service"
key = "$(public service)"

[[node]]
id = "python/secure"
key = "$(public python)"
EOF

# The profile of the node whose key is $1.
profile() {
    cat <<EOF
{
  "security": {
    "nodeKey": "$(public "$1")",
    "client": { "nodeId": "ci/client", "secret": "$(secret client)" },
    "registry": { "nodeId": "µHome/core/serviceRegistry", "secret": "$(secret registry)" },
    "broker": { "nodeId": "µHome/core/eventBroker", "secret": "$(secret broker)" },
    "publishAllowed": "ci.secure.allowed",
    "publishForbidden": "home.door.unlock",
    "subscribeForbidden": "home.>",
    "outboundDenied": "127.0.0.2:9",
    "subscribedType": "ci.secure.allowed"
  }
}
EOF
}
profile broker >"$work/broker.json"
profile registry >"$work/registry.json"
profile service >"$work/service.json"
profile python >"$work/python.json"

# Starts `uhome $1 …` on an ephemeral port; prints the address it listens on.
start() {
    local log="$work/$1.log"
    "$uhome" "$@" >"$log" 2>&1 &
    echo "$!" >>"$pidfile"
    for _ in $(seq 100); do
        grep -q "^µHome $1 .*on " "$log" && break
        sleep 0.1
    done
    local addr
    addr="$(sed -n "s/^µHome $1 .*on \([^ ]*\)\$/\1/p" "$log" | head -n 1)"
    if [ -z "$addr" ]; then
        echo "uhome $1 did not start:" >&2; cat "$log" >&2; exit 2
    fi
    echo "$addr"
}

echo "== uhome broker --policy --key-file, through the secure broker role"
broker="$(start broker --listen 127.0.0.1:0 --policy "$work/policy.toml" --key-file "$work/broker.key")"
"$suite" secure --as broker --target "$broker" --profile "$work/broker.json" \
    --json "$out/uhome-secure-broker.json" --junit "$out/uhome-secure-broker.xml"

echo "== uhome registry --policy --key-file, through the secure registry role (the suite plays its broker)"
listen="127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
registry="$(start registry --listen 127.0.0.1:0 --broker "$listen" --data-dir "$work/data" \
    --policy "$work/policy.toml" --key-file "$work/registry.key")"
"$suite" secure --as registry --target "$registry" --broker-listen "$listen" --profile "$work/registry.json" \
    --json "$out/uhome-secure-registry.json" --junit "$out/uhome-secure-registry.xml"

echo "== uhome service --policy --key-file, through the secure service role (the suite delivers as the broker)"
# Registered nowhere (its registry and broker do not answer): the suite delivers to it directly.
service="$(start service --id ci/service --port 0 --log ci.secure.allowed --registry 127.0.0.1:9 \
    --broker 127.0.0.1:9 --policy "$work/policy.toml" --key-file "$work/service.key")"
"$suite" secure --as service --target "$service" --profile "$work/service.json" \
    --json "$out/uhome-secure-service.json" --junit "$out/uhome-secure-service.xml"

echo "== the Python peer's node in secure mode, through the secure service role"
peer="conformance/peers/python"
log="$work/python.log"
python3 "$peer/node.py" --listen 127.0.0.1:0 --id python/secure --idle-timeout 5 \
    --handle ci.secure.allowed --key-file "$work/python.key" --policy "$work/policy.toml" >"$log" 2>&1 &
echo "$!" >>"$pidfile"
for _ in $(seq 100); do
    grep -q '^listening on ' "$log" && break
    sleep 0.1
done
python_addr="$(sed -n 's/^listening on //p' "$log" | head -n 1)"
if [ -z "$python_addr" ]; then
    echo "the Python node did not start:" >&2; cat "$log" >&2; exit 2
fi
"$suite" secure --as service --target "$python_addr" --profile "$work/python.json" \
    --json "$out/python-secure.json" --junit "$out/python-secure.xml"
