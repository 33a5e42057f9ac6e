#!/usr/bin/env python3
"""Generate the µHome wire-protocol test vectors in spec/vectors/.

Python 3.11, standard library only.

    python3 spec/tools/gen_vectors.py           write every vector file
    python3 spec/tools/gen_vectors.py --check   exit 1 (naming the files) when a committed
                                                file differs from what would be written

Every expectation in the vectors (result, error code, decoded frame, reply) comes from
spec/protocol.md: it is written explicitly per vector, or derived from the Python structure
the payload was built from.  No JSON decoder is run on the vector bytes; Python's json
module is used only to *write* the vector files.  Payload bytes are produced by the small
encoder below (compact, like v0.0.1's JSON.stringify), or given raw where a vector needs
bytes no encoder would write.

The v0.0.1 captures (legacy.json, legacy-exchanges.json) are copied into this file from
the capture log; the generator checks its reconstruction of the truncated large captures
against the visible prefix, the stated sizes and the stated frame boundaries.

The signed frames of section 14 (UH-AUTH) go to spec/vectors/auth.json (auth_vectors.py);
they are not decode vectors and have their own layout (spec/vectors/README.md).
"""

import argparse
import json
import os
import re
import sys

import auth_vectors

SPEC_VERSION = "1.3.0"
HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_DIR = os.path.dirname(HERE)
VECTOR_DIR = os.path.join(SPEC_DIR, "vectors")
PROTOCOL_MD = os.path.join(SPEC_DIR, "protocol.md")
# The signed frames of section 14 (their own layout, not decode vectors).
AUTH_VECTORS = os.path.join(VECTOR_DIR, "auth.json")

MICRO = "\u00b5"          # µ MICRO SIGN, UTF-8 c2 b5 — the µ of every core name
GREEK_MU = "\u03bc"       # μ GREEK SMALL LETTER MU, UTF-8 ce bc — a different character

# ---------------------------------------------------------------------------------------
# JSON building blocks
# ---------------------------------------------------------------------------------------

MISSING = object()


class Num:
    """A JSON number written exactly as `text` (value compared as an exact decimal)."""

    def __init__(self, text):
        self.text = text


class Raw:
    """Raw payload bytes inserted verbatim; `value` is the JSON value they stand for
    (given explicitly by the vector author; MISSING when the bytes are not valid)."""

    def __init__(self, data, value=MISSING):
        self.data = data.encode("utf-8") if isinstance(data, str) else data
        self.value = value


class Key:
    """An object member name written as raw bytes between the quotes (`raw`), whose
    unescaped name is `name` (given explicitly)."""

    def __init__(self, raw, name):
        self.raw = raw.encode("utf-8") if isinstance(raw, str) else raw
        self.name = name


class Obj:
    """An object with members in order; names may repeat; names may be Key objects."""

    def __init__(self, pairs):
        self.pairs = list(pairs)


def js_string(s):
    """Quote a string the way JSON.stringify does (v0.0.1's writer)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def enc(v):
    """Encode a structure as compact JSON bytes (v0.0.1's layout)."""
    if v is None:
        return b"null"
    if v is True:
        return b"true"
    if v is False:
        return b"false"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, Num):
        return v.text.encode()
    if isinstance(v, str):
        return js_string(v).encode("utf-8")
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, list):
        return b"[" + b",".join(enc(x) for x in v) + b"]"
    if isinstance(v, dict):
        pairs = list(v.items())
    elif isinstance(v, Obj):
        pairs = v.pairs
    else:
        raise TypeError(repr(v))
    parts = []
    for k, x in pairs:
        kb = b'"' + k.raw + b'"' if isinstance(k, Key) else enc(k)
        parts.append(kb + b":" + enc(x))
    return b"{" + b",".join(parts) + b"}"


def val(v):
    """The JSON value a structure stands for (repeated names: the last one counts)."""
    if v is None or isinstance(v, (bool, int, str, Num)):
        return v
    if isinstance(v, Raw):
        if v.value is MISSING:
            raise ValueError("Raw without value used where a value is needed")
        return v.value
    if isinstance(v, list):
        return [val(x) for x in v]
    pairs = list(v.items()) if isinstance(v, dict) else v.pairs
    d = {}
    for k, x in pairs:
        d[k.name if isinstance(k, Key) else k] = val(x)
    return d


def depth(v):
    """[UH-JSON-8] depth of a value (used only to check the vectors' own construction)."""
    best, stack = 0, [(v, 0)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, (list, dict)):
            d += 1
            best = max(best, d)
            stack.extend((y, d) for y in (x if isinstance(x, list) else x.values()))
    return best


def nested_arrays(n, inner=MISSING):
    """n nested arrays: text and value ([] has depth 1)."""
    text = "[" * n + ("" if inner is MISSING else inner[0]) + "]" * n
    if n > 200:
        return Raw(text)
    v = [] if inner is MISSING else [inner[1]]
    for _ in range(n - 1):
        v = [v]
    return Raw(text, v)


def nested_objects(n):
    """n nested objects {"a":{"a":…{}…}} (depth n)."""
    text = '{"a":' * (n - 1) + "{}" + "}" * (n - 1)
    if n > 200:
        return Raw(text)
    v = {}
    for _ in range(n - 1):
        v = {"a": v}
    return Raw(text, v)


# ---------------------------------------------------------------------------------------
# Frames, events, replies
# ---------------------------------------------------------------------------------------

ID = "5f2b3c1e-8d4a-4e6b-9c7d-1a2b3c4d5e6f"
TS = "2026-11-28T22:17:50.481Z"
SRC = "test/vectors"
SERVICE = MICRO + "Home/testService"
T_UNKNOWN = "test.unknown"   # a type no broker has a handler for


def header(length, version, status):
    return length.to_bytes(2, "big") + version.to_bytes(2, "big") + bytes([status])


def frame_bytes(payload, version=2, status=1, length=None, tail=b""):
    pb = payload if isinstance(payload, bytes) else enc(payload)
    return header(len(pb) if length is None else length, version, status) + pb + tail


def env(type=T_UNKNOWN, data=MISSING, error=MISSING, id=ID, timestamp=TS, source=SRC,
        extra=()):
    """A v2 event envelope, members in v0.0.1's order; MISSING leaves a member out."""
    pairs = [(k, v) for k, v in (("id", id), ("timestamp", timestamp), ("source", source),
                                 ("type", type)) if v is not MISSING]
    if data is not MISSING:
        pairs.append(("data", data))
    if error is not MISSING:
        pairs.append(("error", error))
    pairs.extend(extra)
    return Obj(pairs)


def event_of(d, v1=False):
    """[UH-EVENT-*] / [UH-VERSION-2]: the canonical `event` of a decoded object."""
    ev = {}
    for k in ("id", "timestamp", "source", "type"):
        x = d.get(k, MISSING)
        if v1:
            ev[k] = x if isinstance(x, str) else ""
        else:
            assert isinstance(x, str) and x, "a valid v2 event needs non-empty %s" % k
            ev[k] = x
    for k in ("data", "error"):
        if k in d:
            ev[k] = d[k]
    return ev


def fr(payload, version=2, status=1, length=None):
    """The canonical decoded frame of a valid payload structure."""
    pb = enc(payload)
    out = {"version": version, "status": status,
           "length": len(pb) if length is None else length}
    v = val(payload)
    if version == 2:
        assert isinstance(v, dict)
        out["event"] = event_of(v)
    elif version == 1:
        if isinstance(v, dict) and isinstance(v.get("type"), str):
            out["event"] = event_of(v, v1=True)
        out["json"] = v
    else:
        raise AssertionError("only versions 1 and 2 decode")
    return out


# Appendix B
ERROR_MESSAGES = {
    "too_large": "Payload too large",
    "unsupported_version": "Unsupported protocol version",
    "bad_status": "Error in Message",
    "invalid_utf8": "Payload is not valid UTF-8",
    "invalid_json": "Payload is not valid JSON",
    "too_deep": "Payload nests too deeply",
    "duplicate_member": "Duplicate member in event",
    "invalid_event": "Invalid event",
    "internal": "Internal error",
}
FAILURE_MESSAGES = {
    "register": "Failed to register microservice",
    "unregister": "Failed to unregister microservice",
    "nodes": "Failed to update active nodes",
    "subscribe": "Failed to subscribe for microservice to event",
    "unsubscribe": "Failed to unsubscribe for microservice from event",
    "publish": "Failed to publish event",
}
RESPONSE_MESSAGES = {
    "healthy": "Service is healthy",
    "nodes": "Active nodes",
    "nodes_updated": "Succesfully updated active nodes",
    "subscribed": "Successful subscribed to event",
    "unsubscribed": "Successfully unsubscribed from event",
    "published": "Event published",
    "queued": "Event queued",
    "no_handler": "No Handler for Event registered",
}
DECODER_ERRORS = ("incomplete", "unsupported_version", "invalid_utf8", "invalid_json",
                  "too_deep", "duplicate_member", "invalid_event")


def ok(code, role="any", message=None):
    return {"role": role, "status": 1, "type": MICRO + "Home.response", "code": code,
            "message": RESPONSE_MESSAGES[code] if message is None else message}


def err(code, role="any", message=None, reason=None, status=2, member=None):
    r = {"role": role, "status": status, "type": MICRO + "Home.error", "code": code,
         "message": ERROR_MESSAGES[code] if message is None else message}
    if reason is not None:
        r["reason"] = reason
    if member is not None:
        # [UH-REPLY-11]: the reason names this member, between double quotes.
        r["member"] = member
    return r


def core_err(kind, code="invalid_data", reason=None):
    role = "registry" if kind in ("register", "unregister") else "broker"
    return err(code, role, FAILURE_MESSAGES[kind], reason)


NO_HANDLER_ANY = ok("no_handler")


# ---------------------------------------------------------------------------------------
# Vector files
# ---------------------------------------------------------------------------------------

def needed_for(data):
    """[UH-FRAME-2]/[UH-FRAME-3]: bytes still missing for the first frame (0 = complete)."""
    if len(data) < 5:
        return 5 - len(data)
    return max(0, 5 + int.from_bytes(data[0:2], "big") - len(data))


class VectorFile:
    def __init__(self, name, description, flags):
        self.name = name
        self.description = description
        self.flags = flags
        self.vectors = []

    def add(self, slug, description, data, result, *, frame=None, error=None, reply=None,
            reqs, flags=()):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
        assert "\n" not in description
        assert result in ("valid", "invalid", "acceptable")
        missing = needed_for(data)
        reqs = list(reqs)
        if error == "incomplete" and "UH-FRAME-7" not in reqs:
            reqs.append("UH-FRAME-7")
        if reply is not None and "member" in reply and "UH-REPLY-11" not in reqs:
            reqs.append("UH-REPLY-11")
        v = {"id": "%s/%s" % (self.name, slug), "description": description,
             "hex": data.hex(), "result": result}
        if result == "valid":
            assert frame is not None and error is None
        else:
            assert error in DECODER_ERRORS, error
        if result == "invalid":
            assert frame is None
        if error == "incomplete":
            assert result == "invalid" and missing > 0 and reply is None
        else:
            assert missing == 0, (slug, missing)
        if frame is not None:
            L = int.from_bytes(data[0:2], "big")
            assert (frame["length"], frame["version"], frame["status"]) == (
                L, int.from_bytes(data[2:4], "big"), data[4]), slug
            assert len(data) >= 5 + L
            assert ("event" in frame) or ("json" in frame)
            v["frame"] = frame
        if error is not None:
            v["error"] = error
        if error == "incomplete":
            v["needed"] = missing
        if reply is not None:
            v["reply"] = reply
        assert reqs, slug
        v["requirements"] = list(reqs)
        for f in flags:
            assert f in self.flags, (slug, f)
        v["flags"] = list(flags)
        self.vectors.append(v)
        return v

    def document(self):
        used = {f for v in self.vectors for f in v["flags"]}
        unused = set(self.flags) - used
        assert not unused, (self.name, unused)
        return {"name": self.name, "description": self.description,
                "specVersion": SPEC_VERSION, "flags": self.flags, "vectors": self.vectors}


# ---------------------------------------------------------------------------------------
# frame.json
# ---------------------------------------------------------------------------------------

def padded_env(total, type="test.frame", **kw):
    """A v2 envelope whose payload is exactly `total` bytes (data {"pad":"xxx…"})."""
    base = len(enc(env(type, data={"pad": ""}, **kw)))
    assert total >= base
    e = env(type, data={"pad": "x" * (total - base)}, **kw)
    assert len(enc(e)) == total
    return e


