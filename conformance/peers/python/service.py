"""The service role of node.py (spec/protocol.md section 13), standard library only.

A `Keeper` registers the node with the registry once it listens ([UH-SERVICE-1],
[UH-SERVICE-2]), subscribes to its patterns at the broker only after a successful
registration reply, retries what may change with capped exponential backoff ([UH-SERVICE-3],
[UH-SERVICE-6]: 100 ms doubling to 10 s), checks its registration and sends its subscriptions
again every refresh interval ([UH-SERVICE-7]), reads v0.0.1 replies without a code by their
status and reason ([UH-SERVICE-8], Appendix A), and unregisters when it stops
([UH-SERVICE-5]).
"""

from __future__ import annotations

import asyncio
import random

import uhome

REGISTER = "\u00b5Home.core.register"
UNREGISTER = "\u00b5Home.core.unregister"
DISCOVER = "\u00b5Home.core.discover"
SUBSCRIBE = "\u00b5Home.core.subscribe"
RESERVED = "\u00b5Home."

CLIENT_TIMEOUT = 3.0  # each of connect, write and read ([UH-EXCHANGE-12])
BACKOFF_FIRST = 0.1
BACKOFF_CAP = 10.0
JITTER = 0.1  # within the 20 % [UH-SERVICE-6] allows


def pattern_ok(pattern: str) -> bool:
    """[UH-BROKER-3]: tokens separated by '.', none empty, '>' only last, 255 characters."""
    tokens = pattern.split(".")
    return (0 < len(pattern) <= 255 and all(tokens)
            and all(t != ">" for t in tokens[:-1]))


def pattern_matches(pattern: str, event_type: str) -> bool:
    """[UH-BROKER-3]: '*' one token, '>' one or more trailing tokens."""
    p, t = pattern.split("."), event_type.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(t) > i
        if i >= len(t) or (token != "*" and token != t[i]):
            return False
    return len(p) == len(t)


class Reply:
    """A decoded reply: status, and `code`, `message`, `reason` and `data` when present."""

    def __init__(self, status: int, body):
        self.status = status
        members = body.last() if isinstance(body, uhome.JObject) else {}
        self.members = members
        text = lambda name: members.get(name) if type(members.get(name)) is str else None
        self.code = text("code")
        self.message = body if type(body) is str else text("message")
        self.reason = text("reason")

    def __repr__(self) -> str:
        return f"status {self.status}, code {self.code}, reason {self.reason}"


async def request(addr: tuple[str, int], event_type: str, source: str, data=uhome.MISSING):
    """One request on a new connection ([UH-EXCHANGE-9]); the reply, or None (no reply)."""
    frame = uhome.encode_event(event_type, source, data=data)
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*addr), CLIENT_TIMEOUT)
        writer.write(frame)
        await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT)
        header = await asyncio.wait_for(reader.readexactly(uhome.HEADER_LEN), CLIENT_TIMEOUT)
        length = int.from_bytes(header[:2], "big")
        payload = await asyncio.wait_for(reader.readexactly(length), CLIENT_TIMEOUT)
        message = uhome.decode_payload(int.from_bytes(header[2:4], "big"), payload)
        event = message.event
        if event is None:
            return None
        body = event.data if event.data is not uhome.MISSING else event.error
        return Reply(header[4], None if body is uhome.MISSING else body)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, uhome.DecodeError):
        return None
    finally:
        if writer is not None:
            writer.close()


def registered(reply: Reply | None) -> bool:
    """A successful registration: code `registered`; without a code, status 1 or the v0.0.1
    refusal `Node already exists`, which counts as registered ([UH-SERVICE-8])."""
    if reply is None:
        return False
    if reply.code is not None:
        return reply.status == 1 and reply.code == "registered"
    return reply.status == 1 or (reply.status == 2 and reply.reason == "Node already exists")


def may_change(reply: Reply | None, refusal: str, reason: str) -> bool:
    """A result worth trying again ([UH-SERVICE-6]): no reply, `internal`, `registry_full`, or
    the refusal that may change (`unhealthy`, `not_registered`, or its v0.0.1 reason)."""
    if reply is None:
        return True
    if reply.code is not None:
        return reply.code in (refusal, "internal", "registry_full")
    return reply.status == 0 or reply.reason == reason


class Keeper:
    def __init__(self, node_id: str, address: str, registry, broker, patterns, refresh: float,
                 log):
        self.node_id = node_id
        self.address = address
        self.registry = registry
        self.broker = broker
        self.patterns = patterns
        self.refresh = refresh
        self.log = log
        self.sent_register = False
        # Checked by every loop: asyncio.wait_for can lose a cancellation (Python 3.11).
        self.stopping = False

    async def keep_sending(self, addr, event_type, data, ok, retry) -> bool:
        """Sends until `ok(reply)`; True then, False on a result that will not change."""
        pause = BACKOFF_FIRST
        while not self.stopping:
            if event_type == REGISTER:
                self.sent_register = True
            reply = await request(addr, event_type, self.node_id, data)
            if ok(reply):
                return True
            if not retry(reply):
                self.log(f"{event_type} refused for good: {reply}")
                return False
            await asyncio.sleep(pause * random.uniform(1 - JITTER, 1 + JITTER))
            pause = min(pause * 2, BACKOFF_CAP)
        return False

    async def register(self) -> bool:
        data = uhome.JObject([("nodeId", self.node_id), ("address", self.address)])
        return await self.keep_sending(
            self.registry, REGISTER, data, registered,
            lambda r: may_change(r, "unhealthy", "Unhealthy service"))

    async def subscribe_all(self) -> None:
        for pattern in self.patterns:
            await self.keep_sending(
                self.broker, SUBSCRIBE, uhome.JObject([("subscribe", pattern)]),
                lambda r: r is not None and r.status == 1
                and r.code in (None, "subscribed"),
                lambda r: may_change(r, "not_registered", "Node is not registered"))

    async def listed(self) -> bool | None:
        """Whether discover lists the node; None where the registry has no discover."""
        reply = await request(self.registry, DISCOVER, self.node_id)
        if reply is None:
            return False
        if reply.code == "no_handler" or (reply.code is None
                                          and reply.message == uhome.MSG_NO_HANDLER):
            return None
        nodes = reply.members.get("nodes")
        if reply.code != "nodes" or not isinstance(nodes, uhome.JArray):
            return False
        return any(isinstance(n, uhome.JObject) and n.last().get("nodeId") == self.node_id
                   for n in nodes)

    async def run(self) -> None:
        if await self.register():
            await self.subscribe_all()
        while not self.stopping:
            await asyncio.sleep(self.refresh)
            if not await self.listed():
                if not await self.register():
                    continue
            await self.subscribe_all()

    async def unregister(self) -> None:
        if not self.sent_register:
            return
        reply = await request(self.registry, UNREGISTER, self.node_id,
                              uhome.JObject([("nodeId", self.node_id)]))
        self.log(f"unregister: {reply}")
