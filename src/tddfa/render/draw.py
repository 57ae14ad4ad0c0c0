"""Vector overlays drawn with OpenCV: 68 landmarks, dense vertices, head-pose box and angles.

Points are image-frame ``(N, 2+)`` arrays (x right, y down, pixel centres at integer coordinates).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..geometry import camera_to_image

# iBUG-68 contour groups: (first, last, closed)
LANDMARK_GROUPS = ((0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
                   (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True))
GREEN = (80, 220, 80)
RED = (60, 60, 230)
BLUE = (230, 140, 40)
_SHIFT = 4  # sub-pixel bits for OpenCV drawing


def _face_size(pts: np.ndarray) -> float:
    p = np.asarray(pts)[:, :2]
    return float(max(np.ptp(p[:, 0]), np.ptp(p[:, 1]), 1.0))


def _fix(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts)[..., :2] * (1 << _SHIFT)).astype(np.int32)


def draw_landmarks(img: np.ndarray, landmarks: Sequence[np.ndarray], color=GREEN) -> np.ndarray:
    """``2d_sparse``: each face's 68 landmarks ``(68, 2+)`` as dots joined along the face's contours."""
    out = img.copy()
    for lm in landmarks:
        size = _face_size(lm)
        thick = max(1, int(round(size / 200)))
        radius = max(1.0, size / 120)
        pts = _fix(lm)
        for a, b, closed in LANDMARK_GROUPS:
            cv2.polylines(out, [pts[a:b + 1]], closed, color, thick, cv2.LINE_AA, _SHIFT)
        for p in pts:
            cv2.circle(out, (int(p[0]), int(p[1])), int(radius * (1 << _SHIFT)), RED, -1, cv2.LINE_AA, _SHIFT)
    return out


def draw_vertices(img: np.ndarray, meshes: Sequence[np.ndarray], visible: Sequence[np.ndarray] | None = None,
                  step: int = 6, color=(255, 255, 255)) -> np.ndarray:
    """``2d_dense``: every ``step``-th vertex of each mesh as a one- or two-pixel dot.

    ``visible`` (optional, per mesh ``(V,)`` bool) hides the vertices the z-buffer says are occluded.
    """
    out = img.copy()
    h, w = out.shape[:2]
    for i, v in enumerate(meshes):
        v = np.asarray(v)
        keep = np.zeros(len(v), bool)
        keep[::step] = True
        if visible is not None:
            keep &= visible[i]
        p = np.round(v[keep, :2]).astype(np.int64)
        r = 1 if _face_size(v) > 250 else 0
        for dy in range(r + 1):
            for dx in range(r + 1):
                x, y = p[:, 0] + dx, p[:, 1] + dy
                ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
                out[y[ok], x[ok]] = color
    return out


def pose_box_points(params: np.ndarray, roi: np.ndarray, model_points: np.ndarray, input_size: int = 120
                    ) -> np.ndarray:
    """The 8 corners ``(8, 3)`` (image frame) of the model-frame box around ``model_points`` (M, 3),
    posed by the face's camera (``params[:12]``): rear face first (0-3), then front face (4-7)."""
    lo, hi = model_points.min(axis=0), model_points.max(axis=0)
    c = (lo + hi) / 2
    half = (hi - lo) / 2
    depth = max(half[0], half[1])
    rear = [[c[0] - half[0], c[1] - half[1]], [c[0] + half[0], c[1] - half[1]],
            [c[0] + half[0], c[1] + half[1]], [c[0] - half[0], c[1] + half[1]]]
    z_front, z_rear = hi[2], hi[2] - 2 * depth
    box = np.array([[x, y, z_rear] for x, y in rear] + [[x, y, z_front] for x, y in rear], np.float32)
    cam = np.asarray(params[:12], np.float32).reshape(3, 4)
    pts = box @ cam[:, :3].T + cam[:, 3]
    return camera_to_image(pts[None], np.asarray(roi)[None], input_size)[0]


def draw_pose(img: np.ndarray, boxes3d: Sequence[np.ndarray], poses: Sequence[np.ndarray]) -> np.ndarray:
    """``pose``: each face's posed 3D box (front face red) and its yaw / pitch / roll in degrees."""
    out = img.copy()
    for corners, pose in zip(boxes3d, poses):
        pts = _fix(corners)
        size = _face_size(corners)
        thick = max(1, int(round(size / 150)))
        rear, front = pts[:4], pts[4:]
        cv2.polylines(out, [rear], True, BLUE, thick, cv2.LINE_AA, _SHIFT)
        for a, b in zip(rear, front):
            cv2.line(out, tuple(map(int, a)), tuple(map(int, b)), BLUE, thick, cv2.LINE_AA, _SHIFT)
        cv2.polylines(out, [front], True, RED, thick, cv2.LINE_AA, _SHIFT)
        # three short lines beside the box (left if there is room, else right), outlined for contrast
        lines = [f"{name} {float(a):+.1f}" for name, a in zip(("yaw", "pitch", "roll"), pose)]
        scale = max(0.35, size / 350)
        font = cv2.FONT_HERSHEY_SIMPLEX
        tw = max(cv2.getTextSize(t, font, scale, thick)[0][0] for t in lines)
        th = cv2.getTextSize("Ag", font, scale, thick)[0][1]
        c = np.asarray(corners)
        x = int(c[:, 0].min()) - tw - int(6 * scale)
        if x < 0:
            x = min(int(c[:, 0].max()) + int(6 * scale), out.shape[1] - tw)
        y = max(int(c[:, 1].min()) + th, th + 2)
        for i, text in enumerate(lines):
            org = (max(x, 0), y + i * int(th * 1.6))
            cv2.putText(out, text, org, font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
            cv2.putText(out, text, org, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
