"""Reading images with clear errors: always returns an ``(H, W, 3)`` uint8 BGR array."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

MAX_PIXELS = 100_000_000  # refuse decompression bombs (e.g. 10k x 10k)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def to_bgr(img: np.ndarray) -> np.ndarray:
    """Any decoded image (gray ``(H, W)``, ``(H, W, 1)``, BGR, BGRA; uint8 or uint16) -> uint8 BGR."""
    img = np.asarray(img)
    if img.size == 0 or img.ndim not in (2, 3):
        raise InputError(f"empty or malformed image array of shape {img.shape}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.shape[2] != 3:
        raise InputError(f"unsupported number of channels: {img.shape[2]}")
    return np.ascontiguousarray(img)


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` into uint8 BGR, or raise :class:`InputError` with a message a user can act on."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image")
    data = np.fromfile(str(p), dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{p}: file is empty")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{p}: not a readable image (corrupt or unsupported format)")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise InputError(f"{p}: image is {img.shape[1]}x{img.shape[0]}, over the {MAX_PIXELS:,}-pixel limit")
    return to_bgr(img)


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand folders into their image files (sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out
