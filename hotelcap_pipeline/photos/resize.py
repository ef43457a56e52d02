"""Pixels: decode a downloaded photo, make it RGB, resize its longer side to the target, encode JPEG.

Order matters for speed and correctness: the header is checked against the pixel limit before any
decoding (a plain JPEG's header is read by ``jpeg_header``, without Pillow); RGB and grayscale JPEGs
(nearly every photo) are decoded by libjpeg-turbo through simplejpeg, scaled in the DCT domain by the
largest of its M/8 factors that keeps both sides at or above the target (1024x768 decodes straight to
640x480), which is most of the saving; other images go through Pillow, reduced on decode
(``Image.draft``) when at least twice the target, and made RGB before resampling.
What remains of the downscale is one area-averaging resize (OpenCV ``INTER_AREA``) unless another filter
is chosen. The EXIF orientation is applied after resizing, which is equivalent for the eight EXIF
orientations and cheaper on the small image. libjpeg-turbo encodes the result; the original size is kept
in the JPEG comment so a reused file still knows it.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from hotelcap_pipeline.photos.jpeg_header import ORIENTATION_TAG, read_jpeg_frame

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
Resample = Literal["area", "lanczos", "bicubic", "hamming", "box"]
# Pillow's filters; "area" is OpenCV's INTER_AREA (bicubic when upscaling, where averaging does not apply).
_FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
}
_COMMENT = re.compile(rb"hotelcap orig=(\d+)x(\d+)")


class ImageRejected(ValueError):
    """The bytes are not a usable photo; the message is the manifest's error text."""


@dataclass(frozen=True)
class ResizeSpec:
    target_size: int = 640
    upscale: bool = True
    jpeg_quality: int = 90
    max_pixels: int = 100_000_000
    # After DCT-domain scaling the remaining downscale is below 1.6x; area averaging there is the cheapest
    # filter and, measured against a Lanczos resize of the original pixels, within 0.3 dB of Pillow's full
    # decode with Hamming (tests/photos/test_resize.py). The Pillow filters stay available.
    resample: Resample = "area"


@dataclass(frozen=True)
class EncodedImage:
    jpeg: bytes
    width: int
    height: int
    orig_width: int
    orig_height: int


def target_dims(width: int, height: int, spec: ResizeSpec) -> tuple[int, int]:
    """Longer side exactly ``target_size``, aspect kept; smaller photos stay as they are without upscale."""
    longer = max(width, height)
    if longer == spec.target_size or (not spec.upscale and longer < spec.target_size):
        return width, height
    scale = spec.target_size / longer
    if width >= height:
        return spec.target_size, max(1, round(height * scale))
    return max(1, round(width * scale)), spec.target_size


