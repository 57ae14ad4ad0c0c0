"""Per-vertex normals and Lambertian (directional + ambient) shading.

Frames: vertices in the image frame (x right, y down, z towards the viewer). That frame is a mirror
of a right-handed one, so a triangle whose model-frame normal points outward (+z, towards the viewer)
has ``cross(b - a, c - a)`` pointing *away* from the viewer here; :func:`vertex_normals` takes care.
"""
from __future__ import annotations

import numba
import numpy as np

# light direction (towards the light) in the image frame: from the viewer, slightly up and left
DEFAULT_LIGHT = (-0.3, -0.4, 1.0)


@numba.njit(cache=True, nogil=True)
def _normal_sums(v, tri, dtype):  # pragma: no cover - JIT
    """Per-vertex sums ``(V, 3)`` of the cross products of the vertex's triangles (area-weighted, unnormalised)."""
    n = np.zeros((v.shape[0], 3), dtype)
    for t in range(tri.shape[0]):
        a, b, c = tri[t, 0], tri[t, 1], tri[t, 2]
        ux, uy, uz = v[b, 0] - v[a, 0], v[b, 1] - v[a, 1], v[b, 2] - v[a, 2]
        wx, wy, wz = v[c, 0] - v[a, 0], v[c, 1] - v[a, 1], v[c, 2] - v[a, 2]
        # cross(u, w): its length is twice the area, so the sum is area-weighted
        nx, ny, nz = uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx
        for i in (a, b, c):
            n[i, 0] += nx
            n[i, 1] += ny
            n[i, 2] += nz
    return n


@numba.njit(cache=True, nogil=True)
def _normals(v, tri, flip):  # pragma: no cover - JIT
    n = _normal_sums(v, tri, np.float64)
    out = np.empty((v.shape[0], 3), np.float32)
    for i in range(v.shape[0]):
        ln = np.sqrt(n[i, 0] ** 2 + n[i, 1] ** 2 + n[i, 2] ** 2)
        s = (-1.0 if flip else 1.0) / ln if ln > 0 else 0.0
        out[i, 0], out[i, 1], out[i, 2] = n[i, 0] * s, n[i, 1] * s, n[i, 2] * s
    return out


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray, image_frame: bool = True) -> np.ndarray:
    """Unit area-weighted vertex normals ``(V, 3)`` float32 of a mesh ``(V, 3)``, ``(T, 3)``.

    With ``image_frame`` (y down) the normals of an outward-wound mesh point outward (towards +z
    for a frontal face); otherwise the usual right-handed ``cross(b - a, c - a)`` is used.
    Vertices on no triangle get a zero normal.
    """
    v = np.ascontiguousarray(vertices, np.float32)
    return _normals(v, _index_array(triangles), bool(image_frame))


def _index_array(triangles: np.ndarray) -> np.ndarray:
    """Triangles as contiguous int32 or int64 (as given; other integer types become int64): no copy of a
    model's int32 topology on every frame."""
    tri = np.asarray(triangles)
    if tri.dtype not in (np.int32, np.int64):
        tri = tri.astype(np.int64)
    return np.ascontiguousarray(tri)


@numba.njit(cache=True, nogil=True)
def _lambert(n, lv, color, ambient, diffuse):  # pragma: no cover - JIT
    out = np.empty((n.shape[0], 3), np.float32)
    for i in range(n.shape[0]):
        d = n[i, 0] * lv[0] + n[i, 1] * lv[1] + n[i, 2] * lv[2]
        shade = ambient + diffuse * max(d, 0.0)
        for k in range(3):
            out[i, k] = min(max(shade * color[k], 0.0), 1.0)
    return out


@numba.njit(cache=True, nogil=True)
def _shade(v, tri, flip, lv, ambient, diffuse):  # pragma: no cover - JIT
    """Normals and the Lambert term in one pass: ``(V,)`` float32 ``min(ambient + diffuse * max(n.l, 0), 1)``."""
    n = _normal_sums(v, tri, np.float32)
    out = np.empty(v.shape[0], np.float32)
    for i in range(v.shape[0]):
        ln = np.sqrt(n[i, 0] ** 2 + n[i, 1] ** 2 + n[i, 2] ** 2)
        d = (n[i, 0] * lv[0] + n[i, 1] * lv[1] + n[i, 2] * lv[2]) / ln if ln > 0 else 0.0
        if flip:
            d = -d
        out[i] = min(ambient + diffuse * max(d, 0.0), 1.0)
    return out


def lambert_shade(vertices: np.ndarray, triangles: np.ndarray, light=DEFAULT_LIGHT, ambient: float = 0.35,
                  diffuse: float = 0.65, image_frame: bool = True) -> np.ndarray:
    """Light intensity ``(V,)`` float32 in [0, 1] of a mesh ``(V, 3)``, ``(T, 3)``: what :func:`lambert` of
    :func:`vertex_normals` gives for a white surface, in one pass (for the ``3d`` overlay, tinted later)."""
    lv = np.asarray(light, np.float64)
    lv = lv / np.linalg.norm(lv)
    v = np.ascontiguousarray(vertices, np.float32)
    return _shade(v, _index_array(triangles), bool(image_frame), lv, float(ambient), float(diffuse))


def lambert(normals: np.ndarray, color=(0.85, 0.85, 0.85), light=DEFAULT_LIGHT, ambient: float = 0.35,
            diffuse: float = 0.65) -> np.ndarray:
    """Colours ``(V, 3)`` float32 in [0, 1]: ``color * (ambient + diffuse * max(0, n . l))``."""
    lv = np.asarray(light, np.float64)
    lv = lv / np.linalg.norm(lv)
    n = np.ascontiguousarray(np.asarray(normals, np.float64).reshape(-1, 3))
    return _lambert(n, lv, np.asarray(color, np.float64).reshape(3), float(ambient), float(diffuse))
