"""Frame sources with clear errors: video files, image sequences (a folder or a glob pattern) and cameras.

``open_frames(path)`` checks up front that the source opens and yields at least one frame, so a missing, corrupt or
empty input is one :class:`tddfa.InputError` before any output is created. A stream that stops decoding part way
(a truncated file: OpenCV reads 55 of the 158 frames its header promises in 3ddfa_obama.mp4) ends the iteration and
sets ``truncated``; the frames read so far are kept.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError
from ..io.images import IMAGE_SUFFIXES, MAX_PIXELS, quiet_stderr, read_image, to_bgr


def _quiet_opencv() -> None:
    """Keep OpenCV's and FFmpeg's warnings (missing camera, broken container) off the terminal: our errors say it."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when the FFmpeg backend starts
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - very old OpenCV
        pass


class FrameSource:
    """Iterable of BGR uint8 frames ``(H, W, 3)``. Attributes: ``fps``, ``size`` (W, H), ``frame_count``
    (header estimate, 0 when unknown), ``name``, ``truncated`` and ``skipped`` (unreadable frames left out)."""

    fps: float = 0.0
    size: tuple[int, int] = (0, 0)
    frame_count: int = 0
    name: str = ""
    truncated: bool = False
    skipped: int = 0
    is_file: bool = False

    def __iter__(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFileSource(FrameSource):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = str(path)
        self.is_file = True
        if not self.path.exists():
            raise InputError(f"{path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{path}: is a folder without images")
        if self.path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (0 bytes)")
        _quiet_opencv()
        with quiet_stderr():  # a broken container's parser warnings: the errors below say what matters
            self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            self.cap.release()
            raise InputError(f"{path}: cannot open as a video (corrupt, no video stream / zero frames, "
                             "or a format OpenCV cannot decode)")
        w, h = (int(self.cap.get(p) or 0) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > MAX_PIXELS:  # a frame size from a corrupt header: refused before a frame is allocated
            self.cap.release()
            raise InputError(f"{path}: frames of {w}x{h} are over the {MAX_PIXELS:,}-pixel limit")
        ok, first = self._read()
        if not ok or first is None or first.size == 0:
            self.cap.release()
            raise InputError(f"{path}: no frame could be decoded (zero frames, or a corrupt stream)")
        self._first: np.ndarray | None = to_bgr(first)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(self.fps) or self.fps <= 0 or self.fps > 1000:
            self.fps = 25.0
        self.size = (first.shape[1], first.shape[0])
        self.frame_count = max(int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        n = 1
        while True:
            ok, frame = self._read()
            if not ok or frame is None:
                self.truncated = self.frame_count > 0 and n < self.frame_count
                return
            n += 1
            yield to_bgr(frame)

    def _read(self) -> tuple[bool, np.ndarray | None]:
        with quiet_stderr():
            return self.cap.read()

    def close(self) -> None:
        self.cap.release()


class ImageSequenceSource(FrameSource):
    """Images of a folder (sorted by name) or of a glob pattern; frames are resized to the first one's size."""

    def __init__(self, files: list[Path], name: str, fps: float = 25.0):
        if not files:
            raise InputError(f"{name}: no images found")
        self.files, self.name, self.fps = files, name, float(fps)
        self._first = None
        for i, f in enumerate(files):  # the first readable image fixes the size
            try:
                self._first = read_image(f)
                self.files = files[i:]
                self.skipped = i
                break
            except InputError:
                continue
        if self._first is None:
            raise InputError(f"{name}: none of the {len(files)} images could be read")
        self.size = (self._first.shape[1], self._first.shape[0])
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[np.ndarray]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        for f in self.files[1:]:
            try:
                img = read_image(f)
            except InputError:
                self.skipped += 1
                continue
            if (img.shape[1], img.shape[0]) != self.size:
                img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
            yield img


class CameraSource(FrameSource):
    def __init__(self, device: int | str = 0, width: int | None = None, height: int | None = None):
        self.name = f"camera {device}"
        _quiet_opencv()
        self.cap = cv2.VideoCapture(int(device) if str(device).isdigit() else str(device))
        if not self.cap.isOpened():
            self.cap.release()
            raise InputError(f"no camera at {device!r} (is one connected, and free?)")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        ok, first = self.cap.read()
        if not ok or first is None:
            self.cap.release()
            raise InputError(f"camera {device!r} opened but gave no frame")
        self._first = to_bgr(first)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 30.0) or 30.0
        self.size = (first.shape[1], first.shape[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        while True:
            ok, frame = self._read()
            if not ok or frame is None:
                return
            yield to_bgr(frame)

    def close(self) -> None:
        self.cap.release()


def open_frames(source: str | Path, fps: float | None = None) -> FrameSource:
    """A :class:`FrameSource` for a video file, an image folder or a glob pattern (``"frames/*.png"``)."""
    s = str(source)
    p = Path(s)
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        return ImageSequenceSource(files, s, fps or 25.0)
    if any(ch in s for ch in "*?[") and not p.exists():
        files = sorted(Path(f) for f in glob.glob(s) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
        return ImageSequenceSource(files, s, fps or 25.0)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSequenceSource([p], s, fps or 25.0) if p.exists() else VideoFileSource(p)
    src = VideoFileSource(p)
    if fps:
        src.fps = float(fps)
    return src
