"""Video and audio for the emulated asynchronous invoke: durations, segments, vectors.

The emulator decodes no media. It reads what a container states about its
length and cuts that into segments the way each model documents:

- `duration_seconds(data, fmt)`: the length a WAV file's header implies
  (data chunk bytes / byte rate) or an MP4/MOV file's movie header states
  (`moov/mvhd`: duration / timescale). Other containers, and files whose
  header is missing or corrupt, raise `MediaUnreadable`: the invocation
  fails, as a model fails on a file it cannot read.
- `fixed_segments(start, end, length)`: back-to-back segments of `length`
  seconds, the last one shorter.
- `even_segments(start, end, target)`: segments as close to `target`
  seconds as an even split allows (Marengo's audio default: 50 s -> 5 x 10 s,
  16 s -> 2 x 8 s).
- `segment_vector(digest, option, index, dim, purpose)`: a unit vector that
  depends only on the media's SHA-256, the embedding option and the segment
  index (hashed n-grams of that name, `vectors.purposed_vector`): the same
  file gives the same vectors, other files others. Not semantic.
"""

from __future__ import annotations

import struct

from vectorizer.emulator.vectors import purposed_vector


class MediaUnreadable(Exception):
    """The container's length cannot be read."""


def _wav_duration(data: bytes) -> float:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise MediaUnreadable("not a RIFF/WAVE file")
    pos, byte_rate, data_size = 12, 0, -1
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt " and size >= 16:
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif cid == b"data":
            data_size = min(size, len(data) - body)
            break
        pos = body + size + (size & 1)
    if byte_rate <= 0 or data_size < 0:
        raise MediaUnreadable("WAV header has no fmt or data chunk")
    return data_size / byte_rate


def _boxes(data: bytes, start: int, end: int):  # type: ignore[no-untyped-def]
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise MediaUnreadable("corrupt box size")
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _mp4_duration(data: bytes) -> float:
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, ibody, iend in _boxes(data, body, end):
            if inner != b"mvhd" or iend - ibody < 20:
                continue
            version = data[ibody]
            if version == 1:
                if iend - ibody < 32:
                    raise MediaUnreadable("truncated mvhd")
                timescale, duration = struct.unpack_from(">IQ", data, ibody + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, ibody + 12)
            if timescale == 0:
                raise MediaUnreadable("mvhd timescale is 0")
            return duration / timescale
    raise MediaUnreadable("no moov/mvhd box")


def duration_seconds(data: bytes, fmt: str) -> float:
    if fmt == "wav":
        return _wav_duration(data)
    if fmt in ("mp4", "mov", "3gp"):
        return _mp4_duration(data)
    raise MediaUnreadable(f"the emulator reads the length of WAV, MP4 and MOV only, not {fmt}")


def fixed_segments(start: float, end: float, length: float) -> list[tuple[float, float]]:
    out = []
    t = start
    while t < end - 1e-9:
        out.append((round(t, 3), round(min(t + length, end), 3)))
        t += length
    return out


def even_segments(start: float, end: float, target: float) -> list[tuple[float, float]]:
    span = end - start
    if span <= 0:
        return []
    count = max(1, round(span / target))
    step = span / count
    return [(round(start + i * step, 3), round(start + (i + 1) * step, 3)) for i in range(count)]


def segment_vector(
    digest: str, option: str, index: int, dim: int, purpose: str | None = None
) -> list[float]:
    return purposed_vector(f"\x03media {digest} {option} {index}", dim, purpose)
