"""Track faces through a video by alignment.

Each frame, every live track is aligned in the crop whose ROI comes from its landmarks in the previous frame
(:meth:`tddfa.FaceAligner.align` with ``landmarks=``), all tracks in one batched network call. The detector runs
on a schedule (``detect_every``), whenever a track fails and while nothing is tracked; detections are matched to
tracks by IoU so ids stay stable, unmatched detections start new tracks.

Failure is measured, not guessed from the box area (see :func:`tracking_signals`):

* **re-crop agreement**: the face is regressed a second time from a crop shifted by ``RECROP_SHIFT`` of its side
  and enlarged by ``RECROP_SCALE``. A real face gives the same image-frame landmarks from both crops (the network is
  equivariant to where the face sits in the crop); on a crop without a face the network outputs a face-like shape
  tied to the crop frame, so the two answers differ by about the shift.
* **landmark/ROI consistency**: the ROI rebuilt from the new landmarks against the crop ROI (scale ratio, centre
  shift in crop sides). A face that left the crop, or half of one, shows up as a jump of either.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..api import Face, FaceAligner
from ..face import faces_from_params
from ..geometry import roi_from_landmarks
from ..geometry.consistency import (  # noqa: F401
    RECROP_SCALE,
    RECROP_SHIFT,
    recrop_rois,
    tracking_signals,
)
from ..stages import regress_with_recrop


@dataclass
class TrackerConfig:
    detect_every: int = 30  # frames between scheduled detections (0: only on failure / when nothing is tracked)
    max_faces: int | None = None
    iou_match: float = 0.3  # detection <-> track ROI IoU to keep an id
    iou_duplicate: float = 0.6  # two tracks overlapping this much are one face: the younger is dropped
    keep_lost: int = 30  # frames a lost track's id waits to be re-attached to a detection
    # re-crop agreement: mean landmark distance / ROI side (chosen on 300W-train for 1 crop + re-crop)
    max_disagreement: float = 0.03
    # the same for the two shifted crops of 3-crop alignment, whose true faces agree more closely: the threshold with
    # the re-crop check's false-alarm rate on 300W-train faces (3.1 %; python benchmarks/tracker_threshold.py)
    max_disagreement_pair: float = 0.022
    max_scale_change: float = 0.30  # |log(new ROI side / crop ROI side)|
    max_shift: float = 0.30  # |new ROI centre - crop ROI centre| / crop ROI side
    check: bool = True  # run the re-crop test (doubles the regressions)
    min_score: float = 0.5  # detector score threshold


@dataclass
class TrackResult:
    """One tracked face in one frame: ``face`` (raw network output) and how it was obtained."""

    track_id: int
    face: Face
    detected: bool = False  # (re)initialised from a detection in this frame: smoothers restart
    signals: dict = field(default_factory=dict)


@dataclass
class _Track:
    id: int
    landmarks: np.ndarray  # (68, 2) last good raw landmarks
    roi: np.ndarray  # (4,) ROI of the last good crop
    last_seen: int


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a (N, 4)`` and ``b (M, 4)`` -> ``(N, M)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` by descending IoU, each row and column used once, IoU >= ``threshold``."""
    pairs = []
    if iou.size == 0:
        return pairs
    used_r, used_c = set(), set()
    for flat in np.argsort(-iou, axis=None):
        r, c = divmod(int(flat), iou.shape[1])
        if iou[r, c] < threshold:
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


def align_and_check(aligner: FaceAligner, frame: np.ndarray, landmarks: np.ndarray, config: TrackerConfig,
                    frame_index: int = 0) -> tuple[list[Face], dict, np.ndarray]:
    """Align faces in the ROIs of their previous ``landmarks (N, 68, 2+)`` and test each for tracking failure.

    Returns the faces, the signals of :func:`tracking_signals` and a bool ``(N,)`` failure mask."""
    rois = roi_from_landmarks(np.asarray(landmarks)[..., :2])
    pair = getattr(aligner, "crops", 1) == 3  # 3-crop alignment: its two shifted crops are the check
    if config.check and pair:
        faces = aligner.align(frame, rois=rois)
        sig = tracking_signals(np.stack([f.landmarks_2d for f in faces]), rois)
        sig["disagreement"] = np.array([f.disagreement for f in faces])
    elif config.check:  # both crops of all faces in one network call
        params, pts, pts_recrop = regress_with_recrop(aligner.regressor, aligner.face_model, frame, rois, frame_index)
        faces = faces_from_params(aligner.face_model, params, rois, landmarks_3d=pts, size=aligner.regressor.input_size)
        sig = tracking_signals(pts[..., :2], rois, pts_recrop[..., :2])
    else:
        faces = aligner.align(frame, rois=rois)
        for f in faces:
            f.box = f.roi.copy()
        sig = tracking_signals(np.stack([f.landmarks_2d for f in faces]), rois)
    finite = np.array([np.isfinite(f.landmarks_3d).all() for f in faces])
    bad = (sig["scale_change"] > config.max_scale_change) | (sig["shift"] > config.max_shift) | ~finite
    if config.check:
        limit = config.max_disagreement_pair if pair else config.max_disagreement
        bad |= ~(sig["disagreement"] <= limit)  # NaN counts as failure
    return faces, sig, bad


