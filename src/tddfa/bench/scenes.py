"""Synthetic benchmark frames: real face photos pasted on a textured background at a chosen size."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "astronaut.jpg"
SIZES = {"480p": (640, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
# the astronaut's head, (x, y, side) in the 512x512 example: the whole photo also shows a mission patch and a
# torso that detectors flag (3-4 detections in a "1 face" frame); the crop also leaves out the suit's collar,
# which our detector boxes too (score 0.57)
EXAMPLE_HEAD = (133, 16, 190)


def scene(face: np.ndarray, width: int, height: int, n_faces: int = 1, seed: int = 0) -> np.ndarray:
    """A ``(height, width, 3)`` uint8 frame with ``n_faces`` copies of ``face`` in a row.

    Faces are as large as fits (at most 80% of the height); the background is smooth noise so that the
    detector sees texture rather than a flat field.
    """
    rng = np.random.default_rng(seed)
    bg = rng.integers(0, 256, (max(height // 16, 1), max(width // 16, 1), 3), dtype=np.uint8)
    img = cv2.resize(bg, (width, height), interpolation=cv2.INTER_LINEAR)
    if n_faces <= 0:
        return img
    side = int(min(0.8 * height, 0.95 * width / n_faces))
    tile = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    gap = (width - n_faces * side) // (n_faces + 1)
    y = (height - side) // 2
    for i in range(n_faces):
        x = gap + i * (side + gap)
        img[y:y + side, x:x + side] = tile
    return img


def load_face(path: str | Path | None = None) -> np.ndarray:
    """The face photo used in the frames: ``path`` as it is, or by default the head of the package's
    public-domain example image (one face, nothing else a detector could take for one)."""
    from ..io.images import read_image

    if path:
        return read_image(path)
    x, y, side = EXAMPLE_HEAD
    return read_image(EXAMPLE)[y:y + side, x:x + side]