def gen_frame():
    f = VectorFile("frame", "Header and framing [UH-FRAME-1..3]: 0 to 4 header bytes, length "
                   "0 and 65535, truncated payloads, bytes after the frame, lengths read "
                   "unsigned and big-endian.", {
                       "Incomplete": "the input ends before the first frame does; the "
                                     "decoder needs `needed` more bytes",
                       "TrailingBytes": "bytes follow the first frame; they belong to the "
                                        "next frame and do not affect the first",
                       "LargePayload": "payload of 32768 bytes or more",
                       "Unsigned": "a header field whose top bit is set: read unsigned, "
                                   "big-endian",
                       "EmptyPayload": "length 0",
                       "V1": "version 1 frame: any JSON text",
                       "NodeLimit": NODE_LIMIT,
                   })
    small = env("test.frame")
    sb = frame_bytes(small)
    n = len(enc(small))
    # --- header bytes missing
    for k in range(5):
        f.add("header-%d-bytes" % k,
              "%d of the 5 header bytes: incomplete, %d header byte%s missing"
              % (k, 5 - k, "s" if 5 - k > 1 else ""),
              sb[:k], "invalid", error="incomplete", reqs=["UH-FRAME-1", "UH-FRAME-3"],
              flags=["Incomplete"])
    f.add("header-only-length-16", "a complete header announcing 16 payload bytes and none "
          "of them", header(16, 2, 1), "invalid", error="incomplete",
          reqs=["UH-FRAME-2", "UH-FRAME-3"], flags=["Incomplete"])
    # --- length 0
    f.add("length-0-v2", "length 0, version 2: a complete frame whose empty payload is not "
          "a JSON text", header(0, 2, 1), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=["UH-FRAME-2", "UH-JSON-1"], flags=["EmptyPayload"])
    f.add("length-0-v1", "length 0, version 1: the empty payload is not a JSON text",
          header(0, 1, 1), "invalid", error="invalid_json", reply=err("invalid_json"),
          reqs=["UH-FRAME-2", "UH-JSON-1", "UH-VERSION-2"], flags=["EmptyPayload", "V1"])
    f.add("length-0-then-frame", "an empty-payload frame followed by a complete frame: the "
          "first frame ends after its 5 header bytes", header(0, 2, 1) + sb, "invalid",
          error="invalid_json", reply=err("invalid_json"),
          reqs=["UH-FRAME-2", "UH-JSON-1"], flags=["EmptyPayload", "TrailingBytes"])
    # --- complete / truncated
    f.add("complete-v2", "a minimal v2 event, exactly 5 + length bytes", sb, "valid",
          frame=fr(small), reply=NO_HANDLER_ANY, reqs=["UH-FRAME-1", "UH-FRAME-2"])
    for cut, what in ((1, "the last payload byte missing"),
                      (n // 2, "half of the payload missing"),
                      (n - 1, "only the first payload byte present"),
                      (n, "the header and no payload byte")):
        f.add("truncated-payload-missing-%d" % cut,
              "a v2 frame of length %d with %s: incomplete, %d byte%s needed"
              % (n, what, cut, "s" if cut > 1 else ""), sb[:len(sb) - cut], "invalid", error="incomplete",
              reqs=["UH-FRAME-2", "UH-FRAME-3"], flags=["Incomplete"])
    one = Num("7")
    f.add("v1-single-byte", "the smallest useful frame: version 1, length 1, payload 7",
          frame_bytes(one, 1), "valid", frame=fr(one, 1), reply=ok("no_handler"),
          reqs=["UH-FRAME-1", "UH-FRAME-2", "UH-VERSION-2"], flags=["V1"])
    arr = []
    f.add("v1-empty-array", "version 1, payload [] (2 bytes)", frame_bytes(arr, 1), "valid",
          frame=fr(arr, 1), reply=ok("no_handler"),
          reqs=["UH-FRAME-2", "UH-VERSION-2"], flags=["V1"])
    # --- bytes after the frame
    other = env("test.second")
    f.add("followed-by-frame", "a complete frame followed by a second complete frame: the "
          "first is decoded alone", sb + frame_bytes(other), "valid", frame=fr(small),
          reply=NO_HANDLER_ANY, reqs=["UH-FRAME-2", "UH-EXCHANGE-4"],
          flags=["TrailingBytes"])
    for k in (1, 3, 4):
        f.add("followed-by-%d-header-bytes" % k,
              "a complete frame followed by %d byte%s of the next frame's header"
              % (k, "s" if k > 1 else ""),
              sb + frame_bytes(other)[:k], "valid", frame=fr(small), reply=NO_HANDLER_ANY,
              reqs=["UH-FRAME-2", "UH-EXCHANGE-4"], flags=["TrailingBytes"])
    f.add("followed-by-partial-frame", "a complete frame followed by the header and part of "
          "the payload of the next", sb + frame_bytes(other)[:20], "valid", frame=fr(small),
          reply=NO_HANDLER_ANY, reqs=["UH-FRAME-2", "UH-EXCHANGE-4"],
          flags=["TrailingBytes"])
    f.add("followed-by-garbage", "a complete frame followed by bytes ff fe 00 that are not "
          "UTF-8: they belong to the next frame, not to this payload",
          sb + b"\xff\xfe\x00", "valid", frame=fr(small), reply=NO_HANDLER_ANY,
          reqs=["UH-FRAME-2"], flags=["TrailingBytes"])
    f.add("followed-by-header-of-empty-frame", "a v1 frame followed by a header of length 0",
          frame_bytes(arr, 1) + header(0, 2, 1), "valid", frame=fr(arr, 1),
          reply=ok("no_handler"), reqs=["UH-FRAME-2"], flags=["TrailingBytes", "V1"])
    # --- length delimits, not the JSON
    f.add("length-shorter-than-json-number", "version 1, payload bytes 1 2 3 but length 2: "
          "the payload is the number 12 and the 3 is the next frame's first byte",
          header(2, 1, 1) + b"123", "valid", frame=fr(Num("12"), 1),
          reply=ok("no_handler"), reqs=["UH-FRAME-2"], flags=["TrailingBytes", "V1"])
    f.add("length-cuts-json", "version 1, bytes [1,2] but length 3: the payload [1, is not a "
          "JSON text", header(3, 1, 1) + b"[1,2]", "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=["UH-FRAME-2", "UH-JSON-1"],
          flags=["TrailingBytes", "V1"])
    f.add("length-cuts-envelope", "a v2 event whose length stops one byte before the closing "
          "brace: the payload is not a JSON text", header(n - 1, 2, 1) + enc(small),
          "invalid", error="invalid_json", reply=err("invalid_json"),
          reqs=["UH-FRAME-2", "UH-JSON-1"], flags=["TrailingBytes"])
    f.add("length-longer-than-json", "version 1, payload [1] sent with length 5: a receiver "
          "waits for 2 more bytes instead of reading a short payload",
          header(5, 1, 1) + b"[1]", "invalid", error="incomplete",
          reqs=["UH-FRAME-3"], flags=["Incomplete", "V1"])
    # --- unsigned, big-endian lengths
    f.add("length-0x8000-header-only", "header with length 0x8000 and no payload: 32768 bytes "
          "needed (a signed reader would see a negative length)", header(0x8000, 2, 1),
          "invalid", error="incomplete", reqs=["UH-FRAME-1", "UH-FRAME-3"],
          flags=["Incomplete", "Unsigned"])
    f.add("length-0xffff-header-only", "header with length 0xffff and no payload: 65535 bytes "
          "needed", header(0xFFFF, 2, 1), "invalid", error="incomplete",
          reqs=["UH-FRAME-1", "UH-FRAME-2", "UH-FRAME-3"], flags=["Incomplete", "Unsigned"])
    e256 = padded_env(256)
    f.add("length-256-big-endian", "length 0x0100 = 256 (a little-endian reader would take 1)",
          frame_bytes(e256), "valid", frame=fr(e256), reply=NO_HANDLER_ANY,
          reqs=["UH-FRAME-1", "UH-FRAME-2"])
    s8001 = "y" * (0x8001 - 2)
    f.add("length-0x8001-v1", "version 1, a JSON string payload of length 0x8001 = 32769",
          frame_bytes(s8001, 1), "valid", frame=fr(s8001, 1), reply=ok("no_handler"),
          reqs=["UH-FRAME-1", "UH-FRAME-2", "UH-FRAME-6"],
          flags=["LargePayload", "Unsigned", "V1", "NodeLimit"])
    e4k = padded_env(4096)
    f.add("length-4096", "a v2 event of 4096 payload bytes, the least every node MUST accept",
          frame_bytes(e4k), "valid", frame=fr(e4k), reply=NO_HANDLER_ANY,
          reqs=["UH-FRAME-2", "UH-FRAME-6"])
    e64k = padded_env(0xFFFF)
    big = frame_bytes(e64k)
    f.add("length-65535", "the largest frame: a v2 event of exactly 65535 payload bytes",
          big, "valid", frame=fr(e64k), reply=NO_HANDLER_ANY,
          reqs=["UH-FRAME-2", "UH-FRAME-6"], flags=["LargePayload", "Unsigned", "NodeLimit"])
    f.add("length-65535-missing-1", "the 65535-byte frame without its last byte: 1 byte "
          "needed", big[:-1], "invalid", error="incomplete",
          reqs=["UH-FRAME-2", "UH-FRAME-3"], flags=["Incomplete", "LargePayload", "Unsigned"])
    f.add("length-65535-followed-by-frame", "the 65535-byte frame followed by a small frame",
          big + sb, "valid", frame=fr(e64k), reply=NO_HANDLER_ANY,
          reqs=["UH-FRAME-2", "UH-EXCHANGE-4"],
          flags=["LargePayload", "TrailingBytes", "Unsigned", "NodeLimit"])
    f.add("reply-frame-status-2", "a reply frame (µHome.error, status 2) decodes like any "
          "other frame; as a request it is answered bad_status",
          frame_bytes(env(MICRO + "Home.error", error={"message": "m", "code": "invalid_json"}),
                      status=2), "valid",
          frame=fr(env(MICRO + "Home.error", error={"message": "m", "code": "invalid_json"}),
                   status=2),
          reply=err("bad_status"), reqs=["UH-FRAME-1", "UH-STATUS-3", "UH-REPLY-3"])
    return f


# ---------------------------------------------------------------------------------------
# version-status.json
# ---------------------------------------------------------------------------------------

def gen_version_status():
    f = VectorFile("version-status", "Versions [UH-VERSION-*] and status values "
                   "[UH-STATUS-*], and the order in which a node checks them "
                   "[UH-EXCHANGE-10].", {
                       "Version": "the vector is about the version field",
                       "Status": "the vector is about the status byte; decoders accept "
                                 "every status, `reply` gives what a node answers",
                       "Unsigned": "a header field whose top bit is set: read unsigned, "
                                   "big-endian",
                       "Precedence": "the input has several faults; the vector checks "
                                     "which one decides ([UH-EXCHANGE-10], section 6 "
                                     "\"Checks in order\")",
                       "V1": "version 1 frame",
                   })
    e = env(T_UNKNOWN)
    hc = env(MICRO + "Home.core.healthcheck")
    # --- versions
    f.add("version-2", "version 2 with a valid event: decoded", frame_bytes(e, 2), "valid",
          frame=fr(e), reply=NO_HANDLER_ANY, reqs=["UH-VERSION-1", "UH-VERSION-3"],
          flags=["Version"])
    f.add("version-1-event", "version 1 with the same event object: decoded as a v1 event",
          frame_bytes(e, 1), "valid", frame=fr(e, 1), reply=NO_HANDLER_ANY,
          reqs=["UH-VERSION-1", "UH-VERSION-2"], flags=["Version", "V1"])
    f.add("version-1-healthcheck", "version 1 healthcheck event: dispatched like v2, the "
          "reply is version 2", frame_bytes(hc, 1), "valid", frame=fr(hc, 1),
          reply=ok("healthy"), reqs=["UH-VERSION-2", "UH-VERSION-5", "UH-CORE-2"],
          flags=["Version", "V1"])
    for v, why in ((0, "version 0 (v0.0.1 served it like 2)"),
                   (3, "version 3"),
                   (99, "version 99 (v0.0.1 served it like 2)"),
                   (0x0100, "version 0x0100 = 256 (a little-endian reader would take 1)"),
                   (0x0200, "version 0x0200 = 512 (a little-endian reader would take 2)"),
                   (0x7878, "version 0x7878 (bytes 'xx')"),
                   (0x8002, "version 0x8002 (top bit set)"),
                   (0xFFFF, "version 0xffff")):
        flags = ["Version"] + (["Unsigned"] if v >= 0x8000 else [])
        f.add("version-%d" % v if v < 256 else "version-0x%04x" % v,
              "%s with a valid event: not interpreted, answered unsupported_version" % why,
              frame_bytes(e, v), "invalid", error="unsupported_version",
              reply=err("unsupported_version"), reqs=["UH-VERSION-4", "UH-FRAME-1"],
              flags=flags)
    f.add("version-3-followed-by-frame", "an unsupported version is still delimited by its "
          "length: a following v2 frame is untouched", frame_bytes(e, 3) + frame_bytes(e),
          "invalid", error="unsupported_version", reply=err("unsupported_version"),
          reqs=["UH-VERSION-4", "UH-FRAME-2"], flags=["Version"])
    f.add("version-0-length-0", "version 0 with an empty payload: the version decides",
          header(0, 0, 1), "invalid", error="unsupported_version",
          reply=err("unsupported_version"), reqs=["UH-VERSION-4", "UH-EXCHANGE-10"],
          flags=["Version", "Precedence"])
    f.add("version-3-invalid-json", "version 3 with a payload that is not JSON: the payload "
          "is not interpreted", frame_bytes(b"not json!!", 3), "invalid",
          error="unsupported_version", reply=err("unsupported_version"),
          reqs=["UH-VERSION-4", "UH-EXCHANGE-10"], flags=["Version", "Precedence"])
    f.add("version-99-invalid-utf8", "version 99 with a payload that is not UTF-8: the "
          "payload is not interpreted", frame_bytes(b'{"a":"\xff"}', 99), "invalid",
          error="unsupported_version", reply=err("unsupported_version"),
          reqs=["UH-VERSION-4", "UH-EXCHANGE-10"], flags=["Version", "Precedence"])
    f.add("version-3-status-0", "version 3 and status 0: the version is checked first",
          frame_bytes(e, 3, 0), "invalid", error="unsupported_version",
          reply=err("unsupported_version"), reqs=["UH-EXCHANGE-10", "UH-VERSION-4"],
          flags=["Version", "Status", "Precedence"])
    f.add("version-0x7878-status-0x78", "header 78 78 78 78 78 (v0.0.1's pseudo-frames of "
          "'x' bytes): unsupported_version, not bad_status",
          frame_bytes(b"x" * 40, 0x7878, 0x78), "invalid", error="unsupported_version",
          reply=err("unsupported_version"), reqs=["UH-EXCHANGE-10", "UH-VERSION-4"],
          flags=["Version", "Status", "Precedence"])
    f.add("version-0xffff-status-0xff", "every header bit set except the length: "
          "unsupported_version", frame_bytes(e, 0xFFFF, 0xFF), "invalid",
          error="unsupported_version", reply=err("unsupported_version"),
          reqs=["UH-EXCHANGE-10", "UH-VERSION-4"],
          flags=["Version", "Status", "Precedence", "Unsigned"])
    # --- statuses
    for s in (0, 1, 2, 3, 0x7F, 0x80, 0xFF):
        flags = ["Status"] + (["Unsigned"] if s >= 0x80 else [])
        if s == 1:
            f.add("status-1", "status 1 (ok): a well-formed request", frame_bytes(e, 2, 1),
                  "valid", frame=fr(e, 2, 1), reply=NO_HANDLER_ANY,
                  reqs=["UH-STATUS-1", "UH-STATUS-2", "UH-FRAME-4"], flags=flags)
            continue
        kind = {0: "the replier's fault", 2: "the requester's fault"}.get(s, "reserved")
        f.add("status-%d" % s if s < 16 else "status-0x%02x" % s,
              "status %d (%s) decodes as %d; as a request it is answered bad_status and "
              "not dispatched" % (s, kind, s), frame_bytes(e, 2, s), "valid",
              frame=fr(e, 2, s), reply=err("bad_status"),
              reqs=["UH-FRAME-4", "UH-STATUS-1", "UH-STATUS-3"], flags=flags)
    f.add("status-0-healthcheck", "a healthcheck with status 0 is not dispatched: bad_status, "
          "not healthy", frame_bytes(hc, 2, 0), "valid", frame=fr(hc, 2, 0),
          reply=err("bad_status"), reqs=["UH-STATUS-3", "UH-CORE-2"], flags=["Status"])
    f.add("status-2-v1", "version 1 payload with status 2: bad_status",
          frame_bytes([1, 2], 1, 2), "valid", frame=fr([1, 2], 1, 2),
          reply=err("bad_status"), reqs=["UH-STATUS-3", "UH-VERSION-2"],
          flags=["Status", "V1"])
    # --- status before payload decoding
    f.add("status-0-invalid-json", "status 0 and a payload that is not JSON: decoders refuse "
          "invalid_json, a node answers bad_status first", frame_bytes(b"not json!!", 2, 0),
          "invalid", error="invalid_json", reply=err("bad_status"),
          reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-JSON-1"], flags=["Status", "Precedence"])
    f.add("status-0-length-0", "status 0 and an empty payload: bad_status",
          header(0, 2, 0), "invalid", error="invalid_json", reply=err("bad_status"),
          reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-JSON-1"], flags=["Status", "Precedence"])
    f.add("status-2-invalid-utf8", "status 2 and a payload that is not UTF-8: bad_status",
          frame_bytes(enc(env(T_UNKNOWN, data=Raw(b'"\xc0\xaf"'))), 2, 2), "invalid",
          error="invalid_utf8", reply=err("bad_status"),
          reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-JSON-2"], flags=["Status", "Precedence"])
    no_type = env(MISSING)
    f.add("status-0-no-type", "status 0 and a v2 event without type: bad_status",
          frame_bytes(no_type, 2, 0), "invalid", error="invalid_event",
          reply=err("bad_status"), reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-EVENT-2"],
          flags=["Status", "Precedence"])
    dup = env(T_UNKNOWN, extra=[("type", "test.other")])
    f.add("status-0xff-duplicate-type", "status 0xff and a duplicate type member: bad_status",
          frame_bytes(dup, 2, 0xFF), "invalid", error="duplicate_member",
          reply=err("bad_status"), reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-EVENT-5"],
          flags=["Status", "Precedence", "Unsigned"])
    f.add("status-3-null-payload", "status 3 and the v2 payload null: bad_status",
          frame_bytes(None, 2, 3), "invalid", error="invalid_event",
          reply=err("bad_status"), reqs=["UH-EXCHANGE-10", "UH-STATUS-3", "UH-EVENT-1"],
          flags=["Status", "Precedence"])
    return f


# ---------------------------------------------------------------------------------------
# json.json
# ---------------------------------------------------------------------------------------

def gen_json():
    f = VectorFile("json", "The JSON grammar of section 5 [UH-JSON-1..9]: numbers, strings, "
                   "escapes, literals, structure, whitespace, byte order mark, depth. Most "
                   "cases sit in the `data` of an otherwise valid v2 event, so the JSON fault "
                   "is the only one; some are whole version 1 payloads.", {
                       "Number": "number grammar [UH-JSON-4]",
                       "String": "string grammar and escapes [UH-JSON-5]",
                       "Literal": "the literals true, false, null [UH-JSON-6]",
                       "Structure": "objects, arrays, commas, comments, top level "
                                    "[UH-JSON-6]",
                       "Whitespace": "whitespace between tokens [UH-JSON-6]",
                       "LoneSurrogate": "a \\u escape of a lone surrogate: acceptable "
                                        "[UH-JSON-7]; `frame` shows the U+FFFD replacement "
                                        "that an accepting receiver SHOULD make (a receiver "
                                        "that accepts without replacing is not tested here)",
                       "Depth": "nesting depth [UH-JSON-8]; the envelope object itself is "
                                "depth 1",
                       "DepthAbove64": "deeper than 64: a receiver MAY refuse with too_deep "
                                       "and MUST NOT fail otherwise; the reference refuses "
                                       "above 128. `frame` is given up to depth 128",
                       "InData": "the JSON case is the value of `data` in a valid v2 event",
                       "V1": "the JSON case is the whole payload of a version 1 frame",
                       "BOM": "byte order mark [UH-JSON-3]",
                       "Precedence": "two faults: the one first in byte order decides "
                                     "([UH-JSON-10])",
                   })
    T = "test.json"

    def data_case(slug, desc, raw, value=MISSING, *, result=None, error=None, reqs, flags=(),
                  frame=True):
        e = env(T, data=Raw(raw, value))
        b = frame_bytes(e)
        if result is None:
            result = "invalid" if value is MISSING else "valid"
        if result == "valid":
            f.add(slug, desc, b, "valid", frame=fr(e), reply=NO_HANDLER_ANY, reqs=reqs,
                  flags=["InData"] + list(flags))
        elif result == "invalid":
            f.add(slug, desc, b, "invalid", error=error or "invalid_json",
                  reply=err(error or "invalid_json"), reqs=reqs, flags=["InData"] + list(flags))
        else:
            f.add(slug, desc, b, "acceptable", error=error,
                  frame=fr(e) if frame and value is not MISSING else None, reqs=reqs,
                  flags=["InData"] + list(flags))

    def v1_case(slug, desc, raw, value=MISSING, *, result=None, error=None, reqs, flags=()):
        p = Raw(raw, value)
        b = frame_bytes(enc(p), 1)
        if result is None:
            result = "invalid" if value is MISSING else "valid"
        if result == "valid":
            fv = fr(p, 1)
            assert "event" not in fv
            f.add(slug, desc, b, "valid", frame=fv, reply=ok("no_handler"), reqs=reqs,
                  flags=["V1"] + list(flags))
        elif result == "invalid":
            f.add(slug, desc, b, "invalid", error=error or "invalid_json",
                  reply=err(error or "invalid_json"), reqs=reqs, flags=["V1"] + list(flags))
        else:
            f.add(slug, desc, b, "acceptable", error=error,
                  frame=fr(p, 1) if value is not MISSING else None, reqs=reqs,
                  flags=["V1"] + list(flags))

    N = ["UH-JSON-4"]
    # --- numbers, valid
    hundred = "1234567890" * 10
    for slug, raw, desc in (
            ("number-zero", "0", "0"),
            ("number-negative-zero", "-0", "-0"),
            ("number-integer", "123", "123"),
            ("number-negative", "-123", "-123"),
            ("number-fraction", "1.5", "1.5"),
            ("number-zero-fraction", "0.0", "0.0"),
            ("number-negative-zero-fraction-exp", "-0.0e0", "-0.0e0"),
            ("number-exp-lower", "1e5", "1e5"),
            ("number-exp-upper-plus", "1E+5", "1E+5"),
            ("number-exp-minus", "1.5e-3", "1.5e-3"),
            ("number-exp-leading-zeros", "1e005", "1e005 (exponent digits may have leading "
                                                  "zeros)"),
            ("number-huge-exponent", "1e400", "1e400 (beyond every binary double)"),
            ("number-tiny-exponent", "-1e-400", "-1e-400 (below every binary double)"),
            ("number-giant-exponent", "1e999999999", "1e999999999 (a nine-digit exponent)"),
            ("number-100-digits", hundred, "a 100-digit integer"),
            ("number-negative-100-digits", "-" + hundred, "a negative 100-digit integer"),
            ("number-100-fraction-digits", "0." + hundred, "0. followed by 100 digits"),
            ("number-int64-overflow", "9223372036854775808", "2^63, just above int64"),
            ("number-uint64-overflow", "18446744073709551616", "2^64, just above uint64")):
        data_case(slug, "data is the number %s: valid" % desc, raw, Num(raw), reqs=N,
                  flags=["Number"])
    arr = "[0,-1,2.5e10,-0.5E-2]"
    data_case("number-array", "data is an array of numbers: valid", arr,
              [0, -1, Num("2.5e10"), Num("-0.5E-2")], reqs=N, flags=["Number"])
    # --- numbers, invalid
    for slug, raw, desc in (
            ("number-leading-zero", "01", "01 (a leading zero)"),
            ("number-negative-leading-zero", "-01", "-01 (a leading zero)"),
            ("number-double-zero", "00", "00"),
            ("number-plus", "+1", "+1 (a leading +)"),
            ("number-leading-dot", ".5", ".5 (a leading .)"),
            ("number-negative-leading-dot", "-.5", "-.5"),
            ("number-trailing-dot", "1.", "1. (a trailing .)"),
            ("number-dot-exponent", "1.e5", "1.e5 (no fraction digit)"),
            ("number-empty-exponent", "1e", "1e (an empty exponent)"),
            ("number-empty-signed-exponent", "1e+", "1e+ (an empty exponent)"),
            ("number-empty-exponent-upper", "1E-", "1E- (an empty exponent)"),
            ("number-fraction-exponent", "1e5.5", "1e5.5 (a fractional exponent)"),
            ("number-two-dots", "1.5.2", "1.5.2 (two decimal points)"),
            ("number-hex", "0x10", "the hexadecimal 0x10"),
            ("number-hex-upper", "0X1F", "the hexadecimal 0X1F"),
            ("number-binary", "0b1", "the binary 0b1"),
            ("number-underscore", "1_000", "1_000 (a digit separator)"),
            ("number-nan", "NaN", "NaN"),
            ("number-infinity", "Infinity", "Infinity"),
            ("number-negative-infinity", "-Infinity", "-Infinity"),
            ("number-minus-alone", "-", "a lone minus -"),
            ("number-double-minus", "--1", "--1"),
            ("number-minus-space", "- 1", "- 1 (minus, space, digit)")):
        data_case(slug, "data is %s: invalid_json" % desc, raw, reqs=N,
                  flags=["Number"])
    # numbers as whole v1 payloads
    v1_case("v1-number-huge", "version 1 payload 1e400: valid", "1e400", Num("1e400"),
            reqs=N + ["UH-VERSION-2"], flags=["Number"])
    v1_case("v1-number-100-digits", "version 1 payload: a 100-digit integer", hundred,
            Num(hundred), reqs=N + ["UH-VERSION-2"], flags=["Number"])
    v1_case("v1-number-negative-zero", "version 1 payload -0", "-0", Num("-0"),
            reqs=N + ["UH-VERSION-2"], flags=["Number"])
    v1_case("v1-number-leading-zero", "version 1 payload 012: invalid_json", "012", reqs=N,
            flags=["Number"])
    v1_case("v1-number-nan", "version 1 payload NaN: invalid_json", "NaN", reqs=N,
            flags=["Number"])
    v1_case("v1-number-negative-infinity", "version 1 payload -Infinity: invalid_json",
            "-Infinity", reqs=N, flags=["Number"])
    v1_case("v1-number-plus", "version 1 payload +1: invalid_json", "+1", reqs=N,
            flags=["Number"])

    S = ["UH-JSON-5"]
    # --- strings, valid
    data_case("string-all-escapes", "a string with all eight short escapes \\\" \\\\ \\/ \\b "
              "\\f \\n \\r \\t", r'"\"\\\/\b\f\n\r\t"', '"\\/\b\f\n\r\t', reqs=S,
              flags=["String"])
    for slug, raw, value, desc in (
            ("string-escape-quote", r'"a\"b"', 'a"b', '\\"'),
            ("string-escape-backslash", r'"a\\b"', "a\\b", "\\\\"),
            ("string-escape-solidus", r'"a\/b"', "a/b", "\\/"),
            ("string-escape-backspace", r'"\b"', "\b", "\\b"),
            ("string-escape-formfeed", r'"\f"', "\f", "\\f"),
            ("string-escape-newline", r'"\n"', "\n", "\\n"),
            ("string-escape-return", r'"\r"', "\r", "\\r"),
            ("string-escape-tab", r'"\t"', "\t", "\\t"),
            ("string-u-escape-lower", r'"\u00b5"', MICRO, "\\u00b5 (lower-case hex)"),
            ("string-u-escape-upper", r'"\u00B5"', MICRO, "\\u00B5 (upper-case hex)"),
            ("string-u-escape-mixed", r'"\uAbCd"', "\uabcd", "\\uAbCd (mixed case)"),
            ("string-u-escape-nul", r'"a\u0000b"', "a\u0000b", "\\u0000"),
            ("string-u-escape-1f", r'"\u001f"', "\u001f", "\\u001f"),
            ("string-u-escape-ffff", r'"\uffff"', "\uffff", "\\uffff"),
            ("string-surrogate-pair", r'"\ud83d\ude00"', "\U0001F600",
             "the surrogate pair \\ud83d\\ude00 (U+1F600)"),
            ("string-surrogate-pair-upper", r'"\uD83D\uDE00"', "\U0001F600",
             "the surrogate pair \\uD83D\\uDE00 in upper case"),
            ("string-surrogate-pair-max", r'"\udbff\udfff"', "\U0010FFFF",
             "the surrogate pair \\udbff\\udfff (U+10FFFF)"),
            ("string-raw-del", '"a\x7fb"', "a\x7fb", "a raw DEL (0x7f), which needs no "
                                                   "escape"),
            ("string-raw-non-ascii", '"' + MICRO + "\U0001F600" + '"', MICRO + "\U0001F600",
             "raw UTF-8 µ and U+1F600"),
            ("string-raw-u2028", '"a\u2028b\u2029c"', "a\u2028b\u2029c",
             "raw U+2028 and U+2029 (valid in JSON strings)"),
            ("string-empty", '""', "", "no character (the empty string)"),
            ("string-single-quote-inside", "\"it's\"", "it's", "an apostrophe inside"),
            ("string-escaped-u-text", r'"\\u0041"', "\\u0041",
             "an escaped backslash followed by u0041 (no escape)")):
        data_case(slug, "data is a string with %s: valid" % desc, raw, value, reqs=S,
                  flags=["String"])
    data_case("string-member-names-escaped", "object member names with escapes inside data",
              r'{"\u0061":1,"b\n":2}', {"a": 1, "b\n": 2}, reqs=S, flags=["String"])
    # --- strings, invalid
    for slug, raw, desc in (
            ("string-escape-x", r'"\x41"', "with the escape \\x41"),
            ("string-escape-a", r'"\a"', "with the escape \\a"),
            ("string-escape-apostrophe", r'"\'"', "with the escape \\'"),
            ("string-escape-upper-u", r'"\U0041"', "with the escape \\U0041"),
            ("string-escape-zero", r'"\0"', "with the escape \\0"),
            ("string-escape-v", r'"\v"', "with the escape \\v"),
            ("string-escape-space", '"\\ "', "with a backslash before a space"),
            ("string-escape-newline-raw", '"\\\n"', "with a backslash before a raw line feed"),
            ("string-u-short", r'"\u12"', "with \\u and two hex digits"),
            ("string-u-short-at-end", r'"\u123"', "with \\u and three hex digits"),
            ("string-u-alone", r'"\u"', "with \\u and no hex digit"),
            ("string-u-bad-digit", r'"\u12G4"', "with \\u12G4"),
            ("string-u-sign", r'"\u+123"', "with \\u+123"),
            ("string-raw-nul", '"a\x00b"', "with a raw 0x00"),
            ("string-raw-1f", '"a\x1fb"', "with a raw 0x1f"),
            ("string-raw-newline", '"a\nb"', "with a raw line feed 0x0a"),
            ("string-raw-tab", '"a\tb"', "with a raw tab 0x09"),
            ("string-raw-return", '"a\rb"', "with a raw carriage return 0x0d"),
            ("string-unterminated", '"abc', "unterminated (the envelope's closing brace is "
                                           "read as string content)"),
            ("string-single-quoted", "'abc'", "in single quotes"),
            ("string-trailing-backslash", '"abc\\"', "whose closing quote is escaped")):
        data_case(slug, "data is a string %s: invalid_json" % desc, raw, reqs=S,
                  flags=["String"])
    v1_case("v1-string", "version 1 payload: a string", '"hello"', "hello",
            reqs=S + ["UH-VERSION-2"], flags=["String"])
    v1_case("v1-string-unterminated", "version 1 payload: an unterminated string",
            '"hello', reqs=S, flags=["String"])
    v1_case("v1-string-single-quoted", "version 1 payload: a single-quoted string",
            "'hello'", reqs=S, flags=["String"])

    # --- lone surrogates: acceptable
    L = ["UH-JSON-7"]
    for slug, raw, value, desc in (
            ("lone-high-surrogate", r'"\ud800"', "\ufffd", "a lone high surrogate \\ud800"),
            ("lone-low-surrogate", r'"\udfff"', "\ufffd", "a lone low surrogate \\udfff"),
            ("lone-high-then-char", r'"\ud83dx"', "\ufffdx",
             "a high surrogate followed by a plain character"),
            ("lone-high-then-non-surrogate-escape", r'"\ud800\u0041"', "\ufffdA",
             "a high surrogate followed by the escape \\u0041"),
            ("lone-two-highs", r'"\ud800\ud800"', "\ufffd\ufffd", "two high surrogates"),
            ("lone-reversed-pair", r'"\ude00\ud83d"', "\ufffd\ufffd",
             "a low then a high surrogate (each lone)"),
            ("lone-high-then-pair", r'"\ud800\ud800\udc00"', "\ufffd\U00010000",
             "a lone high surrogate followed by a valid pair"),
            ("lone-high-at-end-of-name", r'{"k\ud800":1}', {"k\ufffd": 1},
             "a lone surrogate in a member name inside data")):
        data_case(slug, "%s: a receiver may accept (U+FFFD) or refuse invalid_json" % desc,
                  raw, value, result="acceptable", error="invalid_json", reqs=L,
                  flags=["LoneSurrogate", "String"])
    e = Obj([("id", ID), ("timestamp", TS), ("source", SRC),
             ("type", Raw(r'"test.lone\ud800"', "test.lone\ufffd"))])
    f.add("lone-surrogate-in-type", "a lone surrogate in type: acceptable; an accepting "
          "receiver's type ends in U+FFFD", frame_bytes(e), "acceptable",
          error="invalid_json", frame=fr(e), reqs=L + ["UH-EVENT-7"],
          flags=["LoneSurrogate", "String"])
    v1_case("v1-lone-surrogate", "version 1 payload: a string with a lone surrogate",
            r'"\udc00"', "\ufffd", result="acceptable", error="invalid_json", reqs=L,
            flags=["LoneSurrogate", "String"])

    # --- literals
    Li = ["UH-JSON-6"]
    data_case("literals-valid", "the three literals in an array", "[true,false,null]",
              [True, False, None], reqs=Li, flags=["Literal"])
    data_case("literal-null-data", "data null", "null", None, reqs=Li + ["UH-EVENT-3"],
              flags=["Literal"])
    for slug, raw in (("literal-true-capital", "True"), ("literal-null-upper", "NULL"),
                      ("literal-false-capital", "False"), ("literal-nul", "nul"),
                      ("literal-tru", "tru"), ("literal-nulll", "nulll"),
                      ("literal-truefalse", "truefalse"), ("literal-undefined", "undefined"),
                      ("literal-none", "None")):
        data_case(slug, "the token %s in data: invalid_json" % raw, raw, reqs=Li,
                  flags=["Literal"])
    v1_case("v1-true", "version 1 payload true", "true", True, reqs=Li + ["UH-VERSION-2"],
            flags=["Literal"])
    v1_case("v1-null", "version 1 payload null", "null", None, reqs=Li + ["UH-VERSION-2"],
            flags=["Literal"])
    v1_case("v1-literal-true-capital", "version 1 payload True: invalid_json", "True",
            reqs=Li, flags=["Literal"])

    # --- structure
    St = ["UH-JSON-6"]
    data_case("structure-empty-containers", "empty array and empty object inside data",
              '{"a":[],"b":{}}', {"a": [], "b": {}}, reqs=St, flags=["Structure"])
    for slug, raw, desc in (
            ("structure-trailing-comma-object", '{"a":1,}', "a trailing comma in an object"),
            ("structure-trailing-comma-array", "[1,]", "a trailing comma in an array"),
            ("structure-missing-comma-array", "[1 2]", "a missing comma in an array"),
            ("structure-missing-comma-object", '{"a":1 "b":2}',
             "a missing comma in an object"),
            ("structure-double-comma", "[1,,2]", "a double comma"),
            ("structure-leading-comma", "[,1]", "a leading comma"),
            ("structure-only-comma", "[,]", "an array holding only a comma"),
            ("structure-unquoted-key", "{a:1}", "an unquoted member name"),
            ("structure-single-quoted-key", "{'a':1}", "a single-quoted member name"),
            ("structure-number-key", "{1:1}", "a number as member name"),
            ("structure-missing-colon", '{"a" 1}', "a missing colon"),
            ("structure-equals", '{"a"=1}', "= instead of a colon"),
            ("structure-double-colon", '{"a"::1}', "a double colon"),
            ("structure-missing-value", '{"a":}', "a member without value"),
            ("structure-colon-in-array", '["a":1]', "a colon in an array"),
            ("structure-unclosed-array", "[1", "an unclosed array"),
            ("structure-unclosed-object", '{"a":1', "an unclosed object"),
            ("structure-mismatched-brackets", "[1}", "mismatched brackets"),
            ("structure-extra-close", "[1]]", "an extra closing bracket"),
            ("structure-line-comment", "// c\n1", "a // comment"),
            ("structure-block-comment", "/* c */1", "a /* */ comment"),
            ("structure-hash-comment", "# c\n1", "a # comment"),
            ("structure-ellipsis", "[1,...]", "an ellipsis")):
        data_case(slug, "%s in data: invalid_json" % desc, raw, reqs=St, flags=["Structure"])
    te = enc(env(T, data=1))
    for slug, payload, desc in (
            ("structure-comment-in-envelope", te[:1] + b"/*c*/" + te[1:],
             "a /* */ comment after the envelope's opening brace"),
            ("structure-line-comment-after", te + b"//end",
             "a // comment after the envelope"),
            ("structure-two-envelopes", te + te, "two envelopes back to back"),
            ("structure-two-envelopes-space", te + b" " + te,
             "two envelopes separated by a space"),
            ("structure-envelope-then-comma", te + b",", "the envelope followed by a comma"),
            ("structure-envelope-then-null", te + b"null", "the envelope followed by null"),
            ("structure-unclosed-array-around-envelope", b"[" + te,
             "an unclosed [ before the envelope"),
            ("whitespace-only", b" \t\r\n", "a payload of whitespace only"),
            ("structure-trailing-nul", te + b"\x00", "the envelope followed by a NUL byte")):
        f.add(slug, "%s: invalid_json" % desc, frame_bytes(payload), "invalid",
              error="invalid_json", reply=err("invalid_json"), reqs=St + ["UH-JSON-1"],
              flags=["Structure"])
    f.add("empty-payload-v2", "version 2, empty payload: not a JSON text", header(0, 2, 1),
          "invalid", error="invalid_json", reply=err("invalid_json"), reqs=["UH-JSON-1"],
          flags=["Structure"])
    v1_case("v1-empty-payload", "version 1, empty payload: not a JSON text", "",
            reqs=["UH-JSON-1"], flags=["Structure"])
    v1_case("v1-whitespace-only", "version 1, payload of one space", " ",
            reqs=["UH-JSON-1", "UH-JSON-6"], flags=["Structure", "Whitespace"])
    v1_case("v1-two-values", "version 1 payload 1 2: two values", "1 2", reqs=St,
            flags=["Structure"])
    v1_case("v1-two-objects", "version 1 payload {}{}: two values", "{}{}", reqs=St,
            flags=["Structure"])
    v1_case("v1-trailing-comma", "version 1 payload [1,2,]", "[1,2,]", reqs=St,
            flags=["Structure"])
    v1_case("v1-comment", "version 1 payload [1]/**/", "[1]/**/", reqs=St,
            flags=["Structure"])
    v1_case("v1-empty-object", "version 1 payload {} (not an event)", "{}", {},
            reqs=St + ["UH-VERSION-2"], flags=["Structure"])
    v1_case("v1-nested", "version 1 payload with nested containers",
            '{"a":[{"b":null}],"c":{}}', {"a": [{"b": None}], "c": {}},
            reqs=St + ["UH-VERSION-2"], flags=["Structure"])

    # --- whitespace
    W = ["UH-JSON-6"]
    ws = " \t\n\r"
    toks = [b"{", b'"id"', b":", enc(ID), b",", b'"timestamp"', b":", enc(TS), b",",
            b'"source"', b":", enc(SRC), b",", b'"type"', b":", enc(T), b",", b'"data"', b":",
            b"[", b"1", b",", b"true", b"]", b"}"]
    spaced = ws.encode() + (ws.encode()).join(toks) + ws.encode()
    e_ws = env(T, data=[1, True])
    f.add("whitespace-all-kinds", "space, tab, line feed and carriage return before and "
          "after every token", frame_bytes(spaced), "valid", frame=fr(e_ws, length=len(spaced)),
          reply=NO_HANDLER_ANY, reqs=W + ["UH-JSON-9"], flags=["Whitespace"])
    pretty = (b'{\n  "id": ' + enc(ID) + b',\n  "timestamp": ' + enc(TS) + b',\n  "source": '
              + enc(SRC) + b',\n  "type": ' + enc(T) + b',\n  "data": [1, true]\n}\n')
    f.add("whitespace-pretty-printed", "a pretty-printed envelope (receivers accept any "
          "valid layout)", frame_bytes(pretty), "valid", frame=fr(e_ws, length=len(pretty)),
          reply=NO_HANDLER_ANY, reqs=W + ["UH-JSON-9"], flags=["Whitespace"])
    for slug, wsb, desc in (
            ("whitespace-formfeed", b"\x0c", "form feed 0x0c"),
            ("whitespace-vertical-tab", b"\x0b", "vertical tab 0x0b"),
            ("whitespace-nbsp", "\u00a0".encode(), "U+00A0 NO-BREAK SPACE"),
            ("whitespace-line-separator", "\u2028".encode(), "U+2028 LINE SEPARATOR"),
            ("whitespace-ideographic-space", "\u3000".encode(), "U+3000 IDEOGRAPHIC SPACE"),
            ("whitespace-zero-width-no-break", "\ufeff".encode(),
             "U+FEFF between tokens (not at the start)"),
            ("whitespace-nul", b"\x00", "a NUL byte")):
        p = te[:1] + wsb + te[1:]
        f.add(slug, "%s after the opening brace: not JSON whitespace, invalid_json" % desc,
              frame_bytes(p), "invalid", error="invalid_json", reply=err("invalid_json"),
              reqs=W, flags=["Whitespace"])
    f.add("whitespace-formfeed-in-data", "form feed before the value of data: invalid_json",
          frame_bytes(enc(env(T, data=Raw(b"\x0c1")))), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=W, flags=["Whitespace", "InData"])

    # --- BOM
    B = ["UH-JSON-3"]
    f.add("bom-before-envelope", "ef bb bf before a valid envelope: invalid_json",
          frame_bytes(b"\xef\xbb\xbf" + te), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=B, flags=["BOM"])
    f.add("bom-after-space", "a space then ef bb bf before the envelope: invalid_json",
          frame_bytes(b" \xef\xbb\xbf" + te), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=B + ["UH-JSON-6"], flags=["BOM", "Whitespace"])
    f.add("bom-v1", "version 1 payload ef bb bf 31: invalid_json",
          frame_bytes(b"\xef\xbb\xbf1", 1), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=B, flags=["BOM", "V1"])
    data_case("bom-inside-string", "U+FEFF (ef bb bf) inside a string is an ordinary "
              "character", b'"\xef\xbb\xbfx"', "\ufeffx", reqs=B + ["UH-JSON-5"],
              flags=["BOM", "String"])

    # --- depth
    D = ["UH-JSON-8"]
    e = env(T, data=nested_arrays(63))
    assert depth(val(e)) == 64
    f.add("depth-64-arrays-in-data", "depth exactly 64: the envelope (1) holding 63 nested "
          "arrays; MUST be accepted", frame_bytes(e), "valid", frame=fr(e),
          reply=NO_HANDLER_ANY, reqs=D + ["UH-SECURITY-2"], flags=["Depth", "InData"])
    e = env(T, data=nested_objects(63))
    assert depth(val(e)) == 64
    f.add("depth-64-objects-in-data", "depth exactly 64 with nested objects in data",
          frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY, reqs=D,
          flags=["Depth", "InData"])
    inner = [1, {}, []]
    for _ in range(61):
        inner = [inner]
    e = env(T, data=Raw("[" * 62 + "1,{},[]" + "]" * 62, inner))
    assert depth(val(e)) == 64
    f.add("depth-64-mixed", "depth exactly 64 reached by the deepest of several branches",
          frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY, reqs=D,
          flags=["Depth", "InData"])
    e = env(T, data=nested_arrays(63, ('"x"', "x")))
    assert depth(val(e)) == 64
    f.add("depth-64-with-scalar", "depth 64 with a string at the bottom (scalars add no "
          "depth)", frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY, reqs=D,
          flags=["Depth", "InData"])
    for total in (65, 128, 129, 10000):
        e = env(T, data=nested_arrays(total - 1))
        if total <= 128:
            assert depth(val(e)) == total
        f.add("depth-%d-in-data" % total, "depth %d (the envelope plus %d nested arrays): "
              "acceptable, too_deep or accepted" % (total, total - 1), frame_bytes(e),
              "acceptable", error="too_deep", frame=fr(e) if total <= 128 else None,
              reqs=D + ["UH-SECURITY-2"], flags=["Depth", "DepthAbove64", "InData"])
    e = env(T, data=nested_objects(64))
    assert depth(val(e)) == 65
    f.add("depth-65-objects-in-data", "depth 65 with nested objects: acceptable",
          frame_bytes(e), "acceptable", error="too_deep", frame=fr(e), reqs=D,
          flags=["Depth", "DepthAbove64", "InData"])
    e = env(T, data=nested_objects(9999))
    f.add("depth-10000-objects-in-data", "depth 10000 with nested objects: acceptable, a "
          "receiver must not exhaust its stack", frame_bytes(e), "acceptable",
          error="too_deep", reqs=D + ["UH-SECURITY-2", "UH-SECURITY-3"],
          flags=["Depth", "DepthAbove64", "InData"])
    # [UH-JSON-10]: a grammar fault before the bracket of depth 65 is invalid_json for every
    # receiver, however deep the payload nests after it.
    head = enc(env(T, data=Raw("[1]", [1])))
    at = head.index(b'"data":') + len(b'"data":')
    bad = head[:at] + b"[" * 20 + b"1,," + b"[" * 200 + b"]" * 200 + b"]" * 20 + head[at + 3:]
    f.add("grammar-fault-before-depth-65", "an empty element (1,,) at depth 21, then 200 more "
          "levels: invalid_json, since the fault comes before any bracket a receiver may "
          "refuse", frame_bytes(bad), "invalid", error="invalid_json", reply=err("invalid_json"),
          reqs=D + ["UH-JSON-10", "UH-JSON-6"], flags=["Depth", "Precedence", "InData"])
    for total in (64, 65, 128, 129, 10000):
        p = nested_arrays(total)
        b = frame_bytes(enc(p), 1)
        if total == 64:
            assert depth(val(p)) == 64
            f.add("v1-depth-64", "version 1 payload of 64 nested arrays: MUST be accepted", b,
                  "valid", frame=fr(p, 1), reply=ok("no_handler"), reqs=D,
                  flags=["Depth", "V1"])
        else:
            f.add("v1-depth-%d" % total, "version 1 payload of %d nested arrays: acceptable"
                  % total, b, "acceptable", error="too_deep",
                  frame=fr(p, 1) if total <= 128 else None, reqs=D + ["UH-SECURITY-2"],
                  flags=["Depth", "DepthAbove64", "V1"])
    return f


# ---------------------------------------------------------------------------------------
# utf8.json
# ---------------------------------------------------------------------------------------

def gen_utf8():
    f = VectorFile("utf8", "UTF-8 as defined by RFC 3629 [UH-JSON-1], [UH-JSON-2]: valid "
                   "2-, 3- and 4-byte sequences and their limits; overlong forms, encoded "
                   "surrogates, code points above U+10FFFF, truncated sequences, stray "
                   "continuation bytes and the bytes c0, c1, f5–ff, all refused with "
                   "invalid_utf8. Unless stated otherwise the bytes sit inside the string "
                   "value of `data` in an otherwise valid v2 event.", {
                       "Valid": "valid UTF-8 that must be accepted",
                       "Overlong": "an overlong (non-shortest) encoding",
                       "Surrogate": "an encoded UTF-16 surrogate code point (ed a0 80 to "
                                    "ed bf bf)",
                       "AboveMax": "a code point above U+10FFFF",
                       "Truncated": "a multi-byte sequence cut short",
                       "StrayContinuation": "a continuation byte (80–bf) without a lead byte",
                       "InvalidByte": "a byte that never occurs in UTF-8 (c0, c1, f5–ff)",
                       "OutsideString": "the invalid bytes are outside any JSON string",
                       "Precedence": "the payload is also invalid JSON; invalid_utf8 is "
                                     "decided first (section 6, \"Checks in order\")",
                       "Micro": "µ U+00B5 (c2 b5) versus μ U+03BC (ce bc) [UH-EVENT-7]",
                       "V1": "the bytes are in a version 1 payload",
                   })
    T = "test.utf8"
    U = ["UH-JSON-2"]

    def in_string(slug, desc, seq, value=MISSING, reqs=U, flags=()):
        e = env(T, data=Raw(b'"a' + seq + b'b"', MISSING if value is MISSING
                            else "a" + value + "b"))
        b = frame_bytes(e)
        if value is MISSING:
            f.add(slug, desc, b, "invalid", error="invalid_utf8", reply=err("invalid_utf8"),
                  reqs=reqs, flags=list(flags))
        else:
            assert seq.decode("utf-8") == value   # Python's strict codec agrees
            f.add(slug, desc, b, "valid", frame=fr(e), reply=NO_HANDLER_ANY,
                  reqs=reqs, flags=["Valid"] + list(flags))

    for slug, seq, value, desc in (
            ("valid-2-byte-min", b"\xc2\x80", "\u0080", "c2 80, U+0080, the smallest 2-byte "
                                                       "sequence"),
            ("valid-2-byte-max", b"\xdf\xbf", "\u07ff", "df bf, U+07FF, the largest 2-byte "
                                                       "sequence"),
            ("valid-3-byte-min", b"\xe0\xa0\x80", "\u0800", "e0 a0 80, U+0800"),
            ("valid-3-byte-before-surrogates", b"\xed\x9f\xbf", "\ud7ff",
             "ed 9f bf, U+D7FF, just below the surrogates"),
            ("valid-3-byte-after-surrogates", b"\xee\x80\x80", "\ue000",
             "ee 80 80, U+E000, just above the surrogates"),
            ("valid-3-byte-fffd", b"\xef\xbf\xbd", "\ufffd", "ef bf bd, U+FFFD"),
            ("valid-3-byte-noncharacter", b"\xef\xbf\xbe", "\ufffe",
             "ef bf be, the noncharacter U+FFFE (valid UTF-8)"),
            ("valid-3-byte-max", b"\xef\xbf\xbf", "\uffff", "ef bf bf, U+FFFF"),
            ("valid-4-byte-min", b"\xf0\x90\x80\x80", "\U00010000", "f0 90 80 80, U+10000"),
            ("valid-4-byte-emoji", b"\xf0\x9f\x98\x80", "\U0001F600", "f0 9f 98 80, U+1F600"),
            ("valid-4-byte-max", b"\xf4\x8f\xbf\xbf", "\U0010FFFF",
             "f4 8f bf bf, U+10FFFF, the largest code point"),
            ("valid-micro-sign", b"\xc2\xb5", MICRO, "c2 b5, µ U+00B5 MICRO SIGN"),
            ("valid-greek-mu", b"\xce\xbc", GREEK_MU, "ce bc, μ U+03BC GREEK SMALL LETTER MU"),
            ("valid-mixed", "é€𝄞µ".encode(), "é€𝄞µ", "2-, 3- and 4-byte characters in a "
                                                   "row")):
        in_string(slug, "%s inside a string: valid" % desc, seq, value,
                  flags=["Micro"] if "micro" in slug or "greek" in slug else ())
    for slug, seq, desc, flags in (
            ("overlong-nul-2", b"\xc0\x80", "c0 80, NUL in two bytes", ["Overlong",
                                                                          "InvalidByte"]),
            ("overlong-slash-2", b"\xc0\xaf", "c0 af, '/' in two bytes",
             ["Overlong", "InvalidByte"]),
            ("overlong-c1-bf", b"\xc1\xbf", "c1 bf, U+007F in two bytes",
             ["Overlong", "InvalidByte"]),
            ("overlong-nul-3", b"\xe0\x80\x80", "e0 80 80, NUL in three bytes", ["Overlong"]),
            ("overlong-7ff-3", b"\xe0\x9f\xbf", "e0 9f bf, U+07FF in three bytes",
             ["Overlong"]),
            ("overlong-nul-4", b"\xf0\x80\x80\x80", "f0 80 80 80, NUL in four bytes",
             ["Overlong"]),
            ("overlong-ffff-4", b"\xf0\x8f\xbf\xbf", "f0 8f bf bf, U+FFFF in four bytes",
             ["Overlong"]),
            ("overlong-slash-5", b"\xf8\x80\x80\x80\xaf", "f8 80 80 80 af, '/' in five bytes",
             ["Overlong", "InvalidByte"]),
            ("byte-c0", b"\xc0", "a lone c0", ["InvalidByte"]),
            ("byte-c1", b"\xc1", "a lone c1", ["InvalidByte"]),
            ("byte-f5", b"\xf5\x80\x80\x80", "f5 80 80 80", ["InvalidByte", "AboveMax"]),
            ("byte-f7", b"\xf7\xbf\xbf\xbf", "f7 bf bf bf", ["InvalidByte", "AboveMax"]),
            ("byte-f8-5-byte", b"\xf8\x88\x80\x80\x80", "a 5-byte form f8 88 80 80 80",
             ["InvalidByte", "AboveMax"]),
            ("byte-fc-6-byte", b"\xfc\x84\x80\x80\x80\x80", "a 6-byte form fc 84 80 80 80 80",
             ["InvalidByte", "AboveMax"]),
            ("byte-fe", b"\xfe", "a lone fe", ["InvalidByte"]),
            ("byte-ff", b"\xff", "a lone ff", ["InvalidByte"]),
            ("byte-fffe-bom-utf16", b"\xff\xfe", "ff fe (a UTF-16 byte order mark)",
             ["InvalidByte"]),
            ("surrogate-d800", b"\xed\xa0\x80", "ed a0 80, the surrogate U+D800",
             ["Surrogate"]),
            ("surrogate-dbff", b"\xed\xaf\xbf", "ed af bf, the surrogate U+DBFF",
             ["Surrogate"]),
            ("surrogate-dc00", b"\xed\xb0\x80", "ed b0 80, the surrogate U+DC00",
             ["Surrogate"]),
            ("surrogate-dfff", b"\xed\xbf\xbf", "ed bf bf, the surrogate U+DFFF",
             ["Surrogate"]),
            ("surrogate-pair-cesu8", b"\xed\xa0\xbd\xed\xb8\x80",
             "ed a0 bd ed b8 80, U+1F600 as two encoded surrogates (CESU-8)", ["Surrogate"]),
            ("above-max-110000", b"\xf4\x90\x80\x80", "f4 90 80 80, U+110000", ["AboveMax"]),
            ("above-max-13ffff", b"\xf4\xbf\xbf\xbf", "f4 bf bf bf, U+13FFFF", ["AboveMax"]),
            ("truncated-2-of-2", b"\xc2", "c2 with its continuation byte missing",
             ["Truncated"]),
            ("truncated-2-of-3", b"\xe2\x82", "e2 82 (of e2 82 ac €)", ["Truncated"]),
            ("truncated-1-of-3", b"\xe2", "e2 alone", ["Truncated"]),
            ("truncated-3-of-4", b"\xf0\x9f\x98", "f0 9f 98 (of f0 9f 98 80)", ["Truncated"]),
            ("truncated-2-of-4", b"\xf0\x9f", "f0 9f", ["Truncated"]),
            ("truncated-before-multibyte", b"\xe2\x82\xc2\xb5", "e2 82 followed by µ c2 b5",
             ["Truncated"]),
            ("stray-continuation-80", b"\x80", "a stray 80", ["StrayContinuation"]),
            ("stray-continuation-bf", b"\xbf", "a stray bf", ["StrayContinuation"]),
            ("stray-continuation-after-char", b"\xc2\xb5\xb5", "c2 b5 b5: µ plus one "
                                                              "continuation too many",
             ["StrayContinuation"]),
            ("stray-continuation-run", b"\x80\x81\x82\x83", "80 81 82 83",
             ["StrayContinuation"]),
            ("latin1-e9", b"\xe9t\xe9", "Latin-1 é (e9) between ASCII letters",
             ["Truncated"])):
        in_string(slug, "%s inside a string: invalid_utf8" % desc, seq, flags=flags)
    # at the very end of a string / of the payload
    e = env(T, data=Raw(b'"\xe2\x82"'))
    f.add("truncated-at-end-of-string", "e2 82 right before the closing quote: invalid_utf8",
          frame_bytes(e), "invalid", error="invalid_utf8", reply=err("invalid_utf8"), reqs=U,
          flags=["Truncated"])
    v1 = b'"ok"\xe2\x82'
    f.add("truncated-at-end-of-payload", "version 1 payload ending in e2 82 after a string: "
          "invalid_utf8 (also invalid JSON)", frame_bytes(v1, 1), "invalid",
          error="invalid_utf8", reply=err("invalid_utf8"), reqs=U + ["UH-JSON-1"],
          flags=["Truncated", "OutsideString", "Precedence", "V1"])
    f.add("truncated-end-of-payload-in-string", "version 1 payload \"a followed by f0 9f 98 "
          "as its last bytes: invalid_utf8 before the unterminated string",
          frame_bytes(b'"a\xf0\x9f\x98', 1), "invalid", error="invalid_utf8",
          reply=err("invalid_utf8"), reqs=U, flags=["Truncated", "Precedence", "V1"])
    # outside strings
    te = enc(env(T, data=1))
    f.add("outside-string-ff-between-tokens", "ff between the envelope's members: "
          "invalid_utf8 (also invalid JSON)", frame_bytes(te[:-1] + b",\xff" + te[-1:]),
          "invalid", error="invalid_utf8", reply=err("invalid_utf8"), reqs=U + ["UH-JSON-1"],
          flags=["InvalidByte", "OutsideString", "Precedence"])
    f.add("outside-string-before-envelope", "c0 80 before the envelope: invalid_utf8",
          frame_bytes(b"\xc0\x80" + te), "invalid", error="invalid_utf8",
          reply=err("invalid_utf8"), reqs=U, flags=["Overlong", "OutsideString", "Precedence"])
    f.add("outside-string-after-envelope", "a stray 80 after the envelope: invalid_utf8",
          frame_bytes(te + b"\x80"), "invalid", error="invalid_utf8",
          reply=err("invalid_utf8"), reqs=U,
          flags=["StrayContinuation", "OutsideString", "Precedence"])
    f.add("outside-string-v1", "version 1 payload [1,ff]: invalid_utf8",
          frame_bytes(b"[1,\xff]", 1), "invalid", error="invalid_utf8",
          reply=err("invalid_utf8"), reqs=U,
          flags=["InvalidByte", "OutsideString", "Precedence", "V1"])
    f.add("whole-payload-latin1", "version 1 payload \"caf\" e9 \" — a Latin-1 string",
          frame_bytes(b'"caf\xe9"', 1), "invalid", error="invalid_utf8",
          reply=err("invalid_utf8"), reqs=["UH-JSON-1", "UH-JSON-2"], flags=["Truncated", "V1"])
    f.add("valid-utf8-outside-string", "µ (valid UTF-8) after the envelope: invalid_json, "
          "not invalid_utf8", frame_bytes(te + MICRO.encode()), "invalid",
          error="invalid_json", reply=err("invalid_json"), reqs=["UH-JSON-1", "UH-JSON-6"],
          flags=["Valid", "OutsideString", "Micro"])
    # in member names and in the envelope's members
    for slug, e, desc, flag in (
            ("in-member-name", Obj([("id", ID), ("timestamp", TS), ("source", SRC),
                                    ("type", T), (Key(b"x\xff", None), 1)]),
             "ff in the name of an unknown member", "InvalidByte"),
            ("in-type", env(Raw(b'"test.\xed\xa0\x80"')), "ed a0 80 in type", "Surrogate"),
            ("in-source", env(T, source=Raw(b'"\xc0\xafsrc"')), "c0 af in source",
             "Overlong"),
            ("in-data-member-name", env(T, data=Raw(b'{"\xf4\x90\x80\x80":1}')),
             "f4 90 80 80 in a member name inside data", "AboveMax"),
            ("in-error", env(T, error=Raw(b'{"message":"\xe2\x82"}')),
             "e2 82 in error.message", "Truncated")):
        f.add(slug, "%s: invalid_utf8" % desc, frame_bytes(e), "invalid",
              error="invalid_utf8", reply=err("invalid_utf8"), reqs=U, flags=[flag])
    # µ versus μ in type
    hc = env(MICRO + "Home.core.healthcheck")
    f.add("type-micro-sign-healthcheck", "µHome.core.healthcheck spelled with µ U+00B5 "
          "(c2 b5): the core type, answered healthy", frame_bytes(hc), "valid", frame=fr(hc),
          reply=ok("healthy"), reqs=["UH-EVENT-7", "UH-CORE-2"], flags=["Valid", "Micro"])
    gm = env(GREEK_MU + "Home.core.healthcheck")
    f.add("type-greek-mu-healthcheck", "μHome.core.healthcheck spelled with μ U+03BC "
          "(ce bc): a different, unknown type", frame_bytes(gm), "valid", frame=fr(gm),
          reply=NO_HANDLER_ANY, reqs=["UH-EVENT-7", "UH-REPLY-5"], flags=["Valid", "Micro"])
    return f


# ---------------------------------------------------------------------------------------
# envelope.json
# ---------------------------------------------------------------------------------------

def gen_envelope():
    f = VectorFile("envelope", "The event envelope of section 6 [UH-EVENT-1..8]: required "
                   "string members, optional data and error, unknown members, escaped and "
                   "repeated member names; version 1 events and non-events "
                   "[UH-VERSION-2].", {
                       "Member": "presence or type of one of the four required members",
                       "Optional": "presence and value of data and error",
                       "UnknownMember": "members other than the six are ignored",
                       "EscapedName": "a member name written with \\u escapes counts as its "
                                      "unescaped name",
                       "Duplicate": "a member name occurs more than once",
                       "DuplicateUnknown": "a repeated name of a member other than the six: "
                                           "a receiver MAY refuse (duplicate_member) or "
                                           "ignore it",
                       "DuplicateInData": "repeated names inside data or error are passed "
                                          "through; the canonical `frame` can only show the "
                                          "last value (README: the last of repeated names "
                                          "counts)",
                       "Whitespace": "whitespace around the envelope's tokens",
                       "Escapes": "escapes in the string members are decoded",
                       "NonEvent": "a version 1 payload that is not an event",
                       "V1": "version 1 frame",
                       "Precedence": "several faults; the vector checks which code wins "
                                     "(section 6, \"Checks in order\")",
                   })
    M = ["UH-EVENT-2"]
    base = env(T_UNKNOWN, data={"x": 1})
    f.add("minimal", "the four required members only", frame_bytes(env()), "valid",
          frame=fr(env()), reply=NO_HANDLER_ANY, reqs=["UH-VERSION-3", "UH-EVENT-2"],
          flags=["Member"])
    # --- non-object payloads
    for slug, v, desc in (("null", None, "null"), ("array-empty", [], "[]"),
                          ("array-of-event", [val(base)], "an array holding an event"),
                          ("string", "x", '"x"'), ("number", 1, "1"),
                          ("true", True, "true"), ("false", False, "false")):
        f.add("v2-payload-" + slug, "version 2 payload %s: valid JSON but not an object, "
              "invalid_event" % desc, frame_bytes(v), "invalid", error="invalid_event",
              reply=err("invalid_event"), reqs=["UH-EVENT-1", "UH-VERSION-3"], flags=["Member"])
    f.add("v2-payload-empty-object", "version 2 payload {}: every member missing, "
          "invalid_event", frame_bytes({}), "invalid", error="invalid_event",
          reply=err("invalid_event"), reqs=M, flags=["Member"])
    # --- each required member missing / empty / not a string
    wrong = (("missing", MISSING, "absent"), ("empty", "", "the empty string"),
             ("number", 1, "the number 1"), ("null", None, "null"),
             ("object", {"a": "b"}, "an object"), ("array", ["x"], "an array"),
             ("true", True, "true"), ("false", False, "false"))
    for member in ("id", "timestamp", "source", "type"):
        for slug, v, desc in wrong:
            kw = {member: v}
            e = env(**kw) if member != "type" else env(v)
            f.add("%s-%s" % (member, slug), "%s is %s: invalid_event (reason names %s)"
                  % (member, desc, member), frame_bytes(e), "invalid", error="invalid_event",
                  reply=err("invalid_event", member=member), reqs=M, flags=["Member"])
    f.add("all-four-wrong", "id missing, timestamp empty, source a number, type null: "
          "invalid_event (reason names id, the first)",
          frame_bytes(env(None, id=MISSING, timestamp="", source=5)), "invalid",
          error="invalid_event", reply=err("invalid_event", member="id"), reqs=M,
          flags=["Member"])
    f.add("source-and-type-wrong", "source null and type missing: invalid_event (reason "
          "names source)", frame_bytes(env(MISSING, source=None)), "invalid",
          error="invalid_event", reply=err("invalid_event", member="source"), reqs=M,
          flags=["Member"])
    f.add("type-case", "Type (capital T) instead of type: an unknown member, so type is "
          "missing", frame_bytes(env(MISSING, extra=[("Type", T_UNKNOWN)])), "invalid",
          error="invalid_event", reply=err("invalid_event"), reqs=M + ["UH-EVENT-7"],
          flags=["Member", "UnknownMember"])
    f.add("type-name-with-nul", "a member named type\\u0000 is not type: type missing",
          frame_bytes(Obj([("id", ID), ("timestamp", TS), ("source", SRC),
                           (Key(r"type\u0000", "type\u0000"), T_UNKNOWN)])), "invalid",
          error="invalid_event", reply=err("invalid_event"), reqs=M + ["UH-EVENT-5"],
          flags=["Member", "EscapedName"])
    for slug, v, desc in (("space", " ", "a single space"), ("nul", "\u0000", "\\u0000"),
                          ("long", "t" * 1000, "1000 characters")):
        e = env(v)
        f.add("type-" + slug, "type is %s: a non-empty string, valid" % desc,
              frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY, reqs=M,
              flags=["Member"])
    # --- data / error
    O = ["UH-EVENT-3"]
    for slug, kw, desc in (
            ("data-absent", {}, "no data and no error"),
            ("data-null", {"data": None}, "data null (present)"),
            ("data-string", {"data": "s"}, "data a string"),
            ("data-number", {"data": Num("-1.5e3")}, "data a number"),
            ("data-false", {"data": False}, "data false"),
            ("data-array", {"data": [1, "a", None]}, "data an array"),
            ("data-object", {"data": {"a": {"b": [1]}}}, "data an object"),
            ("data-empty-object", {"data": {}}, "data {}"),
            ("error-null", {"error": None}, "error null"),
            ("error-string", {"error": "plain text"}, "error a plain string"),
            ("error-object", {"error": {"message": "m", "code": "c", "reason": "r"}},
             "error an object"),
            ("data-and-error", {"data": 1, "error": "e"}, "both data and error present"),
            ("error-before-data", {}, "error written before data")):
        if slug == "error-before-data":
            e = Obj([("id", ID), ("timestamp", TS), ("source", SRC), ("type", T_UNKNOWN),
                     ("error", {"m": 1}), ("data", [2])])
        else:
            e = env(T_UNKNOWN, **kw)
        f.add(slug, "%s: valid" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=O, flags=["Optional"])
    # --- unknown members
    Un = ["UH-EVENT-4"]
    for slug, e, desc in (
            ("unknown-member", env(T_UNKNOWN, extra=[("foo", 1)]), "an extra member foo"),
            ("unknown-members-first", Obj([("v", 2), ("meta", {"a": [1]}), ("id", ID),
                                           ("timestamp", TS), ("source", SRC),
                                           ("type", T_UNKNOWN)]),
             "extra members before the required ones"),
            ("unknown-member-null", env(T_UNKNOWN, extra=[("x", None)]),
             "an extra member with value null"),
            ("unknown-member-data-case", env(T_UNKNOWN, extra=[("Data", 1)]),
             "Data (capital D): unknown, data stays absent"),
            ("unknown-member-empty-name", env(T_UNKNOWN, extra=[("", 1)]),
             "a member with the empty name"),
            ("members-reordered", Obj([("type", T_UNKNOWN), ("data", 3), ("source", SRC),
                                       ("timestamp", TS), ("id", ID)]),
             "the six members in reverse order")):
        f.add(slug, "%s: ignored, valid" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=Un + (["UH-EVENT-8"] if "order" in slug or
                                                  "first" in slug else []),
              flags=["UnknownMember"])
    # --- escaped member names
    E = ["UH-EVENT-5"]
    for slug, e, desc in (
            ("escaped-name-type", Obj([("id", ID), ("timestamp", TS), ("source", SRC),
                                       (Key(r"typ\u0065", "type"), T_UNKNOWN)]),
             '"typ\\u0065" is type'),
            ("escaped-name-type-upper", Obj([("id", ID), ("timestamp", TS), ("source", SRC),
                                             (Key(r"\u0054", "T"), 1),
                                             (Key(r"\u0074\u0079\u0070\u0065", "type"),
                                              T_UNKNOWN)]),
             '"\\u0074\\u0079\\u0070\\u0065" is type (and "\\u0054" is an unknown T)'),
            ("escaped-name-id", Obj([(Key(r"\u0069d", "id"), ID), ("timestamp", TS),
                                     ("source", SRC), ("type", T_UNKNOWN)]),
             '"\\u0069d" is id'),
            ("escaped-name-data", env(T_UNKNOWN, extra=[(Key(r"d\u0061ta", "data"), [7])]),
             '"d\\u0061ta" is data'),
            ("escaped-name-solidus", env(T_UNKNOWN, extra=[(Key(r"a\/b", "a/b"), 1)]),
             '"a\\/b" is an unknown member a/b')):
        f.add(slug, "%s: valid" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=E, flags=["EscapedName"])
    e = Obj([("id", ID), ("timestamp", TS), ("source", SRC),
             (Key(r"\u0074ype", "type"), MICRO + "Home.core.healthcheck")])
    f.add("escaped-name-type-healthcheck", '"\\u0074ype" carries the core type '
          "µHome.core.healthcheck: answered healthy", frame_bytes(e), "valid", frame=fr(e),
          reply=ok("healthy"), reqs=E + ["UH-CORE-2"], flags=["EscapedName"])
    # --- duplicates of the six
    D = ["UH-EVENT-5"]
    for member, first, second in (("id", ID, "other-id"), ("timestamp", TS, TS),
                                  ("source", SRC, "test/other"),
                                  ("type", T_UNKNOWN, "test.other"),
                                  ("data", 1, 2), ("error", "a", "a")):
        e = Obj([(k, v) for k, v in (("id", ID), ("timestamp", TS), ("source", SRC),
                                     ("type", T_UNKNOWN))] + [(member, first), (member, second)]
                if member in ("data", "error") else
                [(k, v) for k, v in (("id", ID), ("timestamp", TS), ("source", SRC),
                                     ("type", T_UNKNOWN))] + [(member, second)])
        same = " (same value twice)" if first == second else ""
        f.add("duplicate-" + member, "%s occurs twice%s: duplicate_member" % (member, same),
              frame_bytes(e), "invalid", error="duplicate_member",
              reply=err("duplicate_member", member=member), reqs=D, flags=["Duplicate"])
    for slug, key, name, desc in (
            ("duplicate-type-escaped", r"typ\u0065", "type", '"type" and "typ\\u0065"'),
            ("duplicate-id-escaped", r"\u0069\u0064", "id", '"id" and "\\u0069\\u0064"'),
            ("duplicate-source-escaped-solidus", r"sourc\u0065", "source",
             '"source" and "sourc\\u0065"')):
        e = Obj([("id", ID), ("timestamp", TS), ("source", SRC), ("type", T_UNKNOWN),
                 (Key(key, name), "x")])
        f.add(slug, "%s name the same member: duplicate_member" % desc, frame_bytes(e),
              "invalid", error="duplicate_member", reply=err("duplicate_member", member=name),
              reqs=D, flags=["Duplicate", "EscapedName"])
    e = Obj([("id", ID), ("timestamp", TS), ("source", SRC), ("data", None),
             (Key(r"d\u0061ta", "data"), None), ("type", T_UNKNOWN)])
    f.add("duplicate-data-null-escaped", "data null twice, once escaped: duplicate_member",
          frame_bytes(e), "invalid", error="duplicate_member",
          reply=err("duplicate_member", member="data"), reqs=D + ["UH-EVENT-3"],
          flags=["Duplicate", "EscapedName"])
    P = ["UH-EVENT-5", "UH-EVENT-2"]
    e = Obj([("id", ID), ("timestamp", TS), ("source", SRC), ("type", 5),
             ("type", T_UNKNOWN)])
    f.add("duplicate-type-first-invalid", "type 5 then type \"test.unknown\": "
          "duplicate_member, decided before invalid_event", frame_bytes(e), "invalid",
          error="duplicate_member", reply=err("duplicate_member", member="type"), reqs=P,
          flags=["Duplicate", "Precedence"])
    e = Obj([("id", ID), ("id", ID)])
    f.add("duplicate-id-others-missing", "id twice and timestamp, source, type missing: "
          "duplicate_member before invalid_event", frame_bytes(e), "invalid",
          error="duplicate_member", reply=err("duplicate_member", member="id"), reqs=P,
          flags=["Duplicate", "Precedence"])
    te = enc(Obj([("id", ID), ("id", ID), ("timestamp", TS), ("source", SRC),
                  ("type", T_UNKNOWN)]))
    f.add("duplicate-then-invalid-json", "id twice and a trailing comma: invalid_json before "
          "duplicate_member", frame_bytes(te[:-1] + b",}"), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=P + ["UH-JSON-6"], flags=["Duplicate", "Precedence"])
    f.add("missing-type-then-invalid-json", "no type and an unterminated string: "
          "invalid_json before invalid_event",
          frame_bytes(enc(env(MISSING))[:-2] + b"}"), "invalid", error="invalid_json",
          reply=err("invalid_json"), reqs=["UH-EVENT-2", "UH-JSON-5"], flags=["Precedence"])
    # duplicate unknown members: acceptable
    for slug, e, desc in (
            ("duplicate-unknown-member", env(T_UNKNOWN, extra=[("foo", 1), ("foo", 2)]),
             "an unknown member foo twice"),
            ("duplicate-unknown-member-escaped", env(T_UNKNOWN, extra=[
                ("foo", 1), (Key(r"f\u006fo", "foo"), 2)]), "foo and f\\u006fo")):
        f.add(slug, "%s: acceptable (refuse duplicate_member or ignore)" % desc,
              frame_bytes(e), "acceptable", error="duplicate_member", frame=fr(e),
              reqs=["UH-EVENT-5", "UH-EVENT-4"], flags=["Duplicate", "DuplicateUnknown"])
    # duplicates inside data / error: valid
    for slug, e, desc in (
            ("duplicate-in-data", env(T_UNKNOWN, data=Obj([("a", 1), ("a", 2)])),
             'data {"a":1,"a":2}'),
            ("duplicate-in-data-nested", env(T_UNKNOWN, data={"list": [Obj([
                ("type", "x"), ("type", "y")])]}), "a repeated type inside an object in data"),
            ("duplicate-six-names-in-data", env(T_UNKNOWN, data=Obj([
                ("id", "1"), ("id", "2"), ("type", "a"), ("type", "b")])),
             "repeated id and type inside data (not the envelope's)"),
            ("duplicate-in-error", env(T_UNKNOWN, error=Obj([("message", "a"),
                                                              ("message", "b")])),
             "a repeated message inside error")):
        f.add(slug, "%s: passed through, valid" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=["UH-EVENT-5"], flags=["DuplicateInData"])
    # --- whitespace, escapes, formats
    body = enc(env(T_UNKNOWN, data={"k": [1, 2]}))
    sp = body.replace(b'":', b'" : ').replace(b',"', b' ,\n\t"').replace(b"{", b"{ \r\n") \
        .replace(b"}", b" }").replace(b"[", b"[ ").replace(b"]", b" ]")
    sp = b"\n " + sp + b" \r\n"
    e = env(T_UNKNOWN, data={"k": [1, 2]})
    f.add("whitespace-around-tokens", "spaces, tabs and line breaks around every token of "
          "the envelope", frame_bytes(sp), "valid", frame=fr(e, length=len(sp)),
          reply=NO_HANDLER_ANY, reqs=["UH-JSON-6", "UH-JSON-9"], flags=["Whitespace"])
    for slug, e, desc in (
            ("escaped-type-quote", env(Raw(r'"a\"b"', 'a"b')), 'type "a\\"b" is a"b'),
            ("escaped-source-solidus", env(T_UNKNOWN, source=Raw(r'"test\/vectors"',
                                                                  "test/vectors")),
             'source "test\\/vectors" is test/vectors'),
            ("escaped-id-unicode", env(T_UNKNOWN, id=Raw(r'"\u0031\u0032\u0033"', "123")),
             'id "\\u0031\\u0032\\u0033" is 123'),
            ("escaped-type-non-ascii", env(Raw(r'"test.\u00e9v\u00e9nement"',
                                               "test.événement")),
             "type with \\u00e9 escapes")):
        f.add(slug, "%s: valid" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=["UH-EVENT-7", "UH-JSON-5"], flags=["Escapes"])
    e = env(Raw(r'"\u00b5Home.core.healthcheck"', MICRO + "Home.core.healthcheck"))
    f.add("escaped-type-micro-healthcheck", '"\\u00b5Home.core.healthcheck" equals the core '
          "type: answered healthy", frame_bytes(e), "valid", frame=fr(e),
          reply=ok("healthy"), reqs=["UH-EVENT-7", "UH-CORE-2"], flags=["Escapes"])
    e = env(Raw(r'"\u03bcHome.core.healthcheck"', GREEK_MU + "Home.core.healthcheck"))
    f.add("escaped-type-greek-mu", '"\\u03bcHome.core.healthcheck" (Greek mu) is an unknown '
          "type", frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY,
          reqs=["UH-EVENT-7", "UH-REPLY-5"], flags=["Escapes"])
    e = env(MICRO + "HOME.CORE.HEALTHCHECK")
    f.add("type-case-folded-healthcheck", "µHOME.CORE.HEALTHCHECK: no case folding, an "
          "unknown type", frame_bytes(e), "valid", frame=fr(e), reply=NO_HANDLER_ANY,
          reqs=["UH-EVENT-7", "UH-REPLY-5"], flags=["Escapes"])
    for slug, kw, desc in (
            ("id-not-uuid", {"id": "1"}, 'id "1" (not a UUID)'),
            ("id-uuid-upper", {"id": ID.upper()}, "an upper-case UUID id"),
            ("timestamp-odd", {"timestamp": "yesterday"}, 'timestamp "yesterday"'),
            ("timestamp-epoch", {"timestamp": "1764368270"}, "timestamp as epoch digits"),
            ("timestamp-no-millis", {"timestamp": "2026-11-28T22:17:50Z"},
             "an RFC 3339 timestamp without milliseconds")):
        e = env(T_UNKNOWN, **kw)
        f.add(slug, "%s: accepted" % desc, frame_bytes(e), "valid", frame=fr(e),
              reply=NO_HANDLER_ANY, reqs=["UH-EVENT-6"], flags=["Member"])
    # --- version 1 events
    V = ["UH-VERSION-2"]
    for slug, p, desc in (
            ("v1-event-full", env(T_UNKNOWN, data={"x": 1}), "a full event"),
            ("v1-event-type-only", {"type": T_UNKNOWN}, 'only {"type":…}: id, timestamp '
                                                        'and source are ""'),
            ("v1-event-id-number", Obj([("id", 5), ("type", T_UNKNOWN)]),
             "id a number: read as \"\""),
            ("v1-event-id-null", Obj([("id", None), ("source", ["s"]), ("type", T_UNKNOWN)]),
             "id null and source an array: both read as \"\""),
            ("v1-event-empty-strings", Obj([("id", ""), ("timestamp", ""), ("source", ""),
                                            ("type", T_UNKNOWN)]),
             "id, timestamp, source empty strings"),
            ("v1-event-data-null", {"type": T_UNKNOWN, "data": None}, "data null"),
            ("v1-event-error", {"type": T_UNKNOWN, "error": "e"}, "error a string"),
            ("v1-event-unknown-members", {"type": T_UNKNOWN, "x": [1], "y": {}},
             "unknown members")):
        f.add(slug, "version 1 event, %s" % desc, frame_bytes(p, 1), "valid", frame=fr(p, 1),
              reply=NO_HANDLER_ANY, reqs=V, flags=["V1"])
    p = {"type": MICRO + "Home.core.healthcheck"}
    f.add("v1-event-healthcheck", "version 1 event of the core type µHome.core.healthcheck: "
          "dispatched, healthy", frame_bytes(p, 1), "valid", frame=fr(p, 1),
          reply=ok("healthy"), reqs=V + ["UH-CORE-2", "UH-VERSION-5"], flags=["V1"])
    p = Obj([(Key(r"\u0074ype", "type"), MICRO + "Home.core.healthcheck")])
    f.add("v1-event-escaped-type-name", 'version 1 {"\\u0074ype":"µHome.core.healthcheck"} '
          "is an event: healthy", frame_bytes(p, 1), "valid", frame=fr(p, 1),
          reply=ok("healthy"), reqs=V + ["UH-EVENT-5"], flags=["V1", "EscapedName"])
    p = {"type": ""}
    f.add("v1-event-empty-type", 'version 1 {"type":""}: an event whose type is the empty '
          "string; no handler", frame_bytes(p, 1), "valid", frame=fr(p, 1),
          reply=NO_HANDLER_ANY, reqs=V, flags=["V1"])
    # v1 non-events
    for slug, p, desc in (
            ("v1-non-event-array", [1, 2], "[1,2]"),
            ("v1-non-event-string", "x", '"x"'),
            ("v1-non-event-number", 42, "42"),
            ("v1-non-event-null", None, "null"),
            ("v1-non-event-false", False, "false"),
            ("v1-non-event-type-number", {"type": 5}, '{"type":5}'),
            ("v1-non-event-type-null", {"type": None}, '{"type":null}'),
            ("v1-non-event-type-object", {"type": {"name": "x"}}, '{"type":{…}}'),
            ("v1-non-event-empty-object", {}, "{}"),
            ("v1-non-event-no-type", {"id": ID, "data": 1}, "an object without type"),
            ("v1-non-event-array-of-event", [{"type": T_UNKNOWN}],
             "an array holding an event-like object"),
            ("v1-non-event-json-string", '{"type":"test.unknown"}',
             "a string whose text is JSON (not parsed again)")):
        f.add(slug, "version 1 payload %s: not an event, answered no_handler" % desc,
              frame_bytes(p, 1), "valid", frame=fr(p, 1), reply=ok("no_handler"),
              reqs=V + ["UH-REPLY-5"], flags=["V1", "NonEvent"])
    p = Obj([("id", 1), ("id", 2)])
    f.add("v1-non-event-repeated-names", 'version 1 {"id":1,"id":2} (no type, not an event): '
          "refused duplicate_member all the same",
          frame_bytes(p, 1), "invalid", error="duplicate_member",
          reply=err("duplicate_member"), reqs=V + ["UH-EVENT-5"], flags=["V1", "Duplicate"])
    p = Obj([("type", 5), ("type", T_UNKNOWN)])
    f.add("v1-repeated-type-decides-event", 'version 1 {"type":5,"type":"test.unknown"}: an '
          "event only if the last type counts; refused duplicate_member",
          frame_bytes(p, 1), "invalid", error="duplicate_member",
          reply=err("duplicate_member"), reqs=V + ["UH-EVENT-5"],
          flags=["V1", "Duplicate"])
    # v1 duplicates
    for slug, p, desc in (
            ("v1-duplicate-type", Obj([("type", "a"), ("type", "b")]), "type twice"),
            ("v1-duplicate-type-escaped", Obj([("type", "a"), (Key(r"typ\u0065", "type"),
                                                               "a")]),
             '"type" and "typ\\u0065"'),
            ("v1-duplicate-id", Obj([("id", "1"), ("type", "a"), ("id", "2")]),
             "id twice in an event"),
            ("v1-duplicate-data", Obj([("type", "a"), ("data", 1), ("data", 1)]),
             "data twice in an event")):
        f.add(slug, "version 1 event with %s: duplicate_member" % desc, frame_bytes(p, 1),
              "invalid", error="duplicate_member", reply=err("duplicate_member"),
              reqs=V + ["UH-EVENT-5"], flags=["V1", "Duplicate"])
    return f


# ---------------------------------------------------------------------------------------
# core.json
# ---------------------------------------------------------------------------------------

def dns_host(n):
    """A DNS name of exactly n characters made of labels of at most 63 characters."""
    labels, left = [], n
    while left > 0:
        k = min(63, left)
        if 0 < left - k < 2:     # leave room for a dot and a one-letter label
            k -= 2
        labels.append("a" * k)
        left -= k + 1
    h = ".".join(labels)
    assert len(h) == n, (len(h), n)
    return h


def gen_core():
    f = VectorFile("core", "The `data` of the core events (section 9.1) [UH-CORE-*], "
                   "[UH-REGISTRY-*], [UH-BROKER-*]. The envelopes are valid, so every "
                   "frame decodes (`valid`); `reply` gives what the node of the named role "
                   "answers where the bytes decide it. A well-formed request whose answer "
                   "depends on the node's state (register, unregister, subscribe, "
                   "unsubscribe) has no `reply`.", {
                       "CoreData": "a valid data shape of a core type",
                       "InvalidData": "a data shape the type's schema refuses "
                                      "[UH-CORE-3]",
                       "StateDependent": "well-formed: the answer depends on the node's "
                                         "state, so there is no `reply`",
                       "Address": "the address form of [UH-CORE-4]",
                       "NodeId": "the node id form of [UH-CORE-4]",
                       "Pattern": "the subscription pattern of [UH-BROKER-3]",
                       "V1": "a version 1 event (its source may be empty)",
                       "Precedence": "several faults; the vector checks which check comes "
                                     "first",
                       "RepeatedNodeId": "a node id repeats in the list [UH-BROKER-1]; JSON "
                                         "Schema cannot express this, so schema/core/nodes.json "
                                         "accepts the shape",
                   })
    C = MICRO + "Home.core."

    def core(slug, desc, type, data=MISSING, *, reply=None, reqs, flags=(), v1=False,
             source=SERVICE, extra=()):
        if v1:
            pairs = [("type", C + type)]
            if source is not MISSING:
                pairs.insert(0, ("source", source))
            if data is not MISSING:
                pairs.append(("data", data))
            e = Obj(pairs)
            b, frm = frame_bytes(e, 1), fr(e, 1)
        else:
            e = env(C + type, data=data, source=source, extra=extra)
            b, frm = frame_bytes(e), fr(e)
        f.add(slug, desc, b, "valid", frame=frm, reply=reply, reqs=reqs, flags=list(flags))

    # --- healthcheck: every node, data ignored
    H = ["UH-CORE-2"]
    for slug, data, desc in (("healthcheck", MISSING, "without data"),
                             ("healthcheck-data-null", None, "with data null"),
                             ("healthcheck-data-object", {"x": [1]}, "with an object as data"),
                             ("healthcheck-data-string", "ping", "with a string as data"),
                             ("healthcheck-data-array", [1, 2], "with an array as data")):
        core(slug, "µHome.core.healthcheck %s: every node answers healthy" % desc,
             "healthcheck", data, reply=ok("healthy"), reqs=H, flags=["CoreData"])
    core("healthcheck-v1", "version 1 µHome.core.healthcheck without id, timestamp, source: "
         "healthy", "healthcheck", reply=ok("healthy"), reqs=H + ["UH-VERSION-2"],
         flags=["CoreData", "V1"], v1=True, source=MISSING)
    e = env(C + "healthcheck", error={"message": "x"}, source=SERVICE)
    f.add("healthcheck-with-error", "µHome.core.healthcheck carrying an error member: "
          "healthy", frame_bytes(e), "valid", frame=fr(e), reply=ok("healthy"),
          reqs=H + ["UH-EVENT-3"], flags=["CoreData"])
    # --- discover: registry, data ignored
    for slug, data, desc in (("discover", MISSING, "without data"),
                             ("discover-data-null", None, "with data null"),
                             ("discover-data-object", {"filter": "x"}, "with an object")):
        core(slug, "µHome.core.discover %s: the registry answers its list" % desc,
             "discover", data, reply=ok("nodes", "registry"),
             reqs=["UH-REGISTRY-8", "UH-CORE-1"], flags=["CoreData"])

    # --- register
    R = ["UH-CORE-3", "UH-CORE-4"]
    rfail = core_err("register")
    nid = SERVICE
    for slug, addr, desc in (
            ("register-ipv4", "127.0.0.1:5102", "an IPv4 address"),
            ("register-ipv4-port-1", "10.0.0.1:1", "port 1"),
            ("register-ipv4-port-65535", "192.168.1.20:65535", "port 65535"),
            ("register-ipv6-loopback", "[::1]:5102", "[::1]:5102"),
            ("register-ipv6-full", "[2001:db8:0:0:0:0:0:1]:5102", "a full IPv6 address"),
            ("register-dns-localhost", "localhost:5102", "the DNS name localhost"),
            ("register-dns-name", "node-1.example.com:5102", "a DNS name with dots and "
                                                             "hyphens"),
            ("register-address-255", dns_host(250) + ":5102",
             "an address of exactly 255 characters")):
        assert slug != "register-address-255" or len(addr) == 255
        core(slug, "µHome.core.register with %s: well-formed (the answer depends on the "
             "health check)" % desc, "register", {"nodeId": nid, "address": addr},
             reqs=R + ["UH-REGISTRY-1"], flags=["CoreData", "Address", "StateDependent"])
    for slug, node, desc in (("register-node-id-1", "n", "a node id of 1 character"),
                             ("register-node-id-255", "n" * 255,
                              "a node id of 255 characters")):
        core(slug, "µHome.core.register with %s: well-formed" % desc, "register",
             {"nodeId": node, "address": "127.0.0.1:5102"}, reqs=R + ["UH-REGISTRY-1"],
             flags=["CoreData", "NodeId", "StateDependent"])
    core("register-extra-member", "µHome.core.register with an extra data member: ignored, "
         "well-formed", "register", {"nodeId": nid, "address": "127.0.0.1:5102", "v": 2},
         reqs=R, flags=["CoreData", "StateDependent"])
    for slug, data, desc, fl in (
            ("register-no-data", MISSING, "without data", []),
            ("register-data-null", None, "with data null", []),
            ("register-data-array", [nid, "127.0.0.1:5102"], "with data an array", []),
            ("register-data-string", "127.0.0.1:5102", "with data a string", []),
            ("register-no-node-id", {"address": "127.0.0.1:5102"}, "without nodeId",
             ["NodeId"]),
            ("register-no-address", {"nodeId": nid}, "without address", ["Address"]),
            ("register-node-id-number", {"nodeId": 5, "address": "127.0.0.1:5102"},
             "with nodeId a number", ["NodeId"]),
            ("register-node-id-null", {"nodeId": None, "address": "127.0.0.1:5102"},
             "with nodeId null", ["NodeId"]),
            ("register-node-id-object", {"nodeId": {"id": nid}, "address": "127.0.0.1:5102"},
             "with nodeId an object", ["NodeId"]),
            ("register-node-id-empty", {"nodeId": "", "address": "127.0.0.1:5102"},
             "with nodeId empty", ["NodeId"]),
            ("register-node-id-256", {"nodeId": "n" * 256, "address": "127.0.0.1:5102"},
             "with a node id of 256 characters", ["NodeId"]),
            ("register-address-number", {"nodeId": nid, "address": 5102},
             "with address a number", ["Address"]),
            ("register-address-null", {"nodeId": nid, "address": None},
             "with address null", ["Address"]),
            ("register-address-empty", {"nodeId": nid, "address": ""},
             "with address empty", ["Address"]),
            ("register-address-no-port", {"nodeId": nid, "address": "127.0.0.1"},
             "with an address without port", ["Address"]),
            ("register-address-empty-port", {"nodeId": nid, "address": "127.0.0.1:"},
             "with an empty port", ["Address"]),
            ("register-address-port-0", {"nodeId": nid, "address": "127.0.0.1:0"},
             "with port 0", ["Address"]),
            ("register-address-port-65536", {"nodeId": nid, "address": "127.0.0.1:65536"},
             "with port 65536", ["Address"]),
            ("register-address-port-leading-zero", {"nodeId": nid,
                                                    "address": "127.0.0.1:05102"},
             "with port 05102 (leading zero)", ["Address"]),
            ("register-address-port-plus", {"nodeId": nid, "address": "127.0.0.1:+5102"},
             "with port +5102", ["Address"]),
            ("register-address-port-name", {"nodeId": nid, "address": "127.0.0.1:http"},
             "with port http", ["Address"]),
            ("register-address-port-space", {"nodeId": nid, "address": "127.0.0.1:5102 "},
             "with a space after the port", ["Address"]),
            ("register-address-empty-host", {"nodeId": nid, "address": ":5102"},
             "with an empty host", ["Address"]),
            ("register-address-ipv6-unbracketed", {"nodeId": nid, "address": "::1:5102"},
             "with an IPv6 address without brackets", ["Address"]),
            ("register-address-ipv6-unclosed", {"nodeId": nid, "address": "[::1:5102"},
             "with an unclosed bracket", ["Address"]),
            ("register-address-ipv6-no-open", {"nodeId": nid, "address": "::1]:5102"},
             "with a closing bracket only", ["Address"]),
            ("register-address-ipv6-no-colon", {"nodeId": nid, "address": "[::1]5102"},
             "with no colon after the bracket", ["Address"]),
            ("register-address-ipv6-no-port", {"nodeId": nid, "address": "[::1]"},
             "with a bracketed IPv6 address and no port", ["Address"]),
            ("register-address-space-in-host", {"nodeId": nid, "address": "local host:5102"},
             "with a space in the host", ["Address"]),
            ("register-address-256", {"nodeId": nid, "address": dns_host(251) + ":5102"},
             "with an address of 256 characters", ["Address"])):
        core(slug, "µHome.core.register %s: invalid_data" % desc, "register", data,
             reply=rfail, reqs=R, flags=["InvalidData"] + fl)
    # [UH-REGISTRY-11]: keepAlive, when present, is a boolean.
    for slug, keep, desc in (("register-keep-alive-true", True, "true"),
                             ("register-keep-alive-false", False, "false")):
        core(slug, "µHome.core.register with keepAlive %s: well-formed (the answer depends "
             "on the health check)" % desc, "register",
             {"nodeId": nid, "address": "127.0.0.1:5102", "keepAlive": keep},
             reqs=R + ["UH-REGISTRY-11"], flags=["CoreData", "StateDependent"])
    for slug, keep, desc in (("register-keep-alive-string", "yes", "a string"),
                             ("register-keep-alive-number", 1, "the number 1"),
                             ("register-keep-alive-null", None, "null")):
        core(slug, "µHome.core.register with keepAlive %s: invalid_data" % desc, "register",
             {"nodeId": nid, "address": "127.0.0.1:5102", "keepAlive": keep},
             reply=err("invalid_data", "registry", FAILURE_MESSAGES["register"],
                       member="keepAlive"),
             reqs=R + ["UH-REGISTRY-11", "UH-REPLY-11"], flags=["InvalidData"])

    # --- unregister
    U = ["UH-CORE-3", "UH-CORE-4", "UH-REGISTRY-7"]
    ufail = core_err("unregister")
    core("unregister", "µHome.core.unregister of a node id: well-formed (unregistered or "
         "not_registered depending on the list)", "unregister", {"nodeId": nid}, reqs=U,
         flags=["CoreData", "StateDependent"])
    for slug, data, desc in (("unregister-no-data", MISSING, "without data"),
                             ("unregister-no-node-id", {"id": nid}, "without nodeId"),
                             ("unregister-node-id-empty", {"nodeId": ""}, "with nodeId empty"),
                             ("unregister-node-id-number", {"nodeId": 1},
                              "with nodeId a number"),
                             ("unregister-node-id-256", {"nodeId": "n" * 256},
                              "with a node id of 256 characters")):
        core(slug, "µHome.core.unregister %s: invalid_data" % desc, "unregister", data,
             reply=ufail, reqs=U, flags=["InvalidData", "NodeId"])

    # --- nodes (broker)
    Nd = ["UH-CORE-3", "UH-BROKER-1"]
    nfail = core_err("nodes")
    a = {"nodeId": nid, "address": "127.0.0.1:5102"}
    b2 = {"nodeId": "test/other", "address": "[::1]:5103"}
    for slug, data, desc, fl in (
            ("nodes-one", {"nodes": [a]}, "one node", []),
            ("nodes-empty-list", {"nodes": []}, "an empty list", []),
            ("nodes-two", {"nodes": [a, b2]}, "two nodes", []),
            ("nodes-shared-address", {"nodes": [a, dict(a, nodeId="test/third")]},
             "two node ids at the same address (only node ids must be unique)", []),
            ("nodes-entry-extra-member", {"nodes": [dict(a, healthy=True)]},
             "an entry with an extra member", []),
            ("nodes-extra-member", {"nodes": [a], "version": 3}, "an extra data member",
             []),
            ("nodes-entry-keep-alive", {"nodes": [dict(a, keepAlive=True), b2]},
             "an entry with keepAlive true (UH-BROKER-13)", [])):
        core(slug, "µHome.core.nodes with %s: the broker replaces its list" % desc, "nodes",
             data, reply=ok("nodes_updated", "broker"), reqs=Nd + ["UH-BROKER-2"],
             flags=["CoreData"] + fl, source=MICRO + "Home/core/serviceRegistry")
    for slug, data, desc, fl in (
            ("nodes-no-data", MISSING, "without data", []),
            ("nodes-data-null", None, "with data null", []),
            ("nodes-no-list", {"list": [a]}, "without nodes", []),
            ("nodes-list-object", {"nodes": a}, "with nodes an object", []),
            ("nodes-list-string", {"nodes": "127.0.0.1:5102"}, "with nodes a string", []),
            ("nodes-list-null", {"nodes": None}, "with nodes null", []),
            ("nodes-data-array", [a], "with data the bare array", []),
            ("nodes-entry-string", {"nodes": [nid]}, "with an entry that is a string", []),
            ("nodes-entry-no-node-id", {"nodes": [{"address": "127.0.0.1:5102"}]},
             "with an entry without nodeId", ["NodeId"]),
            ("nodes-entry-no-address", {"nodes": [{"nodeId": nid}]},
             "with an entry without address", ["Address"]),
            ("nodes-entry-empty-node-id", {"nodes": [dict(a, nodeId="")]},
             "with an entry whose nodeId is empty", ["NodeId"]),
            ("nodes-entry-node-id-256", {"nodes": [dict(a, nodeId="n" * 256)]},
             "with an entry whose node id has 256 characters", ["NodeId"]),
            ("nodes-entry-bad-address", {"nodes": [dict(a, address="127.0.0.1")]},
             "with an entry whose address has no port", ["Address"]),
            ("nodes-duplicate-node-id", {"nodes": [a, a]}, "with the same entry twice",
             ["RepeatedNodeId"]),
            ("nodes-entry-keep-alive-string", {"nodes": [dict(a, keepAlive="yes")]},
             "with an entry whose keepAlive is a string (UH-BROKER-13)", []),
            ("nodes-duplicate-node-id-other-address",
             {"nodes": [a, b2, dict(a, address="127.0.0.1:6000")]},
             "with one node id at two addresses", ["RepeatedNodeId"])):
        core(slug, "µHome.core.nodes %s: invalid_data, the list is unchanged" % desc,
             "nodes", data, reply=nfail, reqs=Nd, flags=["InvalidData"] + fl,
             source=MICRO + "Home/core/serviceRegistry")

    # --- subscribe / unsubscribe
    for kind, verb in (("subscribe", "subscribe"), ("unsubscribe", "unsubscribe")):
        Sb = ["UH-CORE-3", "UH-BROKER-3", "UH-BROKER-4"] + (
            ["UH-BROKER-5"] if kind == "unsubscribe" else [])
        reason_member = ("Request did not contain a event to subscribe to"
                         if kind == "subscribe" else
                         "Request did not contain a event to unsubscribe from")
        rnf = []
        patterns_ok = (("local-test", "local.test"), ("star", "*"), ("gt", ">"),
                       ("a-star", "a.*"), ("a-gt", "a.>"), ("star-b", "*.b"),
                       ("a-star-c", "a.*.c"), ("star-star-gt", "*.*.>"),
                       ("literal-star", "a*b"), ("literal-gt", "a.>>"),
                       ("core-type", C + "publish"),
                       ("non-ascii", "maison.é.lumière"),
                       ("len-255", ".".join(["abcdefghijklmno"] * 16)))
        if kind == "unsubscribe":
            patterns_ok = patterns_ok[:3] + patterns_ok[-1:]
        for pslug, pat in patterns_ok:
            assert pslug != "len-255" or len(pat) == 255
            core("%s-pattern-%s" % (kind, pslug), "µHome.core.%s with the valid pattern %s: "
                 "well-formed (the answer depends on the node list)"
                 % (kind, pat if len(pat) < 40 else "of 255 characters"), kind,
                 {verb: pat}, reqs=Sb, flags=["CoreData", "Pattern", "StateDependent"])
        miss = (("no-data", MISSING, "without data"), ("data-null", None, "with data null"),
                ("data-empty", {}, "with data {}"),
                ("member-number", {verb: 5}, "with %s a number" % verb),
                ("member-null", {verb: None}, "with %s null" % verb),
                ("member-array", {verb: ["a"]}, "with %s an array" % verb),
                ("data-string", "local.test", "with data the bare pattern string"))
        if kind == "unsubscribe":
            miss = miss[:1] + miss[3:4]
        for mslug, data, desc in miss:
            core("%s-%s" % (kind, mslug), "µHome.core.%s %s: invalid_data%s"
                 % (kind, desc, ", reason \"%s\"" % reason_member if reason_member else ""),
                 kind, data, reply=core_err(kind, reason=reason_member),
                 reqs=Sb, flags=["InvalidData"] + rnf)
        bad = (("empty", "", "the empty pattern"),
               ("empty-token", "a..b", "the pattern a..b (an empty token)"),
               ("leading-dot", ".a", "the pattern .a"), ("trailing-dot", "a.", "the pattern a."),
               ("dot", ".", "the pattern ."),
               ("gt-not-last", "a.>.b", "the pattern a.>.b (> not last)"),
               ("gt-first", ">.a", "the pattern >.a"), ("len-256", ".".join(["abcdefghijklmno"] * 16)
                                            + "x", "a pattern of 256 characters"))
        if kind == "unsubscribe":
            bad = bad[1:2] + bad[5:6]
        for bslug, pat, desc in bad:
            core("%s-pattern-%s" % (kind, bslug), "µHome.core.%s with %s: invalid_pattern"
                 % (kind, desc), kind, {verb: pat},
                 reply=core_err(kind, code="invalid_pattern",
                                reason="Invalid subscription pattern"), reqs=Sb,
                 flags=["InvalidData", "Pattern"])
        # version 1: source may be empty
        core("%s-v1-no-source" % kind, "version 1 µHome.core.%s without source: "
             "invalid_data, reason \"Request did not contain a NodeId (source)\"" % kind,
             kind, {verb: "local.test"}, v1=True, source=MISSING,
             reply=core_err(kind, reason="Request did not contain a NodeId (source)"),
             reqs=Sb + ["UH-VERSION-2"], flags=["InvalidData", "V1"])
        if kind == "subscribe":
            core("subscribe-v1-source-number", "version 1 µHome.core.subscribe whose source "
                 "is a number (read as \"\"): invalid_data, NodeId reason", kind,
                 {verb: "local.test"}, v1=True, source=7,
                 reply=core_err(kind, reason="Request did not contain a NodeId (source)"),
                 reqs=Sb + ["UH-VERSION-2"], flags=["InvalidData", "V1"])
            core("subscribe-v1-no-source-no-data", "version 1 µHome.core.subscribe without "
                 "source and without data: the source check comes first", kind, v1=True,
                 source=MISSING,
                 reply=core_err(kind, reason="Request did not contain a NodeId (source)"),
                 reqs=Sb + ["UH-VERSION-2"], flags=["InvalidData", "V1", "Precedence"])
            core("subscribe-v1-no-source-bad-pattern", "version 1 µHome.core.subscribe "
                 "without source, pattern a..b: the source check comes first", kind,
                 {verb: "a..b"}, v1=True, source=MISSING,
                 reply=core_err(kind, reason="Request did not contain a NodeId (source)"),
                 reqs=Sb + ["UH-VERSION-2"], flags=["InvalidData", "V1", "Precedence"])
            core("subscribe-v1-with-source", "version 1 µHome.core.subscribe with a source: "
                 "well-formed", kind, {verb: "local.test"}, v1=True, source=SERVICE,
                 reqs=Sb + ["UH-VERSION-2"], flags=["CoreData", "V1", "StateDependent"])

    # --- publish
    Pb = ["UH-CORE-3", "UH-BROKER-6", "UH-BROKER-9"]
    for slug, data, desc in (
            ("publish", {"type": "local.test"}, "type local.test without data.data"),
            ("publish-data-null", {"type": "local.test", "data": None}, "data.data null"),
            ("publish-data-object", {"type": "local.test", "data": {"on": True}},
             "data.data an object"),
            ("publish-data-array", {"type": "local.test", "data": [1, 2]},
             "data.data an array"),
            ("publish-data-string", {"type": "local.test", "data": "x"}, "data.data a string"),
            ("publish-data-number", {"type": "local.test", "data": Num("1e400")},
             "data.data the number 1e400"),
            ("publish-literal-star", {"type": "a*b"}, "type a*b (no wildcard token)"),
            ("publish-literal-gt", {"type": "a.>b"}, "type a.>b (no wildcard token)"),
            ("publish-empty-token", {"type": "a..b"}, "type a..b (a type's tokens may be "
                                                      "empty)"),
            ("publish-greek-mu", {"type": GREEK_MU + "Home.x"},
             "type μHome.x with Greek mu (not reserved)"),
            ("publish-micro-without-dot", {"type": MICRO + "Home"},
             "type µHome (does not begin with µHome.)"),
            ("publish-extra-member", {"type": "local.test", "priority": 1},
             "an extra data member"),
            ("publish-wait-true", {"type": "local.test", "wait": True},
             "data.wait true (the publisher waits for the report)")):
        core(slug, "µHome.core.publish with %s: published" % desc, "publish", data,
             reply=ok("published", "broker"), reqs=Pb + ["UH-BROKER-7"], flags=["CoreData"])
    for slug, data, desc, code, fl in (
            ("publish-no-data", MISSING, "without data", "invalid_data", []),
            ("publish-null-data", None, "with data null", "invalid_data", []),
            ("publish-no-type", {"data": 1}, "without data.type", "invalid_data", []),
            ("publish-type-empty", {"type": ""}, "with data.type empty", "invalid_data", []),
            ("publish-type-number", {"type": 1}, "with data.type a number", "invalid_data",
             []),
            ("publish-type-null", {"type": None}, "with data.type null", "invalid_data", []),
            ("publish-type-star", {"type": "*"}, "with data.type *", "invalid_data",
             ["Pattern"]),
            ("publish-type-a-star", {"type": "a.*"}, "with data.type a.* (a wildcard token)",
             "invalid_data", ["Pattern"]),
            ("publish-type-star-b", {"type": "*.b"}, "with data.type *.b", "invalid_data",
             ["Pattern"]),
            ("publish-type-gt", {"type": ">"}, "with data.type >", "invalid_data",
             ["Pattern"]),
            ("publish-type-a-gt", {"type": "a.>"}, "with data.type a.>", "invalid_data",
             ["Pattern"]),
            ("publish-reserved", {"type": MICRO + "Home.x"}, "with data.type µHome.x",
             "reserved_type", []),
            ("publish-reserved-core", {"type": C + "healthcheck"},
             "with data.type µHome.core.healthcheck", "reserved_type", []),
            ("publish-reserved-prefix-only", {"type": MICRO + "Home."},
             "with data.type µHome.", "reserved_type", []),
            ("publish-reserved-escaped", Raw(r'{"type":"\u00b5Home.response"}',
                                             {"type": MICRO + "Home.response"}),
             "with data.type \\u00b5Home.response (escaped µ)", "reserved_type", []),
            ("publish-reserved-wildcard", {"type": MICRO + "Home.*"},
             "with data.type µHome.*: the wildcard check comes first", "invalid_data",
             ["Precedence", "Pattern"])):
        core(slug, "µHome.core.publish %s: %s" % (desc, code), "publish", data,
             reply=core_err("publish", code=code), reqs=Pb[:2] + (
                 ["UH-CORE-5"] if code == "reserved_type" else []),
             flags=["InvalidData"] + fl)
    # [UH-BROKER-12]: wait false is answered before delivery; wait must be a boolean.
    core("publish-wait-false", "µHome.core.publish with data.wait false: queued", "publish",
         {"type": "local.test", "wait": False}, reply=ok("queued", "broker"),
         reqs=Pb[:2] + ["UH-BROKER-12"], flags=["CoreData"])
    for slug, wait, desc in (("publish-wait-string", "no", "a string"),
                             ("publish-wait-null", None, "null"),
                             ("publish-wait-number", 0, "the number 0")):
        core(slug, "µHome.core.publish with data.wait %s: invalid_data" % desc, "publish",
             {"type": "local.test", "wait": wait},
             reply=err("invalid_data", "broker", FAILURE_MESSAGES["publish"], member="wait"),
             reqs=Pb[:2] + ["UH-BROKER-12", "UH-REPLY-11"], flags=["InvalidData"])
    core("publish-wait-checked-after-type", "µHome.core.publish with data.type µHome.x and "
         "data.wait a string: reserved_type, the type is checked first", "publish",
         {"type": MICRO + "Home.x", "wait": "no"}, reply=core_err("publish", code="reserved_type"),
         reqs=Pb[:2] + ["UH-BROKER-12", "UH-CORE-5"], flags=["InvalidData", "Precedence"])
    return f


# ---------------------------------------------------------------------------------------
# v0.0.1 captures (copied from the capture log; see CAPTURES below)
# ---------------------------------------------------------------------------------------

class F:
    """One captured frame: header fields and the payload structure it was built from.
    `length` is given only where the header does not state the payload's size (8d)."""

    def __init__(self, version, status, payload, length=None):
        self.version, self.status, self.payload, self.length = version, status, payload, length

    def bytes(self):
        return frame_bytes(enc(self.payload), self.version, self.status, self.length)


def RAW(b):
    return Raw(b)


class Big:
    """A large capture printed truncated: the payload is v0.0.1's compact
    {"id","timestamp","source","type","data":{"pad":"xxx…"}} of `payload_length` bytes."""

    def __init__(self, id, timestamp, source, type, payload_length):
        base = env(type, data={"pad": ""}, id=id, timestamp=timestamp, source=source)
        pad = payload_length - len(enc(base))
        self.struct = env(type, data={"pad": "x" * pad}, id=id, timestamp=timestamp,
                          source=source)
        self.payload = enc(self.struct)
        assert len(self.payload) == payload_length
        assert self.payload.endswith(b'xxx"}}')


class Capture:
    def __init__(self, sid, title, tcp, **kw):
        self.sid, self.title, self.tcp = sid, title, tcp
        self.dirs = {}
        for d in ("c2s", "s2c"):
            self.dirs[d] = {k[len(d) + 1:]: v for k, v in kw.items() if k.startswith(d)}
            self.dirs[d]["frames_src"] = kw[d]
        self._check()

    def segments(self, d):
        """TCP payload segment sizes of one direction, in order."""
        tag = "C>S" if d == "c2s" else "S>C"
        return [int(n) for who, n in re.findall(r"(C>S|S>C)\[[A-Z]+\](\d+)", self.tcp)
                if who == tag and int(n) > 0]

    def _check(self):
        for d, info in self.dirs.items():
            hexs = "".join(info["hex"])
            src = info["frames_src"]
            if isinstance(src, Big):
                hdr = bytes.fromhex(info["headers"][0])
                stream = hdr + src.payload
                assert stream.startswith(bytes.fromhex(hexs)), self.sid
            else:
                stream = b"".join(fb.bytes() for fb in src)
                assert stream == bytes.fromhex(hexs), self.sid
            assert len(stream) == info["total"], (self.sid, d)
            assert sum(self.segments(d)) == len(stream), (self.sid, d)
            # split into frames by the header lengths
            frames, i = [], 0
            while i < len(stream):
                L = int.from_bytes(stream[i:i + 2], "big")
                frames.append(stream[i:i + 5 + L])
                i += 5 + L
            assert [x[:5].hex() for x in frames] == info["headers"], (self.sid, d)
            if "payload_sizes" in info:
                assert [len(x) - 5 for x in frames] == info["payload_sizes"], self.sid
                for x, pv in zip(frames, info["previews"]):
                    assert x[5:].startswith(pv.encode()), self.sid
            if not isinstance(src, Big):
                assert [fb.bytes() for fb in src] == frames
            info["stream"] = stream
            info["frames"] = frames

    def stream(self, d):
        return self.dirs[d]["stream"]

    def frames(self, d):
        return self.dirs[d]["frames"]

    def client_segments(self):
        out, i = [], 0
        s = self.stream("c2s")
        for n in self.segments("c2s"):
            out.append(s[i:i + n])
            i += n
        return out


def reply_message(struct):
    """legacyReplies.message: data.message, or error.message, or the plain-string error."""
    v = val(struct)
    if isinstance(v.get("data"), dict):
        return v["data"]["message"]
    e = v.get("error")
    return e["message"] if isinstance(e, dict) else e


# ---------------------------------------------------------------------------------------
# legacy.json
# ---------------------------------------------------------------------------------------

NODE_LIMIT = ("the reply assumes a node that accepts payloads up to 65535 bytes "
              "([UH-FRAME-6] SHOULD); a node with a lower limit answers too_large instead")

# Per captured request frame: (result, error, reply, requirements, extra flags, description)
LEGACY_REQUESTS = {
    "1": [("valid", None, None, ["UH-FRAME-1", "UH-FRAME-2", "UH-VERSION-3", "UH-CORE-4",
                                 "UH-EVENT-8"], [],
           "the service's µHome.core.register (its answer depends on the health check)")],
    "2": [("valid", None, ok("healthy"), ["UH-FRAME-1", "UH-CORE-2", "UH-CORE-6"], [],
           "the registry's µHome.core.healthcheck to the service")],
    "3": [("valid", None, ok("nodes_updated", "broker"), ["UH-FRAME-1", "UH-BROKER-1",
                                                          "UH-CORE-6", "UH-REGISTRY-4"], [],
           "the registry's µHome.core.nodes push with one node")],
    "4a": [("valid", None, None, ["UH-FRAME-1", "UH-BROKER-4"], [],
            "the service's µHome.core.subscribe to local.test (answer depends on the list)")],
    "4b": [("valid", None, None, ["UH-FRAME-1", "UH-BROKER-4"], [],
            "the retried µHome.core.subscribe to local.test")],
    "5": [("valid", None, None, ["UH-FRAME-1", "UH-EVENT-3"], [],
           "the broker's delivery of local.test with data {\"incoming\":true} (the answer "
           "is the service handler's)")],
    "6": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-1", "UH-REPLY-5"], [],
           "a probe of the unknown type probe.unknown")],
    "7a": [("invalid", "invalid_json", err("invalid_json"), ["UH-JSON-1", "UH-EXCHANGE-7"],
            [], "length 10, payload 'not json!!'")],
    "7b": [("invalid", "invalid_event", err("invalid_event"), ["UH-EVENT-2"], [],
            "a v2 event without type (v0.0.1 answered No Handler)")],
    "7c": [("valid", None, err("bad_status"), ["UH-STATUS-2", "UH-STATUS-3"], [],
            "a request with status 0")],
    "7d": [("valid", None, err("bad_status"), ["UH-FRAME-4", "UH-STATUS-3"], [],
            "a request with status 0xff (255, not -1)")],
    "7e": [("invalid", "unsupported_version", err("unsupported_version"),
            ["UH-VERSION-4", "UH-VERSION-5"], [],
            "a request with version 99 (v0.0.1 served it like 2)")],
    "8a": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-2", "UH-EXCHANGE-4"], [],
            "the first of two frames sent in one segment (probe.first)"),
           ("valid", None, NO_HANDLER_ANY, ["UH-FRAME-2", "UH-EXCHANGE-4"], [],
            "the second of two frames sent in one segment (probe.second; v0.0.1 ignored "
            "it)")],
    "8b": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-3", "UH-EXCHANGE-3"], [],
            "the 202-byte frame that was sent split at byte 60, reassembled")],
    "8c": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-3", "UH-EXCHANGE-3"], [],
            "the 202-byte frame that was sent split after 3 header bytes, reassembled")],
    "8d": [("invalid", "incomplete", None, ["UH-FRAME-3", "UH-EXCHANGE-6"], ["Incomplete"],
            "length 5000 declared, 131 payload bytes sent (v0.0.1 answered No Handler)")],
    "8e": [("invalid", "invalid_json", err("invalid_json"), ["UH-JSON-1", "UH-FRAME-2"], [],
            "length 0: the empty payload")],
    "8f": [("invalid", "invalid_event", err("invalid_event"), ["UH-EVENT-1"], [],
            "the v2 payload null")],
    "8g": [("valid", None, core_err("subscribe",
                                    reason="Request did not contain a event to subscribe to"),
            ["UH-CORE-3", "UH-BROKER-4", "UH-REPLY-6"], [],
            "µHome.core.subscribe without data")],
    "8h": [("valid", None, NO_HANDLER_ANY, ["UH-EXCHANGE-2", "UH-EXCHANGE-9"], [],
            "the first of two requests 500 ms apart on one connection (probe.a)"),
           ("valid", None, NO_HANDLER_ANY, ["UH-EXCHANGE-2", "UH-EXCHANGE-9"], [],
            "the second of two requests 500 ms apart on one connection (probe.b)")],
    "8i": [("valid", None, NO_HANDLER_ANY, ["UH-EXCHANGE-5"], [],
            "a request after which the client half-closed")],
    "9a": [("invalid", "invalid_json", err("invalid_json"),
            ["UH-FRAME-2", "UH-FRAME-5", "UH-JSON-5"], ["LargePayload", "NodeLimit"],
            "the first 65540 bytes of a 70000-byte payload sent with length 0xffff: an "
            "unterminated string"),
           ("invalid", "incomplete", None, ["UH-FRAME-2", "UH-FRAME-3"],
            ["Incomplete", "PseudoFrame"],
            "the 4465 bytes after it: header 78 78 78 78 78 (length 30840) and 4460 bytes")],
    "9b": [("invalid", "invalid_json", err("invalid_json"),
            ["UH-FRAME-2", "UH-FRAME-5", "UH-JSON-5"], [],
            "the first 4469 bytes of a 70000-byte payload sent with length 0x1170 = "
            "70000 & 0xffff: an unterminated string"),
           ("invalid", "unsupported_version", err("unsupported_version"),
            ["UH-FRAME-2", "UH-VERSION-4", "UH-EXCHANGE-10"],
            ["PseudoFrame", "Precedence", "NodeLimit"],
            "the first pseudo-frame of 'x' bytes: header 78 78 78 78 78 = length 30840, "
            "version 30840, status 120"),
           ("invalid", "unsupported_version", err("unsupported_version"),
            ["UH-FRAME-2", "UH-VERSION-4", "UH-EXCHANGE-10"],
            ["PseudoFrame", "Precedence", "NodeLimit"],
            "the second pseudo-frame of 'x' bytes (version 30840, status 120)"),
           ("invalid", "incomplete", None, ["UH-FRAME-3"], ["Incomplete", "PseudoFrame"],
            "the last 3846 bytes: a third pseudo-frame header and 3841 of its 30840 bytes")],
    "9c": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-2", "UH-FRAME-6"],
            ["LargePayload", "NodeLimit"],
            "a valid 65535-byte payload (v0.0.1 failed on it)")],
    "9d": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-6", "UH-EXCHANGE-12"],
            ["LargePayload", "NodeLimit"],
            "a valid 65531-byte payload, the largest v0.0.1 handles")],
    "9e": [("valid", None, NO_HANDLER_ANY, ["UH-FRAME-6"], ["LargePayload", "NodeLimit"],
            "a valid 65532-byte payload (v0.0.1 failed on it)")],
}

