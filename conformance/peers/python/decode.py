#!/usr/bin/env python3
"""µHome decoder program (spec/conformance-contract.md, section 1).

Reads all of stdin, decodes the first frame and either
  - prints the canonical decoded frame as one JSON value and exits 0, or
  - prints the refusal's error code and exits 1 (`incomplete` when the input holds fewer
    bytes than a whole frame).

With UHOME_CONFORMANCE_STREAM=1 in its environment it serves the stream mode instead: it
prints `uhome-stream 1`, then answers each line of hex on stdin with one line, the canonical
frame or the error code, until stdin ends.

It exits no other way. A failure of this program itself (a bug, memory exhausted) is not a
verdict on the input: it is reported as the code `internal` (Appendix B: the replier's own
failure) with the traceback on stderr, so the suite shows it as a failing case with the
diagnostics rather than as a silent pass or a crash.
"""

import os
import sys


def _emit(text: str, status: int) -> None:
    try:
        sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()
    except BaseException:  # stdout gone: nothing left to report to
        pass
    os._exit(status)


def answer(data: bytes):
    """The canonical frame and 0, or the refusal's code and 1."""
    import uhome

    try:
        frame, _used = uhome.split_frame(data)
        message = uhome.decode_payload(frame.version, frame.payload)
        return uhome.canonical(frame, message), 0
    except uhome.DecodeError as refusal:
        print(f"decode.py: {refusal.code}: {refusal.reason}", file=sys.stderr)
        return refusal.code, 1


def stream() -> None:
    """The stream mode: one line of hex in, one line out (the canonical frame, or the code)."""
    out = sys.stdout
    out.write(STREAM_HELLO + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            text, _status = answer(bytes.fromhex(line.strip()))
        except BaseException:
            import traceback

            traceback.print_exc(file=sys.stderr)
            print("decode.py: internal failure, not a verdict on the input", file=sys.stderr)
            text = "internal"
        out.write(text.replace("\n", "") + "\n")
        out.flush()


STREAM_HELLO = "uhome-stream 1"


def main() -> None:
    if os.environ.get("UHOME_CONFORMANCE_STREAM") == "1":
        stream()
        return
    try:
        text, status = answer(sys.stdin.buffer.read())
        _emit(text, status)
    except BaseException:
        import traceback

        try:
            traceback.print_exc(file=sys.stderr)
            print("decode.py: internal failure, not a verdict on the input", file=sys.stderr)
            sys.stderr.flush()
        except BaseException:
            pass
        _emit("internal", 1)


if __name__ == "__main__":
    main()
