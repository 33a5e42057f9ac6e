"""The node side of section 14 of spec/protocol.md, standard library only: a node in `secure`
mode authenticates every request after decoding ([UH-AUTH-22], step 5 of [UH-AUTH-26]),
binds `source` to the key ([UH-AUTH-13]), verifies a delivery's origin ([UH-AUTH-12]) and
signs every reply with `re` naming the request's nonce ([UH-AUTH-6]).

    security = Security.load(key_file, policy_file)
    refusal = security.admit(version, status, payload, event)   # None, or (code, reason)
    reply = security.sign_reply(reply_frame, request_payload)

The policy file is the TOML of [UH-AUTH-21] (tomllib); only `mode = "secure"` is served.
"""

from __future__ import annotations

import os
import re
import secrets
import time

import auth
import ed25519
import uhome

MESSAGES = {
    "unauthenticated": "Request is not authenticated",
    "bad_signature": "Signature does not verify",
    "unknown_key": "Unknown key",
    "stale": "Request is stale",
    "replayed": "Request was replayed",
    "forbidden": "Request is forbidden",
}
ROLES = ("node", "registry", "broker", "operator")
CORE_PREFIX = "µHome.core."
_HEX64 = re.compile(r"[0-9a-f]{64}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PolicyError(Exception):
    pass


class Security:
    def __init__(self, seed: bytes, nodes: list[dict], skew_ms: int):
        self.seed = seed
        self.kid = ed25519.key_id(ed25519.public_key(seed))
        self.skew_ms = skew_ms
        self.keys: dict[str, bytes] = {}
        self.node_of: dict[str, str] = {}
        self.role_of: dict[str, str] = {}
        for node in nodes:
            public = bytes.fromhex(node["key"])
            kid = ed25519.key_id(public)
            self.keys[kid] = public
            self.node_of[kid] = node["id"]
            self.role_of[kid] = node.get("role", "node")
        self.kid_of = {node: kid for kid, node in self.node_of.items()}
        self.cache = auth.ReplayCache()
        self.deliveries = auth.ReplayCache()

    @classmethod
    def load(cls, key_file: str, policy_file: str) -> "Security":
        """Refuses a key file others can read, and a policy out of form ([UH-AUTH-21])."""
        import tomllib  # Python 3.11; only secure mode needs it
        if os.stat(key_file).st_mode & 0o077:
            raise PolicyError(f"{key_file}: readable by others; chmod 600 it")
        with open(key_file, encoding="ascii") as f:
            text = f.read().strip()
        if not _HEX64.fullmatch(text):
            raise PolicyError(f"{key_file}: not one line of 64 lowercase hex characters")
        with open(policy_file, "rb") as f:
            policy = tomllib.load(f)
        if policy.get("mode", "secure") != "secure":
            raise PolicyError(f"{policy_file}: this node serves mode \"secure\" only")
        nodes = policy.get("node", [])
        ids, keys = set(), set()
        for node in nodes:
            if not isinstance(node.get("id"), str) or not isinstance(node.get("key"), str):
                raise PolicyError(f"{policy_file}: every [[node]] needs id and key")
            if not _HEX64.fullmatch(node["key"]):
                raise PolicyError(f"{policy_file}: key of {node['id']!r} is not 64 lowercase hex")
            if node.get("role", "node") not in ROLES:
                raise PolicyError(f"{policy_file}: unknown role {node.get('role')!r}")
            if node["id"] in ids or node["key"] in keys:
                raise PolicyError(f"{policy_file}: {node['id']!r} or its key occurs twice")
            ids.add(node["id"])
            keys.add(node["key"])
        return cls(bytes.fromhex(text), nodes, int(policy.get("skew_ms", 30000)))

    def admit(self, version: int, status: int, payload: bytes, event) -> tuple[str, str] | None:
        """Authentication, then the binding of `source` (and a delivery's origin)."""
        now = now_ms()
        code = auth.verify_request(version, status, payload, self.keys, now, self.cache,
                                   own_kid=self.kid, skew_ms=self.skew_ms)
        if code is not None:
            return code, _reason(code)
        kid = auth._fields(payload)["kid"]
        if event is None:
            return None
        if self.role_of.get(kid) == "broker" and not event.type.startswith(CORE_PREFIX):
            code = auth.verify_delivery_origin(payload, self.keys, self.kid_of, now,
                                               self.deliveries, self.skew_ms)
            if code is not None:
                return code, f"\"origin\": {_reason(code)}"
            return None
        if event.source != self.node_of.get(kid):
            return "forbidden", "\"source\" is not the node the key is pinned to"
        return None

    def sign_reply(self, reply: bytes, request_payload: bytes | None) -> bytes:
        """`reply` (a whole frame) with `auth` last: `re` when the request's own `auth` was
        in form ([UH-AUTH-6])."""
        version = int.from_bytes(reply[2:4], "big")
        status = reply[4]
        payload = reply[uhome.HEADER_LEN:]
        fields = auth._fields(request_payload) if request_payload is not None else None
        re_member = f',"re":"{fields["nonce"]}"' if isinstance(fields, dict) else ""
        member = (f',"auth":{{"kid":"{self.kid}","ts":{now_ms()},'
                  f'"nonce":"{secrets.token_hex(16)}"{re_member},"sig":"{"0" * auth.SIG_LEN}"}}')
        signed = payload[:-1] + member.encode("ascii") + b"}"
        sig_at = len(signed) - len(b"\"}}") - auth.SIG_LEN
        digest = auth.frame_digest(version, status, signed, sig_at)
        sig = ed25519.sign(self.seed, digest).hex().encode("ascii")
        signed = signed[:sig_at] + sig + signed[sig_at + auth.SIG_LEN:]
        return uhome.encode_frame(version, status, signed)


def _reason(code: str) -> str:
    return {
        "unauthenticated": "member \"auth\" is missing or out of form",
        "unknown_key": "no key is pinned for \"kid\"",
        "stale": "\"ts\" is outside the clock window",
        "bad_signature": "\"sig\" does not verify",
        "forbidden": "\"aud\" is not this node's key id",
        "replayed": "\"nonce\" was seen before, or \"ts\" is at or below the floor",
    }.get(code, code)
