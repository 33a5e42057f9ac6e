"""µHome wire protocol (spec/protocol.md, wire versions 1 and 2) in plain Python 3.11.

An independent second implementation, written from the specification alone and using only
the standard library. It holds what both programs of this folder share:

- the frame header: parse and encode ([UH-FRAME-1] to [UH-FRAME-5]);
- a strict, iterative RFC 8259 JSON parser ([UH-JSON-1] to [UH-JSON-9]): UTF-8 is checked
  first, the grammar and the depth limit decide in byte order, numbers are kept as their exact
  text, objects keep every member in order (repeated names included), lone surrogate escapes
  become U+FFFD, and no input can reach Python's recursion limit;
- the event envelope and version 1 rules ([UH-EVENT-*], [UH-VERSION-2]);
- a compact, iterative JSON writer and the v0.0.1 layout of events and replies
  ([UH-EVENT-8], [UH-JSON-9], [UH-REPLY-*]).

Every refusal is a `DecodeError` carrying a code of Appendix B and a reason for people. Any
other exception escaping from here is a bug in this module, never a verdict on the input.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import re
import uuid

# --- constants ------------------------------------------------------------------------------

HEADER_LEN = 5
MAX_PAYLOAD = 65535
MAX_FRAME = HEADER_LEN + MAX_PAYLOAD
V1 = 1
V2 = 2

# [UH-JSON-8]: at least 64 must be accepted; like the reference we refuse above 128.
MAX_DEPTH = 128

HEALTHCHECK = "\u00b5Home.core.healthcheck"
RESPONSE = "\u00b5Home.response"
ERROR = "\u00b5Home.error"

ENVELOPE_MEMBERS = ("id", "timestamp", "source", "type", "data", "error")
REQUIRED_MEMBERS = ("id", "timestamp", "source", "type")

# Appendix B.2: code -> (status, message). Only the codes a plain service can send.
ERRORS = {
    "too_large": (2, "Payload too large"),
    "unsupported_version": (2, "Unsupported protocol version"),
    "bad_status": (2, "Error in Message"),
    "invalid_utf8": (2, "Payload is not valid UTF-8"),
    "invalid_json": (2, "Payload is not valid JSON"),
    "too_deep": (2, "Payload nests too deeply"),
    "duplicate_member": (2, "Duplicate member in event"),
    "invalid_event": (2, "Invalid event"),
    "internal": (0, "Internal error"),
}

# Appendix B.1 messages of the responses a service sends.
MSG_HEALTHY = "Service is healthy"
MSG_NO_HANDLER = "No Handler for Event registered"


class DecodeError(Exception):
    """A refusal with a code of Appendix B (`incomplete` is the local code of B.3)."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class EncodeError(Exception):
    """An encoder's refusal: `too_large` ([UH-FRAME-5])."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# --- JSON values ----------------------------------------------------------------------------


class Number:
    """A JSON number, kept as its exact text ([UH-JSON-4]: any magnitude and precision)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"Number({self.text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class JObject(list):
    """A JSON object: the list of its `(name, value)` members in order, repeats included."""

    __slots__ = ()

    def last(self) -> dict:
        """The members as a dict, the last of repeated names winning."""
        out = {}
        for name, value in self:
            out[name] = value
        return out


class JArray(list):
    """A JSON array."""

    __slots__ = ()


# Values are: None, True, False, str, Number, JArray, JObject.

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _where(text: str, i: int) -> str:
    """A byte offset in the payload, for reasons."""
    return f"at byte {len(text[:i].encode('utf-8', 'surrogatepass'))}"


def _bad(text: str, i: int, what: str) -> DecodeError:
    if i >= len(text):
        return DecodeError("invalid_json", f"{what} at the end of the payload")
    return DecodeError("invalid_json", f"{what} {_where(text, i)} ({text[i]!r})")


