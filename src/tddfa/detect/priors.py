"""FaceBoxes prior (anchor) boxes, vectorised and cached per input size.

Three detection sources with strides 32 / 64 / 128. The stride-32 map carries anchors of 32, 64 and
128 px; the small ones are *densified* (FaceBoxes' anchor densification) so every anchor size tiles the
image at the same density: 32 px anchors on a 4x4 sub-grid of the cell, 64 px on 2x2, 128 px once.
The other two maps carry one 256 / 512 px anchor per cell. Order matches the network's output
(cell row-major, then the anchors of that cell; densified offsets y-major then x).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

STEPS = (32, 64, 128)
MIN_SIZES = ((32, 64, 128), (256,), (512,))
VARIANCE = (0.1, 0.2)


def _density(size: int) -> int:
    """Anchors per cell side: 4 for 32 px, 2 for 64 px, 1 otherwise."""
    return {32: 4, 64: 2}.get(size, 1)


def feature_map_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(rows, cols) of each detection source: ceil(H/step), ceil(W/step)."""
    return [(-(-height // s), -(-width // s)) for s in STEPS]


@lru_cache(maxsize=32)
def _priors_cached(height: int, width: int) -> np.ndarray:
    out = []
    for (fh, fw), step, sizes in zip(feature_map_sizes(height, width), STEPS, MIN_SIZES):
        per_cell = []
        for size in sizes:
            d = _density(size)
            off = (np.arange(d) / d) if d > 1 else np.array([0.5])
            oy, ox = np.meshgrid(off, off, indexing="ij")  # y-major, then x
            per_cell.append(np.stack([ox.ravel(), oy.ravel(), np.full(d * d, size, float)], 1))
        cell = np.concatenate(per_cell)  # (A, 3): dx, dy (in cells), size (px)
        ii, jj = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = (jj.reshape(-1, 1) + cell[None, :, 0]) * step / width
        cy = (ii.reshape(-1, 1) + cell[None, :, 1]) * step / height
        sw = np.broadcast_to(cell[None, :, 2] / width, cx.shape)
        sh = np.broadcast_to(cell[None, :, 2] / height, cx.shape)
        out.append(np.stack([cx, cy, sw, sh], -1).reshape(-1, 4))
    pri = np.concatenate(out).astype(np.float32)
    pri.setflags(write=False)  # shared by every call of this size
    return pri


def prior_boxes(height: int, width: int) -> np.ndarray:
    """``(P, 4)`` float32 (cx, cy, w, h) normalised by the image width/height, read-only, cached."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return _priors_cached(int(height), int(width))


def num_priors(height: int, width: int) -> int:
    return sum(fh * fw * sum(_density(s) ** 2 for s in sizes)
               for (fh, fw), sizes in zip(feature_map_sizes(height, width), MIN_SIZES))
