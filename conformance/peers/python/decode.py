#!/usr/bin/env python3
"""µHome decoder program (spec/conformance-contract.md, section 1).

Reads all of stdin, decodes the first frame and either
  - prints the canonical decoded frame as one JSON value and exits 0, or
  - prints the refusal's error code and exits 1 (`incomplete` when the input holds fewer
    bytes than a whole frame).

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


def main() -> None:
    try:
        import uhome

        data = sys.stdin.buffer.read()
        try:
            frame, _used = uhome.split_frame(data)
            message = uhome.decode_payload(frame.version, frame.payload)
            out = uhome.canonical(frame, message)
        except uhome.DecodeError as refusal:
            print(f"decode.py: {refusal.code}: {refusal.reason}", file=sys.stderr)
            _emit(refusal.code, 1)
            return
        _emit(out, 0)
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
