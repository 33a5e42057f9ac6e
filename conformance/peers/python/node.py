#!/usr/bin/env python3
"""µHome service node (spec/protocol.md), standard library only.

    python3 node.py --listen 127.0.0.1:PORT --id NODE_ID [--idle-timeout SECONDS]
                    [--max-connections N] [--handle PATTERN…]
                    [--registry HOST:PORT --broker HOST:PORT --subscribe PATTERN…
                     --refresh-interval SECONDS]
                    [--key-file FILE --policy FILE]

Prints `listening on HOST:PORT` once bound (port 0 picks a free port; the real one is printed)
and serves until SIGTERM or SIGINT.

Handlers: `µHome.core.healthcheck` ([UH-CORE-2]) and `echo` (status 1, code `echo`, data
`{"message":"Echo","code":"echo","echo":<request data or null>}`); any other type is answered
`no_handler` ([UH-REPLY-5]).

With --key-file and --policy it runs in `secure` mode (secure.py, spec/protocol.md section 14):
every request must be signed by a key of the policy for this node, `source` must be the
signer's node, a delivery from the broker's key must carry a valid origin, and every reply is
signed. It then serves requests only (no --registry: its own requests would need signing).

With --registry it is also a service (service.py, [UH-SERVICE-1] to [UH-SERVICE-8]): once it
listens it registers, subscribes to each --subscribe pattern at --broker, answers the events
delivered for them (status 1, code `received`), keeps its registration and subscriptions
fresh, and unregisters on SIGTERM or SIGINT before it stops listening.

Per connection ([UH-EXCHANGE-*], [UH-SECURITY-2]): frames are reassembled across reads and
answered one by one, in order; every invalid frame gets its error reply and the connection
stays open; after the client half-closes, every complete frame still gets its reply before the
node closes; a connection on which no complete frame arrived for the idle timeout (counted
from the opening or from the last reply written) is closed. Memory per connection is bounded:
one read buffer of at most a frame plus one read (≈128 KiB), plus the transport's write buffer
up to its high-water mark, which the node waits on (bounded by the idle timeout) before
reading more. At most --max-connections (default 1024) connections are served at once; at
that bound a new connection closes the one quiet the longest (nothing owed, nothing being
answered, no byte of a next frame read), and when none is quiet it waits in the listen backlog
([UH-EXCHANGE-13], [UH-EXCHANGE-17]).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import traceback

import secure
import service
import uhome

READ_CHUNK = 65536
ECHO = "echo"
# The echo reply nests `data` two levels down (envelope, data object). A conforming receiver
# must accept depth 64 only ([UH-JSON-8]), so an echo deeper than that is not sent.
ECHO_MAX_DATA_DEPTH = 64 - 2


def log(*parts) -> None:
    try:
        print("node.py:", *parts, file=sys.stderr, flush=True)
    except Exception:
        pass


class Node:
    def __init__(self, node_id: str, idle_timeout: float, max_connections: int, patterns=(),
                 security: "secure.Security | None" = None):
        self.node_id = node_id
        self.security = security
        self.patterns = [p for p in patterns if not p.startswith(service.RESERVED)]
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.connections: dict[asyncio.Task, Activity] = {}

    # --- one request -> one reply -----------------------------------------------------------

    def reply_to(self, frame: uhome.Frame) -> bytes:
        """The reply to one complete frame, in the order of [UH-EXCHANGE-10] (and of
        [UH-AUTH-26] in secure mode, where every reply is signed, [UH-AUTH-6])."""
        reply, decoded = self.answer(frame)
        if self.security is None:
            return reply
        try:
            return self.security.sign_reply(reply, frame.payload if decoded else None)
        except Exception:
            log("internal failure while signing a reply:\n" + traceback.format_exc())
            return reply

    def answer(self, frame: uhome.Frame) -> tuple[bytes, bool]:
        """The reply, and whether the request decoded."""
        src = self.node_id
        try:
            # 1. payload length: this node accepts every length up to 65535 ([UH-FRAME-6]).
            # 2. version ([UH-VERSION-4]).
            if frame.version not in (uhome.V1, uhome.V2):
                return uhome.error_reply(
                    src, "unsupported_version",
                    f"version {frame.version} is not supported (this node speaks 1 and 2)"), False
            # 3. status ([UH-STATUS-3]).
            if frame.status != 1:
                return uhome.error_reply(
                    src, "bad_status", f"a request must carry status 1, not {frame.status}"), False
            # 4. payload decoding (sections 5 and 6).
            try:
                message = uhome.decode_payload(frame.version, frame.payload)
            except uhome.DecodeError as refusal:
                return uhome.error_reply(src, refusal.code, refusal.reason), False
        except Exception:
            # A failure of this node's own decoding code, not a fault of the request.
            log("internal failure while decoding a request:\n" + traceback.format_exc())
            return self.internal("the node failed while decoding the request"), False
        return self.dispatch(frame, message), True

    def dispatch(self, frame: uhome.Frame, message) -> bytes:
        src = self.node_id
        event = message.event
        # 5. authentication, in secure mode ([UH-AUTH-22], [UH-AUTH-26]).
        if self.security is not None:
            try:
                refusal = self.security.admit(frame.version, frame.status, frame.payload, event)
            except Exception:
                log("internal failure while authenticating a request:\n" + traceback.format_exc())
                return self.internal("the node failed while authenticating the request")
            if refusal is not None:
                code, reason = refusal
                return uhome.error_reply(src, code, reason, message=secure.MESSAGES[code],
                                         status=2)
        # 6. dispatch ([UH-REPLY-5]: a version 1 non-event is an unknown type).
        try:
            if event is None:
                return self.no_handler()
            if event.type == uhome.HEALTHCHECK:
                return uhome.response(src, "healthy", uhome.MSG_HEALTHY)
            if event.type == ECHO:
                return self.echo(event)
            if any(service.pattern_matches(p, event.type) for p in self.patterns):
                return uhome.response(src, "received", "Received")
            return self.no_handler()
        except uhome.EncodeError as e:
            log(f"a reply could not be framed: {e}")
            return self.internal("the reply could not be framed")
        except Exception:
            # [UH-REPLY-7]: a handler that fails is answered status 0, code internal.
            log("handler failure:\n" + traceback.format_exc())
            return self.internal("the handler failed")

    def no_handler(self) -> bytes:
        return uhome.response(self.node_id, "no_handler", uhome.MSG_NO_HANDLER)

    def internal(self, reason: str) -> bytes:
        return uhome.error_reply(self.node_id, "internal", reason)

    def echo(self, event: uhome.Event) -> bytes:
        data = None if event.data is uhome.MISSING else event.data
        if uhome.depth(data) > ECHO_MAX_DATA_DEPTH:
            return uhome.error_reply(
                self.node_id, "echo_too_deep",
                f"data nests deeper than {ECHO_MAX_DATA_DEPTH}: the echo would exceed depth 64",
                message="Echo failed", status=2)
        try:
            return uhome.response(self.node_id, ECHO, "Echo", [("echo", data)])
        except uhome.EncodeError:
            return uhome.error_reply(
                self.node_id, "echo_too_large",
                "the echo of this data does not fit in one frame",
                message="Echo failed", status=2)

    # --- connections ------------------------------------------------------------------------

    async def serve_connection(self, conn: socket.socket, activity: Activity) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(sock=conn, limit=READ_CHUNK)
            await self.exchange(reader, writer, activity)
        except (ConnectionError, OSError):
            pass  # reset, broken pipe: the connection is gone, the node goes on
        except asyncio.CancelledError:
            raise
        except Exception:
            log("connection failed:\n" + traceback.format_exc())
        finally:
            if writer is not None:
                try:
                    writer.close()
                    await asyncio.wait_for(writer.wait_closed(), 1.0)
                except BaseException:
                    pass
            else:
                try:
                    conn.close()
                except OSError:
                    pass

    async def exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       activity: Activity) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        # [UH-EXCHANGE-6]: counted from the opening, restarted only by a reply written.
        deadline = loop.time() + self.idle_timeout
        eof = False
        while True:
            replies = []
            while not uhome.frame_needed(buf):
                frame, used = uhome.split_frame(buf)
                del buf[:used]
                replies.append(self.reply_to(frame))
            if replies:
                writer.write(b"".join(replies))
                # Backpressure: do not read more while the client does not read its replies,
                # but do not wait on it longer than the idle timeout.
                try:
                    await asyncio.wait_for(writer.drain(), self.idle_timeout)
                except asyncio.TimeoutError:
                    writer.transport.abort()
                    return
                deadline = loop.time() + self.idle_timeout
            if eof:
                # Half-closed by the client: every complete frame is answered; a partial one
                # can never finish. Close after the replies are written ([UH-EXCHANGE-5]).
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return  # idle: no complete frame within the timeout
            quiet = not buf
            activity.set_quiet(quiet, loop.time())
            read = asyncio.ensure_future(reader.read(READ_CHUNK))
            waits = {read}
            evicted = None
            if quiet:
                evicted = asyncio.ensure_future(activity.evict.wait())
                waits.add(evicted)
            done, _ = await asyncio.wait(waits, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            if evicted is not None:
                evicted.cancel()
            if read not in done:
                # Idle ([UH-EXCHANGE-6]) or evicted while quiet ([UH-EXCHANGE-17]): what was
                # not read was not received.
                read.cancel()
                try:
                    await read
                except (asyncio.CancelledError, ConnectionError, OSError):
                    pass
                return
            chunk = read.result()
            activity.set_quiet(False, loop.time())
            if not chunk:
                eof = True
                continue
            buf += chunk

    # --- listening --------------------------------------------------------------------------

    async def accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # At the bound with no connection quiet, clients wait in the backlog.
            while len(self.connections) >= self.max_connections and self.quietest(()) is None:
                await asyncio.sleep(0.05)
            try:
                conn, _addr = await loop.sock_accept(listener)
            except OSError as e:
                log(f"accept failed: {e}")
                await asyncio.sleep(0.1)  # e.g. out of file descriptors: retry shortly
                continue
            # At the bound, close the connection quiet the longest ([UH-EXCHANGE-17]).
            asked = set()
            while len(self.connections) >= self.max_connections:
                quietest = self.quietest(asked)
                if quietest is None:
                    asked.clear()
                else:
                    quietest.evict.set()
                    asked.add(quietest)
                await asyncio.sleep(0.005)
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            activity = Activity(loop.time())
            task = asyncio.create_task(self.serve_connection(conn, activity))
            self.connections[task] = activity
            task.add_done_callback(lambda t: self.connections.pop(t, None))

    def quietest(self, asked) -> Activity | None:
        quiet = [a for a in self.connections.values()
                 if a.quiet_since is not None and a not in asked]
        return min(quiet, key=lambda a: a.quiet_since, default=None)


class Activity:
    """Since when a connection has been quiet (None while not), and the request to close it."""

    __slots__ = ("quiet_since", "evict")

    def __init__(self, now: float):
        self.quiet_since: float | None = now
        self.evict = asyncio.Event()

    def set_quiet(self, quiet: bool, now: float) -> None:
        if not quiet:
            self.quiet_since = None
            self.evict.clear()
        elif self.quiet_since is None:
            self.quiet_since = now


def allow_descriptors(connections: int) -> None:
    """Raises the soft descriptor limit so that the bound, not the limit, caps connections."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError) as e:
            log(f"cannot raise the descriptor limit to {new}: {e}")


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def node_id(text: str) -> str:
    # [UH-CORE-4]: 1 to 255 characters; it must also be encodable as UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("the node id is not valid UTF-8") from None
    if not 1 <= len(text) <= 255:
        raise argparse.ArgumentTypeError("a node id has 1 to 255 characters")
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("the idle timeout must be a positive number of seconds")
    return value


