"""Writing small test videos with OpenCV."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: str | Path, frames: list[np.ndarray], fps: float = 25, fourcc: str = "mp4v") -> Path:
    """``frames`` (BGR uint8, one size) into ``path``; no frames gives a file without any (120x160 declared)."""
    h, w = frames[0].shape[:2] if frames else (120, 160)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return Path(path)