def _open(data: bytes, spec: ResizeSpec) -> Image.Image:
    if not data:
        raise ImageRejected("empty body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        # Pillow refuses before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(found[1]):.2g} pixels" if found else "over Pillow's pixel limit"
        raise ImageRejected(f"decompression bomb: {count}") from None
    except UnidentifiedImageError:
        raise ImageRejected("not an image (undecodable bytes)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # A plugin that recognised the format failed on its header (truncated, corrupt, no decoder).
        raise _decode_failed(exc) from None
    _check_pixels(im.width, im.height, spec)
    return im


def _check_pixels(width: int, height: int, spec: ResizeSpec) -> None:
    pixels = width * height
    if pixels > spec.max_pixels:
        raise ImageRejected(f"decompression bomb: {pixels:.2g} pixels (limit {spec.max_pixels:.2g})")


def _decode_failed(exc: Exception) -> ImageRejected:
    """Pillow's error while reading an image as the manifest's reason ("Truncated File Read" too)."""
    if "truncated" in str(exc).lower():
        return ImageRejected("truncated image")
    return ImageRejected(f"not an image (decode failed: {exc})")


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise _decode_failed(exc) from None


def _eight_bit_grey(im: Image.Image) -> Image.Image:
    """16-bit and float samples scaled into 8 bits instead of clipped at 255."""
    if im.mode == "F":
        # Float samples carry no range: [0, 1] is the usual one, larger peaks are taken as 8- or 16-bit.
        peak = cast("tuple[float, float]", im.getextrema())[1]  # one band: (min, max)
        scale = 255.0 if peak <= 1 else 1.0 if peak <= 255 else 1 / 256
        return im.point(lambda v: v * scale).convert("L")
    return im.convert("I").point(lambda v: v / 256).convert("L")


def to_rgb(im: Image.Image) -> Image.Image:
    """Palette, grayscale, CMYK, 16-bit and alpha images as RGB; transparency is composited on white."""
    # A PNG's tRNS chunk makes one colour of a palette, grey or RGB image transparent.
    transparent = "transparency" in im.info
    if im.mode == "RGB" and not transparent:
        return im
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # The mask is taken before scaling: the tRNS value is a 16-bit sample.
        alpha = im.convert("RGBA").getchannel("A") if transparent else None
        im = _eight_bit_grey(im)
        if alpha is not None:
            im = Image.merge("RGBA", (im, im, im, alpha))
    elif transparent or im.mode in ("LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im.convert("RGB")


def _decode_jpeg_scaled(data: bytes, size: tuple[int, int]) -> np.ndarray:
    """RGB pixels of a JPEG, DCT-scaled to the smallest M/8 size at least ``size`` (width, height)."""
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=size[0], min_height=size[1], strict=True)
    except ValueError as exc:
        if "Premature end" in str(exc):
            raise ImageRejected("truncated image") from None
        raise ImageRejected(f"not an image (decode failed: {exc})") from None


def _decode_with_pillow(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    if im.format == "JPEG" and im.width >= 2 * size[0] and im.height >= 2 * size[1]:
        im.draft("RGB", size)  # DCT-domain reduction by a power of two, to at least size
    _load(im)
    return np.asarray(to_rgb(im))


def _resize(pixels: np.ndarray, size: tuple[int, int], resample: Resample) -> np.ndarray:
    if pixels.shape[1::-1] == size:
        return pixels
    if resample == "area":
        # Imported here: a photo that decodes straight to its size (1024x768 at 5/8) never needs OpenCV,
        # and a photo worker process starts ~25 ms sooner without it.
        import cv2

        shrinking = size[0] <= pixels.shape[1] and size[1] <= pixels.shape[0]
        return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.asarray(Image.fromarray(pixels).resize(size, _FILTERS[resample]))


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """``jpeg`` with a COM segment after its SOI and JFIF APP0 segments (where Pillow puts one)."""
    at = 2
    if jpeg[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[at:]


def resize_photo(data: bytes, spec: ResizeSpec) -> EncodedImage:
    """Decode, orient, convert and resize one photo; :class:`ImageRejected` when it is unusable."""
    frame = read_jpeg_frame(data)
    im: Image.Image | None = None
    if frame is not None:
        width, height, orientation = frame.width, frame.height, frame.orientation
        _check_pixels(width, height, spec)
        plain_jpeg = True
    else:
        im = _open(data, spec)
        try:
            # For PNG this loads the pixels (its EXIF may follow them), so a broken body fails here.
            (width, height), orientation = im.size, im.getexif().get(ORIENTATION_TAG, 1)
        except (OSError, ValueError, SyntaxError) as exc:
            raise _decode_failed(exc) from None
        # CMYK, 12-bit and other rare JPEGs keep Pillow's colour handling.
        plain_jpeg = im.format == "JPEG" and im.mode in ("RGB", "L")
    transpose = _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    swapped = transpose in (Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE,
                            Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)
    orig_w, orig_h = (height, width) if swapped else (width, height)
    out_w, out_h = target_dims(orig_w, orig_h, spec)
    raw_size = (out_h, out_w) if swapped else (out_w, out_h)
    if plain_jpeg and raw_size[0] <= width and raw_size[1] <= height:
        pixels = _decode_jpeg_scaled(data, raw_size)
    else:
        pixels = _decode_with_pillow(im or _open(data, spec), raw_size)
    pixels = _resize(pixels, raw_size, spec.resample)
    if transpose is not None:
        pixels = np.asarray(Image.fromarray(pixels).transpose(transpose))
    jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(pixels), quality=spec.jpeg_quality, colorspace="RGB",
                                  colorsubsampling="420")
    return EncodedImage(with_comment(jpeg, f"hotelcap orig={orig_w}x{orig_h}".encode()), out_w, out_h,
                        orig_w, orig_h)


@dataclass(frozen=True)
class StoredInfo:
    width: int
    height: int
    orig_width: int | None
    orig_height: int | None


def inspect_stored(data: bytes, spec: ResizeSpec) -> StoredInfo | None:
    """Whether stored JPEG bytes are a complete photo of the right size for ``spec``; None if not.

    The decode runs at 1/8 scale: it still reads every entropy-coded byte, so truncation is caught,
    at a fraction of the cost of a full decode.
    """
    try:
        im = Image.open(io.BytesIO(data))
        if im.format != "JPEG" or im.mode != "RGB":
            return None
        width, height = im.size
        match = _COMMENT.fullmatch(im.info.get("comment", b"") or b"")
        im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        im.load()
    except (OSError, ValueError, SyntaxError):
        return None
    if match:
        orig_w, orig_h = int(match[1]), int(match[2])
        if target_dims(orig_w, orig_h, spec) != (width, height):
            return None
        return StoredInfo(width, height, orig_w, orig_h)
    # A file from elsewhere (the upstream downloader, a test archive): only the size rule can be checked.
    longer = max(width, height)
    if longer == spec.target_size or (not spec.upscale and longer < spec.target_size):
        return StoredInfo(width, height, None, None)
    return None
