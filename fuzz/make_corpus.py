#!/usr/bin/env python3
"""Builds the fuzz seed corpora fuzz/corpus/<target>/ from spec/vectors/*.json.

Standard library only; reads nothing outside the repository (the vectors are found relative
to this file). Each seed is named by the SHA-1 of its bytes, as libFuzzer names its own, so
re-running adds what is new and never duplicates. fuzz/corpus/ is git-ignored.

  frame_decode       every vector's bytes, every TCP segment and reply of the v0.0.1
                     exchanges, and each exchange's segments joined
  stream_chunks      the same streams, each behind a few chunk-size prefixes (byte 0 =
                     number of sizes - 1, then u16 big-endian sizes): 1, the whole stream,
                     3 and 7, and for the exchanges the TCP segment sizes
  event_decode       the payload of every complete first frame behind its version
                     (u16 big-endian), and behind the other of versions 1 and 2
  json_differential  the payload of every complete first frame, as it is and behind 0xff
                     (which makes the rest the structured generator's entropy)
  roundtrip          every vector's bytes (structure-aware: they are read with `arbitrary`),
                     as they are and behind 0xff (the structured generator)
  connection         the stream_chunks seeds (same input layout)

Usage: python3 fuzz/make_corpus.py [--out DIR]   (default: fuzz/corpus)
"""

import argparse
import hashlib
import json
import pathlib
import struct
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent
VECTORS = REPO / "spec" / "vectors"
# A first byte in 0xf5..=0xff selects the structured generator in roundtrip and
# json_differential.
STRUCTURED = b"\xff"
TARGETS = ["frame_decode", "event_decode", "stream_chunks", "roundtrip", "json_differential",
           "connection"]


def streams():
    """(bytes, chunk sizes or None) for every byte string in the vector files."""
    files = sorted(VECTORS.glob("*.json"))
    for path in files:
        # Numbers are kept as text: the files hold 1e400 and 100-digit integers.
        doc = json.loads(path.read_text(encoding="utf-8"), parse_float=str, parse_int=str)
        if not isinstance(doc, dict):
            continue
        for vector in doc.get("vectors") or []:
            yield bytes.fromhex(vector["hex"]), None
        for exchange in doc.get("exchanges") or []:
            segments = [bytes.fromhex(s["hex"]) for s in exchange["segments"]]
            for segment in segments:
                yield segment, None
            for reply in exchange.get("legacyReplies") or []:
                yield bytes.fromhex(reply["hex"]), None
            yield b"".join(segments), [len(s) for s in segments]


def first_frame(data):
    """(version, payload) of the first complete frame, or None."""
    if len(data) < 5:
        return None
    length, version, _status = struct.unpack(">HHB", data[:5])
    if len(data) < 5 + length:
        return None
    return version, data[5 : 5 + length]


def chunk_prefix(sizes):
    sizes = [min(max(s, 0), 0xFFFF) for s in sizes][:8] or [1]
    return bytes([len(sizes) - 1]) + b"".join(struct.pack(">H", s) for s in sizes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(FUZZ / "corpus"), help="corpus root directory")
    args = parser.parse_args()
    out = pathlib.Path(args.out)

    seeds = {t: set() for t in TARGETS}
    count = 0
    for data, segments in streams():
        count += 1
        seeds["frame_decode"].add(data)
        seeds["roundtrip"].add(data)
        # First byte 0xff: the rest drives the structured generator (checks/src/structured.rs).
        seeds["roundtrip"].add(STRUCTURED + data)
        cuts = [[1], [max(len(data), 1)], [3, 7]]
        if segments:
            cuts.append(segments)
        for sizes in cuts:
            seeds["stream_chunks"].add(chunk_prefix(sizes) + data)
            seeds["connection"].add(chunk_prefix(sizes) + data)
        frame = first_frame(data)
        if frame is None:
            continue
        version, payload = frame
        seeds["json_differential"].add(payload)
        seeds["json_differential"].add(STRUCTURED + payload)
        for v in {version, 1 if version == 2 else 2}:
            seeds["event_decode"].add(struct.pack(">H", v) + payload)
    if count == 0:
        sys.exit(f"make_corpus.py: no vectors in {VECTORS}")

    for target, items in seeds.items():
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        for item in items:
            (directory / hashlib.sha1(item).hexdigest()).write_bytes(item)
        print(f"{target}: {len(items)} seeds in {directory}")


if __name__ == "__main__":
    main()