# the client write held several frames: a vector of the whole write
LEGACY_WHOLE_WRITES = {
    "8a": "both frames of the single segment: the first is decoded, the second follows",
    "9a": "the whole 70005-byte client write (TCP segments 32741 + 32741 + 4523): the "
          "first frame is decoded",
    "9b": "the whole 70005-byte client write (TCP segments 32741 + 32741 + 4523): the "
          "first frame is decoded",
}

# the first TCP segment of a split request, alone
LEGACY_FIRST_SEGMENTS = {
    "8b": "the first segment alone (60 of 202 bytes): incomplete, 142 bytes needed",
    "8c": "the first segment alone (3 header bytes): incomplete, 2 header bytes needed",
}


def gen_legacy():
    f = VectorFile("legacy", "Every frame of the µHome v0.0.1 wire captures, each request "
                   "and each reply frame as its own vector (reassembled across TCP "
                   "segments), plus the whole client write where it held several frames. "
                   "The large captures (9a–9e), printed truncated in the capture log, are "
                   "reconstructed exactly: the visible prefix, 'x' padding, then \"}}, at "
                   "the stated total length.", {
                       "Legacy": "bytes captured from µHome v0.0.1",
                       "Request": "a frame a client sent",
                       "Reply": "a frame a v0.0.1 node sent back; replies decode like any "
                                "frame ([UH-REPLY-4]: v0.0.1's replies carry no code)",
                       "PlainStringError": "a v0.0.1 µHome.error whose error is a plain "
                                           "string ([UH-REPLY-4])",
                       "TrailingBytes": "bytes follow the first frame",
                       "Incomplete": "the input ends before the frame does",
                       "LargePayload": "payload of 32768 bytes or more",
                       "Reconstructed": "printed truncated in the capture log; rebuilt from "
                                        "the visible prefix, the stated sizes and the "
                                        "frame boundaries",
                       "PseudoFrame": "bytes of an over-long payload that a receiver reads "
                                      "as a frame of its own because the sender wrote a "
                                      "truncated length",
                       "Precedence": "several faults; the version decides "
                                     "([UH-EXCHANGE-10])",
                       "NodeLimit": NODE_LIMIT,
                       "SplitSegment": "one TCP segment of a request the client split",
                   })
    for cap in CAPTURES:
        reqs_spec = LEGACY_REQUESTS[cap.sid]
        src = cap.dirs["c2s"]["frames_src"]
        frames = cap.frames("c2s")
        assert len(frames) == len(reqs_spec), cap.sid
        big = isinstance(src, Big)
        base_flags = ["Legacy", "Request"] + (["Reconstructed"] if big else [])
        for k, (fb, spec) in enumerate(zip(frames, reqs_spec)):
            result, error, reply, reqs, flags, desc = spec
            slug = "%s-request%s" % (cap.sid, "-%d" % (k + 1) if len(frames) > 1 else "")
            if big and k > 0:
                slug = "%s-pseudo-frame%s" % (cap.sid, "-%d" % k if len(frames) > 2 else "")
            frame = None
            if result == "valid":
                struct = src.struct if big else src[k].payload
                ver, st = (2, 1) if big else (src[k].version, src[k].status)
                frame = fr(struct, ver, st)
            f.add(slug, "capture %s: %s" % (cap.sid, desc), fb, result, frame=frame,
                  error=error, reply=reply, reqs=reqs, flags=base_flags + flags)
        if cap.sid in LEGACY_WHOLE_WRITES:
            spec = reqs_spec[0]
            result, error, reply, reqs, flags, _ = spec
            stream = cap.stream("c2s")
            frame = None
            if result == "valid":
                frame = fr(src[0].payload, src[0].version, src[0].status)
            f.add("%s-client-write" % cap.sid, "capture %s: %s"
                  % (cap.sid, LEGACY_WHOLE_WRITES[cap.sid]), stream, result, frame=frame,
                  error=error, reply=reply,
                  reqs=reqs + [r for r in ["UH-EXCHANGE-4"] if r not in reqs],
                  flags=base_flags + [x for x in flags if x != "PseudoFrame"] +
                  ["TrailingBytes"])
        if cap.sid in LEGACY_FIRST_SEGMENTS:
            seg = cap.client_segments()[0]
            f.add("%s-first-segment" % cap.sid, "capture %s: %s"
                  % (cap.sid, LEGACY_FIRST_SEGMENTS[cap.sid]), seg, "invalid",
                  error="incomplete", reqs=["UH-FRAME-3", "UH-EXCHANGE-3"],
                  flags=["Legacy", "Request", "Incomplete", "SplitSegment"])
        # replies
        rsrc = cap.dirs["s2c"]["frames_src"]
        rframes = cap.frames("s2c")
        for k, (fb, fsrc) in enumerate(zip(rframes, rsrc)):
            v = val(fsrc.payload)
            plain = isinstance(v.get("error"), str)
            slug = "%s-reply%s" % (cap.sid, "-%d" % (k + 1) if len(rframes) > 1 else "")
            what = ("%s, status %d, %s %s" % (v["type"], fsrc.status,
                                              "error" if "error" in v else "message",
                                              json.dumps(reply_message(fsrc.payload),
                                                         ensure_ascii=False)))
            reqs = ["UH-FRAME-1", "UH-VERSION-5", "UH-REPLY-1", "UH-REPLY-4"]
            f.add(slug, "capture %s: v0.0.1's reply %s" % (cap.sid, what), fb, "valid",
                  frame=fr(fsrc.payload, fsrc.version, fsrc.status),
                  reply=err("bad_status") if fsrc.status != 1 else ok("no_handler"),
                  reqs=reqs + (["UH-STATUS-3", "UH-STATUS-4"] if fsrc.status != 1
                               else ["UH-REPLY-5"]),
                  flags=["Legacy", "Reply"] + (["PlainStringError"] if plain else []))
    return f


