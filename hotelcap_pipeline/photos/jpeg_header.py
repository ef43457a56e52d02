"""Read a plain JPEG's size and EXIF orientation from its marker segments, without Pillow.

Opening a JPEG with Pillow parses every header segment in Python (its quantisation tables byte by byte):
~30 us per photo, held under the GIL that the download's event loop needs. Most photos are plain 8-bit
baseline or progressive JPEGs with at most one EXIF segment; for those, this reads the same facts Pillow
would (size, component count, orientation from IFD0) in a few microseconds. Anything else returns None and
the caller opens the photo with Pillow as before: other frame types, 12-bit samples, CMYK, several EXIF
segments (Pillow joins them), XMP (Pillow reads an orientation from it when EXIF has none), an orientation
entry that is not one SHORT, or a segment that runs past the data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ORIENTATION_TAG = 0x0112
_SOI = b"\xff\xd8\xff"
_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_PLAIN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended sequential, progressive (Huffman)
_OTHER_FRAMES = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_SHORT = 3


@dataclass(frozen=True)
class JpegFrame:
    width: int
    height: int
    components: int  # 1: grayscale, 3: colour
    orientation: int  # the EXIF value as stored; 1 when there is none


def read_jpeg_frame(data: bytes) -> JpegFrame | None:
    """Size, components and orientation of a plain 8-bit grayscale or colour JPEG; None for anything else."""
    if not data.startswith(_SOI):
        return None
    end = len(data)
    pos = 2
    frame: tuple[int, int, int] | None = None
    exif_at: tuple[int, int] | None = None
    while True:
        if pos + 4 > end or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: every header segment has been seen
            break
        if marker == 0xD9 or 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01, 0xD8):
            return None
        segment_end = pos + 2 + ((data[pos + 2] << 8) | data[pos + 3])
        body = pos + 4
        if segment_end > end or segment_end < body:
            return None
        if marker in _PLAIN_FRAMES:
            if frame is not None or segment_end - body < 6:
                return None
            precision, height, width, components = struct.unpack_from(">BHHB", data, body)
            if precision != 8 or components not in (1, 3) or width == 0 or height == 0:
                return None
            frame = (width, height, components)
        elif marker in _OTHER_FRAMES:
            return None
        elif marker == 0xE1:
            if data.startswith(_XMP, body):
                return None
            if data.startswith(_EXIF, body):
                if exif_at is not None:
                    return None
                exif_at = (body + len(_EXIF), segment_end)
        pos = segment_end
    if frame is None:
        return None
    orientation = 1 if exif_at is None else exif_orientation(data, *exif_at)
    if orientation is None:
        return None
    return JpegFrame(frame[0], frame[1], frame[2], orientation)


def exif_orientation(data: bytes, start: int, end: int) -> int | None:
    """The orientation in the IFD0 of the TIFF block ``data[start:end]``: 1 when absent, None when the
    block is malformed or the entry is not a single SHORT (left to Pillow)."""
    order = data[start:start + 2]
    if order == b"II":
        endian = "<"
    elif order == b"MM":
        endian = ">"
    else:
        return None
    if start + 8 > end:
        return None
    magic, ifd = struct.unpack_from(endian + "HI", data, start + 2)
    entries_at = start + ifd + 2
    if magic != 42 or entries_at > end:
        return None
    (count,) = struct.unpack_from(endian + "H", data, start + ifd)
    if entries_at + 12 * count > end:
        return None
    for entry in range(entries_at, entries_at + 12 * count, 12):
        tag, kind, n, value = struct.unpack_from(endian + "HHIH", data, entry)
        if tag == ORIENTATION_TAG:
            return value if kind == _SHORT and n == 1 else None
    return 1
