"""Box arithmetic in numpy: SSD encode/decode, IoU, and greedy NMS."""
from __future__ import annotations

import numpy as np

from .priors import VARIANCE


def decode(loc: np.ndarray, priors: np.ndarray, variance: tuple[float, float] = VARIANCE) -> np.ndarray:
    """SSD offsets ``loc (P, 4)`` on ``priors (P, 4)`` (cx, cy, w, h) -> corner boxes ``(P, 4)`` x1, y1, x2, y2
    in the priors' (normalised) units."""
    c = priors[:, :2] + loc[:, :2] * variance[0] * priors[:, 2:]
    wh = priors[:, 2:] * np.exp(loc[:, 2:] * variance[1])
    return np.concatenate([c - wh / 2, c + wh / 2], 1)


def encode(boxes: np.ndarray, priors: np.ndarray, variance: tuple[float, float] = VARIANCE) -> np.ndarray:
    """Inverse of :func:`decode`: corner ``boxes (P, 4)`` matched to ``priors (P, 4)`` -> offsets ``(P, 4)``."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([(c - priors[:, :2]) / (variance[0] * priors[:, 2:]),
                           np.log(wh / priors[:, 2:]) / variance[1]], 1)


def iou_matrix(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """IoU of corner boxes ``a (A, 4)`` and ``b (B, 4)`` -> ``(A, B)``. ``offset=1`` uses inclusive pixel
    extents (w = x2 - x1 + 1) as the Fast R-CNN NMS does."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt + offset, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2] + offset, axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2] + offset, axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3, offset: float = 0.0) -> np.ndarray:
    """Greedy non-maximum suppression. Returns indices (int64) of kept boxes, highest score first.

    A box is dropped when its IoU with an already kept, higher-scoring box is ``>= threshold``.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1 + offset) * (y2 - y1 + offset)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + offset)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + offset)
        inter = w * h
        ovr = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[ovr < threshold]
    return np.asarray(keep, np.int64)


def vote(boxes: np.ndarray, scores: np.ndarray, keep: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Box voting: each kept box ``boxes[keep]`` becomes the score-weighted mean of all ``boxes (N, 4)`` that
    overlap it at IoU ``>= threshold`` (itself included) -> ``(K, 4)``. The neighbours NMS dropped are
    independent guesses of the same face, so their mean places it better than the top-scoring one alone."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    keep = np.asarray(keep, np.int64).reshape(-1)
    if keep.size == 0:
        return np.zeros((0, 4), np.float32)
    w = (iou_matrix(boxes[keep], boxes) >= threshold) * np.asarray(scores, np.float32).reshape(1, -1)
    return ((w @ boxes) / w.sum(1, keepdims=True)).astype(np.float32)