def _parse_string(text: str, i: int) -> tuple[str, int]:
    """The string starting with the quote at `i`: (its value, the index after it)."""
    n = len(text)
    j = i + 1
    parts = []
    while True:
        k = _PLAIN.match(text, j).end()
        if k > j:
            parts.append(text[j:k])
        j = k
        if j >= n:
            raise DecodeError("invalid_json", f"unterminated string starting {_where(text, i)}")
        c = text[j]
        if c == '"':
            return "".join(parts), j + 1
        if c != "\\":
            raise _bad(text, j, "raw control character in a string")
        if j + 1 >= n:
            raise DecodeError("invalid_json", f"unterminated string starting {_where(text, i)}")
        e = text[j + 1]
        if e != "u":
            if e not in _ESCAPES:
                raise _bad(text, j + 1, "invalid escape")
            parts.append(_ESCAPES[e])
            j += 2
            continue
        m = _HEX4.match(text, j + 2)
        if m is None:
            raise _bad(text, j, "\\u escape without four hexadecimal digits")
        unit = int(m.group(), 16)
        j += 6
        if 0xD800 <= unit <= 0xDBFF:
            # A high surrogate counts only when the next escape is a low one ([UH-JSON-7]).
            if text.startswith("\\u", j):
                m2 = _HEX4.match(text, j + 2)
                if m2 is not None:
                    low = int(m2.group(), 16)
                    if 0xDC00 <= low <= 0xDFFF:
                        parts.append(chr(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)))
                        j += 6
                        continue
            parts.append("\ufffd")  # lone high surrogate: accepted, replaced
        elif 0xDC00 <= unit <= 0xDFFF:
            parts.append("\ufffd")  # lone low surrogate: accepted, replaced
        else:
            parts.append(chr(unit))


def _parse_name(text: str, i: int) -> tuple[str, int]:
    """A member name and its colon at `i`: (the name, the index of the value)."""
    if i >= len(text) or text[i] != '"':
        raise _bad(text, i, "expected a member name (a string)")
    name, i = _parse_string(text, i)
    i = _WS.match(text, i).end()
    if i >= len(text) or text[i] != ":":
        raise _bad(text, i, "expected ':' after a member name")
    return name, _WS.match(text, i + 1).end()


def parse_json(text: str, max_depth: int = MAX_DEPTH):
    """Parses one JSON text (RFC 8259 as restricted by [UH-JSON-3] to [UH-JSON-8]).

    Iterative: an explicit stack holds the open containers, so the nesting of the input never
    reaches Python's recursion limit. Faults are found in byte order: a grammar fault before
    the point where the depth limit is crossed is `invalid_json`, the crossing itself is
    `too_deep`.
    """
    n = len(text)
    i = _WS.match(text, 0).end()
    # Each open container: [container, name of the member being read (objects) or None].
    stack: list[list] = []
    while True:
        # One value starts at i.
        if i >= n:
            raise _bad(text, i, "expected a value")
        c = text[i]
        if c == "{" or c == "[":
            if len(stack) >= max_depth:
                raise DecodeError(
                    "too_deep", f"nesting deeper than {max_depth} levels {_where(text, i)}"
                )
            i = _WS.match(text, i + 1).end()
            if c == "{":
                if i < n and text[i] == "}":
                    value = JObject()
                    i += 1
                else:
                    name, i = _parse_name(text, i)
                    stack.append([JObject(), name])
                    continue
            else:
                if i < n and text[i] == "]":
                    value = JArray()
                    i += 1
                else:
                    stack.append([JArray(), None])
                    continue
        elif c == '"':
            value, i = _parse_string(text, i)
        elif c == "-" or "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            if m is None:
                raise _bad(text, i, "invalid number")
            value = Number(m.group())
            i = m.end()
        elif text.startswith("true", i):
            value, i = True, i + 4
        elif text.startswith("false", i):
            value, i = False, i + 5
        elif text.startswith("null", i):
            value, i = None, i + 4
        else:
            raise _bad(text, i, "expected a value")
        # A value is complete: put it in its container, close the containers that end here.
        while True:
            if not stack:
                i = _WS.match(text, i).end()
                if i != n:
                    raise _bad(text, i, "unexpected data after the JSON value")
                return value
            top = stack[-1]
            container = top[0]
            is_object = type(container) is JObject
            if is_object:
                container.append((top[1], value))
            else:
                container.append(value)
            i = _WS.match(text, i).end()
            if i >= n:
                raise _bad(text, i, "unclosed " + ("object" if is_object else "array"))
            c = text[i]
            if c == ",":
                i = _WS.match(text, i + 1).end()
                if is_object:
                    top[1], i = _parse_name(text, i)
                break
            if c == ("}" if is_object else "]"):
                stack.pop()
                value = container
                i += 1
                continue
            raise _bad(text, i, "expected ',' or '" + ("}" if is_object else "]") + "'")


def depth(value) -> int:
    """[UH-JSON-8] depth of a parsed value (iterative)."""
    best = 0
    todo = [(value, 0)]
    while todo:
        v, d = todo.pop()
        if type(v) is JObject:
            d += 1
            todo.extend((m, d) for _, m in v)
        elif type(v) is JArray:
            d += 1
            todo.extend((e, d) for e in v)
        if d > best:
            best = d
    return best


# --- JSON writer ----------------------------------------------------------------------------

_END = object()


def _string(s: str) -> str:
    # Compact, non-ASCII raw ([UH-JSON-9]); control characters, '"' and '\' escaped.
    return _json.dumps(s, ensure_ascii=False)


