"""Synthetic video and audio files for the media-job tests, made in the test.

- `wav(seconds, rate)`: a real PCM WAV file (stdlib `wave`): a tone whose
  pitch depends on `seed`, so two files of the same length differ.
- `mp4(seconds)`: an ISO base media file with the boxes a reader looks at
  for the length (`ftyp`, `moov/mvhd` with timescale and duration) and an
  `mdat` of filler bytes. Its header is well formed; it holds no playable
  frames (no encoder is available to the tests), which the emulator does not
  need: it reads lengths, never pixels.
"""

from __future__ import annotations

import io
import math
import struct
import wave


def wav(seconds: float, rate: int = 8000, seed: int = 1) -> bytes:
    frames = int(seconds * rate)
    pitch = 220.0 * (1 + seed % 7)
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * pitch * i / rate)))
        for i in range(frames)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float, seed: int = 1, brand: bytes = b"isom") -> bytes:
    timescale = 1000
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"mp41")
    mvhd = _box(
        b"mvhd",
        bytes([0, 0, 0, 0])  # version 0, flags
        + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale))
        + struct.pack(">IH", 0x00010000, 0x0100)  # rate 1.0, volume 1.0
        + bytes(10)  # reserved
        + bytes(36)  # matrix
        + bytes(24)  # pre-defined
        + struct.pack(">I", 2),  # next track id
    )
    moov = _box(b"moov", mvhd)
    mdat = _box(b"mdat", bytes((seed * 31 + i) % 251 for i in range(4096)))
    return ftyp + moov + mdat
