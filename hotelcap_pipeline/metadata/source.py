"""Where the inputs come from: the metadata (a URL or local path of an archive, or a folder of the four
CSVs) and, optionally, the test photos (a URL or local path of ``test.tar.lz4``, or a folder holding its tree)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hotelcap_pipeline.atomic_files import atomic_write_text
from hotelcap_pipeline.metadata.extract import LZ4_SUFFIXES, ExtractLimits, archive_stamp, extract_archive
from hotelcap_pipeline.metadata.occlusion import TestTree, index_test_folder, install_test_tree
from hotelcap_pipeline.metadata.parse import DatasetError, find_csv_folder
from hotelcap_pipeline.settings import ENVIRONMENT, Origin, Origins

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", *LZ4_SUFFIXES)
_SUFFIX_WORDS = ".tar.gz, .tar, .zip or .tar.lz4"
# The upstream test photos are one 3.14 GB archive: larger, slower downloads than the metadata's are expected.
TEST_PHOTOS_MAX_DOWNLOAD_BYTES = 20_000_000_000
TEST_PHOTOS_DOWNLOAD_TIMEOUT_S = 6 * 3600.0


def _local_path(source: str, origin: Origin) -> Path | None:
    """The local file or folder ``source`` names; None for an http(s) URL; DatasetError for other URLs."""
    from hotelcap_pipeline.http import local_path_of  # here, not at module load: importing this module needs no aiohttp

    try:
        return local_path_of(source)
    except ValueError as exc:  # file://otherhost/..., s3://...: neither a local path nor a URL we fetch
        raise DatasetError(f"{origin.source}={exc}; set it to an http(s) URL or a path on this machine") from None


def resolve_dataset(source: str, raw_dir: Path, *, insecure_hosts: Sequence[str] = (),
                    limits: ExtractLimits | None = None, origins: Origins = ENVIRONMENT) -> Path:
    """Return the folder that holds the four CSVs, downloading and extracting when needed.

    A URL is downloaded into ``raw_dir`` (streamed, atomic, not again when already there); an
    archive is extracted safely, within ``limits``, into ``raw_dir/extracted`` once per archive version (again
    when a file it extracted is missing or changed size).
    Errors name the dataset setting where ``origins`` says it came from (the run config or HOTELCAP_DATASET).
    """
    origin = origins["dataset"]
    local = _local_path(source, origin)
    if local is not None and local.is_dir():
        return find_csv_folder(local)
    archive = _archive_of(
        source, local, raw_dir, origin=origin, default_name="dataset.tar.gz",
        insecure_hosts=insecure_hosts, insecure_setting=origins["insecure_hosts"].setting,
        # Offline or behind a proxy: say which setting points at a copy the user already has.
        offline_hint=f"set {origin.setting} to a local copy (the archive, or a folder of the four CSVs), or "
        f"{origins['profile'].setting}=demo for the embedded demo",
    )
    return find_csv_folder(_extract_once(archive, raw_dir / "extracted", limits))


def resolve_test_photos(source: str, store_root: Path, raw_dir: Path, *, insecure_hosts: Sequence[str] = (),
                        limits: ExtractLimits | None = None, origins: Origins = ENVIRONMENT) -> TestTree:
    """The test-photo tree of the test_photos setting (HOTELCAP_TEST_PHOTOS or the run config), indexed.

    A URL is downloaded into ``raw_dir`` as the metadata archive is (streamed, resumable, atomic, once); an
    archive is extracted safely, within ``limits``, into the store's ``images/test/<occlusion>/`` once per
    archive version; a folder already holding the tree is indexed where it is.
    """
    origin = origins["test_photos"]
    local = _local_path(source, origin)
    if local is not None and local.is_dir():
        return index_test_folder(local, store_root)
    archive = _archive_of(
        source, local, raw_dir, origin=origin, default_name="test.tar.lz4",
        insecure_hosts=insecure_hosts, insecure_setting=origins["insecure_hosts"].setting,
        max_bytes=TEST_PHOTOS_MAX_DOWNLOAD_BYTES,
        timeout_s=TEST_PHOTOS_DOWNLOAD_TIMEOUT_S,
        offline_hint=f"set {origin.setting} to a local copy (the archive, or a folder holding images/test/), "
        "or empty for no test photos",
    )
    return install_test_tree(archive, store_root, raw_dir, limits)


def _archive_of(source: str, local: Path | None, raw_dir: Path, *, origin: Origin, default_name: str,
                offline_hint: str, insecure_hosts: Sequence[str] = (), **download: Any) -> Path:
    """The archive ``source`` names: a local file as it is, a URL downloaded into ``raw_dir`` (not again
    when already there; a broken download resumes)."""
    if local is not None:
        if not local.exists():
            raise DatasetError(f"{origin.given(source)}: no such file or folder")
        archive = local
    else:
        from hotelcap_pipeline.http import DownloadError, download_file

        name = Path(urlparse(source).path).name or default_name
        try:
            archive = download_file(source, raw_dir / name, insecure_hosts=insecure_hosts, **download)
        except DownloadError as exc:
            raise DownloadError(f"{exc}; if this machine has no network, {offline_hint}") from None
    if not archive.name.endswith(ARCHIVE_SUFFIXES):
        raise DatasetError(f"{origin.given(source)}: {archive.name} is not a {_SUFFIX_WORDS} archive or a folder")
    return archive


def _extract_once(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> Path:
    """Extract ``archive`` into ``dest`` unless the marker there names this archive version and every file it
    extracted is still there at its size (a deleted or truncated CSV is extracted again)."""
    stamp = archive_stamp(archive)
    marker = dest / ".hotelcap-extracted.json"
    if _extracted_intact(marker, dest, stamp):
        return dest
    report = extract_archive(archive, dest, limits)
    files = {name: (dest / name).stat().st_size for name in report.extracted}
    atomic_write_text(marker, json.dumps({"stamp": stamp, "files": files}))
    return dest


def _extracted_intact(marker: Path, dest: Path, stamp: dict[str, object]) -> bool:
    try:
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):  # no marker, or one a crash or an older version left unreadable
        return False
    if not isinstance(saved, dict) or saved.get("stamp") != stamp or not isinstance(saved.get("files"), dict):
        return False
    for name, size in saved["files"].items():
        path = dest / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True
