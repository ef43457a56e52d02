"""The Pillow-free JPEG header reader agrees with Pillow wherever it answers, and declines the rest."""

from __future__ import annotations

import io
import struct

import pytest
from photo_factories import encode, exif_rotated_jpeg, halves
from PIL import Image

from hotelcap_pipeline.photos.jpeg_header import read_jpeg_frame
from hotelcap_pipeline.photos.resize import ResizeSpec, resize_photo


def pillow_facts(data: bytes) -> tuple[int, int, int, object]:
    im = Image.open(io.BytesIO(data))
    return im.width, im.height, len(im.getbands()), im.getexif().get(0x0112, 1)


def big_endian_exif(orientation: int) -> bytes:
    """A Motorola-order TIFF block (Pillow writes Intel order) with a tag before the orientation."""
    entries = struct.pack(">HHIHH", 0x010F, 2, 4, 0, 0)[:12] + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 2) + entries + struct.pack(">I", 0)


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.parametrize("data", [
    pytest.param(encode(halves((1024, 768)), quality=90), id="baseline"),
    pytest.param(encode(halves((801, 599)), quality=75, progressive=True), id="progressive"),
    pytest.param(encode(halves((640, 480), mode="L")), id="grayscale"),
    pytest.param(encode(halves((300, 200)), subsampling=0, optimize=True), id="444-optimized"),
    *[pytest.param(exif_rotated_jpeg(o), id=f"exif-{o}") for o in range(1, 9)],
    pytest.param(exif_rotated_jpeg(0), id="exif-0"),
    pytest.param(with_app1(encode(halves()), b"Exif\x00\x00" + big_endian_exif(6)), id="exif-big-endian"),
    pytest.param(encode(halves(), icc_profile=b"\x00" * 3000), id="icc"),
])
def test_agrees_with_pillow(data):
    frame = read_jpeg_frame(data)
    assert frame is not None
    assert (frame.width, frame.height, frame.components, frame.orientation) == pillow_facts(data)


def xmp_jpeg() -> bytes:
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    return with_app1(encode(halves()), b"http://ns.adobe.com/xap/1.0/\x00" + xmp)


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(encode(halves(), "PNG"), id="png"),
    pytest.param(encode(halves(mode="CMYK")), id="cmyk"),
    pytest.param(encode(halves())[:200], id="cut-in-header"),
    pytest.param(xmp_jpeg(), id="xmp"),
    pytest.param(with_app1(exif_rotated_jpeg(3), b"Exif\x00\x00" + big_endian_exif(6)), id="two-exif"),
    pytest.param(with_app1(encode(halves()), b"Exif\x00\x00MM\x00\x2a\x00\x00\xff\xff"), id="exif-ifd-outside"),
    pytest.param(with_app1(encode(halves()), b"Exif\x00\x00XX"), id="exif-bad-order"),
])
def test_declines_what_pillow_should_read(data):
    assert read_jpeg_frame(data) is None


def test_declined_photos_still_resize_as_pillow_reads_them():
    # XMP orientation 6: Pillow's reading rotates the photo; the fallback keeps that.
    out = resize_photo(xmp_jpeg(), ResizeSpec())
    assert (out.width, out.height, out.orig_width, out.orig_height) == (320, 640, 200, 400)


def test_pixel_limit_is_checked_from_the_header():
    data = encode(halves((1000, 1000)))
    with pytest.raises(ValueError, match="decompression bomb: 1e\\+06 pixels"):
        resize_photo(data, ResizeSpec(max_pixels=999_999))
