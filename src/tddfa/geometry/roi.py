"""Square regions of interest (ROI) around a face, as 3DDFA_V2 builds them.

Image frame: x right, y down, in pixels; an ROI is ``(x1, y1, x2, y2)`` and the crop is the 0-based
slice ``img[round(y1):round(y2), round(x1):round(x2)]`` (see ``tddfa.geometry.crop``).
"""
from __future__ import annotations

import numpy as np

BOX_SCALE = 1.58  # detector box side -> ROI side
BOX_SHIFT = 0.14  # centre moved down by this fraction of the box side (detector boxes sit high)


def roi_from_box(boxes: np.ndarray, scale: float = BOX_SCALE,
                 shift: tuple[float, float] = (0.0, BOX_SHIFT)) -> np.ndarray:
    """ROIs ``(N, 4)`` from detector boxes ``(N, 4+)`` (``x1, y1, x2, y2``, extra columns ignored).

    The ROI is the square of side ``scale`` x box side (the mean of width and height) centred on the box centre
    moved by ``shift`` ``(dx, dy)`` box sides. The defaults are 3DDFA_V2's rule for its FaceBoxes; a detector
    calibrated against landmark ROIs carries its own ``scale`` and ``shift``
    (:func:`tddfa.train.roi_scale.fit_box_to_roi`)."""
    b = np.asarray(boxes, np.float64).reshape(-1, np.shape(boxes)[-1])[:, :4]
    old = ((b[:, 2] - b[:, 0]) + (b[:, 3] - b[:, 1])) / 2
    cx = b[:, 2] - (b[:, 2] - b[:, 0]) / 2 + old * shift[0]
    cy = b[:, 3] - (b[:, 3] - b[:, 1]) / 2 + old * shift[1]
    size = np.floor(old * scale)  # the reference truncates with int()
    return np.stack([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], axis=1)


def roi_from_landmarks(pts: np.ndarray) -> np.ndarray:
    """ROIs ``(N, 4)`` from landmarks ``(N, K, 2+)``: the square on the landmarks' box, enlarged to its diagonal."""
    p = np.asarray(pts, np.float64)
    if p.ndim == 2:
        p = p[None]
    lo, hi = p[..., :2].min(axis=1), p[..., :2].max(axis=1)
    centre = (lo + hi) / 2
    half = np.sqrt(2.0) * (hi - lo).max(axis=1) / 2  # radius * sqrt(2): half the diagonal of the square
    return np.concatenate([centre - half[:, None], centre + half[:, None]], axis=1)


def box_from_landmarks(pts: np.ndarray) -> np.ndarray:
    """Tight boxes ``(N, 4)`` around landmarks ``(N, K, 2+)``."""
    p = np.asarray(pts, np.float64)
    if p.ndim == 2:
        p = p[None]
    return np.concatenate([p[..., :2].min(axis=1), p[..., :2].max(axis=1)], axis=1)
