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


def _temp_beside(target: str, suffix: str) -> tuple[int, str]:
    """Create ``.<name>.<pid>-<n><suffix>`` beside ``target``, new (O_EXCL), with the umask's mode.

    The process id and a counter make the name unique among this machine's writers without mkstemp's
    random names (a few µs per photo); a name taken anyway (a file left by a killed process whose id was
    reused, a writer on another machine sharing the folder) moves on to the next number. Plain strings,
    not Paths: this runs once per stored photo.
    """
    folder, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{next(_temp_numbers)}{suffix}")
        try:
            return os.open(tmp, _TEMP_FLAGS, FILE_MODE), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            # The folder usually exists: created only when the first try says it does not.
            os.makedirs(folder or os.curdir, exist_ok=True)
            return os.open(tmp, _TEMP_FLAGS, FILE_MODE), tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def _temp_suffix(target: str) -> str:
    return ".tmp" + os.path.splitext(target)[1]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = os.fspath(target)
    fd, tmp = _temp_beside(target, suffix if suffix is not None else _temp_suffix(target))
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    target = os.fspath(target)
    fd, tmp = _temp_beside(target, _temp_suffix(target))
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
