"""The signed-frame vectors of section 14 of spec/protocol.md (spec/vectors/auth.json), for
gen_vectors.py: published keys, frames signed with them, and each way a frame, a reply or a
delivered event's origin can be wrong, with the code section 14 gives ([UH-AUTH-27]). Each
vector cites the UH-AUTH requirements whose rule its result shows (and a decoding
requirement where decoding answers first).

Signing is RFC 8032 Ed25519 on the curve arithmetic of the Python peer's verifier
(conformance/peers/python/ed25519.py); `self_check` pins it to RFC 8032's own test vectors
before anything is written, and uhome-protocol (ed25519-dalek) verifies every vector in its
tests, so the two implementations check each other.
"""

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "conformance", "peers", "python"))
import ed25519 as curve  # noqa: E402  (the peer's RFC 8032 arithmetic)

MICRO = "\u00b5"
NOW_MS = 1764700800000            # 2025-12-02T18:40:00Z, the verifier's clock
SKEW_MS = 30000
REPLAY_CACHE = 4
ZEROS = "0" * 128
SIG_TOKEN = b"@@SIG@@"
FRAME_DOMAIN = b"uhome-frame-v1\x00"
ORIGIN_DOMAIN = b"uhome-origin-v1\x00"

# Three of the keys are RFC 8032's test keys 1 to 3 (section 7.1), as the policy example of
# protocol.md 14.8 pins them; the other two are SHA-256 of a label.
SEEDS = {
    "registry": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "broker": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "hall": "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    "kitchen": hashlib.sha256(b"uhome vectors: kitchen").hexdigest(),
    "stranger": hashlib.sha256(b"uhome vectors: stranger").hexdigest(),
}
NODE_IDS = {
    "registry": MICRO + "Home/core/serviceRegistry",
    "broker": MICRO + "Home/core/eventBroker",
    "hall": MICRO + "Home/sensors/hall",
    "kitchen": MICRO + "Home/lights/kitchen",
    "stranger": "guest/laptop",
}


def _encode_point(p):
    x, y, z, _ = p
    zi = pow(z, curve.P - 2, curve.P)
    x, y = x * zi % curve.P, y * zi % curve.P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed_hex):
    h = hashlib.sha512(bytes.fromhex(seed_hex)).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(seed_hex):
    a, _ = _expand(seed_hex)
    return _encode_point(curve._mul(a, curve.BASE))


