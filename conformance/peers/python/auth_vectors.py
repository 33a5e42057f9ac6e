#!/usr/bin/env python3
"""Runs spec/vectors/auth.json through auth.py: one line per vector, `<id> <code>`
(`valid` for an accepted frame). Standard library only.

    python3 auth_vectors.py PATH/auth.json

Each vector starts with fresh replay caches; the vectors its `after` names are verified
first with the same caches, as a node would have read them.
"""

import json
import sys

import auth
import uhome


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        doc = json.load(fh)
    keys = doc["keys"]
    setup = doc["verifier"]
    now, skew = setup["nowMs"], setup["skewMs"]
    by_id = {v["id"]: v for v in doc["vectors"]}

    def table(names):
        return {keys[n]["kid"]: bytes.fromhex(keys[n]["public"]) for n in names}

    node_kids = {k["nodeId"]: k["kid"] for k in keys.values()}

    def verify(v, frames, deliveries):
        frame = bytes.fromhex(v["hex"])
        if len(frame) < 5 or len(frame) < 5 + int.from_bytes(frame[:2], "big"):
            return "incomplete"
        version, status = int.from_bytes(frame[2:4], "big"), frame[4]
        payload = frame[5:5 + int.from_bytes(frame[:2], "big")]
        try:
            uhome.decode_payload(version, payload)
        except uhome.DecodeError as refusal:
            return refusal.code
        kind = v["kind"]
        if kind == "request":
            own = keys[setup["request"]["self"]]["kid"]
            code = auth.verify_request(version, status, payload,
                                       table(setup["request"]["trusted"]), now, frames,
                                       own_kid=own, skew_ms=skew)
        elif kind == "reply":
            code = auth.verify_reply(version, status, payload,
                                     table(setup["reply"]["trusted"]), now,
                                     v["requestNonce"], skew_ms=skew)
        else:
            own = keys[setup["delivery"]["self"]]["kid"]
            code = auth.verify_request(version, status, payload,
                                       table([setup["delivery"]["broker"]]), now, frames,
                                       own_kid=own, skew_ms=skew)
            if code is None:
                code = auth.verify_delivery_origin(
                    payload, table(setup["delivery"]["publishers"]), node_kids, now,
                    deliveries, skew_ms=skew)
        return code or "valid"

    for v in doc["vectors"]:
        frames = auth.ReplayCache(setup["replayCache"])
        deliveries = auth.ReplayCache(setup["replayCache"])
        for before in v["after"]:
            got = verify(by_id[before], frames, deliveries)
            if got != "valid":
                print("%s refused %s before it: %s" % (v["id"], before, got), file=sys.stderr)
                sys.exit(2)
        print(v["id"], verify(v, frames, deliveries), flush=True)


if __name__ == "__main__":
    main()
