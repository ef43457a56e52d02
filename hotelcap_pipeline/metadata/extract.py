"""Safe extraction of a Hotels-50K metadata archive.

The upstream tarball is plain data, but an archive is input we do not control. Every member goes
through the standard library's ``tarfile.data_filter`` (no escaping the target folder, no devices,
sane permissions); on top of it the project refuses links and absolute names outright, skips
the macOS junk members that the real archive carries, and refuses archives that would unpack to
more bytes, bigger members, more members or a higher compression ratio than ``ExtractLimits`` allows.
"""

from __future__ import annotations

import contextlib
import lzma
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from hotelcap_pipeline.atomic_files import DIR_MODE


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder or is not a plain file/folder."""


@dataclass(frozen=True)
class ExtractLimits:
    """What an archive may unpack to. The real Hotels-50K archive holds 4 members, ~150 MB in all
    (train_set.csv alone 141 MB) at a ratio near 5; the defaults leave an order of magnitude of margin."""

    max_total_bytes: int = 2_000_000_000
    max_member_bytes: int = 1_500_000_000
    max_members: int = 1_000
    # Unpacked bytes per archive byte; checked once the archive unpacks to more than ``ratio_floor_bytes``,
    # since tiny archives of padding-heavy tar blocks compress extremely well and are harmless.
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 10_000_000


# Junk members named in the report; the rest are only counted, so an archive of millions stays a short report.
JUNK_EXAMPLES = 5


@dataclass
class ExtractReport:
    extracted: list[str] = field(default_factory=list)
    skipped_junk: list[str] = field(default_factory=list)  # the first JUNK_EXAMPLES junk members skipped
    junk_count: int = 0


# Why the data filter refused a member, worded for the error message.
_FILTER_REASONS: dict[type[tarfile.FilterError], str] = {
    tarfile.AbsolutePathError: "has an absolute path",
    tarfile.OutsideDestinationError: "climbs out of the target folder ('..')",
    tarfile.SpecialFileError: "is not a regular file or folder",
}


def archive_stamp(archive: Path) -> dict[str, object]:
    """What identifies one version of an archive on disk (path, size, mtime): an extraction marked with the
    same stamp need not be done again."""
    info = Path(archive).stat()
    return {"archive": str(Path(archive).resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


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


def extract_archive(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> ExtractReport:
    """Extract ``archive`` (.tar, .tar.gz, .tgz, .tar.lz4, .zip) into ``dest``.

    Every member is checked, against the safety rules and ``limits``, before anything is written;
    extraction happens in a temporary sibling folder that is renamed into place, so a refused or broken
    archive leaves ``dest`` untouched.
    """
    archive, dest = Path(archive), Path(dest)
    limits = limits or ExtractLimits()
    report = ExtractReport()
    if archive.name.endswith(LZ4_SUFFIXES):
        extract = _extract_tar_lz4
    elif zipfile.is_zipfile(archive):
        extract = _extract_zip
    elif tarfile.is_tarfile(archive):
        extract = _extract_tar
    else:
        raise UnsafeArchiveError(f"{archive}: not a tar or zip archive, or a truncated or corrupt one; {_REPLACE}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        extract(archive, staging, report, limits)
        if dest.exists():
            shutil.rmtree(dest)
        staging.chmod(DIR_MODE)  # mkdtemp makes it private; the folder is as readable as any the user makes
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


_REPLACE = "replace it with a complete copy (a downloaded one: delete it to fetch it again)"
# What the decompressors and readers raise on a truncated or corrupt archive (bz2 raises a plain OSError).
_CORRUPT: tuple[type[Exception], ...] = (
    EOFError, zlib.error, lzma.LZMAError, tarfile.ReadError, tarfile.CompressionError, zipfile.BadZipFile, OSError
)


@contextlib.contextmanager
def _reading(archive: Path, kind: str, *corrupt: type[Exception]) -> Iterator[None]:
    """Turns the errors of a truncated or corrupt archive into one UnsafeArchiveError naming it."""
    errors: tuple[type[Exception], ...] = (*_CORRUPT, *corrupt)
    try:
        yield
    except errors as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the disk's error (full, no permission), not the data's
            raise
        raise UnsafeArchiveError(f"{archive}: not a readable {kind}, truncated or corrupt ({exc}); {_REPLACE}") from exc


def _extract_tar(archive: Path, staging: Path, report: ExtractReport, limits: ExtractLimits) -> None:
    with _reading(archive, "tar archive"), tarfile.open(archive, "r:*") as tar:
        # Iterated, not getmembers(): an archive of millions of empty members is refused at the limit
        # instead of being listed whole in memory first.
        kept = _plan(iter(tar), staging, archive, report, limits)
        tar.extractall(staging, members=kept, filter="data")
    report.extracted.extend(_rel(m.name) for m in kept if m.isfile())


LZ4_SUFFIXES = (".tar.lz4", ".tlz4")


def _extract_tar_lz4(archive: Path, staging: Path, report: ExtractReport, limits: ExtractLimits) -> None:
    """A tar inside an lz4 frame (the upstream test set's ``test.tar.lz4``), streamed: one pass plans and
    checks every member as for any tar, a second extracts the planned ones; nothing is held in memory."""
    import lz4.frame

    def stream(frame: IO[bytes]) -> tarfile.TarFile:
        return tarfile.open(fileobj=frame, mode="r|")

    # lz4 reports a corrupt frame as RuntimeError.
    with _reading(archive, "lz4-compressed tar", RuntimeError):
        # TarFile does not close a file object it was given: each lz4 frame is closed by its own block.
        with lz4.frame.open(archive, "rb") as frame, stream(frame) as tar:
            kept = {m.name for m in _plan(iter(tar), staging, archive, report, limits)}
        with lz4.frame.open(archive, "rb") as frame, stream(frame) as tar:
            for member in tar:
                if member.name in kept:
                    tar.extract(member, staging, filter="data")
                    if member.isfile():
                        report.extracted.append(_rel(member.name))


def _extract_zip(archive: Path, staging: Path, report: ExtractReport, limits: ExtractLimits) -> None:
    # zipfile has no extraction filter; each entry is described as a tar member so that the same
    # data filter, link refusal and limits apply to both formats.
    with _reading(archive, "zip archive"), zipfile.ZipFile(archive) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        kept = _plan((_as_tarinfo(zf, info) for info in infos.values()), staging, archive, report, limits)
        for member in kept:
            target = staging / _rel(member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(infos[member.name]) as src, target.open("wb") as out:
                # zipfile stops at the declared size (and checks the CRC), so the plan's sums hold.
                shutil.copyfileobj(src, out, length=1 << 20)
            report.extracted.append(_rel(member.name))


def _plan(
    members: Iterable[tarfile.TarInfo], staging: Path, archive: Path, report: ExtractReport, limits: ExtractLimits
) -> list[tarfile.TarInfo]:
    """The members to extract, junk set aside; raises on the first unsafe one, or the first that breaks
    a limit, before anything is written."""
    kept = []
    total = 0
    packed = max(1, archive.stat().st_size)
    for seen, member in enumerate(members, start=1):
        # Junk counts too: an archive of millions of empty '._' members is as costly to read as any other.
        if seen > limits.max_members:
            raise UnsafeArchiveError(f"{archive}: more than {limits.max_members} members; refused")
        if is_junk(member.name):
            report.junk_count += 1
            if len(report.skipped_junk) < JUNK_EXAMPLES:
                report.skipped_junk.append(member.name)
            continue
        check_member(member, staging, archive)
        kept.append(member)
        if member.size > limits.max_member_bytes:
            raise UnsafeArchiveError(f"{archive}: member {member.name!r} unpacks to {_mb(member.size)}, more than "
                                     f"the {_mb(limits.max_member_bytes)} allowed per member; refused")
        total += member.size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(f"{archive}: unpacks to more than {_mb(limits.max_total_bytes)}; refused")
        if total > limits.ratio_floor_bytes and total / packed > limits.max_ratio:
            raise UnsafeArchiveError(f"{archive}: unpacks to {_mb(total)} or more from {_mb(packed)}, a ratio "
                                     f"above {limits.max_ratio:g}; refused (an archive bomb?)")
    return kept


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


_LINK_TARGET_BYTES = 256


def _as_tarinfo(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tarfile.TarInfo:
    member = tarfile.TarInfo(info.filename)
    mode = info.external_attr >> 16  # Unix mode bits, when the zip was made on Unix
    if stat.S_ISLNK(mode):
        member.type = tarfile.SYMTYPE
        # A zip link stores its target as data. Links are refused anyway: only a prefix is read for the message,
        # so a huge entry marked as a link is never decompressed whole.
        with zf.open(info) as data:
            member.linkname = data.read(_LINK_TARGET_BYTES).decode(errors="replace")
    elif info.is_dir():
        member.type = tarfile.DIRTYPE
    member.mode = stat.S_IMODE(mode) or 0o644
    member.size = info.file_size
    return member


def _rel(name: str) -> str:
    return PurePosixPath(name).as_posix()