def sign(seed_hex, message):
    """RFC 8032 section 5.1.6."""
    a, prefix = _expand(seed_hex)
    public = _encode_point(curve._mul(a, curve.BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % curve.L
    big_r = _encode_point(curve._mul(r, curve.BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % curve.L
    s = (r + k * a) % curve.L
    return big_r + s.to_bytes(32, "little")


def self_check():
    """RFC 8032 section 7.1, tests 1 and 2: the public keys and signatures."""
    tests = [
        ("registry", b"", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc"
         "61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("broker", b"\x72", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458"
         "f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ]
    for name, message, public, signature in tests:
        assert public_key(SEEDS[name]).hex() == public, name
        assert sign(SEEDS[name], message).hex() == signature, name
    assert public_key(SEEDS["hall"]).hex() == (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")


def kid(name):
    return curve.key_id(public_key(SEEDS[name]))


def nonce(label):
    return hashlib.sha256(b"uhome vectors nonce: " + label.encode()).hexdigest()[:32]


def js(s):
    """A JSON string, non-ASCII written as is."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def header(length, version, status):
    return length.to_bytes(2, "big") + version.to_bytes(2, "big") + bytes([status])


def auth_text(signer, ts, label, *, aud=None, re=None, members=None, first=False):
    """The `auth` object: members kid, ts, nonce, aud or re, sig (the signature's place
    marked), or the `members` given as (name, raw value text) pairs."""
    if members is None:
        members = [("kid", js(kid(signer))), ("ts", str(ts)), ("nonce", js(nonce(label)))]
        if aud is not None:
            members.append(("aud", js(aud)))
        if re is not None:
            members.append(("re", js(re)))
        sig = ("sig", '"@@SIG@@"')
        members = [sig] + members if first else members + [sig]
    return "{" + ",".join("%s:%s" % (js(n) if not n.startswith('"') else n, v)
                          for n, v in members) + "}"


def envelope(members):
    return "{" + ",".join("%s:%s" % (n if n.startswith('"') else js(n), v)
                          for n, v in members) + "}"


def signed_frame(payload_text, signer, version=2, status=1):
    """The frame of `payload_text`, its `@@SIG@@` replaced by `signer`'s signature (or by
    128 zeros, unsigned, when `signer` is None)."""
    payload = payload_text.encode("utf-8")
    at = payload.find(SIG_TOKEN)
    if at >= 0:
        payload = payload.replace(SIG_TOKEN, ZEROS.encode())
        if signer is not None:
            h = hashlib.sha512(FRAME_DOMAIN + version.to_bytes(2, "big") + bytes([status]))
            h.update(payload)
            sig = sign(SEEDS[signer], h.digest()).hex().encode()
            payload = payload[:at] + sig + payload[at + 128:]
    return header(len(payload), version, status) + payload


def origin_digest(ts, id, timestamp, source, type, data_text):
    h = hashlib.sha512(ORIGIN_DOMAIN + ts.to_bytes(8, "big"))
    for s in (id, timestamp, source, type):
        b = s.encode("utf-8")
        h.update(len(b).to_bytes(4, "big") + b)
    if data_text is None:
        h.update(b"\x00")
    else:
        h.update(b"\x01" + data_text.encode("utf-8"))
    return h.digest()


def origin_text(publisher, ts, event, *, sig=None, members=None):
    if members is None:
        if sig is None:
            sig = sign(SEEDS[publisher], origin_digest(ts, *event)).hex()
        members = [("kid", js(kid(publisher))), ("ts", str(ts)), ("sig", js(sig))]
    return envelope(members)


ID = "4c1c2e0e-8d4b-4f0e-9c1a-0c5f7f1d2b3a"
TS = "2025-12-02T18:40:00.000Z"
MOTION = "home.sensors.hall.motion"
MOTION_DATA = '{"motion":true,"lux":12.5}'
PUBLISH = "\u00b5Home.core.publish"


def publish_members(origin=None):
    data = '{"type":%s,"data":%s%s}' % (
        js(MOTION), MOTION_DATA, "" if origin is None else ',"origin":' + origin)
    return [("id", js(ID)), ("timestamp", js(TS)), ("source", js(NODE_IDS["hall"])),
            ("type", js(PUBLISH)), ("data", data)]


class Vectors:
    def __init__(self):
        self.items = []
        self.by_id = {}

    def add(self, kind, slug, description, data, result, *, error=None, requirements,
            after=(), request_nonce=None, also=(), flags=()):
        assert kind in ("request", "reply", "delivery")
        assert (result == "valid") == (error is None), slug
        v = {"id": "auth/%s" % slug, "kind": kind, "description": description,
             "hex": data.hex(), "result": result}
        if error is not None:
            v["error"] = error
        if also:
            v["alsoAcceptable"] = list(also)
        if request_nonce is not None:
            v["requestNonce"] = request_nonce
        for a in after:
            assert self.by_id[a]["result"] == "valid" and self.by_id[a]["kind"] == kind, a
        v["after"] = list(after)
        assert requirements and len(set(requirements)) == len(requirements), slug
        v["requirements"] = list(requirements)
        v["flags"] = list(flags)
        assert v["id"] not in self.by_id, slug
        self.by_id[v["id"]] = v
        self.items.append(v)


def gen_requests(vs):
    broker = kid("broker")
    T = NOW_MS - 1000

    def req(slug, desc, auth, result="valid", error=None, *, signer="hall", version=2,
            members=None, requirements, after=(), mutate=None, flags=()):
        m = publish_members() if members is None else members
        frame = signed_frame(envelope(m + [("auth", auth)]), signer, version)
        if mutate is not None:
            frame = mutate(frame)
        vs.add("request", slug, desc, frame, result, error=error, requirements=requirements,
               after=after, flags=flags)

    def a(label, ts=T, **kw):
        kw.setdefault("aud", broker)
        return auth_text("hall", ts, label, **kw)

    req("request-valid-publish", "a publish signed by its source, for the broker",
        a("publish"), requirements=["UH-AUTH-3", "UH-AUTH-4", "UH-AUTH-5"])
    req("request-valid-version-1", "the same event in a version 1 frame (the digest covers "
        "the version)", a("version-1"), version=1, requirements=["UH-AUTH-3", "UH-AUTH-4"])
    frame = signed_frame(envelope([("auth", a("first", first=True))] + publish_members()),
                         "hall")
    vs.add("request", "request-valid-auth-first-sig-first", "auth as the first envelope "
           "member and sig as the first member of auth: receivers do not depend on the order",
           frame, "valid", requirements=["UH-AUTH-3"])
    req("request-valid-unknown-auth-member", "an unknown member of auth is ignored (and "
        "signed)", auth_text("hall", T, "unknown-member", members=[
            ("kid", js(kid("hall"))), ("ts", str(T)), ("nonce", js(nonce("unknown-member"))),
            ("aud", js(broker)), ("v", "1"), ("sig", '"@@SIG@@"')]), requirements=["UH-AUTH-3"])
    req("request-valid-whitespace", "whitespace between the members of auth is signed as "
        "written", a("whitespace").replace(",", " ,\n ").replace(":", ": "),
        requirements=["UH-AUTH-4"])
    frame = signed_frame(envelope(publish_members() + [('"\\u0061uth"', a("escaped-name"))]),
                         "hall")
    vs.add("request", "request-valid-escaped-name", "the member name auth written with an "
           "escape (\\u0061uth) is auth: names compare after unescaping", frame, "valid",
           requirements=["UH-AUTH-3"])
    req("request-valid-window-past-edge", "ts exactly the skew before the verifier's clock",
        a("past-edge", ts=NOW_MS - SKEW_MS), requirements=["UH-AUTH-8"])
    req("request-valid-window-future-edge", "ts exactly the skew after the verifier's clock",
        a("future-edge", ts=NOW_MS + SKEW_MS), requirements=["UH-AUTH-8"])

    # unauthenticated: absent, or out of form
    frame = signed_frame(envelope(publish_members()), None)
    vs.add("request", "request-unsigned", "no auth member", frame, "invalid",
           error="unauthenticated", requirements=["UH-AUTH-22", "UH-AUTH-26"])
    for slug, desc, raw in [
        ("request-auth-string", "auth is a string", '"hall"'),
        ("request-auth-null", "auth is null", "null"),
        ("request-auth-array", "auth is an array", '["%s"]' % kid("hall")),
    ]:
        req(slug, desc, raw, "invalid", "unauthenticated", requirements=["UH-AUTH-3", "UH-AUTH-26"])

    def fields(label, **over):
        base = [("kid", js(kid("hall"))), ("ts", str(T)), ("nonce", js(nonce(label))),
                ("aud", js(broker)), ("sig", '"@@SIG@@"')]
        out = []
        for n, v in base:
            if n in over:
                if over[n] is not None:
                    out.append((n, over[n]))
            else:
                out.append((n, v))
        for n, v in over.items():
            if n not in dict(base):
                out.insert(0, (n, v))
        return out

    hall = kid("hall")
    forms = [
        ("kid-missing", "auth without kid", dict(kid=None)),
        ("kid-uppercase", "kid in upper-case hex", dict(kid=js(hall.upper()))),
        ("kid-short", "kid of 15 hex characters", dict(kid=js(hall[:15]))),
        ("kid-escaped", "kid with its first character written as an escape",
         dict(kid='"\\u00%02x%s"' % (ord(hall[0]), hall[1:]))),
        ("kid-number", "kid is a number", dict(kid="1234567890123456")),
        ("ts-missing", "auth without ts", dict(ts=None)),
        ("ts-negative", "ts below zero", dict(ts="-1")),
        ("ts-fraction", "ts with a fraction", dict(ts="%d.0" % T)),
        ("ts-exponent", "ts with an exponent", dict(ts="1.7647008e12")),
        ("ts-too-large", "ts of 2^53", dict(ts=str(2**53))),
        ("ts-string", "ts written as a string", dict(ts=js(str(T)))),
        ("nonce-missing", "auth without nonce", dict(nonce=None)),
        ("nonce-short", "nonce of 30 hex characters", dict(nonce=js(nonce("short")[:30]))),
        ("sig-missing", "auth without sig", dict(sig=None)),
        ("sig-truncated", "sig of 127 hex characters", dict(sig=js("a" * 127))),
        ("sig-long", "sig of 130 hex characters", dict(sig=js("a" * 130))),
        ("aud-short", "aud of 15 hex characters (form comes before the signature)",
         dict(aud=js(broker[:15]))),
    ]
    for slug, desc, over in forms:
        req("request-" + slug, desc, auth_text("hall", T, slug, members=fields(slug, **over)),
            "invalid", "unauthenticated", requirements=["UH-AUTH-3", "UH-AUTH-26"])
    # sig in upper case: signed, then its hex turned to upper case
    req("request-sig-uppercase", "a valid signature written in upper-case hex",
        a("sig-upper"), "invalid", "unauthenticated", requirements=["UH-AUTH-3"],
        mutate=lambda f: f[:f.rfind(b'"sig":"') + 7] + f[f.rfind(b'"sig":"') + 7:][:128]
        .upper() + f[f.rfind(b'"sig":"') + 7 + 128:])
    req("request-kid-repeated", "kid twice in auth", auth_text("hall", T, "kid-twice", members=[
        ("kid", js(hall)), ("kid", js(hall)), ("ts", str(T)), ("nonce", js(nonce("kid-twice"))),
        ("aud", js(broker)), ("sig", '"@@SIG@@"')]), "invalid", "unauthenticated",
        requirements=["UH-AUTH-3"])

    # unknown_key, stale, bad_signature
    req("request-unknown-key", "signed by a key the verifier does not know", auth_text(
        "stranger", T, "stranger", aud=broker), "invalid", "unknown_key", signer="stranger",
        requirements=["UH-AUTH-2", "UH-AUTH-26"])
    req("request-unknown-key-and-stale", "an unknown key and a stale ts: the key is looked up "
        "first", auth_text("stranger", NOW_MS - SKEW_MS - 1, "stranger-stale", aud=broker),
        "invalid", "unknown_key", signer="stranger", requirements=["UH-AUTH-26", "UH-AUTH-2"])
    req("request-stale-past", "ts one millisecond more than the skew before the clock",
        a("stale-past", ts=NOW_MS - SKEW_MS - 1), "invalid", "stale", requirements=["UH-AUTH-8"])
    req("request-stale-future", "ts one millisecond more than the skew after the clock",
        a("stale-future", ts=NOW_MS + SKEW_MS + 1), "invalid", "stale", requirements=["UH-AUTH-8"])
    req("request-stale-and-forged", "a stale ts and a bad signature: the clock is checked "
        "first (no signature check for a stale frame)", a("stale-forged", ts=0), "invalid",
        "stale", signer="stranger", requirements=["UH-AUTH-26", "UH-AUTH-8"])
    req("request-forged", "hall's kid, signed with another key", a("forged"), "invalid",
        "bad_signature", signer="stranger", requirements=["UH-AUTH-4"])
    req("request-sig-zeros", "the signature left as 128 zeros", a("zeros"), "invalid",
        "bad_signature", signer=None, requirements=["UH-AUTH-4"])

    def flip(find, to):
        def f(frame):
            at = frame.find(find)
            assert at > 0
            return frame[:at] + to + frame[at + len(find):]
        return f

    req("request-altered-payload-byte", "signed, then one byte of data changed (true → null)", a("altered-data"), "invalid", "bad_signature", requirements=["UH-AUTH-4"],
        mutate=flip(b'"motion":true', b'"motion":null'))
    req("request-altered-type", "signed, then the envelope's type changed",
        a("altered-type"), "invalid", "bad_signature", requirements=["UH-AUTH-4"],
        mutate=flip(b"core.publish", b"core.publisH"))
    req("request-altered-version", "signed as version 2, sent as version 1",
        a("altered-version"), "invalid", "bad_signature", requirements=["UH-AUTH-4"],
        mutate=lambda f: f[:2] + b"\x00\x01" + f[4:])

    def non_canonical_s(frame):
        at = frame.rfind(b'"sig":"') + 7
        sig = bytes.fromhex(frame[at:at + 128].decode())
        s = int.from_bytes(sig[32:], "little") + curve.L
        assert s < 2**256
        bad = (sig[:32] + s.to_bytes(32, "little")).hex().encode()
        return frame[:at] + bad + frame[at + 128:]

    req("request-sig-s-not-canonical", "a valid signature with S + L in place of S "
        "(malleated; refused by the strict verification)", a("malleated"), "invalid",
        "bad_signature", requirements=["UH-AUTH-4"], mutate=non_canonical_s)

    # forbidden: audience
    req("request-aud-missing", "a valid signature, no aud", auth_text("hall", T, "no-aud"),
        "invalid", "forbidden", requirements=["UH-AUTH-5", "UH-AUTH-26"])
    req("request-aud-other", "a valid signature, aud naming the registry",
        a("aud-registry", aud=kid("registry")), "invalid", "forbidden", requirements=["UH-AUTH-5"])

    # replayed
    vs.add("request", "request-replayed", "request-valid-publish again, after it",
           bytes.fromhex(vs.by_id["auth/request-valid-publish"]["hex"]), "invalid",
           error="replayed", after=["auth/request-valid-publish"], requirements=["UH-AUTH-9"])
    seq = []
    for i in range(REPLAY_CACHE + 1):
        slug = "request-valid-sequence-%d" % (i + 1)
        req(slug, "one of %d publishes with rising ts (a cache of %d then evicts the first)"
            % (REPLAY_CACHE + 1, REPLAY_CACHE), a(slug, ts=T - 10000 + i), requirements=["UH-AUTH-9"])
        seq.append("auth/" + slug)
    req("request-below-floor", "a new nonce with the ts of the entry the sequence evicted: "
        "at the floor, so replayed", a("floor", ts=T - 10000), "invalid", "replayed",
        after=seq, requirements=["UH-AUTH-9"])
    req("request-above-floor", "a new nonce with a ts one above the floor", a(
        "above-floor", ts=T - 10000 + 1), after=seq, requirements=["UH-AUTH-9"])

    # decoding comes first
    frame = signed_frame(envelope(publish_members() + [("auth", a("truncated"))]), "hall")
    vs.add("request", "request-frame-truncated", "a signed frame missing its last byte",
           frame[:-1], "invalid", error="incomplete", requirements=["UH-AUTH-26", "UH-FRAME-3"])
    frame = signed_frame(envelope(publish_members() + [("auth", a("dup1")), ("auth",
                                                                                a("dup2"))]),
                         "hall")
    vs.add("request", "request-auth-twice", "auth twice in the envelope: unauthenticated, or "
           "duplicate_member from a decoder that refuses every repeated envelope name "
           "([UH-EVENT-5] allows both)", frame, "invalid", error="unauthenticated",
           also=["duplicate_member"], requirements=["UH-AUTH-3", "UH-AUTH-26", "UH-EVENT-5"])


def gen_replies(vs):
    request = nonce("the client's request")
    T = NOW_MS - 200

    def reply_members(code="published", status_type="\u00b5Home.response"):
        data = '{"code":"%s","message":"Event published","delivered":1,"failed":0}' % code
        return [("id", js("9a0e1c52-77b1-4f8e-b3c4-5d6e7f809a1b")), ("timestamp", js(TS)),
                ("source", js(NODE_IDS["broker"])), ("type", js(status_type)), ("data", data)]

    def rep(slug, desc, auth, result="valid", error=None, *, signer="broker", status=1,
            members=None, mutate=None, requirements):
        m = reply_members() if members is None else members
        frame = signed_frame(envelope(m + [("auth", auth)]), signer, status=status)
        if mutate is not None:
            frame = mutate(frame)
        vs.add("reply", slug, desc, frame, result, error=error, request_nonce=request,
               requirements=requirements)

    rep("reply-valid", "the broker's reply, re naming the request's nonce",
        auth_text("broker", T, "reply", re=request), requirements=["UH-AUTH-6", "UH-AUTH-7"])
    err = [("id", js("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")), ("timestamp", js(TS)),
           ("source", js(NODE_IDS["broker"])), ("type", js("\u00b5Home.error")),
           ("error", '{"code":"reserved_type","message":"Failed to publish event"}')]
    rep("reply-valid-error", "a signed error reply (status 2)", auth_text(
        "broker", T, "reply-error", re=request), status=2, members=err, requirements=["UH-AUTH-6", "UH-AUTH-7"])
    rep("reply-re-other", "re naming another nonce", auth_text(
        "broker", T, "reply-other", re=nonce("another request")), "invalid", "replayed",
        requirements=["UH-AUTH-7"])
    rep("reply-re-missing", "a signed reply without re", auth_text("broker", T, "reply-no-re"),
        "invalid", "unauthenticated", requirements=["UH-AUTH-7"])
    rep("reply-re-short", "re of 31 hex characters", auth_text("broker", T, "reply-re-short",
                                                               re=request[:31]),
        "invalid", "unauthenticated", requirements=["UH-AUTH-3"])
    rep("reply-altered-status", "signed with status 1, sent with status 2",
        auth_text("broker", T, "reply-status", re=request), "invalid", "bad_signature",
        mutate=lambda f: f[:4] + b"\x02" + f[5:], requirements=["UH-AUTH-4"])
    rep("reply-from-registry", "signed by the registry, not the node called",
        auth_text("registry", T, "reply-registry", re=request), "invalid", "unknown_key",
        signer="registry", requirements=["UH-AUTH-7", "UH-AUTH-2"])
    rep("reply-stale", "a reply whose ts is out of the window",
        auth_text("broker", NOW_MS - SKEW_MS - 1, "reply-stale", re=request), "invalid",
        "stale", requirements=["UH-AUTH-8", "UH-AUTH-7"])


def gen_deliveries(vs):
    kitchen = kid("kitchen")
    OT = NOW_MS - 1500        # the publisher's origin ts
    FT = NOW_MS - 1000        # the broker's frame ts
    ev = (ID, TS, NODE_IDS["hall"], MOTION, MOTION_DATA)

    def delivery(slug, desc, result="valid", error=None, *, origin=MISSING_ORIGIN,
                 source=None, data=MOTION_DATA, frame_signer="broker", label=None,
                 after=(), requirements):
        if origin is MISSING_ORIGIN:
            origin = origin_text("hall", OT, ev)
        m = [("id", js(ID)), ("timestamp", js(TS)),
             ("source", source if source is not None else js(NODE_IDS["hall"])),
             ("type", js(MOTION)), ("data", data)]
        if origin is not None:
            m.append(("origin", origin))
        m.append(("auth", auth_text(frame_signer, FT, label or slug, aud=kitchen)))
        vs.add("delivery", slug, desc, signed_frame(envelope(m), frame_signer), result,
               error=error, after=after, requirements=requirements)

    delivery("delivery-valid", "hall's publish, delivered by the broker with hall's origin",
             requirements=["UH-AUTH-12"])
    delivery("delivery-valid-reescaped", "the broker wrote source with an escape (\\u00b5): "
             "strings are signed unescaped", source='"\\u00b5Home/sensors/hall"',
             requirements=["UH-AUTH-12"])
    delivery("delivery-origin-missing", "a delivery without origin", origin=None,
             error="unauthenticated", result="invalid", requirements=["UH-AUTH-12", "UH-AUTH-26"])
    delivery("delivery-origin-sig-short", "origin with a sig of 127 hex characters",
             origin=origin_text("hall", OT, ev, members=[
                 ("kid", js(kid("hall"))), ("ts", str(OT)), ("sig", js("b" * 127))]),
             result="invalid", error="unauthenticated", requirements=["UH-AUTH-12", "UH-AUTH-26"])
    delivery("delivery-data-altered", "the broker changed data (and signed its frame): the "
             "origin does not verify", data='{"motion":false,"lux":12.5}', result="invalid",
             error="bad_signature", requirements=["UH-AUTH-12"])
    delivery("delivery-source-altered", "the broker attributes hall's event to the kitchen",
             source=js(NODE_IDS["kitchen"]), result="invalid", error="bad_signature",
             requirements=["UH-AUTH-12"])
    delivery("delivery-origin-unknown-key", "an origin signed by a key the subscriber does "
             "not know", origin=origin_text("stranger", OT, ev), result="invalid",
             error="unknown_key", requirements=["UH-AUTH-12", "UH-AUTH-2", "UH-AUTH-26"])
    delivery("delivery-origin-stale", "an origin whose ts is out of the window",
             origin=origin_text("hall", NOW_MS - SKEW_MS - 1, ev), result="invalid",
             error="stale", requirements=["UH-AUTH-12", "UH-AUTH-8"])
    delivery("delivery-origin-other-publisher", "a valid origin of the registry's key for an "
             "event whose source is hall", origin=origin_text("registry", OT, ev),
             result="invalid", error="forbidden", requirements=["UH-AUTH-12"])
    delivery("delivery-frame-not-broker", "the delivery frame signed by hall, not the broker",
             frame_signer="hall", result="invalid", error="unknown_key", requirements=["UH-AUTH-12", "UH-AUTH-2"])
    delivery("delivery-replayed", "the same event delivered again in a new frame (a fresh "
             "frame nonce)", label="delivery-again", after=["auth/delivery-valid"],
             result="invalid", error="replayed", requirements=["UH-AUTH-12"])


MISSING_ORIGIN = object()


def keys_document():
    out = {}
    for name in SEEDS:
        out[name] = {"nodeId": NODE_IDS[name], "secret": SEEDS[name],
                     "public": public_key(SEEDS[name]).hex(), "kid": kid(name)}
    return out


def document(spec_version):
    self_check()
    vs = Vectors()
    gen_requests(vs)
    gen_replies(vs)
    gen_deliveries(vs)
    return {
        "name": "auth",
        "description": "Signed frames of section 14 of protocol.md (UH-AUTH): "
                       "requests, replies and delivered events, valid and each way to be "
                       "wrong, with the keys that made them.",
        "specVersion": spec_version,
        "spec": "protocol.md section 14",
        "keys": keys_document(),
        "verifier": {
            "nowMs": NOW_MS,
            "skewMs": SKEW_MS,
            "replayCache": REPLAY_CACHE,
            "request": {"self": "broker", "trusted": ["registry", "hall", "kitchen"]},
            "reply": {"called": "broker", "trusted": ["broker"]},
            "delivery": {"self": "kitchen", "broker": "broker",
                         "publishers": ["registry", "hall"]},
        },
        "flags": {},
        "vectors": vs.items,
    }
