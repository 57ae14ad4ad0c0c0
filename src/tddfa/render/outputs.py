"""Image outputs by name, for a list of faces: what ``tddfa IMAGE -o KIND`` draws.

``faces`` are result objects with ``landmarks_3d (68, 3)``, ``params (62,)``, ``roi (4,)``,
``pose (3,)`` and, for the dense kinds, ``vertices (V, 3)`` (see :class:`tddfa.api.Face`).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import InputError
from ..facemodel import FaceModel
from ..geometry.crop import INPUT_SIZE
from .draw import draw_landmarks, draw_pose, draw_vertices, pose_box_points
from .maps import UV_SIZE, depth_map, render_depth, render_pncc, render_shaded, uv_texture

# kind -> file extension (photos as JPEG, maps as lossless PNG)
IMAGE_KINDS = {"2d_sparse": ".jpg", "2d_dense": ".jpg", "3d": ".jpg", "depth": ".png", "pncc": ".jpg",
               "uv_tex": ".png", "pose": ".jpg", "composite": ".jpg"}
DENSE_KINDS = {"2d_dense", "3d", "depth", "pncc", "uv_tex"}


def has_dense(model: FaceModel) -> bool:
    return model.triangles.shape[0] > 0


def require_dense(kind: str, model: FaceModel) -> None:
    if not has_dense(model):
        raise InputError(f"output '{kind}' needs a dense face model; model '{model.name}' has only "
                         "68 keypoints (use the default model, or --model with a dense one)")


def _meshes(faces) -> list[np.ndarray]:
    return [np.asarray(f.vertices, np.float32) for f in faces]


def _landmark_model_points(model: FaceModel) -> np.ndarray:
    return np.asarray(model.mean[model.keypoints], np.float32)


def visible_vertices(img_shape, meshes: Sequence[np.ndarray], model: FaceModel, tol: float = 0.02) -> list[np.ndarray]:
    """Per mesh ``(V,)`` bool: the vertex is on screen and not hidden in the z-buffer."""
    h, w = img_shape[:2]
    zbuf = depth_map(meshes, model, h, w)
    out = []
    for v in meshes:
        xi, yi = np.round(v[:, 0]).astype(np.int64), np.round(v[:, 1]).astype(np.int64)
        on = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        z = np.full(len(v), np.inf, np.float32)
        z[on] = zbuf[yi[on], xi[on]]
        span = max(float(np.ptp(v[:, 0])), 1.0)
        out.append(on & (v[:, 2] >= z - tol * span))
    return out


def render_pose(img: np.ndarray, faces, model: FaceModel, input_size: int = INPUT_SIZE) -> np.ndarray:
    pts = _landmark_model_points(model)
    boxes = [pose_box_points(f.params, f.roi, pts, input_size) for f in faces]
    return draw_pose(img, boxes, [f.pose for f in faces])


def uv_tex_image(img: np.ndarray, faces, model: FaceModel, size: int = UV_SIZE) -> np.ndarray:
    """All faces' UV textures side by side, ``(size, size * N, 3)`` (a black square if no face)."""
    texs = uv_texture(img, _meshes(faces), model, size)
    return np.concatenate(texs, axis=1) if texs else np.zeros((size, size, 3), np.uint8)


def composite(img: np.ndarray, faces, model: FaceModel, max_tile_width: int = 960) -> np.ndarray:
    """The default output: landmarks + pose box, shaded mesh, depth and PNCC in a 2x2 grid
    (just the first tile when the model has no dense mesh)."""
    tiles = [render_pose(draw_landmarks(img, [f.landmarks_3d for f in faces]), faces, model)]
    if has_dense(model) and faces:
        meshes = _meshes(faces)
        tiles += [render_shaded(img, meshes, model), render_depth(img, meshes, model),
                  render_pncc(img, meshes, model)]
    h, w = img.shape[:2]
    scale = min(1.0, max_tile_width / w)
    if scale < 1.0:
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        tiles = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]
    if len(tiles) == 1:
        return tiles[0]
    return np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)


def render_kind(kind: str, img: np.ndarray, faces, model: FaceModel, input_size: int = INPUT_SIZE) -> np.ndarray:
    """The image for output ``kind`` (one of :data:`IMAGE_KINDS`), uint8 BGR (or gray-as-BGR)."""
    if kind in DENSE_KINDS:
        require_dense(kind, model)
    if kind == "2d_sparse":
        return draw_landmarks(img, [f.landmarks_3d for f in faces])
    if kind == "pose":
        return render_pose(img, faces, model, input_size)
    if kind == "composite":
        return composite(img, faces, model)
    meshes = _meshes(faces)
    if kind == "2d_dense":
        return draw_vertices(img, meshes, visible_vertices(img.shape, meshes, model) if meshes else None)
    if kind == "3d":
        return render_shaded(img, meshes, model)
    if kind == "depth":
        return render_depth(img, meshes, model)
    if kind == "pncc":
        return render_pncc(img, meshes, model)
    if kind == "uv_tex":
        return uv_tex_image(img, faces, model)
    raise ValueError(f"unknown image output '{kind}'")