# ---------------------------------------------------------------------------------------
# legacy-exchanges.json
# ---------------------------------------------------------------------------------------

def expect(r):
    """An `expected` entry: a reply without its role."""
    return {k: v for k, v in r.items() if k != "role"}


NO_HANDLER = expect(ok("no_handler"))
REG_SETUP = ("No node µHome/dummyService is registered at another, healthy address. A node "
             "that answers µHome.core.healthcheck with status 1 listens at 127.0.0.1:5102; a "
             "harness may run it elsewhere, substitute its address in data.address and "
             "re-encode the frame (the length changes accordingly). Whether the registry "
             "reaches its broker does not change the reply ([UH-REGISTRY-4]).")

EXCHANGES = {
    "1": dict(slug="register", role="registry", outcome="compatible", setup=REG_SETUP,
              expected=[{"status": 1, "type": MICRO + "Home.response", "code": "registered",
                         "message": "Successfully registered microservice "
                                    "'µHome/dummyService'"}],
              reqs=["UH-REGISTRY-1", "UH-REGISTRY-3", "UH-REPLY-2"],
              description="µHome.core.register of µHome/dummyService at 127.0.0.1:5102"),
    "2": dict(slug="healthcheck", role="service", outcome="compatible",
              setup="Any service.", expected=[expect(ok("healthy"))],
              reqs=["UH-CORE-2"], description="the registry health-checks the service"),
    "3": dict(slug="nodes", role="broker", outcome="compatible", setup="Any broker state.",
              expected=[expect(ok("nodes_updated"))], reqs=["UH-BROKER-1", "UH-REGISTRY-4"],
              description="the registry pushes a one-node list to the broker"),
    "4a": dict(slug="subscribe-not-registered", role="broker", outcome="compatible",
               setup="The broker's node list does not hold µHome/dummyService (v0.0.1 lost "
                     "the race with the registry's list push).",
               expected=[expect(core_err("subscribe", code="not_registered",
                                         reason="Node is not registered"))],
               reqs=["UH-BROKER-4", "UH-REGISTRY-4"],
               description="µHome.core.subscribe from a node the broker does not know"),
    "4b": dict(slug="subscribe", role="broker", outcome="compatible",
               setup="The broker's node list holds µHome/dummyService (for example after the "
                     "µHome.core.nodes push of capture 3).",
               expected=[expect(ok("subscribed"))], reqs=["UH-BROKER-4"],
               description="µHome.core.subscribe to local.test from a registered node"),
    "5": dict(slug="delivery", role="service", outcome="compatible",
              setup="A service with a handler for local.test that answers status 1, "
                    "µHome.response, message \"Received\", code \"received\" "
                    "([UH-REPLY-8]).",
              expected=[{"status": 1, "type": MICRO + "Home.response", "code": "received",
                         "message": "Received"}],
              reqs=["UH-BROKER-7", "UH-REPLY-8"],
              description="the broker delivers local.test to the subscribed service"),
    "6": dict(slug="unknown-type", role="broker", outcome="compatible", setup="None.",
              expected=[NO_HANDLER], reqs=["UH-REPLY-5"],
              description="a request of an unknown type"),
    "7a": dict(slug="not-json", role="broker", outcome="departure", setup="None.",
               expected=[expect(err("invalid_json"))], reqs=["UH-JSON-1", "UH-REPLY-3"],
               description="payload 'not json!!'",
               note="v0.0.1 answered the V8 exception text as a plain-string error; a "
                    "conforming node answers an error object with message \"Payload is not "
                    "valid JSON\" and code invalid_json."),
    "7b": dict(slug="no-type", role="broker", outcome="departure", setup="None.",
               expected=[expect(err("invalid_event"))], reqs=["UH-EVENT-2"],
               description="a v2 event without type",
               note="v0.0.1 answered No Handler for Event registered (status 1)."),
    "7c": dict(slug="status-0", role="broker", outcome="compatible", setup="None.",
               expected=[expect(err("bad_status"))], reqs=["UH-STATUS-3"],
               description="a request with status 0",
               note="v0.0.1's error is the plain string \"Error in Message\"; a conforming "
                    "node sends an error object with the same message and code bad_status."),
    "7d": dict(slug="status-255", role="broker", outcome="compatible", setup="None.",
               expected=[expect(err("bad_status"))], reqs=["UH-STATUS-3", "UH-FRAME-4"],
               description="a request with status 0xff",
               note="v0.0.1 read the status as -1; either way it is not 1."),
    "7e": dict(slug="version-99", role="broker", outcome="departure", setup="None.",
               expected=[expect(err("unsupported_version"))], reqs=["UH-VERSION-4"],
               description="a request with version 99",
               note="v0.0.1 served version 99 like version 2 (No Handler)."),
    "8a": dict(slug="two-frames-one-segment", role="broker", outcome="departure",
               setup="None.", expected=[NO_HANDLER, NO_HANDLER],
               reqs=["UH-EXCHANGE-4", "UH-EXCHANGE-2"],
               description="two frames written in one segment",
               note="v0.0.1 answered only the first frame."),
    "8b": dict(slug="split-at-60", role="broker", outcome="departure", setup="None.",
               expected=[NO_HANDLER], reqs=["UH-EXCHANGE-3", "UH-FRAME-3"],
               pauses=[0, 300], description="one frame written as 60 + 142 bytes, 300 ms "
                                            "apart",
               note="v0.0.1 parsed each read as a frame and sent two error replies."),
    "8c": dict(slug="split-in-header", role="broker", outcome="departure", setup="None.",
               expected=[NO_HANDLER], reqs=["UH-EXCHANGE-3", "UH-FRAME-3"],
               pauses=[0, 300], flags=["PauseDerived"],
               description="one frame written as 3 + 199 bytes",
               note="v0.0.1 sent two error replies. The capture log states no pause for this "
                    "probe; v0.0.1's two replies are 299 ms apart, so the pause is recorded "
                    "as 300 ms like 8b's."),
    "8d": dict(slug="length-beyond-bytes", role="broker", outcome="departure",
               setup="None.", expected=[], pending=True,
               reqs=["UH-FRAME-3", "UH-EXCHANGE-6"], flags=["IdleTimeout"],
               description="length 5000 declared, 131 payload bytes sent",
               note="No reply: the frame is incomplete (4869 bytes missing). The node waits; "
                    "its idle timeout closes the connection (or the client gives up first). "
                    "v0.0.1 answered No Handler."),
    "8e": dict(slug="empty-payload", role="broker", outcome="departure", setup="None.",
               expected=[expect(err("invalid_json"))], reqs=["UH-JSON-1"],
               description="length 0",
               note="v0.0.1 answered the V8 text \"Unexpected end of JSON input\"."),
    "8f": dict(slug="null-payload", role="broker", outcome="departure", setup="None.",
               expected=[expect(err("invalid_event"))], reqs=["UH-EVENT-1"],
               description="the v2 payload null",
               note="v0.0.1 answered a V8 TypeError text."),
    "8g": dict(slug="subscribe-without-data", role="broker", outcome="departure",
               setup="None.",
               expected=[expect(core_err("subscribe", reason="Request did not contain a "
                                                             "event to subscribe to"))],
               reqs=["UH-CORE-3", "UH-BROKER-4"],
               description="µHome.core.subscribe without data",
               note="v0.0.1 answered a V8 TypeError text; the reason kept is v0.0.1's own "
                    "wording for a missing subscription."),
    "8h": dict(slug="two-requests-one-connection", role="broker", outcome="compatible",
               setup="None.", expected=[NO_HANDLER, NO_HANDLER], pauses=[0, 500],
               reqs=["UH-EXCHANGE-2", "UH-EXCHANGE-9"],
               description="two requests 500 ms apart on one connection"),
    "8i": dict(slug="half-close", role="broker", outcome="compatible", setup="None.",
               expected=[NO_HANDLER], half_close=True, reqs=["UH-EXCHANGE-5"],
               description="the client half-closes right after its request"),
    "9a": dict(slug="payload-70000-length-ffff", role="broker", outcome="departure",
               setup="None.", expected=[expect(err("invalid_json"))], pending=True,
               reqs=["UH-FRAME-2", "UH-FRAME-3", "UH-FRAME-5", "UH-EXCHANGE-6"],
               flags=["LargePayload", "NodeLimit", "IdleTimeout", "Reconstructed"],
               description="a 70000-byte payload written with length 0xffff",
               note="The sender broke [UH-FRAME-5]. The first 65540 bytes are a frame whose "
                    "payload ends inside a string (invalid_json); the 4465 bytes after it "
                    "read as a header of length 30840 and 4460 payload bytes, incomplete, so "
                    "the node waits until its idle timeout. v0.0.1 sent two errors."),
    "9b": dict(slug="payload-70000-length-1170", role="broker", outcome="departure",
               setup="None.",
               expected=[expect(err("invalid_json")), expect(err("unsupported_version")),
                         expect(err("unsupported_version"))], pending=True,
               reqs=["UH-FRAME-2", "UH-FRAME-5", "UH-VERSION-4", "UH-EXCHANGE-7",
                     "UH-EXCHANGE-10"],
               flags=["IdleTimeout", "NodeLimit", "Reconstructed"],
               description="a 70000-byte payload written with length 70000 & 0xffff = 4464",
               note="The frames by the header lengths: 4469 bytes (unterminated string, "
                    "invalid_json); two pseudo-frames of 'x' bytes with header 78 78 78 78 "
                    "78 (version 30840 decides before status 120: unsupported_version); a "
                    "tail of 3846 bytes that is incomplete, so the node waits until its idle "
                    "timeout. v0.0.1 sent two errors."),
    "9c": dict(slug="payload-65535", role="broker", outcome="departure", setup="None.",
               expected=[NO_HANDLER], reqs=["UH-FRAME-6"],
               flags=["LargePayload", "NodeLimit", "Reconstructed"],
               description="a valid 65535-byte payload",
               note="v0.0.1 read 65536 bytes at a time and failed with two errors."),
    "9d": dict(slug="payload-65531", role="broker", outcome="compatible", setup="None.",
               expected=[NO_HANDLER], reqs=["UH-FRAME-6", "UH-EXCHANGE-12"],
               flags=["LargePayload", "NodeLimit", "Reconstructed"],
               description="a valid 65531-byte payload, the largest v0.0.1 handles"),
    "9e": dict(slug="payload-65532", role="broker", outcome="departure", setup="None.",
               expected=[NO_HANDLER], reqs=["UH-FRAME-6"],
               flags=["LargePayload", "NodeLimit", "Reconstructed"],
               description="a valid 65532-byte payload",
               note="v0.0.1 failed with two errors."),
}