class FaceTracker:
    """Stateful tracker: ``update(frame) -> list[TrackResult]`` (sorted by track id).

    Args:
        aligner: a :class:`tddfa.FaceAligner` (its ``detector`` is used for detection).
        config: :class:`TrackerConfig`.
        detector: overrides ``aligner.detector`` (callable ``img -> (N, 5)`` x1, y1, x2, y2, score).
    """

    def __init__(self, aligner: FaceAligner, config: TrackerConfig | None = None, detector: Callable | None = None):
        self.aligner = aligner
        self.config = config or TrackerConfig()
        self._detector = detector
        self.tracks: list[_Track] = []
        self.lost: list[_Track] = []
        self.frame_index = -1
        self.last_detect = -10**9
        self.next_id = 0
        self.stats = {"detections_run": 0, "failures": 0, "tracks_started": 0}

    @property
    def detector(self) -> Callable:
        return self._detector if self._detector is not None else self.aligner.detector

    def reset(self) -> None:
        self.tracks, self.lost, self.frame_index, self.last_detect = [], [], -1, -10**9

    # --- one frame -------------------------------------------------------------------------------------------
    def update(self, frame: np.ndarray) -> list[TrackResult]:
        self.frame_index += 1
        cfg = self.config
        results: dict[int, TrackResult] = {}
        failed: list[_Track] = []
        if self.tracks:
            for tr, res in zip(self.tracks, self._track(frame)):
                if res is None:
                    failed.append(tr)
                else:
                    results[tr.id] = res
        self.stats["failures"] += len(failed)
        alive = [t for t in self.tracks if t.id in results]
        due = cfg.detect_every > 0 and self.frame_index - self.last_detect >= cfg.detect_every
        if not alive or failed or due:
            self._detect_and_match(frame, alive, failed, results)
        else:
            self.lost.extend(failed)
        # the tracks of this frame, duplicates (two tracks on one face) merged into the older
        live = sorted(results.values(), key=lambda r: r.track_id)
        keep: list[TrackResult] = []
        for r in live:
            if keep and iou_matrix(r.face.roi[None], np.stack([k.face.roi for k in keep])).max() > cfg.iou_duplicate:
                continue
            keep.append(r)
        by_id = {t.id: t for t in self.tracks + self.lost}
        self.tracks = []
        for r in keep:
            t = by_id.get(r.track_id) or _Track(r.track_id, r.face.landmarks_2d, r.face.roi, self.frame_index)
            t.landmarks, t.roi, t.last_seen = r.face.landmarks_2d.copy(), r.face.roi.copy(), self.frame_index
            self.tracks.append(t)
        ids = {t.id for t in self.tracks}
        self.lost = [t for t in self.lost if t.id not in ids and self.frame_index - t.last_seen <= cfg.keep_lost]
        return keep

    def _track(self, frame: np.ndarray) -> list[TrackResult | None]:
        """Align every live track from its last landmarks; None where the failure signals fire."""
        lms = np.stack([t.landmarks for t in self.tracks])
        faces, sig, bad = align_and_check(self.aligner, frame, lms, self.config, self.frame_index)
        return [None if bad[i] else TrackResult(tr.id, faces[i], detected=False,
                                                signals={k: float(v[i]) for k, v in sig.items()})
                for i, tr in enumerate(self.tracks)]

    def _detect_and_match(self, frame: np.ndarray, alive: list[_Track], failed: list[_Track],
                          results: dict[int, TrackResult]) -> None:
        cfg = self.config
        self.last_detect = self.frame_index
        self.stats["detections_run"] += 1
        dets = np.asarray(self.detector(frame), np.float32).reshape(-1, 5)
        dets = dets[dets[:, 4] >= cfg.min_score]
        if len(dets) == 0:
            self.lost.extend(failed)
            return
        det_rois = self.aligner.rois_from_boxes(dets[:, :4])
        # live tracks keep their alignment; a detection overlapping one is the same face
        taken = set()
        if alive:
            for _, c in greedy_match(iou_matrix(np.stack([results[t.id].face.roi for t in alive]), det_rois),
                                     cfg.iou_match):
                taken.add(c)
        free = [c for c in range(len(dets)) if c not in taken]
        # failed and recently lost tracks get their id back from an overlapping detection
        candidates = failed + self.lost
        assign: dict[int, int] = {}  # detection -> track id
        if candidates and free:
            iou = iou_matrix(np.stack([t.roi for t in candidates]), det_rois[free])
            for r, c in greedy_match(iou, cfg.iou_match):
                assign[free[c]] = candidates[r].id
        self.lost.extend(t for t in failed if t.id not in assign.values())
        n_live = len(results)
        new = []
        order = sorted(free, key=lambda c: -(dets[c, 2] - dets[c, 0]) * (dets[c, 3] - dets[c, 1]))
        for c in order:
            if c not in assign:
                if cfg.max_faces is not None and n_live + len(assign) + len(new) >= cfg.max_faces:
                    continue
                new.append(c)
        use = [c for c in order if c in assign or c in new]
        if not use:
            return
        faces = self.aligner.align(frame, boxes=dets[use, :4], scores=dets[use, 4])
        # one refinement from the landmarks, as every later frame is cropped: no jump between frames 0 and 1
        refined = self.aligner.align(frame, landmarks=np.stack([f.landmarks_2d for f in faces]))
        for f, r in zip(faces, refined):
            r.box, r.score = f.box, f.score
        faces = refined
        for c, face in zip(use, faces):
            if c in assign:
                tid = assign[c]
            else:
                tid = self.next_id
                self.next_id += 1
                self.stats["tracks_started"] += 1
            results[tid] = TrackResult(tid, face, detected=True, signals={})
        self.lost = [t for t in self.lost if t.id not in results]