def dumps(value, last_wins: bool = False) -> str:
    """Compact JSON text of a value (iterative).

    Accepts parsed values and plain Python ones (dict, list, tuple, int, str, bool, None).
    With `last_wins`, objects with repeated names are written with one member per name.
    """
    out: list[str] = []
    stack: list[list] = []  # [iterator, is_object, first]
    v = value
    while True:
        t = type(v)
        if t is JObject or t is dict:
            items = (v.last().items() if last_wins else v) if t is JObject else v.items()
            out.append("{")
            stack.append([iter(items), True, True])
        elif t is JArray or t is list or t is tuple:
            out.append("[")
            stack.append([iter(v), False, True])
        elif t is str:
            out.append(_string(v))
        elif v is None:
            out.append("null")
        elif v is True:
            out.append("true")
        elif v is False:
            out.append("false")
        elif t is Number:
            out.append(v.text)
        elif t is int:
            out.append(str(v))
        else:
            raise TypeError(f"not a JSON value: {t.__name__}")
        while stack:
            top = stack[-1]
            nxt = next(top[0], _END)
            if nxt is _END:
                out.append("}" if top[1] else "]")
                stack.pop()
                continue
            if top[2]:
                top[2] = False
            else:
                out.append(",")
            if top[1]:
                name, v = nxt
                out.append(_string(name))
                out.append(":")
            else:
                v = nxt
            break
        else:
            return "".join(out)


# --- frames ---------------------------------------------------------------------------------


class Frame:
    """A whole frame: header fields and the payload bytes."""

    __slots__ = ("length", "version", "status", "payload")

    def __init__(self, length: int, version: int, status: int, payload: bytes):
        self.length = length
        self.version = version
        self.status = status
        self.payload = payload


def frame_needed(buf) -> int:
    """How many more bytes the first frame of `buf` needs (0 when it is whole)."""
    if len(buf) < HEADER_LEN:
        return HEADER_LEN - len(buf)
    length = (buf[0] << 8) | buf[1]
    return max(0, HEADER_LEN + length - len(buf))


def split_frame(buf) -> tuple[Frame, int]:
    """The first frame of `buf` and the bytes it used ([UH-FRAME-1] to [UH-FRAME-4]).

    Fewer bytes than a whole frame: DecodeError `incomplete` ([UH-FRAME-3]).
    """
    needed = frame_needed(buf)
    if needed:
        raise DecodeError("incomplete", f"{needed} more bytes needed")
    length = (buf[0] << 8) | buf[1]  # unsigned, big-endian
    version = (buf[2] << 8) | buf[3]
    status = buf[4]  # unsigned byte ([UH-FRAME-4])
    end = HEADER_LEN + length
    return Frame(length, version, status, bytes(buf[HEADER_LEN:end])), end


def encode_frame(version: int, status: int, payload: bytes) -> bytes:
    """Header and payload; refuses a payload longer than 65535 bytes ([UH-FRAME-5])."""
    if len(payload) > MAX_PAYLOAD:
        raise EncodeError("too_large", f"a payload of {len(payload)} bytes cannot be framed")
    if not (0 <= version <= 0xFFFF and 0 <= status <= 0xFF):
        raise ValueError("version or status out of range")
    return bytes((len(payload) >> 8, len(payload) & 0xFF, version >> 8, version & 0xFF, status)) + payload


# --- payloads -------------------------------------------------------------------------------

MISSING = object()  # an absent `data` or `error`


class Event:
    """An event: the four strings and `data` / `error` (MISSING when absent)."""

    __slots__ = ("id", "timestamp", "source", "type", "data", "error")

    def __init__(self, id, timestamp, source, type, data=MISSING, error=MISSING):
        self.id = id
        self.timestamp = timestamp
        self.source = source
        self.type = type
        self.data = data
        self.error = error


class Message:
    """A decoded payload: the JSON root, and the event when it is one."""

    __slots__ = ("root", "event")

    def __init__(self, root, event):
        self.root = root
        self.event = event


def _members(root: JObject) -> dict:
    """The envelope members of an object; a repeated one is `duplicate_member` ([UH-EVENT-5]).

    Names were unescaped by the parser, so `"typ\\u0065"` is `type`. Repeated names of other
    members are ignored (allowed by [UH-EVENT-5]); the last of them counts.
    """
    seen = {}
    for name, value in root:
        if name in ENVELOPE_MEMBERS:
            if name in seen:
                raise DecodeError("duplicate_member", f'member "{name}" occurs more than once')
            seen[name] = value
    return seen


