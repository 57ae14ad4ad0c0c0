"""Overlays drawn on video frames (on a copy): sparse 68 landmarks, dense vertices, shaded 3D mesh.

``sparse`` is plain OpenCV drawing. ``dense`` and ``3d`` need a dense face model (the BFM; not the reference's
68-point basis) and use the package renderer (``tddfa.render.outputs.render_kind``: occlusion-aware dots, shaded
mesh).
"""
from __future__ import annotations

import cv2
import numpy as np

# 68-point contours: (start, end, closed)
CONTOURS = ((0, 17, False), (17, 22, False), (22, 27, False), (27, 31, False), (31, 36, False), (36, 42, True),
            (42, 48, True), (48, 60, True), (60, 68, True))
OVERLAYS = ("sparse", "dense", "3d")


def _colour(track_id: int) -> tuple[int, int, int]:
    """A distinct, stable BGR colour per track id."""
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_sparse(img: np.ndarray, landmarks: np.ndarray, colour=(0, 255, 0), radius: int | None = None) -> None:
    """Draw 68 landmarks ``(68, 2+)`` as contours and dots on ``img`` (modified in place)."""
    pts = np.asarray(landmarks)[:, :2]
    if not np.isfinite(pts).all():
        return
    size = float(np.ptp(pts[:, 0]) + np.ptp(pts[:, 1])) / 2
    thick = max(1, int(round(size / 150)))
    r = radius or max(1, int(round(size / 100)))
    ip = np.round(pts * 16).astype(np.int32)  # 4 fractional bits: sub-pixel drawing
    for a, b, closed in CONTOURS:
        cv2.polylines(img, [ip[a:b]], closed, colour, thick, cv2.LINE_AA, shift=4)
    for p in ip:
        cv2.circle(img, (int(p[0]), int(p[1])), r * 16, colour, -1, cv2.LINE_AA, shift=4)


def draw_frame(img: np.ndarray, results, overlay: str = "sparse", face_model=None, show_ids: bool = True
               ) -> np.ndarray:
    """A copy of ``img`` with the overlay of every :class:`~tddfa.video.tracker.TrackResult` in ``results``."""
    if overlay in ("dense", "3d") and results and face_model is not None:
        faces = [r.face for r in results]
        from ..render.outputs import render_kind  # the numba renderers: loaded for dense overlays only

        out = render_kind("2d_dense" if overlay == "dense" else "3d", img, faces, face_model)
    else:
        out = img.copy()
    for r in results:
        c = _colour(r.track_id)
        if overlay == "sparse":
            draw_sparse(out, r.face.landmarks_2d, c)
        if show_ids:
            x1, y1 = r.face.box[:2]
            cv2.putText(out, f"#{r.track_id}", (int(x1), max(int(y1) - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.6, c, 2, cv2.LINE_AA)
    return out