def open_listener(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def main_async(args) -> int:
    allow_descriptors(args.max_connections)
    security = None
    if args.key_file is not None:
        try:
            security = secure.Security.load(args.key_file, args.policy)
        except (OSError, ValueError, secure.PolicyError) as e:
            log(f"cannot start in secure mode: {e}")
            return 2
    node = Node(args.id, args.idle_timeout, args.max_connections,
                args.subscribe + args.handle, security)
    try:
        listener = open_listener(*args.listen)
    except OSError as e:
        log(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {e}")
        return 1
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on {shown}:{port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    accepting = asyncio.create_task(node.accept_loop(listener))
    keeper = None
    if args.registry is not None:
        # Registers only now that it listens ([UH-SERVICE-1]).
        keeper = service.Keeper(args.id, f"{shown}:{port}", args.registry, args.broker,
                                args.subscribe, args.refresh_interval, log)
        keeping = asyncio.create_task(keeper.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({accepting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if accepting.done() and not accepting.cancelled() and accepting.exception():
        log("the accept loop failed:", repr(accepting.exception()))
    if keeper is not None:
        keeper.stopping = True
        keeping.cancel()
        await asyncio.wait({keeping}, timeout=3 * service.CLIENT_TIMEOUT)
        await keeper.unregister()  # still listening ([UH-SERVICE-5])
    accepting.cancel()
    stopping.cancel()
    listener.close()
    for task in list(node.connections):
        task.cancel()
    await asyncio.gather(accepting, *node.connections, return_exceptions=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="µHome service node (spec/protocol.md)")
    parser.add_argument("--listen", required=True, type=parse_listen, metavar="HOST:PORT")
    parser.add_argument("--id", required=True, type=node_id, metavar="NODE_ID")
    parser.add_argument("--idle-timeout", type=seconds, default=30.0, metavar="SECONDS",
                        help="close connections without a complete frame for this long (30)")
    parser.add_argument("--max-connections", type=int, default=1024, metavar="N",
                        help="connections served at once; more wait in the backlog (1024)")
    parser.add_argument("--registry", type=parse_listen, metavar="HOST:PORT",
                        help="be a service: register with this registry")
    parser.add_argument("--broker", type=parse_listen, metavar="HOST:PORT",
                        help="the broker to subscribe at (with --registry)")
    parser.add_argument("--subscribe", action="append", default=[], metavar="PATTERN",
                        help="subscribe to this pattern and answer its events (repeatable)")
    parser.add_argument("--refresh-interval", type=seconds, default=10.0, metavar="SECONDS",
                        help="check the registration and subscribe again this often (10)")
    parser.add_argument("--handle", action="append", default=[], metavar="PATTERN",
                        help="answer events of this pattern (status 1, code received), as "
                             "--subscribe does, without subscribing (repeatable)")
    parser.add_argument("--key-file", metavar="FILE",
                        help="secure mode (spec/protocol.md section 14): this node's secret "
                             "key, 64 hex characters, not readable by others (with --policy)")
    parser.add_argument("--policy", metavar="FILE",
                        help="the policy file of [UH-AUTH-21] (with --key-file)")
    args = parser.parse_args()
    if (args.key_file is None) != (args.policy is None):
        parser.error("--key-file and --policy go together")
    if args.key_file is not None and args.registry is not None:
        parser.error("secure mode serves requests only: it does not register (no --registry)")
    for pattern in args.handle:
        if not service.pattern_ok(pattern):
            parser.error(f"invalid pattern {pattern!r}")
    if args.max_connections < 1:
        parser.error("--max-connections must be at least 1")
    if args.subscribe and (args.registry is None or args.broker is None):
        parser.error("--subscribe needs --registry and --broker")
    if args.refresh_interval > 30:
        parser.error("--refresh-interval is at most 30 seconds ([UH-SERVICE-7])")
    for pattern in args.subscribe:
        if not service.pattern_ok(pattern):
            parser.error(f"invalid pattern {pattern!r}")
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
