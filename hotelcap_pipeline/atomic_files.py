"""Atomic file writes: write a temporary sibling, then rename it over the target.

Kept apart from ``store`` (which needs polars) so that the photo worker processes, which write every
photo through here, start without importing polars.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# What we write should be as readable as any file the user creates (the report shared with a group, a store
# served by a web server), so the umask decides, not mkstemp's owner-only mode.
FILE_MODE = 0o666 & ~_current_umask()
DIR_MODE = 0o777 & ~_current_umask()


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_temp_numbers = itertools.count()


def _temp_beside(target: Path, suffix: str) -> tuple[int, Path]:
    """Create ``.<name>.<pid>-<n><suffix>`` beside ``target``, new (O_EXCL), with the umask's mode.

    The process id and a counter make the name unique among this machine's writers without mkstemp's
    random names (a few µs per photo); a name taken anyway (a file left by a killed process whose id was
    reused, a writer on another machine sharing the folder) moves on to the next number.
    """
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{os.getpid()}-{next(_temp_numbers)}{suffix}")
        try:
            return os.open(tmp, _TEMP_FLAGS, FILE_MODE), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            # The folder usually exists: created only when the first try says it does not.
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, _TEMP_FLAGS, FILE_MODE), tmp
    raise FileExistsError(f"no free temporary name beside {target}")


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    fd, tmp = _temp_beside(target, suffix if suffix is not None else ".tmp" + target.suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    target = Path(target)
    fd, tmp = _temp_beside(target, ".tmp" + target.suffix)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
