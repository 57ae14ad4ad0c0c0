"""One worker's job: an :class:`Item` -> its outputs on disk and an :class:`ItemResult` for the driver.

A worker holds its own models (built on first use from a picklable ``make_aligner``), so the same
:class:`ItemProcessor` runs in-process, in a spawned process or in a Ray actor. It writes the item's output
kinds (the files ``tddfa IMAGE -o KIND`` writes, below the mirrored path of the item) and returns the face rows
as Arrow IPC bytes; the driver alone commits them to the ledger.

Failure reasons (``errors.jsonl``): ``missing``, ``unreadable`` (no read permission, I/O error), ``empty``
(0 bytes), ``corrupt`` (not a decodable image), ``unsupported`` (not an image or video suffix, or a folder),
``video_unreadable`` (a video that does not open or yields no frame), ``output_unwritable`` (an output file
cannot be written), ``internal`` (anything else; a bug), ``worker_died`` (the worker process died on this item
on every attempt).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, OutputError, TddfaError
from ..io.writers import require_dense_kinds, write_outputs
from ..io.images import read_image
from .inputs import MEDIA_SUFFIXES, Item, mirror_path
from .table import face_tables, to_ipc

REASONS = ("missing", "unreadable", "empty", "corrupt", "unsupported", "video_unreadable", "output_unwritable",
           "internal", "worker_died")


class ItemFailed(Exception):
    """An item cannot be processed: ``reason`` (one of :data:`REASONS`) and a one-line message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class ItemResult:
    """What a worker hands back: ``status`` ``"ok"`` with ``payload`` (table.to_ipc bytes) or ``"failed"`` with
    ``reason`` and ``message``."""

    item: Item
    status: str
    faces: int = 0
    payload: bytes = b""
    reason: str = ""
    message: str = ""


@dataclass
class WorkerSpec:
    """Everything a worker needs, picklable: ``make_aligner()`` builds a :class:`tddfa.FaceAligner`."""

    make_aligner: Callable
    out_dir: str
    kinds: Sequence[str] = ()
    every: int = 1
    vertices: bool = False
    dense_json: bool = False
    detect_every: int = 30
    max_faces: int | None = None

    def build(self) -> "ItemProcessor":
        return ItemProcessor(self)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _precheck(path: Path) -> None:
    """The cheap checks that name a reason before any decoding."""
    if path.is_dir():
        raise ItemFailed("unsupported", f"{path}: is a folder")
    if not os.path.lexists(path) or (path.suffix.lower() in MEDIA_SUFFIXES and not path.exists()):
        raise ItemFailed("missing", f"{path}: no such file")
    if path.suffix.lower() not in MEDIA_SUFFIXES:
        raise ItemFailed("unsupported", f"{path}: not an image or video file ({path.suffix or 'no suffix'})")
    try:  # opening is the only sure test (permissions, ACLs, a dead network mount)
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ItemFailed("unreadable", f"{path}: cannot read ({exc.strerror or exc})") from None
    if os.path.getsize(path) == 0:
        raise ItemFailed("empty", f"{path}: file is empty (0 bytes)")


class ItemProcessor:
    """Callable ``Item -> ItemResult``; never raises for a bad item."""

    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.aligner = spec.make_aligner()
        require_dense_kinds(spec.kinds, self.aligner.face_model)
        if spec.vertices:
            require_dense_kinds(["vertices"], self.aligner.face_model)

    def __call__(self, item: Item) -> ItemResult:
        try:
            frames = self._video(item) if item.is_video else self._image(item)
            tables = face_tables(item.item, frames, vertices=self.spec.vertices)
            payload = to_ipc({"faces": tables[0], **({"vertices": tables[1]} if tables[1] is not None else {})})
            return ItemResult(item, "ok", faces=len(frames), payload=payload)
        except ItemFailed as exc:
            return ItemResult(item, "failed", reason=exc.reason, message=_one_line(exc))
        except OutputError as exc:
            return ItemResult(item, "failed", reason="output_unwritable", message=_one_line(exc))
        except OSError as exc:
            return ItemResult(item, "failed", reason="output_unwritable",
                              message=_one_line(f"{exc.filename or item.item}: {exc.strerror or exc}"))
        except TddfaError as exc:
            return ItemResult(item, "failed", reason="internal", message=_one_line(exc))
        except Exception as exc:  # noqa: BLE001 - one item's bug is one error row; the job goes on
            return ItemResult(item, "failed", reason="internal",
                              message=_one_line(f"{item.item}: internal error: {type(exc).__name__}: {exc}"))

    def _write(self, img, faces, folder: Path, stem: str, name: str) -> None:
        if self.spec.kinds:
            a = self.aligner
            write_outputs(self.spec.kinds, img, faces, a.face_model, folder, stem, image_name=name,
                          dense_json=self.spec.dense_json, input_size=a.spec.input_size)

    def _image(self, item: Item) -> list[tuple[int, int, object]]:
        path = item.path
        _precheck(path)
        try:
            img = read_image(path)
        except InputError as exc:
            raise ItemFailed("corrupt", str(exc)) from None
        faces = self.aligner(img)
        rel = mirror_path(item.item)
        self._write(img, faces, Path(self.spec.out_dir) / rel.parent, rel.name, path.name)
        return [(0, i, f) for i, f in enumerate(faces)]

    def _video(self, item: Item) -> list[tuple[int, int, object]]:
        from ..video import FaceTracker, TrackerConfig, open_frames

        _precheck(item.path)
        try:
            frames = open_frames(item.path)
        except InputError as exc:
            raise ItemFailed("video_unreadable", str(exc)) from None
        cfg = TrackerConfig(detect_every=self.spec.detect_every, max_faces=self.spec.max_faces)
        tracker = FaceTracker(self.aligner, cfg)
        folder = Path(self.spec.out_dir) / mirror_path(item.item)
        rows: list[tuple[int, int, object]] = []
        try:
            for i, frame in enumerate(frames):
                if i % self.spec.every:
                    continue
                tracked = tracker.update(frame)
                faces = [r.face for r in tracked]
                self._write(frame, faces, folder, f"{i:06d}", f"{item.path.name}#{i}")
                rows += [(i, r.track_id, r.face) for r in tracked]
        finally:
            frames.close()
        return rows