def decode_payload(version: int, payload: bytes) -> Message:
    """Decodes a version 1 or 2 payload, checks in the order of section 6.

    invalid_utf8 (the whole payload) -> invalid_json / too_deep (first fault in byte order)
    -> duplicate_member -> invalid_event (version 2 only).
    """
    if version not in (V1, V2):
        raise DecodeError("unsupported_version", f"version {version} is not 1 or 2")
    try:
        # Python's strict UTF-8 codec is RFC 3629: it refuses overlong forms, encoded
        # surrogates, code points above U+10FFFF, truncated sequences, stray continuation
        # bytes and c0, c1, f5-ff ([UH-JSON-2]). A BOM is kept as U+FEFF, which the parser
        # then refuses as a non-grammar character ([UH-JSON-3]).
        text = payload.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise DecodeError("invalid_utf8", f"{e.reason} at byte {e.start}") from None
    root = parse_json(text)
    members = _members(root) if type(root) is JObject else None
    if version == V2:
        if members is None:
            raise DecodeError("invalid_event", "the payload is not a JSON object")
        strings = []
        for name in REQUIRED_MEMBERS:
            if name not in members:
                raise DecodeError("invalid_event", f'member "{name}" is missing')
            value = members[name]
            if type(value) is not str:
                raise DecodeError("invalid_event", f'member "{name}" is not a string')
            if value == "":
                raise DecodeError("invalid_event", f'member "{name}" is empty')
            strings.append(value)
        event = Event(*strings, members.get("data", MISSING), members.get("error", MISSING))
        return Message(root, event)
    # Version 1 ([UH-VERSION-2]): any JSON text; an object whose `type` is a string is an event.
    if members is not None and type(members.get("type")) is str:

        def text_of(name):
            v = members.get(name)
            return v if type(v) is str else ""

        event = Event(
            text_of("id"),
            text_of("timestamp"),
            text_of("source"),
            members["type"],
            members.get("data", MISSING),
            members.get("error", MISSING),
        )
        return Message(root, event)
    return Message(root, None)


def canonical(frame: Frame, message: Message) -> str:
    """The canonical decoded frame of spec/vectors/README.md, as JSON text."""
    out = {"version": frame.version, "status": frame.status, "length": frame.length}
    ev = message.event
    if ev is not None:
        e = {"id": ev.id, "timestamp": ev.timestamp, "source": ev.source, "type": ev.type}
        if ev.data is not MISSING:
            e["data"] = ev.data
        if ev.error is not MISSING:
            e["error"] = ev.error
        out["event"] = e
    if frame.version == V1:
        out["json"] = message.root
    return dumps(out, last_wins=True)


# --- events and replies ---------------------------------------------------------------------


def now_rfc3339() -> str:
    """RFC 3339 UTC with milliseconds: 2026-11-28T22:17:50.481Z."""
    t = _dt.datetime.now(_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def fresh_id() -> str:
    """A UUID v4 in lower-case hex."""
    return str(uuid.uuid4())


def encode_event(
    event_type: str,
    source: str,
    data=MISSING,
    error=MISSING,
    *,
    version: int = V2,
    status: int = 1,
    event_id: str | None = None,
    timestamp: str | None = None,
) -> bytes:
    """A frame holding an event in v0.0.1's layout ([UH-EVENT-8]): compact JSON, members in
    the order id, timestamp, source, type, data or error, non-ASCII as raw UTF-8."""
    members = [
        ("id", event_id if event_id is not None else fresh_id()),
        ("timestamp", timestamp if timestamp is not None else now_rfc3339()),
        ("source", source),
        ("type", event_type),
    ]
    if data is not MISSING:
        members.append(("data", data))
    if error is not MISSING:
        members.append(("error", error))
    payload = dumps(JObject(members)).encode("utf-8")
    return encode_frame(version, status, payload)


def response(source: str, code: str, message: str, extra=()) -> bytes:
    """A `µHome.response` reply, status 1 ([UH-REPLY-2])."""
    body = JObject([("message", message), ("code", code), *extra])
    return encode_event(RESPONSE, source, data=body, status=1)


def error_reply(source: str, code: str, reason: str | None = None, message: str | None = None,
                status: int | None = None) -> bytes:
    """A `µHome.error` reply ([UH-REPLY-3]): message and status from Appendix B by default."""
    default_status, default_message = ERRORS.get(code, (2, None))
    body = [("message", message if message is not None else default_message), ("code", code)]
    if body[0][1] is None:
        raise ValueError(f"no message for code {code}")
    if reason is not None:
        body.append(("reason", reason))
    return encode_event(ERROR, source, error=JObject(body),
                        status=default_status if status is None else status)
