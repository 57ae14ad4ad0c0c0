"""OpenCV's bundled Haar cascade as a detector (``"haar"``): frontal faces only, box convention not FaceBoxes'; handy
where no detector model is at hand."""
from __future__ import annotations

import cv2
import numpy as np


class HaarDetector:
    """``img (H, W, 3) BGR -> (N, 5)`` x1, y1, x2, y2, score (1.0). Runs on a copy downscaled to ``max_side``."""

    def __init__(self, max_side: int = 640, min_face: int = 24):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load OpenCV's Haar cascade {path}")
        self.max_side, self.min_face = max_side, min_face

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        s = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else img
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        found = self.cascade.detectMultiScale(gray, 1.1, 5, minSize=(self.min_face, self.min_face))
        if len(found) == 0:
            return np.zeros((0, 5), np.float32)
        b = np.asarray(found, np.float32) / s
        # Haar boxes sit higher and tighter than FaceBoxes': enlarge a little so roi_from_box sees a similar box
        cx, cy, side = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2 + 0.05 * b[:, 3], b[:, 2] * 1.05
        return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, np.ones_like(cx)], 1)
