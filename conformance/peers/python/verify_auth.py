#!/usr/bin/env python3
"""Verifies signed request frames (spec/protocol.md section 14) with auth.py, one per line.

Each stdin line is a JSON object: {"frame": hex, "now": Unix ms, "keys": {kid: public hex},
"audience": kid or null, "cache": name}. Frames naming the same cache share a replay cache.
Each stdout line is `ok`, or the code: a 1.2 decoding code (uhome.decode_payload) or one of
unauthenticated, unknown_key, stale, bad_signature, forbidden, replayed.
"""

import json
import sys

import auth
import uhome


def main() -> None:
    caches: dict[str, auth.ReplayCache] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        frame = bytes.fromhex(case["frame"])
        version, status = int.from_bytes(frame[2:4], "big"), frame[4]
        payload = frame[5:]
        try:
            uhome.decode_payload(version, payload)
        except uhome.DecodeError as refusal:
            print(refusal.code, flush=True)
            continue
        keys = {kid: bytes.fromhex(k) for kid, k in case["keys"].items()}
        cache = caches.setdefault(case["cache"], auth.ReplayCache())
        code = auth.verify_request(version, status, payload, keys, case["now"], cache,
                                   own_kid=case.get("audience"))
        print(code or "ok", flush=True)


if __name__ == "__main__":
    main()
