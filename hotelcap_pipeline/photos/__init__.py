"""Photo acquisition: fetch, resize and store hotel photos; manifest, summary and contact sheet."""

from hotelcap_pipeline.photos.download import MANIFEST_SCHEMA, DownloadOptions, download_images
from hotelcap_pipeline.photos.fetch import FetchLimits
from hotelcap_pipeline.photos.paths import UnsafePathError, image_relpath
from hotelcap_pipeline.photos.progress import ProgressCallback, ProgressEvent, log_progress
from hotelcap_pipeline.photos.resize import ImageRejected, ResizeSpec, resize_photo
from hotelcap_pipeline.photos.summary import contact_sheet, summarize_manifest

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
