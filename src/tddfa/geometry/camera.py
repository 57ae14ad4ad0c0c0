"""From the camera frame of the crop to image pixels.

The 3x4 camera maps model points into a 120x120 crop frame where y points **up** and indices are
1-based (a quirk kept from the reference). So crop pixel coordinates are ``u = X - 1``,
``v = size - Y`` and depth ``d = Z - 1`` (z towards the viewer), and image coordinates are
``x = u * (x2 - x1) / size + x1``, ``y = v * (y2 - y1) / size + y1``, ``z = d * (sx + sy) / 2``
for the rounded ROI ``(x1, y1, x2, y2)``. Depth is not shifted, so dense and sparse points share one z.
"""
from __future__ import annotations

import numpy as np


def camera_to_image(pts: np.ndarray, rois: np.ndarray, size: int = 120) -> np.ndarray:
    """Camera-frame points ``(N, V, 3)`` -> image-frame points ``(N, V, 3)`` for ROIs ``(N, 4)``."""
    pts = np.asarray(pts, np.float32)
    r = np.round(np.asarray(rois, np.float64).reshape(-1, 4)).astype(np.float32)
    sx = (r[:, 2] - r[:, 0]) / size
    sy = (r[:, 3] - r[:, 1]) / size
    out = np.empty_like(pts)
    out[..., 0] = (pts[..., 0] - 1) * sx[:, None] + r[:, None, 0]
    out[..., 1] = (size - pts[..., 1]) * sy[:, None] + r[:, None, 1]
    out[..., 2] = (pts[..., 2] - 1) * ((sx + sy) / 2)[:, None]
    return out


def image_to_camera(pts: np.ndarray, rois: np.ndarray, size: int = 120) -> np.ndarray:
    """Inverse of :func:`camera_to_image`."""
    pts = np.asarray(pts, np.float32)
    r = np.round(np.asarray(rois, np.float64).reshape(-1, 4)).astype(np.float32)
    sx = (r[:, 2] - r[:, 0]) / size
    sy = (r[:, 3] - r[:, 1]) / size
    out = np.empty_like(pts)
    out[..., 0] = (pts[..., 0] - r[:, None, 0]) / sx[:, None] + 1
    out[..., 1] = size - (pts[..., 1] - r[:, None, 1]) / sy[:, None]
    if pts.shape[-1] > 2:
        out[..., 2] = pts[..., 2] / ((sx + sy) / 2)[:, None] + 1
    return out
