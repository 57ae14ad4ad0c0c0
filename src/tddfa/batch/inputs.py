"""Batch inputs: folders (recursive), glob patterns and manifests, streamed one :class:`Item` at a time.

Every item is named by the path a user would type from the working directory (``item``): a folder input
``photos/`` gives ``photos/a/x.jpg``, a manifest ``lists/m.txt`` line ``x.jpg`` gives ``lists/x.jpg`` (manifest
paths are relative to the manifest's folder), absolute paths stay absolute. That one name is the ``item`` column
of ``faces.parquet``, the ledger key (with the item's position) and, through :func:`mirror_path`, where its
outputs go, so two inputs with one stem in different folders never collide.

Manifests: ``.txt`` (one path per line; blank lines and ``#`` comments skipped), ``.csv`` and ``.jsonl`` with a
``path`` column / key, ``.parquet`` with a ``path`` column (read in record batches, never whole).
"""
from __future__ import annotations

import csv
import glob
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..io.images import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MANIFEST_SUFFIXES = {".txt", ".csv", ".jsonl", ".parquet"}
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


@dataclass(frozen=True)
class Item:
    """One unit of work: ``index`` (position in the input stream) and ``item`` (its path as named above)."""

    index: int
    item: str

    @property
    def path(self) -> Path:
        return Path(self.item)

    @property
    def is_video(self) -> bool:
        return Path(self.item).suffix.lower() in VIDEO_SUFFIXES


def _join(base: str, name: str) -> str:
    """``name`` from a manifest in folder ``base``: absolute stays, relative joins the manifest's folder."""
    if os.path.isabs(name) or base in ("", "."):
        return os.path.normpath(name)
    return os.path.normpath(os.path.join(base, name))


def _walk(folder: str, skip: Path | None) -> Iterator[str]:
    """Media files below ``folder``, depth-first in sorted order, streaming (one folder listed at a time);
    the output folder ``skip`` is left out so a re-run never reads its own outputs."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=True):
            if skip is not None and Path(e.path).resolve() == skip:
                continue
            yield from _walk(e.path, skip)
        elif Path(e.name).suffix.lower() in MEDIA_SUFFIXES:
            yield os.path.normpath(e.path)


def _manifest_paths(path: str) -> Iterator[str]:
    """The ``path`` entries of one manifest file, in file order."""
    base = os.path.dirname(path)
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            if "path" not in pf.schema_arrow.names:
                raise InputError(f"{path}: manifest has no 'path' column (columns: {', '.join(pf.schema_arrow.names)})")
            for batch in pf.iter_batches(columns=["path"], batch_size=4096):
                for name in batch.column(0).to_pylist():
                    if name:
                        yield _join(base, str(name))
            return
        with open(path, newline="", encoding="utf-8") as f:
            if suffix == ".txt":
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        yield _join(base, line)
            elif suffix == ".csv":
                reader = csv.DictReader(f)
                if "path" not in (reader.fieldnames or []):
                    raise InputError(f"{path}: manifest has no 'path' column")
                for row in reader:
                    if row["path"]:
                        yield _join(base, row["path"].strip())
            else:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        raise InputError(f"{path}:{n}: not a JSON line") from None
                    if not isinstance(row, dict) or "path" not in row:
                        raise InputError(f"{path}:{n}: a JSON object with a 'path' key expected")
                    yield _join(base, str(row["path"]))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: manifest is not UTF-8 text") from None


def is_manifest(s: str) -> bool:
    return Path(s).suffix.lower() in MANIFEST_SUFFIXES and os.path.isfile(s)


def check_inputs(inputs: Iterable[str]) -> None:
    """Fail fast (:class:`InputError`) on a manifest that cannot be opened; other paths fail per item."""
    for s in inputs:
        if Path(s).suffix.lower() in MANIFEST_SUFFIXES and not os.path.exists(s):
            raise InputError(f"{s}: no such manifest")


def iter_paths(inputs: Iterable[str], out_dir: str | Path | None = None) -> Iterator[str]:
    """Item names of ``inputs`` in order: a folder's media files (recursive, sorted), a glob's matches (sorted),
    a manifest's entries, any other path as given (a missing or unsupported one fails as its item)."""
    skip = Path(out_dir).resolve() if out_dir is not None else None
    for s in inputs:
        if os.path.isdir(s):
            yield from _walk(s, skip)
        elif is_manifest(s):
            yield from _manifest_paths(s)
        elif any(ch in s for ch in "*?[") and not os.path.exists(s):
            matches = sorted(glob.iglob(s, recursive=True))
            yield from (os.path.normpath(m) for m in matches if Path(m).suffix.lower() in MEDIA_SUFFIXES)
        else:
            yield os.path.normpath(s)


def iter_items(inputs: Iterable[str], out_dir: str | Path | None = None) -> Iterator[Item]:
    """:func:`iter_paths` numbered: the stream every pass over a job (plan, run, merge) reads alike."""
    for i, name in enumerate(iter_paths(inputs, out_dir)):
        yield Item(i, name)


def mirror_path(item: str) -> PurePosixPath:
    """Where ``item``'s outputs go below the output folder, one-to-one with the item's normalised path:
    ``a/b/x.jpg`` -> ``a/b/x.jpg``; ``/data/x.jpg`` -> ``_abs/data/x.jpg``; ``../x.jpg`` -> ``_up/x.jpg``; a real
    first folder spelled ``_abs*`` or ``_up*`` gains a leading ``_`` so that no two items share a place."""
    p = PurePosixPath(Path(os.path.normpath(item)).as_posix())
    parts = list(p.parts)
    if p.is_absolute():
        parts = ["_abs", *parts[1:]]
    else:
        ups = 0
        while ups < len(parts) and parts[ups] == "..":
            ups += 1
        if ups < len(parts) and parts[ups].startswith(("_abs", "_up")):
            parts[ups] = "_" + parts[ups]
        parts = ["_up"] * ups + parts[ups:]
    return PurePosixPath(*parts)
