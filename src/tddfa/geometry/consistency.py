"""Landmark consistency signals: is there a face in this crop, and did tracking fail?

* **re-crop agreement**: regress the face again from a crop shifted by ``RECROP_SHIFT`` of its side and enlarged
  by ``RECROP_SCALE``. A real face gives the same image-frame landmarks from both crops; on a crop without a face
  the network outputs a face-like shape tied to the crop frame, so the two answers differ by about the shift.
* **landmark/ROI consistency**: the ROI rebuilt from the landmarks against the crop ROI.

Used by :class:`tddfa.FaceAligner` (face/no-face test on detections) and the video tracker (failure test).
"""
from __future__ import annotations

import numpy as np

from .roi import roi_from_landmarks

RECROP_SHIFT = 0.08  # shift of the second crop, fraction of the ROI side
RECROP_SCALE = 1.10  # size of the second crop relative to the first
# face/no-face threshold on the re-crop disagreement when a model's .json names none (docs/models.md)
VERIFY_THRESHOLD = 0.08
# crops per face for video (``FaceAligner(crops=...)``): the mean of three crops is steadier, and its two shifted
# crops are the tracker's re-crop test, so it costs one crop more than 1 crop + the test
VIDEO_CROPS = 3
PAIR_SHIFT = 0.04  # the two extra crops of three-crop alignment: +-this fraction of the side, diagonally


def recrop_rois(rois: np.ndarray, frame_index: int = 0) -> np.ndarray:
    """Second-opinion ROIs ``(N, 4)``: enlarged by ``RECROP_SCALE``, shifted diagonally; the direction cycles with
    ``frame_index`` so a systematic bias of one direction cannot hide."""
    r = np.asarray(rois, np.float64).reshape(-1, 4)
    side = r[:, 2] - r[:, 0]
    centre = (r[:, :2] + r[:, 2:]) / 2
    dx, dy = [(1, 1), (-1, 1), (-1, -1), (1, -1)][frame_index % 4]
    centre = centre + RECROP_SHIFT * side[:, None] * np.array([dx, dy]) / np.sqrt(2)
    half = side * RECROP_SCALE / 2
    return np.concatenate([centre - half[:, None], centre + half[:, None]], axis=1)


def pair_rois(rois: np.ndarray, shift: float = PAIR_SHIFT) -> np.ndarray:
    """``(2N, 4)``: each ROI ``(N, 4)`` moved by ``+shift`` of its side along the image diagonal (rows ``:N``), then by
    ``-shift`` (rows ``N:``). Their two answers bracket the centre crop's, so their mean has the centre's bias
    while their noise averages out, and they disagree by about ``2 shift`` on a crop without a face."""
    r = np.asarray(rois, np.float64).reshape(-1, 4)
    d = shift * (r[:, 2] - r[:, 0])[:, None] / np.sqrt(2) * np.ones((1, 4))
    return np.concatenate([r + d, r - d])


def tracking_signals(landmarks: np.ndarray, rois: np.ndarray, landmarks_recrop: np.ndarray | None = None) -> dict:
    """Failure signals per face. ``landmarks (N, 68, 2)`` from crops ``rois (N, 4)``; optional second opinion
    ``landmarks_recrop (N, 68, 2)``. Returns arrays ``(N,)``: ``scale_change`` (|log side ratio|), ``shift``
    (centre shift / side) and ``disagreement`` (mean landmark distance / side, NaN without a second opinion)."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    new = roi_from_landmarks(landmarks)
    side = rois[:, 2] - rois[:, 0]
    new_side = new[:, 2] - new[:, 0]
    shift = np.linalg.norm((new[:, :2] + new[:, 2:]) / 2 - (rois[:, :2] + rois[:, 2:]) / 2, axis=1) / side
    out = {"scale_change": np.abs(np.log(np.maximum(new_side, 1e-6) / side)), "shift": shift,
           "disagreement": np.full(len(rois), np.nan)}
    if landmarks_recrop is not None:
        d = np.linalg.norm(np.asarray(landmarks)[..., :2] - np.asarray(landmarks_recrop)[..., :2], axis=-1).mean(-1)
        out["disagreement"] = d / side
    return out
