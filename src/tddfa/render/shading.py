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
def _normals(v, tri, flip):  # pragma: no cover - JIT
    n = np.zeros((v.shape[0], 3), np.float64)
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
    tri = np.ascontiguousarray(triangles, np.int64)
    return _normals(v, tri, bool(image_frame))


@numba.njit(cache=True, nogil=True)
def _lambert(n, lv, color, ambient, diffuse):  # pragma: no cover - JIT
    out = np.empty((n.shape[0], 3), np.float32)
    for i in range(n.shape[0]):
        d = n[i, 0] * lv[0] + n[i, 1] * lv[1] + n[i, 2] * lv[2]
        shade = ambient + diffuse * max(d, 0.0)
        for k in range(3):
            out[i, k] = min(max(shade * color[k], 0.0), 1.0)
    return out


def lambert(normals: np.ndarray, color=(0.85, 0.85, 0.85), light=DEFAULT_LIGHT, ambient: float = 0.35,
            diffuse: float = 0.65) -> np.ndarray:
    """Colours ``(V, 3)`` float32 in [0, 1]: ``color * (ambient + diffuse * max(0, n . l))``."""
    lv = np.asarray(light, np.float64)
    lv = lv / np.linalg.norm(lv)
    n = np.ascontiguousarray(np.asarray(normals, np.float64).reshape(-1, 3))
    return _lambert(n, lv, np.asarray(color, np.float64).reshape(3), float(ambient), float(diffuse))
