"""FaceBoxes prior (anchor) boxes, vectorised and cached per input size.

Three detection sources with strides 32 / 64 / 128. The stride-32 map carries anchors of 32, 64 and
128 px; the small ones are *densified* (FaceBoxes' anchor densification) so every anchor size tiles the
image at the same density: 32 px anchors on a 4x4 sub-grid of the cell, 64 px on 2x2, 128 px once.
The other two maps carry one 256 / 512 px anchor per cell. Order matches the network's output
(cell row-major, then the anchors of that cell; densified offsets y-major then x).

``fine=True`` (the ``faceboxes_s16`` network) appends a fourth source at stride 16 with 16 px anchors on a
2x2 sub-grid and one 32 px anchor per cell, for faces of about 10-45 px. It comes last, so the first
``num_priors(h, w)`` priors are the same either way.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

STEPS = (32, 64, 128)
MIN_SIZES = ((32, 64, 128), (256,), (512,))
FINE_STEP, FINE_SIZES = 16, ((16, 2), (32, 1))  # (anchor size px, anchors per cell side)
VARIANCE = (0.1, 0.2)


def _density(size: int) -> int:
    """Anchors per cell side: 4 for 32 px, 2 for 64 px, 1 otherwise."""
    return {32: 4, 64: 2}.get(size, 1)


def feature_map_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(rows, cols) of each detection source: ceil(H/step), ceil(W/step)."""
    return [(-(-height // s), -(-width // s)) for s in STEPS]


def _sources(height: int, width: int, fine: bool) -> list[tuple[tuple[int, int], int, list[tuple[int, int]]]]:
    """Per detection source: (rows, cols), stride, [(anchor size, density), ...], in output order."""
    out = [(fm, step, [(s, _density(s)) for s in sizes])
           for fm, step, sizes in zip(feature_map_sizes(height, width), STEPS, MIN_SIZES)]
    if fine:
        out.append(((-(-height // FINE_STEP), -(-width // FINE_STEP)), FINE_STEP, list(FINE_SIZES)))
    return out


@lru_cache(maxsize=32)
def _priors_cached(height: int, width: int, fine: bool) -> np.ndarray:
    out = []
    for (fh, fw), step, sizes in _sources(height, width, fine):
        per_cell = []
        for size, d in sizes:
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


def prior_boxes(height: int, width: int, fine: bool = False) -> np.ndarray:
    """``(P, 4)`` float32 (cx, cy, w, h) normalised by the image width/height, read-only, cached
    (``fine``: with the stride-16 source appended)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return _priors_cached(int(height), int(width), bool(fine))


def num_priors(height: int, width: int, fine: bool = False) -> int:
    return sum(fh * fw * sum(d * d for _, d in sizes) for (fh, fw), _, sizes in _sources(height, width, fine))


def priors_for(height: int, width: int, count: int) -> np.ndarray:
    """The priors of a ``height x width`` input for a network that output ``count`` of them (either layout)."""
    for fine in (False, True):
        if num_priors(height, width, fine) == count:
            return prior_boxes(height, width, fine)
    raise ValueError(f"{count} priors fit no FaceBoxes layout at {height}x{width} "
                     f"(expected {num_priors(height, width)} or {num_priors(height, width, True)})")


# RetinaFace (MobileNet-0.25 FPN): three sources at strides 8 / 16 / 32, two square anchors per cell each
RETINA_STEPS = (8, 16, 32)
RETINA_SIZES = ((16, 32), (64, 128), (256, 512))


@lru_cache(maxsize=32)
def _retina_cached(height: int, width: int) -> np.ndarray:
    out = []
    for step, sizes in zip(RETINA_STEPS, RETINA_SIZES):
        fh, fw = -(-height // step), -(-width // step)
        ii, jj = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = np.repeat(((jj.ravel() + 0.5) * step / width)[:, None], len(sizes), 1)
        cy = np.repeat(((ii.ravel() + 0.5) * step / height)[:, None], len(sizes), 1)
        s = np.asarray(sizes, float)[None, :]
        out.append(np.stack([cx, cy, np.broadcast_to(s / width, cx.shape),
                             np.broadcast_to(s / height, cx.shape)], -1).reshape(-1, 4))
    pri = np.concatenate(out).astype(np.float32)
    pri.setflags(write=False)
    return pri


def retinaface_priors(height: int, width: int) -> np.ndarray:
    """``(P, 4)`` float32 (cx, cy, w, h) of a RetinaFace input of ``height x width``, normalised by its
    width/height; order: source, cell row-major, then the cell's two anchor sizes. Read-only, cached."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return _retina_cached(int(height), int(width))
