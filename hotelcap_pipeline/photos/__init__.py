"""Photo acquisition: fetch, resize and store hotel photos; manifest, summary and contact sheet.

The public names are imported on first use, not with the package: the photo worker processes import
modules of this package, and start faster without what only the parent needs (polars for the manifest
and the summary).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotelcap_pipeline.photos.batch import DownloadOptions
    from hotelcap_pipeline.photos.download import MANIFEST_SCHEMA, download_images
    from hotelcap_pipeline.photos.fetch import FetchLimits
    from hotelcap_pipeline.photos.paths import UnsafePathError, image_relpath
    from hotelcap_pipeline.photos.progress import ProgressCallback, ProgressEvent, log_progress
    from hotelcap_pipeline.photos.resize import ImageRejected, ResizeSpec, resize_photo
    from hotelcap_pipeline.photos.summary import contact_sheet, summarize_manifest

_HOME = {
    "DownloadOptions": "batch",
    "MANIFEST_SCHEMA": "download", "download_images": "download",
    "FetchLimits": "fetch",
    "UnsafePathError": "paths", "image_relpath": "paths",
    "ProgressCallback": "progress", "ProgressEvent": "progress", "log_progress": "progress",
    "ImageRejected": "resize", "ResizeSpec": "resize", "resize_photo": "resize",
    "contact_sheet": "summary", "summarize_manifest": "summary",
}

__all__ = [
    "MANIFEST_SCHEMA",
    "DownloadOptions",
    "FetchLimits",
    "ImageRejected",
    "ProgressCallback",
    "ProgressEvent",
    "ResizeSpec",
    "UnsafePathError",
    "contact_sheet",
    "download_images",
    "image_relpath",
    "log_progress",
    "resize_photo",
    "summarize_manifest",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # looked up once
    return value
