"""The pixel path on its own: libjpeg-turbo's DCT-scaled decode against Pillow's full decode, orientation,
colour modes and the JPEG comment that lets a stored photo be reused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from photo_factories import encode, exif_rotated_jpeg, halves
from PIL import Image, ImageOps

from hotelcap_pipeline.photos.resize import ImageRejected, ResizeSpec, inspect_stored, resize_photo, with_comment


def textured(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Gradients plus noise: resize errors show, unlike on flat colour."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(xx / 37 + c) * np.cos(yy / 53 - c) for c in (0.0, 1.0, 2.0)], axis=-1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def decoded(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def pillow_only(source: bytes, size: tuple[int, int]) -> bytes:
    """The Pillow-only path the fast one replaced: power-of-two draft, Hamming, Pillow's encoder."""
    im = Image.open(io.BytesIO(source))
    if im.width >= 2 * size[0]:
        im.draft("RGB", size)
    return encode(im.convert("RGB").resize(size, Image.Resampling.HAMMING), "JPEG", quality=90)


@pytest.mark.parametrize("size", [(1024, 768), (2048, 1536), (800, 600), (768, 1024), (4000, 3000)])
def test_scaled_decode_keeps_the_quality_of_a_full_decode(size):
    original = textured(size)
    target = (640, round(640 * size[1] / size[0])) if size[0] >= size[1] else (round(640 * size[0] / size[1]), 640)
    reference = np.asarray(original.resize(target, Image.Resampling.LANCZOS))  # from the pixels before any JPEG
    source = encode(original, "JPEG", quality=90)
    fast = resize_photo(source, ResizeSpec())
    assert (fast.width, fast.height) == target
    # Measured: within 0.3 dB of the Pillow-only path (better at 800x600 and 2048x1536).
    assert psnr(decoded(fast.jpeg), reference) > psnr(decoded(pillow_only(source, target)), reference) - 0.5


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(orientation):
    source = exif_rotated_jpeg(orientation, size=(1280, 640))
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(source))).convert("RGB")
    out = resize_photo(source, ResizeSpec())
    assert (out.width, out.height) == ((640, 320) if expected.width > expected.height else (320, 640))
    assert (out.orig_width, out.orig_height) == expected.size
    small = np.asarray(expected.resize((out.width, out.height), Image.Resampling.BOX))
    assert np.abs(decoded(out.jpeg).astype(int) - small.astype(int)).mean() < 4


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grayscale_and_cmyk_jpegs_come_out_rgb(mode):
    out = resize_photo(encode(halves((1280, 960), mode), "JPEG"), ResizeSpec())
    pixels = decoded(out.jpeg)
    assert pixels.shape == (480, 640, 3)
    left, right = pixels[240, 100].astype(int), pixels[240, 540].astype(int)
    assert np.abs(left - right).sum() > 60  # the two halves stay apart


def test_small_photos_are_upscaled_and_kept_with_upscale_off():
    source = encode(textured((320, 240)), "JPEG")
    assert (resize_photo(source, ResizeSpec()).width, resize_photo(source, ResizeSpec()).height) == (640, 480)
    kept = resize_photo(source, ResizeSpec(upscale=False))
    assert (kept.width, kept.height) == (320, 240)


def test_stored_photo_carries_its_original_size_and_is_reusable():
    out = resize_photo(encode(textured((1024, 768)), "JPEG"), ResizeSpec())
    assert Image.open(io.BytesIO(out.jpeg)).info["comment"] == b"hotelcap orig=1024x768"
    info = inspect_stored(out.jpeg, ResizeSpec())
    assert info is not None and (info.orig_width, info.orig_height) == (1024, 768)
    assert inspect_stored(out.jpeg[: len(out.jpeg) // 2], ResizeSpec()) is None


def test_comment_goes_after_the_jfif_segment_or_straight_after_soi():
    jfif = encode(Image.new("RGB", (8, 8)), "JPEG")
    assert jfif[2:4] == b"\xff\xe0"
    bare = jfif[:2] + jfif[4 + int.from_bytes(jfif[4:6], "big"):]
    for jpeg in (jfif, bare):
        tagged = with_comment(jpeg, b"hello")
        assert Image.open(io.BytesIO(tagged)).info["comment"] == b"hello"
        assert np.array_equal(decoded(tagged), decoded(jpeg))


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _webp_without_frame_header() -> bytes:
    webp = encode(halves((400, 300)), "WEBP")
    return webp[:20] + b"\0" * 8 + webp[28:]  # the VP8 frame header zeroed: libwebp has no decoder for it


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: _half(encode(halves((400, 300)), "PNG")), "truncated image"),  # fails in getexif's load
        (_webp_without_frame_header, "not an image (decode failed: could not create decoder object)"),
        (lambda: exif_rotated_jpeg(6)[:100], "truncated image"),  # cut inside the EXIF segment: Pillow's open
    ],
    ids=["half-png", "webp-header", "jpeg-header"],
)
def test_broken_non_jpeg_headers_are_rejected_with_a_reason(make, error):
    with pytest.raises(ImageRejected) as info:
        resize_photo(make(), ResizeSpec())
    assert str(info.value) == error


@pytest.mark.parametrize(("mode", "opaque", "grey"),
                         [("L", 100, 100), ("RGB", (200, 100, 50), 200), ("I;16", 40000, 156)])
def test_a_colour_made_transparent_by_trns_becomes_white(mode, opaque, grey):
    pixels = np.zeros((600, 800) if mode != "RGB" else (600, 800, 3), np.uint16 if mode == "I;16" else np.uint8)
    pixels[:, :400] = opaque
    transparent = (0, 0, 0) if mode == "RGB" else 0
    source = encode(Image.fromarray(pixels), "PNG", transparency=transparent)  # the right half's colour: tRNS
    out = decoded(resize_photo(source, ResizeSpec()).jpeg)
    assert abs(int(out[240, 100, 0]) - grey) <= 3
    assert out[240, 540].min() >= 250


@pytest.mark.parametrize(("value", "grey"), [(0.5, 127), (200.0, 200)])
def test_float_samples_keep_their_brightness(value, grey):
    # [0, 1] floats (the usual range), then floats holding 8-bit values.
    source = encode(Image.fromarray(np.full((300, 400), value, np.float32)), "TIFF")
    out = decoded(resize_photo(source, ResizeSpec()).jpeg)
    assert abs(int(out[240, 320, 0]) - grey) <= 2