def gen_legacy_exchanges(legacy):
    flags = {
        "LargePayload": "payload of 32768 bytes or more",
        "Reconstructed": "printed truncated in the capture log; rebuilt exactly (see "
                         "legacy.json)",
        "NodeLimit": NODE_LIMIT,
        "IdleTimeout": "the exchange ends with an incomplete frame (`pending`): no reply "
                       "to it, the node's idle timeout [UH-EXCHANGE-6] ends the connection",
        "PauseDerived": "the capture log states no pause; the one recorded is derived from "
                        "the timestamps of v0.0.1's replies",
    }
    out = []
    used = set()
    for cap in CAPTURES:
        x = EXCHANGES[cap.sid]
        segs = cap.client_segments()
        pauses = x.get("pauses", [0] * len(segs))
        assert len(pauses) == len(segs)
        rsrc = cap.dirs["s2c"]["frames_src"]
        replies = []
        for fb, fsrc in zip(cap.frames("s2c"), rsrc):
            v = val(fsrc.payload)
            replies.append({"hex": fb.hex(), "type": v["type"], "status": fsrc.status,
                            "message": reply_message(fsrc.payload)})
        e = {"id": "legacy-exchanges/%s-%s" % (cap.sid, x["slug"]), "capture": cap.sid,
             "description": "capture %s: %s" % (cap.sid, x["description"]),
             "role": x["role"], "setup": x["setup"],
             "segments": [{"hex": s.hex(), "pauseMsBefore": p} for s, p in zip(segs, pauses)],
             "halfClose": x.get("half_close", False), "legacyReplies": replies,
             "outcome": x["outcome"], "expected": x["expected"]}
        if x["outcome"] == "compatible":
            assert len(x["expected"]) == len(replies)
            for a, b in zip(x["expected"], replies):
                assert (a["type"], a["status"], a["message"]) == (
                    b["type"], b["status"], b["message"]), cap.sid
        if x.get("pending"):
            # the incomplete frame the client's bytes end with
            frames = cap.frames("c2s")
            last = frames[-1]
            missing = needed_for(last)
            assert missing > 0
            e["pending"] = {"bytes": len(last), "needed": missing}
        if "note" in x:
            e["note"] = x["note"]
        e["requirements"] = x["reqs"]
        e["flags"] = x.get("flags", [])
        used.update(e["flags"])
        e["vectors"] = [i for i in (v["id"] for v in legacy.vectors)
                        if i.startswith("legacy/%s-" % cap.sid)]
        assert e["vectors"]
        out.append(e)
    assert used == set(flags), (used, set(flags))
    return {"name": "legacy-exchanges",
            "description": "The request/reply exchanges of the µHome v0.0.1 captures: the "
                           "TCP segments the client wrote (with pauses), the frames v0.0.1 "
                           "answered, and the replies a conforming node sends instead "
                           "(`expected`). `compatible` exchanges are answered with the same "
                           "type, status and message as v0.0.1; `departure` exchanges cite "
                           "the requirements that depart (Appendix A).",
            "specVersion": SPEC_VERSION, "flags": flags, "exchanges": out}


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------

