"""Synthetic photos for the photo tests: each one exercises one decoding path."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def halves(size: tuple[int, int] = (400, 200), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: the stored orientation can be read back from the pixels."""
    im = Image.new("RGB", size, RED)
    im.paste(Image.new("RGB", (size[0] // 2, size[1]), BLUE), (size[0] // 2, 0))
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (800, 600), quality: int = 90) -> bytes:
    return encode(halves(size), "JPEG", quality=quality)


def exif_rotated_jpeg(orientation: int = 6, size: tuple[int, int] = (400, 200)) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(halves(size), "JPEG", exif=exif.tobytes())


def rgba_png(size: tuple[int, int] = (300, 200)) -> bytes:
    """Opaque red left half, fully transparent right half (which must become white)."""
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (size[0] // 2, size[1]), (*RED, 255)), (0, 0))
    return encode(im, "PNG")


def palette_png(size: tuple[int, int] = (300, 200), transparent: bool = False) -> bytes:
    im = halves(size).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    if transparent:
        return encode(im, "PNG", transparency=im.getpixel((size[0] - 1, 0)))
    return encode(im, "PNG")


def bomb_png(width: int = 40_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas: refused from the header alone."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    ihdr_at = data.index(b"IHDR")
    body = bytearray(data[ihdr_at:ihdr_at + 17])
    body[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(body)) & 0xFFFFFFFF)
    return data[:ihdr_at] + bytes(body) + crc + data[ihdr_at + 21:]
