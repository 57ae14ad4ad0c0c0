"""Dense renders of faces over an image: shaded mesh, depth, PNCC and the UV texture.

Every function takes the image ``(H, W, 3)`` uint8 BGR, the faces' dense vertices as a list of
``(V, 3)`` image-frame arrays (x right, y down, z towards the viewer) and the :class:`FaceModel`
that produced them (triangles, mean shape, UV), and renders all faces in one z-buffer, so
overlapping faces occlude each other correctly.
"""
from __future__ import annotations

from collections.abc import Sequence

import functools

import cv2
import numba
import numpy as np

from ..facemodel import FaceModel
from .rasterize import MIN_BAND_ROWS, PARALLEL_LOCK, rasterize, rasterize_box
from .shading import lambert_shade

UV_SIZE = 256


@functools.lru_cache(maxsize=4)  # FaceModel hashes by identity
def _pncc_code(model: FaceModel) -> np.ndarray:
    mean = np.asarray(model.mean, np.float64)
    lo, hi = mean.min(axis=0), mean.max(axis=0)
    code = ((mean - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)
    code.flags.writeable = False
    return code


def pncc_code(model: FaceModel) -> np.ndarray:
    """Normalised Coordinate Code ``(V, 3)`` in [0, 1]: the mean shape's x, y, z, each scaled to [0, 1]
    (computed once per model; read-only)."""
    return _pncc_code(model)


@numba.njit(cache=True, nogil=True, inline="always")
def _blend_row(roi, color, depth, alpha, tint, y):  # pragma: no cover - JIT
    """Row ``y`` of ``roi`` (h, w, 3) uint8 in place: ``(1 - alpha) * roi + alpha * tint * color`` where depth is
    finite (``color`` (h, w, 3 or 1): one channel is a grey level scaled by ``tint`` (3,))."""
    w = depth.shape[1]
    n_c = color.shape[2]
    for x in range(w):
        if depth[y, x] == -np.inf:
            continue
        for k in range(3):
            c = color[y, x, k if n_c == 3 else 0] * tint[k]
            val = (1.0 - alpha) * roi[y, x, k] + alpha * c + 0.5
            roi[y, x, k] = min(max(val, 0.0), 255.0)


@numba.njit(cache=True, nogil=True)
def _blend_serial(roi, color, depth, alpha, tint):  # pragma: no cover - JIT
    for y in range(depth.shape[0]):
        _blend_row(roi, color, depth, alpha, tint, y)


@numba.njit(cache=True, nogil=True, parallel=True)
def _blend_parallel(roi, color, depth, alpha, tint):  # pragma: no cover - JIT
    for y in numba.prange(depth.shape[0]):
        _blend_row(roi, color, depth, alpha, tint, y)


def _blend_kernel(roi, color, depth, alpha, tint) -> None:
    """``roi`` (h, w, 3) uint8 in place: ``(1 - alpha) * roi + alpha * tint * color`` where depth is finite; rows in
    parallel when numba has threads and no other parallel kernel runs (see ``PARALLEL_LOCK``)."""
    if depth.shape[0] >= MIN_BAND_ROWS and numba.get_num_threads() > 1 and PARALLEL_LOCK.acquire(blocking=False):
        try:
            _blend_parallel(roi, color, depth, alpha, tint)
        finally:
            PARALLEL_LOCK.release()
    else:
        _blend_serial(roi, color, depth, alpha, tint)


_NO_TINT = np.ones(3, np.float64)


def _blend_box(img: np.ndarray, color: np.ndarray, depth: np.ndarray, origin: tuple[int, int],
               alpha: float, tint: np.ndarray = _NO_TINT) -> np.ndarray:
    """Alpha-blend a box-sized float colour render ``(h, w, 3 or 1)`` (0..255, BGR; one channel is grey,
    times ``tint`` (3,)) over a copy of ``img`` where covered (``depth`` finite)."""
    out = img.copy()
    h, w = depth.shape
    if h == 0:
        return out
    x0, y0 = origin
    _blend_kernel(out[y0:y0 + h, x0:x0 + w], color, depth, float(alpha), np.asarray(tint, np.float64))
    return out


def render_shaded(img: np.ndarray, meshes: Sequence[np.ndarray], model: FaceModel, alpha: float = 0.6,
                  color=(0.85, 0.85, 0.85)) -> np.ndarray:
    """``3d``: the meshes lit by a directional + ambient light, alpha-blended over ``img``."""
    if not meshes:
        return img.copy()
    # one interpolated channel (the light's intensity, normals and Lambert in one pass), coloured in the blend:
    # a third of the attribute work of interpolating BGR (see docs/benchmarks.md)
    tint = np.clip(np.asarray(color, np.float64), 0.0, 1.0)
    shades = [lambert_shade(v, model.triangles) * np.float32(255.0) for v in meshes]
    buf, depth, origin = rasterize_box(list(meshes), model.triangles, shades, *img.shape[:2])
    return _blend_box(img, buf, depth, origin, alpha, tint)


def render_pncc(img: np.ndarray, meshes: Sequence[np.ndarray], model: FaceModel,
                background: bool = True) -> np.ndarray:
    """``pncc``: each pixel coloured by the PNCC of the surface point it shows (R = x, G = y, B = z)."""
    base = img.copy() if background else np.zeros_like(img)
    if not meshes:
        return base
    code = pncc_code(model)[:, ::-1] * 255.0  # RGB -> BGR for OpenCV images
    h, w = img.shape[:2]
    buf, depth, origin = rasterize_box(list(meshes), model.triangles, np.ascontiguousarray(code), h, w)
    return _blend_box(base, buf, depth, origin, 1.0)


def depth_map(meshes: Sequence[np.ndarray], model: FaceModel, height: int, width: int) -> np.ndarray:
    """Raw z-buffer ``(H, W)`` float32 of the meshes (image-frame z, larger is nearer; -inf empty)."""
    if not meshes:
        return np.full((height, width), -np.inf, np.float32)
    return rasterize(list(meshes), model.triangles, None, height, width)[1]


def render_depth(img: np.ndarray, meshes: Sequence[np.ndarray], model: FaceModel) -> np.ndarray:
    """``depth``: grey depth on black, each face normalised to its own depth range (near = bright)."""
    out = np.zeros_like(img)
    if not meshes:
        return out
    norm = []
    for v in meshes:
        z = np.asarray(v, np.float32)[:, 2]
        norm.append((z - z.min()) / max(float(np.ptp(z)), 1e-6) * 255.0)
    buf, depth, origin = rasterize_box(list(meshes), model.triangles, norm, *img.shape[:2])
    return _blend_box(out, buf, depth, origin, 1.0)


def depth_to_uint16(depth: np.ndarray) -> np.ndarray:
    """Depth ``(H, W)`` -> uint16 for a 16-bit PNG: 0 where empty, 1..65535 from the farthest to the
    nearest covered pixel of the image (linear in z)."""
    out = np.zeros(depth.shape, np.uint16)
    mask = np.isfinite(depth)
    if mask.any():
        z = depth[mask].astype(np.float64)
        span = max(z.max() - z.min(), 1e-6)
        out[mask] = np.round(1 + (z - z.min()) / span * 65534).astype(np.uint16)
    return out


def uv_texture(img: np.ndarray, meshes: Sequence[np.ndarray], model: FaceModel, size: int = UV_SIZE,
               tolerance: float = 0.02, fill_mirror: bool = True) -> list[np.ndarray]:
    """``uv_tex``: each face's texture in the model's UV layout, ``size x size`` uint8 BGR.

    Each texel is a point of the surface (rasterised in UV space, carrying its image-frame x, y, z);
    it takes the image's colour there (bilinear) if that point is visible: not hidden behind
    another part of any face in the z-buffer (the nearest surface within one pixel; ``tolerance``
    is a fraction of the face's size, in z).
    Hidden texels are black, or, with ``fill_mirror``, copied from their left-right mirror texel
    when that one is visible (faces are nearly symmetric and the UV layout is centred on the face).
    """
    if not meshes:
        return []
    height, width = img.shape[:2]
    # nearest surface around each pixel (3x3 min): texels on steep sides, whose z changes by
    # several pixels' worth across one pixel, still compare with their own surface
    zbuf = cv2.erode(depth_map(meshes, model, height, width), np.ones((3, 3), np.uint8))
    uv = np.asarray(model.uv, np.float64)
    # texel (row i, col j) has its centre at u = (j + 0.5) / size, v = 1 - (i + 0.5) / size
    uv_pts = np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5, np.zeros(len(uv))], 1)
    out = []
    for v in meshes:
        v = np.asarray(v, np.float32)
        buf, depth = rasterize(uv_pts, model.triangles, v, size, size)
        inside = np.isfinite(depth)
        mx, my, mz = (np.ascontiguousarray(buf[..., k]) for k in range(3))
        tex = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        xi = np.clip(np.round(mx).astype(np.int64), 0, width - 1)
        yi = np.clip(np.round(my).astype(np.int64), 0, height - 1)
        on_image = (mx >= -0.5) & (mx <= width - 0.5) & (my >= -0.5) & (my <= height - 0.5)
        tol = tolerance * max(float(np.ptp(v[:, 0])), float(np.ptp(v[:, 1])), 1.0)
        visible = inside & on_image & (mz >= zbuf[yi, xi] - tol)
        if fill_mirror:
            mirror = visible[:, ::-1] & inside & ~visible
            tex[mirror] = tex[:, ::-1][mirror]
            visible = visible | mirror
        tex[~visible] = 0
        out.append(tex)
    return out
