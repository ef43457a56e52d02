"""Safe extraction of a Hotels-50K metadata archive.

The upstream tarball is plain data, but an archive is input we do not control. Every member goes
through the standard library's ``tarfile.data_filter`` (no escaping the target folder, no devices,
sane permissions); on top of it the project refuses links and absolute names outright, and skips
the macOS junk members that the real archive carries.
"""

from __future__ import annotations

import shutil
import stat
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


# Why the data filter refused a member, worded for the error message.
_FILTER_REASONS: dict[type[tarfile.FilterError], str] = {
    tarfile.AbsolutePathError: "has an absolute path",
    tarfile.OutsideDestinationError: "climbs out of the target folder ('..')",
    tarfile.SpecialFileError: "is not a regular file or folder",
}


def is_junk(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        any(p == "__MACOSX" for p in parts)
        or any(p.startswith("._") for p in parts)
        or (bool(parts) and parts[-1] in {".DS_Store", "Thumbs.db"})
    )


def check_member(member: tarfile.TarInfo, staging: Path, archive: Path) -> tarfile.TarInfo:
    """The member as the data filter would extract it, or UnsafeArchiveError naming archive and member."""
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a link (to {member.linkname!r}); refused")
    # The filter silently strips a leading '/'; an archive that asks for one is refused instead.
    if PurePosixPath(member.name).is_absolute():
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} has an absolute path")
    try:
        return tarfile.data_filter(member, str(staging))
    except tarfile.FilterError as err:
        reason = _FILTER_REASONS.get(type(err), f"is refused ({err})")
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} {reason}") from err


def extract_archive(archive: Path, dest: Path) -> ExtractReport:
    """Extract ``archive`` (.tar, .tar.gz, .tgz, .zip) into ``dest``.

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
        kept = _plan(tar.getmembers(), staging, archive, report)
        tar.extractall(staging, members=kept, filter="data")
    report.extracted.extend(_rel(m.name) for m in kept if m.isfile())


def _extract_zip(archive: Path, staging: Path, report: ExtractReport) -> None:
    # zipfile has no extraction filter; each entry is described as a tar member so that the same
    # data filter and link refusal apply to both formats.
    with zipfile.ZipFile(archive) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        kept = _plan([_as_tarinfo(zf, info) for info in infos.values()], staging, archive, report)
        for member in kept:
            target = staging / _rel(member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(infos[member.name]) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, length=1 << 20)
            report.extracted.append(_rel(member.name))


def _plan(
    members: list[tarfile.TarInfo], staging: Path, archive: Path, report: ExtractReport
) -> list[tarfile.TarInfo]:
    """The members to extract, junk set aside; raises on the first unsafe one before anything is written."""
    kept = []
    for member in members:
        if is_junk(member.name):
            report.skipped_junk.append(member.name)
            continue
        check_member(member, staging, archive)
        kept.append(member)
    return kept


def _as_tarinfo(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tarfile.TarInfo:
    member = tarfile.TarInfo(info.filename)
    mode = info.external_attr >> 16  # Unix mode bits, when the zip was made on Unix
    if stat.S_ISLNK(mode):
        member.type = tarfile.SYMTYPE
        member.linkname = zf.read(info)[:4096].decode(errors="replace")  # a zip link stores its target as data
    elif info.is_dir():
        member.type = tarfile.DIRTYPE
    member.mode = stat.S_IMODE(mode) or 0o644
    member.size = info.file_size
    return member


def _rel(name: str) -> str:
    return PurePosixPath(name).as_posix()
