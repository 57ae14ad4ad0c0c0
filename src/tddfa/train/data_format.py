"""The cached training-data format written by ``tddfa prepare-data`` (one ``.npz`` per split, no pickle).

``train.npz`` / ``val.npz`` hold exactly these arrays (N samples):

==============  =====================  ===================================================================
key             shape, dtype           meaning
==============  =====================  ===================================================================
``images``      (N,120,120,3) uint8    BGR network input: the 120x120 crop of the square ROI
                                       ``roi_from_landmarks(landmarks)`` (rounded to an integer square),
                                       cut with ``tddfa.geometry.crop_faces`` (zero padding outside the
                                       image) or, for synthesised views, rendered directly into that crop.
``params``      (N,62) float32         3DMM parameters ``[sR|t] (12, row-major 3x4), shape (40), exp (10)``
                                       in the **camera frame of that crop**: ``tddfa.reconstruct.reconstruct(
                                       bfm, params, rois=[(0,0,120,120)])`` gives crop
                                       pixels (u = X - 1, v = 120 - Y). ``t_z`` is the constant
                                       ``param_mean[11]`` (depth is unobservable from 2D landmarks).
``landmarks``   (N,68,2) float32       x, y in crop pixels (0-based, y down): the annotated points for
                                       ``real`` samples (permuted for ``flip``), the model's projection for
                                       synthesised views, jaw contour (0-16) on the visible silhouette.
``kind``        (N,) str               ``real``, ``flip``, ``profile``, ``profile_flip``.
``source``      (N,) int32             row of the source face in ``300w/annotations.npz``.
``fit_nme``     (N,) float32           mean landmark residual of the fit / sqrt(w*h) of the landmarks' box
                                       (the source face's value for synthesised views).
==============  =====================  ===================================================================

The fixed BFM keypoints (``reconstruct(..., sparse=True)``) match ``landmarks`` except on the jaw
contour of turned faces, where the annotation follows the silhouette while the keypoints stay on the 3D jaw.

Splits: ``train.npz`` = 300W train (afw + helen_train + lfpw_train) with flips and profiled views;
``val.npz`` = 300W test (helen_test + lfpw_test), real images and annotated landmarks only, for
validation and model selection, never for training. AFLW2000-3D is never used.

``video_train.npz`` (short synthetic clips of one image each, M clips of T frames): ``images``
(M,T,120,120,3) uint8, ``params`` (M,T,62) float32, ``landmarks`` (M,T,68,2) float32, ``source`` (M,) int32.
Consecutive frames differ by small in-plane (shift, scale, roll) and out-of-plane (yaw, pitch) motions.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SIZE = 120
KEYS = ("images", "params", "landmarks", "kind", "source", "fit_nme")
VIDEO_KEYS = ("images", "params", "landmarks", "source")
KINDS = ("real", "flip", "profile", "profile_flip")


def validate(arrays: dict[str, np.ndarray]) -> int:
    """Check a sample dict against the format; returns N or raises ValueError."""
    if set(arrays) != set(KEYS):
        raise ValueError(f"keys must be exactly {KEYS}, got {sorted(arrays)}")
    n = len(arrays["images"])
    expect = {"images": ((n, SIZE, SIZE, 3), np.uint8), "params": ((n, 62), np.float32),
              "landmarks": ((n, 68, 2), np.float32), "source": ((n,), np.int32), "fit_nme": ((n,), np.float32)}
    for k, (shape, dtype) in expect.items():
        a = arrays[k]
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{k}: expected {shape} {np.dtype(dtype)}, got {a.shape} {a.dtype}")
    kind = arrays["kind"]
    if kind.shape != (n,) or kind.dtype.kind != "U":
        raise ValueError(f"kind: expected ({n},) str, got {kind.shape} {kind.dtype}")
    return n


def validate_video(arrays: dict[str, np.ndarray]) -> tuple[int, int]:
    """Check a video dict; returns (M, T) or raises ValueError."""
    if set(arrays) != set(VIDEO_KEYS):
        raise ValueError(f"keys must be exactly {VIDEO_KEYS}, got {sorted(arrays)}")
    m, t = arrays["images"].shape[:2]
    expect = {"images": ((m, t, SIZE, SIZE, 3), np.uint8), "params": ((m, t, 62), np.float32),
              "landmarks": ((m, t, 68, 2), np.float32), "source": ((m,), np.int32)}
    for k, (shape, dtype) in expect.items():
        if arrays[k].shape != shape or arrays[k].dtype != dtype:
            raise ValueError(f"{k}: expected {shape} {np.dtype(dtype)}, got {arrays[k].shape} {arrays[k].dtype}")
    return m, t


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load a dataset file fully into memory (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate sample dicts key by key."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
