"""Safe extraction of a Hotels-50K metadata archive.

The upstream tarball is plain data, but an archive is input we do not control: no member may land
outside the target folder (absolute names, ``..``, links, devices), and macOS junk members that the
real archive carries are skipped.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder or is not a plain file/folder."""


@dataclass
class ExtractReport:
    extracted: list[str] = field(default_factory=list)
    skipped_junk: list[str] = field(default_factory=list)


def is_junk(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        any(p == "__MACOSX" for p in parts)
        or any(p.startswith("._") for p in parts)
        or (bool(parts) and parts[-1] in {".DS_Store", "Thumbs.db"})
    )


def safe_member_path(name: str, archive: Path) -> PurePosixPath:
    """The member's relative path, or UnsafeArchiveError naming archive and member."""
    if "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has a NUL byte in its name")
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if path.is_absolute() or (len(normalised) > 1 and normalised[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} climbs out of the target folder ('..')")
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract_archive(archive: Path, dest: Path) -> ExtractReport:
    """Extract ``archive`` (.tar, .tar.gz, .tgz, .tar.lz4 excluded, .zip) into ``dest``.

    Every member is checked before anything is written; extraction happens in a temporary sibling
    folder that is renamed into place, so a refused or broken archive leaves ``dest`` untouched.
    """
    archive, dest = Path(archive), Path(dest)
    report = ExtractReport()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, staging, report)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, staging, report)
        else:
            raise UnsafeArchiveError(f"{archive}: not a tar or zip archive")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _extract_tar(archive: Path, staging: Path, report: ExtractReport) -> None:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        plan: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
        for m in members:
            if is_junk(m.name):
                report.skipped_junk.append(m.name)
                continue
            rel = safe_member_path(m.name, archive)
            if m.issym() or m.islnk():
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link (to {m.linkname!r}); refused")
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} is not a regular file or folder; refused")
            plan.append((m, rel))
        for m, rel in plan:
            target = staging / rel
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is None:
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} cannot be read")
            with src, target.open("wb") as out:
                shutil.copyfileobj(src, out, length=1 << 20)
            report.extracted.append(rel.as_posix())


def _extract_zip(archive: Path, staging: Path, report: ExtractReport) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        plan = []
        for info in infos:
            if is_junk(info.filename):
                report.skipped_junk.append(info.filename)
                continue
            rel = safe_member_path(info.filename, archive)
            mode = info.external_attr >> 16
            if mode and (mode & 0o170000) == 0o120000:
                raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refused")
            plan.append((info, rel))
        for info, rel in plan:
            target = staging / rel
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, length=1 << 20)
            report.extracted.append(rel.as_posix())
