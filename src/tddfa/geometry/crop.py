"""Cut 120x120 network inputs out of an image, exactly as the reference does.

The ROI is rounded to integers, sliced 0-based (``img[y1:y2, x1:x2]``), zero-padded where it leaves the
image, and resized bilinearly (``cv2.INTER_LINEAR``) to ``size x size``. Pixel (x1, y1) of the image is
crop pixel (0, 0) before resizing.
"""
from __future__ import annotations

import cv2
import numpy as np

INPUT_SIZE = 120
# network input normalisation, (x - PIXEL_MEAN) / PIXEL_SCALE (the reference's)
PIXEL_MEAN = 127.5
PIXEL_SCALE = 128.0


def crop_roi(img: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """The ``(h, w, C)`` uint8 patch of ``img`` under ``roi`` (x1, y1, x2, y2), zero outside the image."""
    h, w = img.shape[:2]
    sx, sy, ex, ey = (int(round(float(v))) for v in roi[:4])
    dh, dw = max(ey - sy, 1), max(ex - sx, 1)
    out = np.zeros((dh, dw) + img.shape[2:], dtype=img.dtype)
    ix0, iy0, ix1, iy1 = max(sx, 0), max(sy, 0), min(ex, w), min(ey, h)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - sy:iy1 - sy, ix0 - sx:ix1 - sx] = img[iy0:iy1, ix0:ix1]
    return out


def crop_faces(img: np.ndarray, rois: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Stack of crops ``(N, size, size, C)`` uint8 for ``rois`` ``(N, 4)``."""
    rois = np.asarray(rois).reshape(-1, 4)
    out = np.empty((rois.shape[0], size, size) + img.shape[2:], np.uint8)
    for i, r in enumerate(rois):
        out[i] = cv2.resize(crop_roi(img, r), (size, size), interpolation=cv2.INTER_LINEAR).reshape(out.shape[1:])
    return out


def normalize(crops: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` BGR -> float32 ``(N, 3, H, W)`` network input, ``(x - 127.5) / 128``."""
    x = np.asarray(crops, np.float32).transpose(0, 3, 1, 2)
    return (x - PIXEL_MEAN) / PIXEL_SCALE
