"""More faces for the detector: pools of 256 px face crops with 68 points, made from other sources.

A pool is what :class:`~tddfa.train.detector.data.MosaicGenerator` pastes: square crops ``(N, 256, 256, 3)`` uint8
BGR whose side is twice the landmark box (the face in the middle half, like the 300W pack) and ``pts (N, 68, 2)``
in crop pixels. Sources:

* ``profiles``: the out-of-plane views the regressor's data step synthesised from 300W **train** faces
  (``cache/train/profiles_s1.npz``, 120 px crops): turned faces, which 300W has few of. Faces of the ``afw``
  subset are dropped (AFW is the detector's test set), as are views with much black (outside the source photo).
* ``utkface``: the unlabelled UTKFace crops, pseudo-labelled by **our own** pipeline (our detector finds the face
  on a padded copy, our regressor gives the 68 points; a face is kept only if exactly one verified face is found
  near the centre). No reference model is involved.

Pixels outside a source image are filled by replicating its border and marked in the pool's ``valid`` masks:
the mosaics paste only the pixels of the source (always feathered), so the filled streaks are never seen.
"""
from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ...errors import InputError
from .data import FacePool

CROP = 256


def square_face_crop(img: np.ndarray, pts: np.ndarray, size: int = CROP,
                     valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``img (H, W, 3)``, ``pts (68, 2)`` -> ``(crop (size, size, 3), pts in crop pixels (68, 2), valid (size,
    size) uint8)``: a square of twice the landmark box's longer side around its centre, borders replicated;
    ``valid`` is 1 where the crop shows the source (``valid (H, W)`` of the source, if given, is carried along)."""
    lo, hi = pts.min(0), pts.max(0)
    side = 2.0 * float((hi - lo).max())
    c = (lo + hi) / 2
    s = size / side
    M = np.array([[s, 0, size / 2 - s * c[0]], [0, s, size / 2 - s * c[1]]], np.float64)
    crop = cv2.warpAffine(img, M, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    src_valid = np.ones(img.shape[:2], np.uint8) if valid is None else valid.astype(np.uint8)
    inside = cv2.warpAffine(src_valid * 255, M, (size, size), flags=cv2.INTER_LINEAR, borderValue=0) > 127
    return crop, (pts @ M[:, :2].T + M[:, 2]).astype(np.float32), inside.astype(np.uint8)


def profile_pool(profiles_npz: str | Path, annotations: str | Path, every: int = 2,
                 max_black: float = 0.25) -> FacePool:
    """Every ``every``-th synthesised ``profile`` view (flips are the mosaic's job) of a non-AFW 300W face."""
    d = np.load(profiles_npz)
    ann = np.load(annotations)
    subset = ann["subset"][d["source"]]
    rows = np.flatnonzero((d["kind"] == "profile") & (subset != "afw"))[::every]
    images, landmarks = d["images"], d["landmarks"]  # (an NpzFile reads the whole array on every access)
    crops, pts, valid = [], [], []
    for i in rows:
        img = images[i]
        black = img.max(2) < 6  # outside the source photo (the view synthesis paints it black)
        if black.mean() > max_black:
            continue
        c, p, v = square_face_crop(img, landmarks[i].astype(np.float64), valid=cv2.erode((~black).astype(np.uint8),
                                                                                        np.ones((3, 3), np.uint8)))
        crops.append(c)
        pts.append(p)
        valid.append(v)
    if not crops:
        raise InputError(f"{profiles_npz}: no usable profile views")
    return FacePool(np.stack(crops), np.stack(pts), np.stack(valid))


def iter_utkface(folder: str | Path):
    """``(name, image BGR)`` of every JPEG in the UTKFace pack's zips (sorted names)."""
    zips = sorted(Path(folder).glob("images_*.zip"))
    if not zips:
        raise InputError(f"no images_*.zip in {folder}")
    for z in zips:
        with zipfile.ZipFile(z) as f:
            for name in sorted(f.namelist()):
                img = cv2.imdecode(np.frombuffer(f.read(name), np.uint8), cv2.IMREAD_COLOR)
                if img is not None:
                    yield name, img


def pseudo_label(img: np.ndarray, aligner: Callable, pad: float = 0.5, max_offset: float = 0.2) -> np.ndarray | None:
    """68 points ``(68, 2)`` of the one face of a tight face crop, from ``aligner(image) -> [Face]`` run on a copy
    padded by ``pad`` of its side (detectors need context); ``None`` unless exactly one face is found whose
    landmark centre is within ``max_offset`` of the side from the crop centre."""
    h, w = img.shape[:2]
    p = int(round(pad * max(h, w)))
    big = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_REPLICATE)
    faces = aligner(big)
    if len(faces) != 1:
        return None
    pts = np.asarray(faces[0].landmarks_2d, np.float64) - p
    centre = (pts.min(0) + pts.max(0)) / 2
    if np.abs(centre - (w / 2, h / 2)).max() > max_offset * max(h, w):
        return None
    return pts


def utkface_pool(folder: str | Path, aligner: Callable, limit: int | None = None,
                 progress: Callable | None = None) -> tuple[FacePool, dict]:
    """Pseudo-labelled UTKFace crops (see :func:`pseudo_label`) and counts ``{"seen", "kept"}``."""
    crops, pts, valid, seen = [], [], [], 0
    for name, img in iter_utkface(folder):
        if limit is not None and seen >= limit:
            break
        seen += 1
        lm = pseudo_label(img, aligner)
        if progress:
            progress(1)
        if lm is None:
            continue
        c, p, v = square_face_crop(img, lm)
        crops.append(c)
        pts.append(p)
        valid.append(v)
    if not crops:
        raise InputError(f"{folder}: no face could be labelled")
    return FacePool(np.stack(crops), np.stack(pts), np.stack(valid)), {"seen": seen, "kept": len(crops)}


def save_pool(pool: FacePool, path: str | Path, **meta) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=pool.images, pts=pool.pts, valid=pool.valid_mask(),
             **{k: np.asarray(v) for k, v in meta.items()})


def load_pool(path: str | Path) -> FacePool:
    path = Path(path)
    if not path.exists():
        raise InputError(f"face pool not found: {path} (make it with tddfa train-detector --make-pools)")
    d = np.load(path)
    if d["images"].ndim != 4 or d["images"].shape[1:] != (CROP, CROP, 3) or d["pts"].shape[1:] != (68, 2):
        raise InputError(f"{path}: expected images (N, {CROP}, {CROP}, 3) and pts (N, 68, 2)")
    return FacePool(d["images"], d["pts"].astype(np.float32), d["valid"] if "valid" in d.files else None)
