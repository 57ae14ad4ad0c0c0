"""Input checks at the public boundary: arrays the caller passes, validated once with messages a user can act on
(:class:`InputError` / :class:`UsageError`)."""
from __future__ import annotations

import numpy as np

from .errors import InputError, UsageError


def is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def check_count(name: str, value: object, low: int) -> None:
    """A whole number >= ``low`` (bools and NaN refused), else :class:`UsageError`."""
    if not (is_number(value) and np.isfinite(value) and int(value) == value and value >= low):
        raise UsageError(f"{name} must be a whole number >= {low}, got {value!r}")


def as_array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array with finite entries, else :class:`InputError` naming ``name``."""
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array, got {type(value).__name__} ({exc})") from None
    if a.size and not np.isfinite(a).all():
        raise InputError(f"{name} contain NaN or infinite values")
    return a


MAX_REACH = 8  # box coordinates may reach this many image sides beyond the image (crops of a partial face)


def usable(b: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(N,)`` which boxes ``(N, 4)`` are at least one pixel, not inverted and overlap an image of ``shape``."""
    h, w = shape[:2]
    reach = MAX_REACH * max(h, w)
    return (np.isfinite(b).all(1) & (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1) & (b[:, 0] < w)
            & (b[:, 1] < h) & (b[:, 2] > 0) & (b[:, 3] > 0) & (np.abs(b) <= reach).all(1))


def check_boxes(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """Validated ``(N, 4)`` x1, y1, x2, y2 boxes (None stays None; ``[]`` is ``(0, 4)``)."""
    if value is None:
        return None
    b = as_array(name, value)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.shape == (4,):
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        hint = "; detector rows are x1, y1, x2, y2, score: pass dets[:, :4]" if b.ndim == 2 and b.shape[1] == 5 else ""
        raise InputError(f"{name} must have shape (N, 4), x1, y1, x2, y2 per face; got shape {b.shape}{hint}")
    bad = np.flatnonzero(~usable(b, shape))
    if bad.size:
        i, (x1, y1, x2, y2) = bad[0], b[bad[0]]
        h, w = shape[:2]
        if x2 - x1 < 1 or y2 - y1 < 1:
            why = "is inverted or smaller than one pixel (need x1 < x2, y1 < y2)"
        else:
            why = f"lies outside the {w}x{h} image"
        raise InputError(f"{name}[{i}] = ({x1:g}, {y1:g}, {x2:g}, {y2:g}) {why}")
    return b


def check_landmarks(value: object) -> np.ndarray | None:
    """Validated ``(N, 68, 2)`` landmarks (a third coordinate is dropped; ``[]`` is ``(0, 68, 2)``)."""
    if value is None:
        return None
    a = as_array("landmarks", value)
    if a.size == 0:
        return np.zeros((0, 68, 2))
    b = a[None] if a.ndim == 2 else a
    if b.ndim != 3 or b.shape[1] != 68 or b.shape[2] not in (2, 3):
        raise InputError(f"landmarks must have shape (N, 68, 2) (the 68-point layout), got shape {a.shape}")
    return b[..., :2]


def check_detections(value: object) -> np.ndarray:
    """A detector's output as ``(N, 5)`` float32 rows x1, y1, x2, y2, score."""
    a = np.asarray(value, np.float32)
    if a.size == 0:
        return np.zeros((0, 5), np.float32)
    if a.ndim != 2 or a.shape[1] != 5:
        raise InputError(f"the detector must return (N, 5) rows x1, y1, x2, y2, score; it returned shape {a.shape}")
    return a
