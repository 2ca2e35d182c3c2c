"""Video and audio files: what a caller sent, told apart by their first bytes.

- `MediaKind`: video or audio.
- `MediaFormat`: one container format: its wire name (the value Nova's
  `format` field takes: `mp4`, `mov`, `wav`, ...), kind and MIME types.
- `FORMATS` / `format_of_mime(mime)`: the table, and the format a MIME type
  names.
- `sniff(data)`: the format the leading bytes announce (magic numbers of
  each container), or None.
- `check_media(data, declared_mime)`: the format of uploaded bytes, or an
  `ItemError` naming the problem: no bytes, a container we do not know, a MIME
  type that contradicts the bytes.

The sidecar never decodes media: the model reads it. These checks stop the
mistakes that would otherwise cost a whole asynchronous job to find (a PNG
sent as video, an MP3 labelled video/mp4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vectorizer.types import ItemError

MEDIA_INVALID = "MEDIA_INVALID"


class MediaKind(enum.Enum):
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True)
class MediaFormat:
    name: str  # wire name, e.g. "mp4"
    kind: MediaKind
    mime_types: tuple[str, ...]
    extension: str


_V, _A = MediaKind.VIDEO, MediaKind.AUDIO
FORMATS: dict[str, MediaFormat] = {
    f.name: f
    for f in (
        MediaFormat("mp4", _V, ("video/mp4",), "mp4"),
        MediaFormat("mov", _V, ("video/quicktime",), "mov"),
        MediaFormat("mkv", _V, ("video/x-matroska", "video/matroska"), "mkv"),
        MediaFormat("webm", _V, ("video/webm",), "webm"),
        MediaFormat("flv", _V, ("video/x-flv",), "flv"),
        MediaFormat("mpeg", _V, ("video/mpeg",), "mpeg"),
        MediaFormat("wmv", _V, ("video/x-ms-wmv",), "wmv"),
        MediaFormat("3gp", _V, ("video/3gpp",), "3gp"),
        MediaFormat("mp3", _A, ("audio/mpeg", "audio/mp3"), "mp3"),
        MediaFormat("wav", _A, ("audio/wav", "audio/x-wav", "audio/wave"), "wav"),
        MediaFormat("ogg", _A, ("audio/ogg",), "ogg"),
        MediaFormat("flac", _A, ("audio/flac", "audio/x-flac"), "flac"),
    )
}
_BY_MIME = {m: f for f in FORMATS.values() for m in f.mime_types}
# ISO base media brands that mean QuickTime or 3GPP rather than MP4.
_MOV_BRANDS = (b"qt  ",)
_3GP_BRANDS = (b"3gp", b"3g2")


def format_of_mime(mime: str) -> MediaFormat | None:
    return _BY_MIME.get(mime.strip().lower().split(";", 1)[0].strip())


def mime_of(fmt: str) -> str:
    f = FORMATS.get(fmt)
    return f.mime_types[0] if f else "application/octet-stream"


def sniff(data: bytes) -> MediaFormat | None:
    """The container the leading bytes announce, or None."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _MOV_BRANDS:
            return FORMATS["mov"]
        if brand[:3] in _3GP_BRANDS:
            return FORMATS["3gp"]
        return FORMATS["mp4"]
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return FORMATS["mov"]  # QuickTime files without an ftyp box
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML: WebM declares its doctype near the start, Matroska otherwise.
        return FORMATS["webm"] if b"webm" in head else FORMATS["mkv"]
    if head[:3] == b"FLV":
        return FORMATS["flv"]
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return FORMATS["mpeg"]
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return FORMATS["wmv"]
    if head[:4] == b"OggS":
        return FORMATS["ogg"]
    if head[:4] == b"fLaC":
        return FORMATS["flac"]
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return FORMATS["mp3"]
    return None


def _invalid(message: str) -> ItemError:
    return ItemError(MEDIA_INVALID, message, False)


def check_media(
    data: bytes, declared_mime: str = ""
) -> tuple[MediaFormat | None, ItemError | None]:
    """The format of `data`, or why it cannot be sent as video or audio."""
    if not data:
        return None, _invalid("media is empty: send the file's bytes or an s3:// location")
    sniffed = sniff(data)
    declared = format_of_mime(declared_mime) if declared_mime else None
    if declared_mime and declared is None:
        known = ", ".join(sorted(_BY_MIME))
        return None, _invalid(
            f"MIME type {declared_mime[:60]!r} is not a video or audio type taken here ({known})"
        )
    if sniffed is None:
        return None, _invalid(
            "data is not a video or audio container known here (its first bytes match none of "
            f"{', '.join(f.upper() for f in FORMATS)}); send one of those formats"
        )
    if declared is not None and declared.name != sniffed.name:
        return None, _invalid(
            f"MIME type {declared_mime[:60]} does not match the data, which is "
            f"{sniffed.name.upper()} ({sniffed.kind.value}): send {sniffed.mime_types[0]} "
            "(or the right bytes)"
        )
    return sniffed, None
