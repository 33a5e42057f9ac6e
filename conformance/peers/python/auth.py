"""Verification of signed frames (spec/drafts/security.md, sections 3, 5 and 9), standard
library only: the checks of step 5 of the draft's order, for a request.

    verify_request(version, status, payload, keys, now_ms, cache, own_kid=None, skew_ms=30000)

returns None when the frame is authentic and fresh (its nonce is then recorded in `cache`),
else the code: unauthenticated, unknown_key, stale, bad_signature, forbidden or replayed.
`payload` must already have passed the 1.2 decoding (uhome.decode_payload): this module
reads the validated JSON text only to find where the `sig` value lies.
"""

from __future__ import annotations

import hashlib
import re

import ed25519
import uhome

FRAME_DOMAIN = b"uhome-frame-v1\x00"
SIG_LEN = 128
HEX = {"kid": 16, "nonce": 32, "aud": 16, "re": 32, "sig": SIG_LEN}
TS_MAX = 2**53 - 1
_WS = b" \t\r\n"


class ReplayCache:
    """The (kid, nonce) pairs seen, at most `capacity`; the floor rises to the ts of every
    entry that leaves, and a ts at or below the floor is replayed (section 5.2)."""

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
            if ts <= self.floor:
                return False
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


def _fields(payload: bytes):
    """The `auth` members as raw byte spans, or the code of the first form fault."""
    envelope = [m for m in _members(payload, 0) if m[0] == "auth"]
    if len(envelope) != 1 or payload[envelope[0][1]] != 0x7B:
        return "unauthenticated"
    members = _members(payload, envelope[0][1])
    fields = {}
    for name in ("kid", "ts", "nonce", "sig", "aud"):
        found = [m for m in members if m[0] == name]
        if len(found) > 1:
            return "unauthenticated"
        if not found:
            if name == "aud":
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
    public = keys.get(fields["kid"])
    if public is None or ed25519.key_id(public) != fields["kid"]:
        return "unknown_key"
    if abs(now_ms - fields["ts"]) > skew_ms:
        return "stale"
    digest = frame_digest(version, status, payload, fields["sig_at"])
    if not ed25519.verify(public, digest, bytes.fromhex(fields["sig"])):
        return "bad_signature"
    if own_kid is not None and fields.get("aud") != own_kid:
        return "forbidden"
    if not cache.check_and_insert(fields["kid"], fields["nonce"], fields["ts"], now_ms, skew_ms):
        return "replayed"
    return None
