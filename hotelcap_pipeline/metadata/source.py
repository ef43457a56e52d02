"""Where the metadata comes from: a URL or local path of an archive, or a folder of the four CSVs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from hotelcap_pipeline.metadata.extract import ExtractLimits, extract_archive
from hotelcap_pipeline.metadata.parse import DatasetError, find_csv_folder

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


def _local_path(source: str) -> Path | None:
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("", "c", "d") or len(parsed.scheme) == 1:  # plain paths, Windows drives
        return Path(source).expanduser()
    return None


def resolve_dataset(source: str, raw_dir: Path, *, insecure_hosts: Sequence[str] = (),
                    limits: ExtractLimits | None = None) -> Path:
    """Return the folder that holds the four CSVs, downloading and extracting when needed.

    A URL is downloaded into ``raw_dir`` (streamed, atomic, not again when already there); an
    archive is extracted safely, within ``limits``, into ``raw_dir/extracted`` once per archive version.
    """
    local = _local_path(source)
    if local is not None and local.is_dir():
        return find_csv_folder(local)
    if local is not None:
        if not local.exists():
            raise DatasetError(f"HOTELCAP_DATASET={source!r}: no such file or folder")
        archive = local
    else:
        from hotelcap_pipeline.http import DownloadError, download_file

        name = Path(urlparse(source).path).name or "dataset.tar.gz"
        try:
            archive = download_file(source, raw_dir / name, insecure_hosts=insecure_hosts)
        except DownloadError as exc:
            # Offline or behind a proxy: say which variable points at a copy the user already has.
            raise DownloadError(
                f"{exc}; if this machine has no network, set HOTELCAP_DATASET to a local copy (the archive, "
                "or a folder of the four CSVs), or HOTELCAP_PROFILE=demo for the embedded demo"
            ) from None
    if not archive.name.endswith(ARCHIVE_SUFFIXES):
        raise DatasetError(f"{archive}: expected a .tar.gz, .tar or .zip archive or a folder of CSVs")
    return find_csv_folder(_extract_once(archive, raw_dir / "extracted", limits))


def _extract_once(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> Path:
    stat = archive.stat()
    stamp = {"archive": str(archive.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = dest / ".hotelcap-extracted.json"
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return dest
    extract_archive(archive, dest, limits)
    marker.write_text(json.dumps(stamp))
    return dest
