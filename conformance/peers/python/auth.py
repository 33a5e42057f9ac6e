"""Verification of signed frames (spec/protocol.md section 14, [UH-AUTH-3] to [UH-AUTH-12]
and [UH-AUTH-26]), standard library only: the checks of step 5 of the order of [UH-AUTH-26].

    verify_request(version, status, payload, keys, now_ms, cache, own_kid=None, skew_ms=30000)
    verify_reply(version, status, payload, keys, now_ms, request_nonce, skew_ms=30000)
    verify_delivery_origin(payload, publishers, node_kids, now_ms, cache, skew_ms=30000)

each return None when the frame (or a delivery's origin) is authentic and fresh (a nonce or
a delivered event is then recorded in `cache`), else the code: unauthenticated,
unknown_key, stale, bad_signature, forbidden or replayed. `payload` must already have
passed the 1.2 decoding (uhome.decode_payload): this module reads the validated JSON text
only to find where values lie.
"""

from __future__ import annotations

import hashlib
import re

import ed25519
import uhome

FRAME_DOMAIN = b"uhome-frame-v1\x00"
SIG_LEN = 128
HEX = {"kid": 16, "nonce": 32, "aud": 16, "re": 32, "sig": SIG_LEN}
ORIGIN_DOMAIN = b"uhome-origin-v1\x00"
TS_MAX = 2**53 - 1
_WS = b" \t\r\n"


class ReplayCache:
    """The (kid, nonce) pairs seen, at most `capacity`; the floor rises to the ts of every
    entry that leaves, and a ts at or below the floor is replayed ([UH-AUTH-9])."""

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self.entries: dict[tuple[str, str], int] = {}
        self.floor = -1

    def expire(self, before: int) -> None:
        for key, ts in list(self.entries.items()):
            if ts < before:
                del self.entries[key]
                self.floor = max(self.floor, ts)

    def check_and_insert(self, kid: str, nonce: str, ts: int, now: int, skew: int) -> bool:
        self.expire(now - skew)
        if ts <= self.floor or (kid, nonce) in self.entries:
            return False
        if self.capacity == 0:
            self.floor = max(self.floor, ts)
            return True
        if len(self.entries) >= self.capacity:
            oldest = min(self.entries, key=self.entries.get)
            self.floor = max(self.floor, self.entries.pop(oldest))
        self.entries[(kid, nonce)] = ts
        return True


def _skip_ws(b: bytes, i: int) -> int:
    while i < len(b) and b[i] in _WS:
        i += 1
    return i


def _string_end(b: bytes, i: int) -> int:
    """`b[i]` is the opening quote; the index after the closing one."""
    i += 1
    while b[i] != 0x22:
        i += 2 if b[i] == 0x5C else 1
    return i + 1


def _value_end(b: bytes, i: int) -> int:
    """The index after the JSON value starting at `i` (the text is known to be valid)."""
    if b[i] == 0x22:
        return _string_end(b, i)
    if b[i] in b"[{":
        depth = 0
        while True:
            c = b[i]
            if c == 0x22:
                i = _string_end(b, i)
                continue
            if c in b"[{":
                depth += 1
            elif c in b"]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while i < len(b) and b[i] not in b",]} \t\r\n":
        i += 1
    return i


def _members(b: bytes, i: int):
    """(name, value start, value end) of the object starting at `i`, names unescaped."""
    i = _skip_ws(b, i) + 1
    out = []
    while True:
        i = _skip_ws(b, i)
        if b[i] == 0x7D:
            return out
        end = _string_end(b, i)
        name = uhome.parse_json(b[i:end].decode("utf-8"))
        i = _skip_ws(b, end) + 1
        start = _skip_ws(b, i)
        stop = _value_end(b, start)
        out.append((name, start, stop))
        i = _skip_ws(b, stop)
        if b[i] == 0x2C:
            i += 1


def frame_digest(version: int, status: int, payload: bytes, sig_at: int) -> bytes:
    h = hashlib.sha512(FRAME_DOMAIN)
    h.update(version.to_bytes(2, "big") + bytes([status]))
    h.update(payload[:sig_at])
    h.update(b"0" * SIG_LEN)
    h.update(payload[sig_at + SIG_LEN:])
    return h.digest()


def _fields(payload: bytes, reply: bool = False):
    """The `auth` members as raw byte spans, or the code of the first form fault. A payload
    that is not an object (a version 1 payload may be any JSON text) has no `auth`."""
    if payload.lstrip(_WS)[:1] != b"{":
        return "unauthenticated"
    envelope = [m for m in _members(payload, _skip_ws(payload, 0)) if m[0] == "auth"]
    if len(envelope) != 1 or payload[envelope[0][1]] != 0x7B:
        return "unauthenticated"
    return _auth_members(payload, envelope[0][1],
                         ("kid", "ts", "nonce", "sig", "aud") + (("re",) if reply else ()),
                         optional=("aud", "re"))