def dumps(doc):
    """json.dumps(indent=2, ensure_ascii=False) plus a trailing newline; Num values are
    written as their exact number text."""
    nums = []

    def default(o):
        if isinstance(o, Num):
            nums.append(o.text)
            return "@@NUM%d@@" % (len(nums) - 1)
        raise TypeError(repr(o))

    text = json.dumps(doc, indent=2, ensure_ascii=False, default=default)
    for i, t in enumerate(nums):
        token = '"@@NUM%d@@"' % i
        assert text.count(token) == 1
        text = text.replace(token, t)
    assert "@@NUM" not in text
    return text + "\n"


def defined_requirements():
    with open(PROTOCOL_MD, encoding="utf-8") as fh:
        return set(re.findall(r"\*\*\[(UH-[A-Z]+-[0-9]+)\]\*\*", fh.read()))


def build():
    files = [gen_frame(), gen_version_status(), gen_json(), gen_utf8(), gen_envelope(),
             gen_core()]
    legacy = gen_legacy()
    files.append(legacy)
    docs = {vf.name + ".json": vf.document() for vf in files}
    docs["legacy-exchanges.json"] = gen_legacy_exchanges(legacy)
    # consistency: unique ids, requirements defined in protocol.md
    known = defined_requirements()
    seen = set()
    for name, doc in docs.items():
        items = doc.get("vectors", doc.get("exchanges"))
        for v in items:
            assert v["id"] not in seen, v["id"]
            seen.add(v["id"])
            for r in v["requirements"]:
                assert r in known, (v["id"], r)
            assert len(set(v["requirements"])) == len(v["requirements"]), v["id"]
    auth = auth_vectors.document(SPEC_VERSION)
    for v in auth["vectors"]:
        assert v["id"] not in seen, v["id"]
        seen.add(v["id"])
        for r in v["requirements"]:
            assert r in known, (v["id"], r)
    out = {os.path.join(VECTOR_DIR, name): dumps(doc) for name, doc in docs.items()}
    out[AUTH_VECTORS] = dumps(auth)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args(argv)
    out = build()
    if args.check:
        bad = []
        for path, text in out.items():
            try:
                with open(path, "rb") as fh:
                    same = fh.read() == text.encode("utf-8")
            except FileNotFoundError:
                same = False
            if not same:
                bad.append(path)
        for path in bad:
            print("spec/%s differs from what gen_vectors.py writes"
                  % os.path.relpath(path, SPEC_DIR), file=sys.stderr)
        return 1 if bad else 0
    for path, text in out.items():
        with open(path, "wb") as fh:
            fh.write(text.encode("utf-8"))
    return 0


