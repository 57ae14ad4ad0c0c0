"""Overlays drawn on video frames (on a copy): sparse 68 landmarks, dense vertices, shaded 3D mesh.

``sparse`` is plain OpenCV drawing. ``dense`` and ``3d`` need a dense face model (the BFM; not the reference's
68-point basis) and use the package renderer (``tddfa.render.outputs.render_kind``: occlusion-aware dots, shaded
mesh); if that module is missing they fall back to the simple versions here.
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


def draw_dense(img: np.ndarray, vertices: np.ndarray, colour=(255, 200, 0), step: int = 6) -> None:
    """Every ``step``-th dense vertex ``(V, 3)`` as a dot."""
    v = np.asarray(vertices)[::step, :2]
    h, w = img.shape[:2]
    xy = np.round(v).astype(np.int64)
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    img[xy[ok, 1], xy[ok, 0]] = colour


def _vertex_normals(v: np.ndarray, tri: np.ndarray) -> np.ndarray:
    n = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, tri[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def draw_3d(img: np.ndarray, vertices_list: list[np.ndarray], triangles: np.ndarray, alpha: float = 0.7) -> None:
    """Blend Lambert-shaded meshes (image-frame ``(V, 3)``, shared ``triangles (T, 3)``) over ``img`` in place."""
    if not vertices_list:
        return
    from ..render.rasterize import rasterize

    light = np.array([0.0, 0.0, 1.0])  # from the viewer (+z)
    shades = []
    for v in vertices_list:
        n = _vertex_normals(np.asarray(v, np.float64), triangles)
        n = np.where((n @ light)[:, None] < 0, -n, n)  # either winding
        shades.append(0.25 + 0.75 * np.clip(n @ light, 0, 1)[:, None])
    buf, depth = rasterize(vertices_list, triangles, shades, img.shape[0], img.shape[1])
    mask = np.isfinite(depth)
    grey = np.clip(buf[..., 0] * 230, 0, 255)
    img[mask] = (img[mask] * (1 - alpha) + grey[mask, None] * alpha).astype(np.uint8)


def draw_frame(img: np.ndarray, results, overlay: str = "sparse", face_model=None, show_ids: bool = True
               ) -> np.ndarray:
    """A copy of ``img`` with the overlay of every :class:`~tddfa.video.tracker.TrackResult` in ``results``."""
    if overlay in ("dense", "3d") and results and face_model is not None:
        faces = [r.face for r in results]
        try:
            from ..render.outputs import render_kind
        except ImportError:
            render_kind = None
        if render_kind is not None:
            out = render_kind("2d_dense" if overlay == "dense" else "3d", img, faces, face_model)
        else:
            out = img.copy()
            if overlay == "3d":
                draw_3d(out, [f.vertices for f in faces], face_model.triangles)
            else:
                for f in faces:
                    draw_dense(out, f.vertices)
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
