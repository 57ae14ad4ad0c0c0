"""Per-track smoothing of tracker output: ``push(index, results) -> [(index, results), ...]`` ready to write.

What is smoothed, per face: the 68 image-frame landmarks ``(68, 3)`` (what is drawn), and the parameters ``(62,)``
together with their ROI ``(4,)`` (the 62 parameters only mean something with the ROI they were regressed in, so both
move together; the pose and dense vertices are rebuilt from the smoothed pair). A track restarted from a detection
(``TrackResult.detected`` after a failure or a new face) starts a fresh filter: smoothing across a jump would drag.

* :class:`OneEuroSmoother` (default, causal, no delay). The cutoff of each landmark opens with that landmark's own
  speed, the cutoff of the parameters and ROI with the face's mean landmark speed; speeds are in face sizes
  (ROI sides) per second, so the same setting works for small and large faces.
* :class:`WindowSmoother` (offline): mean over ``[t - n_pre, t + n_next]`` of the same track (3DDFA_V2's look-ahead);
  output is delayed by ``n_next`` frames.
* :class:`NoSmoother`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from ..api import Face
from ..geometry import pose_from_camera
from .filters import OneEuroFilter
from .tracker import TrackResult

# Speeds in face sizes per second. Chosen with `tddfa eval stability --tune ../shared/data/300w` (synthetic still and
# moving clips of 24 300W-train faces, reference mb05): the lowest still-face jitter (0.25 % raw -> 0.11 %) among the
# settings that lag a moving face (2 % of its size per frame on average) by at most half a frame (0.33 frames).
MIN_CUTOFF = 0.5  # Hz at rest
BETA = 32.0  # Hz per (face size / s)
D_CUTOFF = 1.0


def _rebuild(face: Face, lm: np.ndarray, params: np.ndarray, roi: np.ndarray) -> Face:
    lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
    pose = pose_from_camera(params[None, :12].astype(np.float32))[0].astype(np.float32)
    return replace(face, landmarks_3d=lm.astype(np.float32), params=params.astype(np.float32),
                   roi=roi.astype(np.float32), pose=pose, box=np.concatenate([lo, hi]).astype(np.float32),
                   _vertices=None)


class NoSmoother:
    delay = 0

    def push(self, index: int, results: list[TrackResult]) -> list[tuple[int, list[TrackResult]]]:
        return [(index, results)]

    def flush(self) -> list[tuple[int, list[TrackResult]]]:
        return []


class OneEuroSmoother:
    """Causal One Euro smoothing per track. ``fps`` sets the time step (frame index / fps)."""

    delay = 0

    def __init__(self, fps: float = 30.0, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF):
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.kw = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self.filters: dict[int, tuple[OneEuroFilter, OneEuroFilter]] = {}
        self.last_index: dict[int, int] = {}

    def push(self, index: int, results: list[TrackResult]) -> list[tuple[int, list[TrackResult]]]:
        t = index / self.fps
        out = []
        for r in results:
            f = r.face
            restart = r.detected or self.last_index.get(r.track_id, -10) != index - 1
            if restart or r.track_id not in self.filters:
                self.filters[r.track_id] = (OneEuroFilter(**self.kw), OneEuroFilter(**self.kw))
            f_lm, f_pr = self.filters[r.track_id]
            self.last_index[r.track_id] = index
            size = float(f.roi[2] - f.roi[0]) or 1.0
            # speed per landmark in face sizes / s, shared by its x, y, z
            lm = f_lm(f.landmarks_3d, t, speed=lambda d: np.linalg.norm(d, axis=-1, keepdims=True) / size)
            d = f_lm.derivative()
            face_speed = float(np.linalg.norm(d, axis=-1).mean() / size) if d is not None else 0.0
            pr = f_pr(np.concatenate([f.params, f.roi]), t, speed=face_speed)
            out.append(replace(r, face=_rebuild(f, lm, pr[:62], pr[62:])))
        for tid in [k for k, v in self.last_index.items() if index - v > 1]:  # ended tracks
            self.filters.pop(tid, None)
            self.last_index.pop(tid, None)
        return [(index, out)]

    def flush(self) -> list[tuple[int, list[TrackResult]]]:
        return []


class WindowSmoother:
    """Offline look-ahead mean over ``[t - n_pre, t + n_next]``; emits frame ``t`` once frame ``t + n_next`` is in."""

    def __init__(self, n_pre: int = 1, n_next: int = 1):
        if n_pre < 0 or n_next < 0:
            raise ValueError("n_pre and n_next must be >= 0")
        self.n_pre, self.n_next = int(n_pre), int(n_next)
        self.delay = self.n_next
        self.buffer: deque[tuple[int, list[TrackResult]]] = deque()
        self.segment: dict[int, int] = {}  # track id -> segment counter (restarts split the window)
        self.seg_of: dict[tuple[int, int], int] = {}  # (frame, track) -> segment
        self.last_index: dict[int, int] = {}
        self._history: deque[tuple[int, list[TrackResult]]] = deque(maxlen=max(self.n_pre, 1))

    def push(self, index: int, results: list[TrackResult]) -> list[tuple[int, list[TrackResult]]]:
        for r in results:
            if r.detected or self.last_index.get(r.track_id, -10) != index - 1:
                self.segment[r.track_id] = self.segment.get(r.track_id, -1) + 1
            self.last_index[r.track_id] = index
            self.seg_of[(index, r.track_id)] = self.segment[r.track_id]
        self.buffer.append((index, results))
        ready = []
        while self.buffer and self.buffer[0][0] + self.n_next <= index:
            ready.append(self._emit())
        return ready

    def flush(self) -> list[tuple[int, list[TrackResult]]]:
        ready = []
        while self.buffer:
            ready.append(self._emit())
        return ready

    def _emit(self) -> tuple[int, list[TrackResult]]:
        # frames before t are in _history, t and later in buffer
        index, results = self.buffer[0]
        window = [(i, rs) for i, rs in list(self._history) + list(self.buffer)
                  if index - self.n_pre <= i <= index + self.n_next]
        out = []
        for r in results:
            seg = self.seg_of[(index, r.track_id)]
            same = [x.face for i, rs in window for x in rs
                    if x.track_id == r.track_id and self.seg_of.get((i, x.track_id)) == seg]
            lm = np.mean([f.landmarks_3d for f in same], axis=0)
            pr = np.mean([np.concatenate([f.params, f.roi]) for f in same], axis=0)
            out.append(replace(r, face=_rebuild(r.face, lm, pr[:62], pr[62:])))
        self.buffer.popleft()
        self._history.append((index, results))
        for key in [k for k in self.seg_of if k[0] < index - self.n_pre]:
            del self.seg_of[key]
        return index, out


def make_smoother(kind: str, fps: float = 30.0, n_pre: int = 1, n_next: int = 1, min_cutoff: float = MIN_CUTOFF,
                  beta: float = BETA):
    """``"one_euro"`` (default), ``"window"`` or ``"none"``."""
    if kind == "one_euro":
        return OneEuroSmoother(fps, min_cutoff=min_cutoff, beta=beta)
    if kind == "window":
        return WindowSmoother(n_pre, n_next)
    if kind == "none":
        return NoSmoother()
    raise ValueError(f"unknown smoother {kind!r}: use one_euro, window or none")
