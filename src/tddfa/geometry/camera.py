"""From the camera frame of the crop to image pixels.

The 3x4 camera maps model points into a 120x120 crop frame where y points **up** and indices are
1-based (a quirk kept from the reference). So crop pixel coordinates are ``u = X - 1``,
``v = size - Y`` and depth ``d = Z - 1`` (z towards the viewer), and image coordinates are
``x = u * (x2 - x1) / size + x1``, ``y = v * (y2 - y1) / size + y1``, ``z = d * (sx + sy) / 2``
for the rounded ROI ``(x1, y1, x2, y2)``. Depth is not shifted, so dense and sparse points share one z.
"""
from __future__ import annotations

import numpy as np

from .crop import INPUT_SIZE


def camera_to_image(pts: np.ndarray, rois: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
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


def image_to_camera(pts: np.ndarray, rois: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
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


def reframe_params(params: np.ndarray, rois_from: np.ndarray, rois_to: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Parameters ``(N, 62)`` regressed from crops ``rois_from (N, 4)`` rewritten for the crops ``rois_to (N, 4)``:
    the same image-frame points come out of :func:`camera_to_image` with ``rois_to`` (shape and expression are
    unchanged; each row of the camera is scaled and shifted, exactly as :func:`camera_to_image` rounds the ROIs)."""
    p = np.array(params, np.float64, copy=True).reshape(-1, 62)
    r1 = np.round(np.asarray(rois_from, np.float64).reshape(-1, 4))
    r2 = np.round(np.asarray(rois_to, np.float64).reshape(-1, 4))
    sx1, sy1 = (r1[:, 2] - r1[:, 0]) / size, (r1[:, 3] - r1[:, 1]) / size
    sx2, sy2 = (r2[:, 2] - r2[:, 0]) / size, (r2[:, 3] - r2[:, 1]) / size
    a = np.stack([sx1 / sx2, sy1 / sy2, (sx1 + sy1) / (sx2 + sy2)], axis=1)  # per camera row
    # X' = ax (X - 1) + 1 + (x1 - x1') / sx', Y' = ay Y + size (1 - ay) - (y1 - y1') / sy', Z' = az (Z - 1) + 1
    b = np.stack([1 - a[:, 0] + (r1[:, 0] - r2[:, 0]) / sx2, size * (1 - a[:, 1]) - (r1[:, 1] - r2[:, 1]) / sy2,
                  1 - a[:, 2]], axis=1)
    cam = p[:, :12].reshape(-1, 3, 4)
    cam *= a[:, :, None]
    cam[:, :, 3] += b
    p[:, :12] = cam.reshape(-1, 12)
    return p.astype(np.asarray(params).dtype, copy=False)
