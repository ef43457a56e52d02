"""Archives built by the metadata tests: an lz4-compressed tar like upstream's test.tar.lz4."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import lz4.frame


def lz4_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """Write a tar of ``members`` (name -> bytes) and symlinks ``links`` (name -> target), lz4-framed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    path.write_bytes(lz4.frame.compress(buf.getvalue()))
    return path