def _auth_members(payload: bytes, at: int, names, optional=()):
    members = _members(payload, at)
    fields = {}
    for name in names:
        found = [m for m in members if m[0] == name]
        if len(found) > 1:
            return "unauthenticated"
        if not found:
            if name in optional:
                continue
            return "unauthenticated"
        _, start, stop = found[0]
        raw = payload[start:stop]
        if name == "ts":
            if not re.fullmatch(rb"0|[1-9][0-9]*", raw) or int(raw) > TS_MAX:
                return "unauthenticated"
            fields[name] = int(raw)
        else:
            if not re.fullmatch(rb'"[0-9a-f]{%d}"' % HEX[name], raw):
                return "unauthenticated"
            fields[name] = raw[1:-1].decode("ascii")
            if name == "sig":
                fields["sig_at"] = start + 1
    return fields


def verify_request(version: int, status: int, payload: bytes, keys: dict[str, bytes],
                   now_ms: int, cache: ReplayCache, own_kid: str | None = None,
                   skew_ms: int = 30000) -> str | None:
    fields = _fields(payload)
    if isinstance(fields, str):
        return fields
    code = _check_signer(version, status, payload, fields, keys, now_ms, skew_ms)
    if code is not None:
        return code
    if own_kid is not None and fields.get("aud") != own_kid:
        return "forbidden"
    if not cache.check_and_insert(fields["kid"], fields["nonce"], fields["ts"], now_ms, skew_ms):
        return "replayed"
    return None


def verify_reply(version: int, status: int, payload: bytes, keys: dict[str, bytes],
                 now_ms: int, request_nonce: str, skew_ms: int = 30000) -> str | None:
    """A reply to the request whose nonce was `request_nonce` ([UH-AUTH-7]):
    no cache, `re` must name the request."""
    fields = _fields(payload, reply=True)
    if isinstance(fields, str):
        return fields
    code = _check_signer(version, status, payload, fields, keys, now_ms, skew_ms)
    if code is not None:
        return code
    if "re" not in fields:
        return "unauthenticated"
    return None if fields["re"] == request_nonce else "replayed"


def _check_signer(version, status, payload, fields, keys, now_ms, skew_ms):
    public = keys.get(fields["kid"])
    if public is None or ed25519.key_id(public) != fields["kid"]:
        return "unknown_key"
    if abs(now_ms - fields["ts"]) > skew_ms:
        return "stale"
    digest = frame_digest(version, status, payload, fields["sig_at"])
    if not ed25519.verify(public, digest, bytes.fromhex(fields["sig"])):
        return "bad_signature"
    return None


def origin_digest(ts: int, id: str, timestamp: str, source: str, type: str,
                  data: bytes | None) -> bytes:
    """Section 4 item 1: the strings unescaped, `data` as the bytes written."""
    h = hashlib.sha512(ORIGIN_DOMAIN + ts.to_bytes(8, "big"))
    for text in (id, timestamp, source, type):
        b = text.encode("utf-8")
        h.update(len(b).to_bytes(4, "big") + b)
    h.update(b"\x00" if data is None else b"\x01" + data)
    return h.digest()


def verify_delivery_origin(payload: bytes, publishers: dict[str, bytes],
                           node_kids: dict[str, str], now_ms: int, cache: ReplayCache,
                           skew_ms: int = 30000) -> str | None:
    """The origin of a delivered event whose frame already verified ([UH-AUTH-12], the
    sub-order of [UH-AUTH-26]): form, key, clock, signature, publisher, delivery cache.
    `node_kids` maps node ids to their key ids (the policy's or the registry's list)."""
    root = {name: (start, stop) for name, start, stop in _members(payload, 0)}
    if "origin" not in root or payload[root["origin"][0]] != 0x7B:
        return "unauthenticated"
    fields = _auth_members(payload, root["origin"][0], ("kid", "ts", "sig"))
    if isinstance(fields, str):
        return fields
    public = publishers.get(fields["kid"])
    if public is None or ed25519.key_id(public) != fields["kid"]:
        return "unknown_key"
    if abs(now_ms - fields["ts"]) > skew_ms:
        return "stale"
    text = {k: uhome.parse_json(payload[a:b].decode("utf-8"))
            for k, (a, b) in root.items() if k in ("id", "timestamp", "source", "type")}
    data = payload[slice(*root["data"])] if "data" in root else None
    digest = origin_digest(fields["ts"], text["id"], text["timestamp"], text["source"],
                           text["type"], data)
    if not ed25519.verify(public, digest, bytes.fromhex(fields["sig"])):
        return "bad_signature"
    if node_kids.get(text["source"]) != fields["kid"]:
        return "forbidden"
    tag = hashlib.sha512(text["id"].encode("utf-8")).digest()[:16].hex()
    if not cache.check_and_insert(fields["kid"], tag, fields["ts"], now_ms, skew_ms):
        return "replayed"
    return None