# ---------------------------------------------------------------------------------------
# The capture log, copied: per capture the tcpdump segment list, per direction the total,
# the frame headers it lists, the hex (only a prefix for the large captures) and the
# frames' payloads as structures (the generator re-encodes them and checks the bytes).
# ---------------------------------------------------------------------------------------

CAPTURES = [
    Capture(
        '1', 'register (service -> registry :5101)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]217, S>C[A]0, S>C[PA]260, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=217,
        c2s_headers=['00d4000201'],
        c2s_hex=(
            '00d40002017b226964223a2262383030383833322d636430392d343132612d383563342d663064666561373035656431'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3438315a222c22736f75726365'
            '223a22c2b5486f6d652f64756d6d7953657276696365222c2274797065223a22c2b5486f6d652e636f72652e72656769'
            '73746572222c2264617461223a7b226e6f64654964223a22c2b5486f6d652f64756d6d7953657276696365222c226164'
            '6472657373223a223132372e302e302e313a35313032227d7d'
        ),
        c2s=[
            F(2, 1, {'id': 'b8008832-cd09-412a-85c4-f0dfea705ed1', 'timestamp': '2026-11-28T22:17:50.481Z', 'source': 'µHome/dummyService', 'type': 'µHome.core.register', 'data': {'nodeId': 'µHome/dummyService', 'address': '127.0.0.1:5102'}}),
        ],
        s2c_total=260,
        s2c_headers=['00ff000201'],
        s2c_hex=(
            '00ff0002017b226964223a2230376136396138622d323636652d343766662d623466392d313166363033346361633635'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3530335a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f736572766963655265676973747279222c2274797065223a22c2b5486f6d652e72'
            '6573706f6e7365222c2264617461223a7b226d657373616765223a225375636365737366756c6c792072656769737465'
            '726564206d6963726f736572766963652027c2b5486f6d652f64756d6d795365727669636527222c2261646472657373'
            '223a223132372e302e302e313a35313032227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '07a69a8b-266e-47ff-b4f9-11f6034cac65', 'timestamp': '2026-11-28T22:17:50.503Z', 'source': 'µHome/core/serviceRegistry', 'type': 'µHome.response', 'data': {'message': "Successfully registered microservice 'µHome/dummyService'", 'address': '127.0.0.1:5102'}}),
        ],
    ),
    Capture(
        '2', 'healthcheck (registry -> service :5102)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]161, S>C[A]0, S>C[PA]185, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=161,
        c2s_headers=['009c000201'],
        c2s_hex=(
            '009c0002017b226964223a2261633136386165612d666435342d346530352d383936652d623435306332373766633631'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3439355a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f736572766963655265676973747279222c2274797065223a22c2b5486f6d652e63'
            '6f72652e6865616c7468636865636b227d'
        ),
        c2s=[
            F(2, 1, {'id': 'ac168aea-fd54-4e05-896e-b450c277fc61', 'timestamp': '2026-11-28T22:17:50.495Z', 'source': 'µHome/core/serviceRegistry', 'type': 'µHome.core.healthcheck'}),
        ],
        s2c_total=185,
        s2c_headers=['00b4000201'],
        s2c_hex=(
            '00b40002017b226964223a2239313565393030382d636533612d343563642d383033372d386164343636633436353430'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3439395a222c22736f75726365'
            '223a22c2b5486f6d652f64756d6d7953657276696365222c2274797065223a22c2b5486f6d652e726573706f6e736522'
            '2c2264617461223a7b226d657373616765223a2253657276696365206973206865616c746879227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '915e9008-ce3a-45cd-8037-8ad466c46540', 'timestamp': '2026-11-28T22:17:50.499Z', 'source': 'µHome/dummyService', 'type': 'µHome.response', 'data': {'message': 'Service is healthy'}}),
        ],
    ),
    Capture(
        '3', 'µHome.core.nodes (registry -> broker :5100)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]234, S>C[A]0, S>C[PA]203, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=234,
        c2s_headers=['00e5000201'],
        c2s_hex=(
            '00e50002017b226964223a2239333434613435302d333339622d346336302d386165362d656539626238333239363863'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3530385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f736572766963655265676973747279222c2274797065223a22c2b5486f6d652e63'
            '6f72652e6e6f646573222c2264617461223a7b226e6f646573223a5b7b226e6f64654964223a22c2b5486f6d652f6475'
            '6d6d7953657276696365222c2261646472657373223a223132372e302e302e313a35313032227d5d7d7d'
        ),
        c2s=[
            F(2, 1, {'id': '9344a450-339b-4c60-8ae6-ee9bb832968c', 'timestamp': '2026-11-28T22:17:50.508Z', 'source': 'µHome/core/serviceRegistry', 'type': 'µHome.core.nodes', 'data': {'nodes': [{'nodeId': 'µHome/dummyService', 'address': '127.0.0.1:5102'}]}}),
        ],
        s2c_total=203,
        s2c_headers=['00c6000201'],
        s2c_hex=(
            '00c60002017b226964223a2236653434666432372d336161662d343735312d393738652d333963613538623664303736'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3530395a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a2253756363657366756c6c7920757064617465642061637469'
            '7665206e6f646573227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '6e44fd27-3aaf-4751-978e-39ca58b6d076', 'timestamp': '2026-11-28T22:17:50.509Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'Succesfully updated active nodes'}}),
        ],
    ),
    Capture(
        '4a', 'subscribe, lost race (service -> broker)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]185, S>C[A]0, S>C[PA]248, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=185,
        c2s_headers=['00b4000201'],
        c2s_hex=(
            '00b40002017b226964223a2234626530383132372d376663332d343161322d623234332d623532383065626366343733'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3530345a222c22736f75726365'
            '223a22c2b5486f6d652f64756d6d7953657276696365222c2274797065223a22c2b5486f6d652e636f72652e73756273'
            '6372696265222c2264617461223a7b22737562736372696265223a226c6f63616c2e74657374227d7d'
        ),
        c2s=[
            F(2, 1, {'id': '4be08127-7fc3-41a2-b243-b5280ebcf473', 'timestamp': '2026-11-28T22:17:50.504Z', 'source': 'µHome/dummyService', 'type': 'µHome.core.subscribe', 'data': {'subscribe': 'local.test'}}),
        ],
        s2c_total=248,
        s2c_headers=['00f3000202'],
        s2c_hex=(
            '00f30002027b226964223a2238393633383032392d333532382d343938342d383834362d326362303937353565343265'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31373a35302e3530365a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a7b226d657373616765223a224661696c656420746f2073756273637269626520666f72206d69'
            '63726f7365727669636520746f206576656e74222c22726561736f6e223a224e6f6465206973206e6f74207265676973'
            '7465726564227d7d'
        ),
        s2c=[
            F(2, 2, {'id': '89638029-3528-4984-8846-2cb09755e42e', 'timestamp': '2026-11-28T22:17:50.506Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': {'message': 'Failed to subscribe for microservice to event', 'reason': 'Node is not registered'}}),
        ],
    ),
    Capture(
        '4b', 'subscribe, success (launcher retry, run2)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]185, S>C[A]0, S>C[PA]201, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=185,
        c2s_headers=['00b4000201'],
        c2s_hex=(
            '00b40002017b226964223a2232616139373938302d323937342d346336322d616662652d653033326265613638376630'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a32313a31372e3432365a222c22736f75726365'
            '223a22c2b5486f6d652f64756d6d7953657276696365222c2274797065223a22c2b5486f6d652e636f72652e73756273'
            '6372696265222c2264617461223a7b22737562736372696265223a226c6f63616c2e74657374227d7d'
        ),
        c2s=[
            F(2, 1, {'id': '2aa97980-2974-4c62-afbe-e032bea687f0', 'timestamp': '2026-11-28T22:21:17.426Z', 'source': 'µHome/dummyService', 'type': 'µHome.core.subscribe', 'data': {'subscribe': 'local.test'}}),
        ],
        s2c_total=201,
        s2c_headers=['00c4000201'],
        s2c_hex=(
            '00c40002017b226964223a2264373238306630362d643735312d343838382d613063332d366238383038653861313936'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a32313a31372e3432385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a225375636365737366756c207375627363726962656420746f'
            '206576656e74227d7d'
        ),
        s2c=[
            F(2, 1, {'id': 'd7280f06-d751-4888-a0c3-6b8808e8a196', 'timestamp': '2026-11-28T22:21:17.428Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'Successful subscribed to event'}}),
        ],
    ),
    Capture(
        '5', 'broadcast local.test + "Received" (broker -> service, run2)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]169, S>C[A]0, S>C[PA]175, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=169,
        c2s_headers=['00a4000201'],
        c2s_hex=(
            '00a40002017b226964223a2266343866386631352d343031332d343137652d613538362d303235383039613739376138'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a32313a32362e3733305a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a226c6f63616c2e74657374222c'
            '2264617461223a7b22696e636f6d696e67223a747275657d7d'
        ),
        c2s=[
            F(2, 1, {'id': 'f48f8f15-4013-417e-a586-025809a797a8', 'timestamp': '2026-11-28T22:21:26.730Z', 'source': 'µHome/core/eventBroker', 'type': 'local.test', 'data': {'incoming': True}}),
        ],
        s2c_total=175,
        s2c_headers=['00aa000201'],
        s2c_hex=(
            '00aa0002017b226964223a2235623638303638382d656634342d346631622d623638342d316264333730366363616335'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a32313a32362e3733325a222c22736f75726365'
            '223a22c2b5486f6d652f64756d6d7953657276696365222c2274797065223a22c2b5486f6d652e726573706f6e736522'
            '2c2264617461223a7b226d657373616765223a225265636569766564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '5b680688-ef44-4f1b-b684-1bd3706ccac5', 'timestamp': '2026-11-28T22:21:26.732Z', 'source': 'µHome/dummyService', 'type': 'µHome.response', 'data': {'message': 'Received'}}),
        ],
    ),
    Capture(
        '6', 'unknown type -> No Handler (P01)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]151, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=151,
        c2s_headers=['0092000201'],
        c2s_hex=(
            '00920002017b226964223a2261353630363538362d613832382d346465342d386665612d666666613735303236333164'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34352e3231355a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e222c2264617461223a7b'
            '2278223a317d7d'
        ),
        c2s=[
            F(2, 1, {'id': 'a5606586-a828-4de4-8fea-fffa7502631d', 'timestamp': '2026-11-28T22:18:45.215Z', 'source': 'probe/client', 'type': 'probe.unknown', 'data': {'x': 1}}),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2238356230353235382d346462622d343234302d386333662d373637343739386533303134'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34352e3231385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '85b05258-4dbb-4240-8c3f-7674798e3014', 'timestamp': '2026-11-28T22:18:45.218Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '7a', 'header len=10, payload "not json!!" (P02)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]15, S>C[A]0, S>C[PA]211, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=15,
        c2s_headers=['000a000201'],
        c2s_hex=(
            '000a0002016e6f74206a736f6e2121'
        ),
        c2s=[
            F(2, 1, RAW(b'not json!!')),
        ],
        s2c_total=211,
        s2c_headers=['00ce000202'],
        s2c_hex=(
            '00ce0002027b226964223a2262626162336561622d373665362d346230352d626434382d306463623963616330356266'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34362e3732325a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e657870656374656420746f6b656e20276f272c205c226e6f74206a736f6e21215c2220'
            '6973206e6f742076616c6964204a534f4e227d'
        ),
        s2c=[
            F(2, 2, {'id': 'bbab3eab-76e6-4b05-bd48-0dcb9cac05bf', 'timestamp': '2026-11-28T22:18:46.722Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected token \'o\', "not json!!" is not valid JSON'}),
        ],
    ),
    Capture(
        '7b', 'v2 payload without "type" (P03)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]128, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=128,
        c2s_headers=['007b000201'],
        c2s_hex=(
            '007b0002017b226964223a2238333565626461612d363334312d343831652d623466662d646239613736616266663530'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34382e3232345a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2264617461223a7b2278223a317d7d'
        ),
        c2s=[
            F(2, 1, {'id': '835ebdaa-6341-481e-b4ff-db9a76abff50', 'timestamp': '2026-11-28T22:18:48.224Z', 'source': 'probe/client', 'data': {'x': 1}}),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2236363334616439352d666637642d343936392d623962362d333933376234666664663232'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34382e3232365a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '6634ad95-ff7d-4969-b9b6-3937b4ffdf22', 'timestamp': '2026-11-28T22:18:48.226Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '7c', 'request status byte 0x00 (P04)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]136, S>C[A]0, S>C[PA]173, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=136,
        c2s_headers=['0083000200'],
        c2s_hex=(
            '00830002007b226964223a2236616533613661632d386435312d346666342d396632312d336537366366643833346533'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34392e3732385a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e227d'
        ),
        c2s=[
            F(2, 0, {'id': '6ae3a6ac-8d51-4ff4-9f21-3e76cfd834e3', 'timestamp': '2026-11-28T22:18:49.728Z', 'source': 'probe/client', 'type': 'probe.unknown'}),
        ],
        s2c_total=173,
        s2c_headers=['00a8000202'],
        s2c_hex=(
            '00a80002027b226964223a2234376333346431312d353637392d346638642d396630352d323330316364323464323732'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a34392e3733305a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a224572726f7220696e204d657373616765227d'
        ),
        s2c=[
            F(2, 2, {'id': '47c34d11-5679-4f8d-9f05-2301cd24d272', 'timestamp': '2026-11-28T22:18:49.730Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Error in Message'}),
        ],
    ),
    Capture(
        '7d', 'request status byte 0xff (P05)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]136, S>C[A]0, S>C[PA]173, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=136,
        c2s_headers=['00830002ff'],
        c2s_hex=(
            '00830002ff7b226964223a2235343830613365382d393832302d343662632d616530332d393033343432616636353934'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35312e3233325a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e227d'
        ),
        c2s=[
            F(2, 255, {'id': '5480a3e8-9820-46bc-ae03-903442af6594', 'timestamp': '2026-11-28T22:18:51.232Z', 'source': 'probe/client', 'type': 'probe.unknown'}),
        ],
        s2c_total=173,
        s2c_headers=['00a8000202'],
        s2c_hex=(
            '00a80002027b226964223a2236646632373863622d646661342d346131332d616633362d346262386232643032343665'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35312e3233345a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a224572726f7220696e204d657373616765227d'
        ),
        s2c=[
            F(2, 2, {'id': '6df278cb-dfa4-4a13-af36-4bb8b2d0246e', 'timestamp': '2026-11-28T22:18:51.234Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Error in Message'}),
        ],
    ),
    Capture(
        '7e', 'request version=99 (P06)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]136, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=136,
        c2s_headers=['0083006301'],
        c2s_hex=(
            '00830063017b226964223a2262353266303965652d353739662d343362322d623331632d353465323365386437653662'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35322e3733365a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e227d'
        ),
        c2s=[
            F(99, 1, {'id': 'b52f09ee-579f-43b2-b31c-54e23e8d7e6b', 'timestamp': '2026-11-28T22:18:52.736Z', 'source': 'probe/client', 'type': 'probe.unknown'}),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2266613163393832662d393238302d346534622d623532382d666438333563333262343034'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35322e3733375a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': 'fa1c982f-9280-4e4b-b528-fd835c32b404', 'timestamp': '2026-11-28T22:18:52.737Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '8a', 'two frames in one segment (P07)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]269, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=269,
        c2s_headers=['0081000201', '0082000201'],
        c2s_hex=(
            '00810002017b226964223a2264376539336137372d623234312d343230372d623965382d356139356530373265313130'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35342e3234305a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e6669727374227d00820002017b22696422'
            '3a2232643135653963322d303139322d346663352d396337642d623839393361653263323963222c2274696d65737461'
            '6d70223a22323032362d31312d32385432323a31383a35342e3234305a222c22736f75726365223a2270726f62652f63'
            '6c69656e74222c2274797065223a2270726f62652e7365636f6e64227d'
        ),
        c2s=[
            F(2, 1, {'id': 'd7e93a77-b241-4207-b9e8-5a95e072e110', 'timestamp': '2026-11-28T22:18:54.240Z', 'source': 'probe/client', 'type': 'probe.first'}),
            F(2, 1, {'id': '2d15e9c2-0192-4fc5-9c7d-b8993ae2c29c', 'timestamp': '2026-11-28T22:18:54.240Z', 'source': 'probe/client', 'type': 'probe.second'}),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2239666465346266642d643562662d346262642d613533362d393765623936373964306239'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35342e3234315a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '9fde4bfd-d5bf-4bbd-a536-97eb9679d0b9', 'timestamp': '2026-11-28T22:18:54.241Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '8b', 'frame split at byte 60, 300 ms pause (P08)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]60, S>C[A]0, S>C[PA]199, C>S[A]0, C>S[PA]142, S>C[PA]217, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=202,
        c2s_headers=['00c5000201'],
        c2s_hex=(
            '00c50002017b226964223a2233376439366434642d643766352d343233372d613437342d366263386531633933626630'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35352e3734335a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e73706c6974222c2264617461223a7b2270'
            '6164223a2278787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '78787878787878227d7d'
        ),
        c2s=[
            F(2, 1, {'id': '37d96d4d-d7f5-4237-a474-6bc8e1c93bf0', 'timestamp': '2026-11-28T22:18:55.743Z', 'source': 'probe/client', 'type': 'probe.split', 'data': {'pad': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}}),
        ],
        s2c_total=416,
        s2c_headers=['00c2000202', '00d4000202'],
        s2c_hex=(
            '00c20002027b226964223a2261613665343131622d303538322d343433652d383866322d363932653362346261346334'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35352e3734345a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e7465726d696e6174656420737472696e6720696e204a534f4e20617420706f73697469'
            '6f6e203535227d00d40002027b226964223a2261633063343638312d616634632d343837322d383232382d3861613664'
            '38333433336432222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35362e3034345a222c'
            '22736f75726365223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d'
            '652e6572726f72222c226572726f72223a22556e6578706563746564206e6f6e2d776869746573706163652063686172'
            '6163746572206166746572204a534f4e20617420706f736974696f6e2032227d'
        ),
        s2c=[
            F(2, 2, {'id': 'aa6e411b-0582-443e-88f2-692e3b4ba4c4', 'timestamp': '2026-11-28T22:18:55.744Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unterminated string in JSON at position 55'}),
            F(2, 2, {'id': 'ac0c4681-af4c-4872-8228-8aa6d83433d2', 'timestamp': '2026-11-28T22:18:56.044Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected non-whitespace character after JSON at position 2'}),
        ],
    ),
    Capture(
        '8c', 'frame split after 3 header bytes (P09)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]3, S>C[A]0, S>C[PA]234, C>S[A]0, C>S[PA]199, S>C[PA]216, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=202,
        c2s_headers=['00c5000201'],
        c2s_hex=(
            '00c50002017b226964223a2233376439366434642d643766352d343233372d613437342d366263386531633933626630'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35352e3734335a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e73706c6974222c2264617461223a7b2270'
            '6164223a2278787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '78787878787878227d7d'
        ),
        c2s=[
            F(2, 1, {'id': '37d96d4d-d7f5-4237-a474-6bc8e1c93bf0', 'timestamp': '2026-11-28T22:18:55.743Z', 'source': 'probe/client', 'type': 'probe.split', 'data': {'pad': 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}}),
        ],
        s2c_total=450,
        s2c_headers=['00e5000202', '00d3000202'],
        s2c_hex=(
            '00e50002027b226964223a2230333936366464632d346533342d346132662d623730362d303537393861366430366534'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35372e3534385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a225468652076616c7565206f66205c226f66667365745c22206973206f7574206f662072616e'
            '67652e204974206d757374206265203e3d203020616e64203c3d20312e2052656365697665642032227d00d30002027b'
            '226964223a2266613939333331662d646664362d346630332d386333392d636365396432646363623630222c2274696d'
            '657374616d70223a22323032362d31312d32385432323a31383a35372e3834375a222c22736f75726365223a22c2b548'
            '6f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72222c22657272'
            '6f72223a22556e657870656374656420746f6b656e202764272c205c22645c223a5c223337643936645c222e2e2e2069'
            '73206e6f742076616c6964204a534f4e227d'
        ),
        s2c=[
            F(2, 2, {'id': '03966ddc-4e34-4a2f-b706-05798a6d06e4', 'timestamp': '2026-11-28T22:18:57.548Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'The value of "offset" is out of range. It must be >= 0 and <= 1. Received 2'}),
            F(2, 2, {'id': 'fa99331f-dfd6-4f03-8c39-cce9d2dccb60', 'timestamp': '2026-11-28T22:18:57.847Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected token \'d\', "d":"37d96d"... is not valid JSON'}),
        ],
    ),
    Capture(
        '8d', 'declared len 5000 > actual, valid JSON (P10)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]136, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=136,
        c2s_headers=['1388000201'],
        c2s_hex=(
            '13880002017b226964223a2263646331373938622d653538642d343364312d626135652d366264613665383863653232'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35392e3335305a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e227d'
        ),
        c2s=[
            F(2, 1, {'id': 'cdc1798b-e58d-43d1-ba5e-6bda6e88ce22', 'timestamp': '2026-11-28T22:18:59.350Z', 'source': 'probe/client', 'type': 'probe.unknown'}, length=5000),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2238373065356466322d616331302d343238622d613833622d333765306633633465353061'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31383a35392e3335315a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '870e5df2-ac10-428b-a83b-37e0f3c4e50a', 'timestamp': '2026-11-28T22:18:59.351Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '8e', 'empty payload len 0 (P12)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]5, S>C[A]0, S>C[PA]185, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=5,
        c2s_headers=['0000000201'],
        c2s_hex=(
            '0000000201'
        ),
        c2s=[
            F(2, 1, RAW(b'')),
        ],
        s2c_total=185,
        s2c_headers=['00b4000202'],
        s2c_hex=(
            '00b40002027b226964223a2235333136333261612d643930382d343836332d386635392d633363346632323634393062'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a30322e3335385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e657870656374656420656e64206f66204a534f4e20696e707574227d'
        ),
        s2c=[
            F(2, 2, {'id': '531632aa-d908-4863-8f59-c3c4f226490b', 'timestamp': '2026-11-28T22:19:02.358Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected end of JSON input'}),
        ],
    ),
    Capture(
        '8f', 'JSON null payload (P14)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]9, S>C[A]0, S>C[PA]204, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=9,
        c2s_headers=['0004000201'],
        c2s_hex=(
            '00040002016e756c6c'
        ),
        c2s=[
            F(2, 1, None),
        ],
        s2c_total=204,
        s2c_headers=['00c7000202'],
        s2c_hex=(
            '00c70002027b226964223a2235323139616530342d396535622d343566392d383230392d653531666162313531643737'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a30352e3336355a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a2243616e6e6f7420726561642070726f70657274696573206f66206e756c6c20287265616469'
            '6e672027747970652729227d'
        ),
        s2c=[
            F(2, 2, {'id': '5219ae04-9e5b-45f9-8209-e51fab151d77', 'timestamp': '2026-11-28T22:19:05.365Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': "Cannot read properties of null (reading 'type')"}),
        ],
    ),
    Capture(
        '8g', 'subscribe without data (P17)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]144, S>C[A]0, S>C[PA]214, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=144,
        c2s_headers=['008b000201'],
        c2s_hex=(
            '008b0002017b226964223a2263383264613337382d633762372d343262322d383362332d643261613763633433613634'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a30392e3837355a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a22c2b5486f6d652e636f72652e737562736372696265227d'
        ),
        c2s=[
            F(2, 1, {'id': 'c82da378-c7b7-42b2-83b3-d2aa7cc43a64', 'timestamp': '2026-11-28T22:19:09.875Z', 'source': 'probe/client', 'type': 'µHome.core.subscribe'}),
        ],
        s2c_total=214,
        s2c_headers=['00d1000202'],
        s2c_hex=(
            '00d10002027b226964223a2265636635383337332d646234372d343939312d626430642d383331386132323330373038'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a30392e3837365a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a2243616e6e6f7420726561642070726f70657274696573206f6620756e646566696e65642028'
            '72656164696e6720277375627363726962652729227d'
        ),
        s2c=[
            F(2, 2, {'id': 'ecf58373-db47-4991-bd0d-8318a2230708', 'timestamp': '2026-11-28T22:19:09.876Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': "Cannot read properties of undefined (reading 'subscribe')"}),
        ],
    ),
    Capture(
        '8h', '2 frames, 500ms apart, same conn (P19)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]130, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[PA]130, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=260,
        c2s_headers=['007d000201', '007d000201'],
        c2s_hex=(
            '007d0002017b226964223a2263356463393833342d366139652d343963312d613163622d393663366534393933376132'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a31322e3838325a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e61227d007d0002017b226964223a226666'
            '3735623066642d663861342d343634302d386239352d663464653664303632363364222c2274696d657374616d70223a'
            '22323032362d31312d32385432323a31393a31322e3838325a222c22736f75726365223a2270726f62652f636c69656e'
            '74222c2274797065223a2270726f62652e62227d'
        ),
        c2s=[
            F(2, 1, {'id': 'c5dc9834-6a9e-49c1-a1cb-96c6e49937a2', 'timestamp': '2026-11-28T22:19:12.882Z', 'source': 'probe/client', 'type': 'probe.a'}),
            F(2, 1, {'id': 'ff75b0fd-f8a4-4640-8b95-f4de6d06263d', 'timestamp': '2026-11-28T22:19:12.882Z', 'source': 'probe/client', 'type': 'probe.b'}),
        ],
        s2c_total=404,
        s2c_headers=['00c5000201', '00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2233363230313838612d383330342d343063642d613664632d656635313939356165393233'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a31322e3838345a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d00c50002017b226964223a2238326631303061612d373434662d346464382d613530652d6364'
            '39353838636335306136222c2274696d657374616d70223a22323032362d31312d32385432323a31393a31332e333834'
            '5a222c22736f75726365223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5'
            '486f6d652e726573706f6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72'
            '204576656e742072656769737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': '3620188a-8304-40cd-a6dc-ef51995ae923', 'timestamp': '2026-11-28T22:19:12.884Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
            F(2, 1, {'id': '82f100aa-744f-4dd8-a50e-cd9588cc50a6', 'timestamp': '2026-11-28T22:19:13.384Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '8i', 'client half-close right after request (P22)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[PA]136, S>C[A]0, C>S[FA]0, S>C[PA]202, C>S[A]0, S>C[FA]0, C>S[A]0',
        c2s_total=136,
        c2s_headers=['0083000201'],
        c2s_hex=(
            '00830002017b226964223a2237363134313866612d356262632d346434662d383062632d323165613636643031613266'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a31392e3339365a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e756e6b6e6f776e227d'
        ),
        c2s=[
            F(2, 1, {'id': '761418fa-5bbc-4d4f-80bc-21ea66d01a2f', 'timestamp': '2026-11-28T22:19:19.396Z', 'source': 'probe/client', 'type': 'probe.unknown'}),
        ],
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2261373832383231352d636537612d343032332d626637312d343233346632643435663737'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a31392e3339385a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': 'a7828215-ce7a-4023-bf71-4234f2d45f77', 'timestamp': '2026-11-28T22:19:19.398Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '9a', '70000-byte payload, header 0xffff (P23)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[A]32741, S>C[A]0, C>S[PA]32741, C>S[PA]4523, S>C[A]0, S>C[PA]202, C>S[A]0, S>C[PA]214, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=70005,
        c2s_headers=['ffff000201', '7878787878'],
        c2s_payload_sizes=[65535, 4460],
        c2s_previews=[
            '{"id":"beb9a090-23dc-482f-b5e0-5552b8f1c285","timestamp":"2026-11-28T22:19:29.041Z","source":"probe/client","type":"prob',
            'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        ],
        c2s_hex=(
            'ffff0002017b226964223a2262656239613039302d323364632d343832662d623565302d353535326238663163323835'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a32392e3034315a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e626967222c2264617461223a7b22706164'
            '223a22787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878'
        ),
        c2s=Big(id='beb9a090-23dc-482f-b5e0-5552b8f1c285', timestamp='2026-11-28T22:19:29.041Z', source='probe/client', type='probe.big', payload_length=70000),
        s2c_total=416,
        s2c_headers=['00c5000202', '00d1000202'],
        s2c_hex=(
            '00c50002027b226964223a2262346637373366392d323166382d343038302d623866612d613362656261666364326336'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a32392e3034365a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e7465726d696e6174656420737472696e6720696e204a534f4e20617420706f73697469'
            '6f6e203635353331227d00d10002027b226964223a2236656562666530392d653864372d343837332d623237332d6265'
            '38383338353330316363222c2274696d657374616d70223a22323032362d31312d32385432323a31393a32392e303437'
            '5a222c22736f75726365223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5'
            '486f6d652e6572726f72222c226572726f72223a22556e657870656374656420746f6b656e202778272c205c22787878'
            '787878787878785c222e2e2e206973206e6f742076616c6964204a534f4e227d'
        ),
        s2c=[
            F(2, 2, {'id': 'b4f773f9-21f8-4080-b8fa-a3bebafcd2c6', 'timestamp': '2026-11-28T22:19:29.046Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unterminated string in JSON at position 65531'}),
            F(2, 2, {'id': '6eebfe09-e8d7-4873-b273-be88385301cc', 'timestamp': '2026-11-28T22:19:29.047Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected token \'x\', "xxxxxxxxxx"... is not valid JSON'}),
        ],
    ),
    Capture(
        '9b', '70000-byte payload, header 70000&0xffff=0x1170 (P24)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[A]32741, S>C[A]0, C>S[PA]32741, C>S[PA]4523, S>C[A]0, S>C[PA]201, C>S[A]0, S>C[PA]214, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=70005,
        c2s_headers=['1170000201', '7878787878', '7878787878', '7878787878'],
        c2s_payload_sizes=[4464, 30840, 30840, 3841],
        c2s_previews=[
            '{"id":"beb9a090-23dc-482f-b5e0-5552b8f1c285","timestamp":"2026-11-28T22:19:29.041Z","source":"probe/client","type":"prob',
            'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
            'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
            'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        ],
        c2s_hex=(
            '11700002017b226964223a2262656239613039302d323364632d343832662d623565302d353535326238663163323835'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a32392e3034315a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e626967222c2264617461223a7b22706164'
            '223a22787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878'
        ),
        c2s=Big(id='beb9a090-23dc-482f-b5e0-5552b8f1c285', timestamp='2026-11-28T22:19:29.041Z', source='probe/client', type='probe.big', payload_length=70000),
        s2c_total=415,
        s2c_headers=['00c4000202', '00d1000202'],
        s2c_hex=(
            '00c40002027b226964223a2266626565376532662d333231312d346237642d383563612d646233656332363435616539'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a33312e3035325a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e7465726d696e6174656420737472696e6720696e204a534f4e20617420706f73697469'
            '6f6e2034343634227d00d10002027b226964223a2232326536393738312d363830632d346262612d613561302d353666'
            '646137306261623630222c2274696d657374616d70223a22323032362d31312d32385432323a31393a33312e3035325a'
            '222c22736f75726365223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b548'
            '6f6d652e6572726f72222c226572726f72223a22556e657870656374656420746f6b656e202778272c205c2278787878'
            '7878787878785c222e2e2e206973206e6f742076616c6964204a534f4e227d'
        ),
        s2c=[
            F(2, 2, {'id': 'fbee7e2f-3211-4b7d-85ca-db3ec2645ae9', 'timestamp': '2026-11-28T22:19:31.052Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unterminated string in JSON at position 4464'}),
            F(2, 2, {'id': '22e69781-680c-4bba-a5a0-56fda70bab60', 'timestamp': '2026-11-28T22:19:31.052Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unexpected token \'x\', "xxxxxxxxxx"... is not valid JSON'}),
        ],
    ),
    Capture(
        '9c', '65535-byte valid payload (P26)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[A]32741, S>C[A]0, C>S[PA]32741, C>S[PA]58, S>C[A]0, S>C[PA]202, C>S[A]0, S>C[PA]234, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=65540,
        c2s_headers=['ffff000201'],
        c2s_payload_sizes=[65535],
        c2s_previews=[
            '{"id":"929f546c-805e-4e16-b888-e15c45d51651","timestamp":"2026-11-28T22:19:35.062Z","source":"probe/client","type":"prob',
        ],
        c2s_hex=(
            'ffff0002017b226964223a2239323966353436632d383035652d346531362d623838382d653135633435643531363531'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a33352e3036325a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e626967222c2264617461223a7b22706164'
            '223a22787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878'
        ),
        c2s=Big(id='929f546c-805e-4e16-b888-e15c45d51651', timestamp='2026-11-28T22:19:35.062Z', source='probe/client', type='probe.big', payload_length=65535),
        s2c_total=436,
        s2c_headers=['00c5000202', '00e5000202'],
        s2c_hex=(
            '00c50002027b226964223a2233376332383063632d323330332d346664632d623233342d356336306366373139326538'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a33352e3036335a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22556e7465726d696e6174656420737472696e6720696e204a534f4e20617420706f73697469'
            '6f6e203635353331227d00e50002027b226964223a2266316430373635332d663630642d346637322d396537352d3661'
            '30343438363735393262222c2274696d657374616d70223a22323032362d31312d32385432323a31393a33352e303633'
            '5a222c22736f75726365223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5'
            '486f6d652e6572726f72222c226572726f72223a225468652076616c7565206f66205c226f66667365745c2220697320'
            '6f7574206f662072616e67652e204974206d757374206265203e3d203020616e64203c3d20332e205265636569766564'
            '2034227d'
        ),
        s2c=[
            F(2, 2, {'id': '37c280cc-2303-4fdc-b234-5c60cf7192e8', 'timestamp': '2026-11-28T22:19:35.063Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Unterminated string in JSON at position 65531'}),
            F(2, 2, {'id': 'f1d07653-f60d-4f72-9e75-6a044867592b', 'timestamp': '2026-11-28T22:19:35.063Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'The value of "offset" is out of range. It must be >= 0 and <= 3. Received 4'}),
        ],
    ),
    Capture(
        '9d', '65531-byte valid payload (P27a)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[A]32741, S>C[A]0, C>S[PA]32741, C>S[PA]54, S>C[A]0, S>C[PA]202, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=65536,
        c2s_headers=['fffb000201'],
        c2s_payload_sizes=[65531],
        c2s_previews=[
            '{"id":"af9b6bf5-3197-48a6-9df8-1a7c1151defa","timestamp":"2026-11-28T22:19:41.539Z","source":"probe/client","type":"prob',
        ],
        c2s_hex=(
            'fffb0002017b226964223a2261663962366266352d333139372d343861362d396466382d316137633131353164656661'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a34312e3533395a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e626967222c2264617461223a7b22706164'
            '223a22787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878'
        ),
        c2s=Big(id='af9b6bf5-3197-48a6-9df8-1a7c1151defa', timestamp='2026-11-28T22:19:41.539Z', source='probe/client', type='probe.big', payload_length=65531),
        s2c_total=202,
        s2c_headers=['00c5000201'],
        s2c_hex=(
            '00c50002017b226964223a2261623637373035352d353635662d346333322d383865322d333433313966316133356334'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a34312e3535305a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e726573706f'
            '6e7365222c2264617461223a7b226d657373616765223a224e6f2048616e646c657220666f72204576656e7420726567'
            '69737465726564227d7d'
        ),
        s2c=[
            F(2, 1, {'id': 'ab677055-565f-4c32-88e2-34319f1a35c4', 'timestamp': '2026-11-28T22:19:41.550Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.response', 'data': {'message': 'No Handler for Event registered'}}),
        ],
    ),
    Capture(
        '9e', '65532-byte valid payload (P27b)',
        tcp='C>S[S]0, S>C[SA]0, C>S[A]0, C>S[A]32741, S>C[A]0, C>S[PA]32741, C>S[PA]55, S>C[A]0, S>C[PA]223, C>S[A]0, S>C[PA]203, C>S[A]0, C>S[FA]0, S>C[FA]0, C>S[A]0',
        c2s_total=65537,
        c2s_headers=['fffc000201'],
        c2s_payload_sizes=[65532],
        c2s_previews=[
            '{"id":"3f3e0dc3-0523-4f45-98fa-c80e6f848515","timestamp":"2026-11-28T22:19:43.553Z","source":"probe/client","type":"prob',
        ],
        c2s_hex=(
            'fffc0002017b226964223a2233663365306463332d303532332d346634352d393866612d633830653666383438353135'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a34332e3535335a222c22736f75726365'
            '223a2270726f62652f636c69656e74222c2274797065223a2270726f62652e626967222c2264617461223a7b22706164'
            '223a22787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878'
            '787878787878787878787878'
        ),
        c2s=Big(id='3f3e0dc3-0523-4f45-98fa-c80e6f848515', timestamp='2026-11-28T22:19:43.553Z', source='probe/client', type='probe.big', payload_length=65532),
        s2c_total=426,
        s2c_headers=['00da000202', '00c6000202'],
        s2c_hex=(
            '00da0002027b226964223a2237343462396632662d333238652d343466362d623834662d353762343836356532613434'
            '222c2274696d657374616d70223a22323032362d31312d32385432323a31393a34332e3535345a222c22736f75726365'
            '223a22c2b5486f6d652f636f72652f6576656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72'
            '222c226572726f72223a22457870656374656420272c27206f7220277d272061667465722070726f7065727479207661'
            '6c756520696e204a534f4e20617420706f736974696f6e203635353331227d00c60002027b226964223a223038663361'
            '6462342d363638312d346435332d396332302d333265326332343763343863222c2274696d657374616d70223a223230'
            '32362d31312d32385432323a31393a34332e3535355a222c22736f75726365223a22c2b5486f6d652f636f72652f6576'
            '656e7442726f6b6572222c2274797065223a22c2b5486f6d652e6572726f72222c226572726f72223a22417474656d70'
            '7420746f20616363657373206d656d6f7279206f7574736964652062756666657220626f756e6473227d'
        ),
        s2c=[
            F(2, 2, {'id': '744b9f2f-328e-44f6-b84f-57b4865e2a44', 'timestamp': '2026-11-28T22:19:43.554Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': "Expected ',' or '}' after property value in JSON at position 65531"}),
            F(2, 2, {'id': '08f3adb4-6681-4d53-9c20-32e2c247c48c', 'timestamp': '2026-11-28T22:19:43.555Z', 'source': 'µHome/core/eventBroker', 'type': 'µHome.error', 'error': 'Attempt to access memory outside buffer bounds'}),
        ],
    ),
]


if __name__ == "__main__":
    sys.exit(main())
