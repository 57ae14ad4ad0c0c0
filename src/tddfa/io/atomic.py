"""Atomic file writes: a reader sees either the old file or the whole new one, never a half-written one.

Each writer fills a temporary file in the target's own folder (same filesystem, so ``os.replace`` is atomic)
and renames it over the target only once it is complete and flushed; on any error the temporary file is
removed and the target is left as it was.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMP_PREFIX = ".tddfa-tmp-"


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp's own 0600 would hide outputs from others)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` with the same suffix; on success it replaces ``path``.

    For writers that take a file name (``cv2.imwrite``, ``np.save``, trimesh): write to the yielded path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:  # flush the writer's data to disk before the rename publishes it
            os.fsync(f.fileno())
        os.chmod(tmp_path, _file_mode())
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    return write_bytes(path, text.encode(encoding))
