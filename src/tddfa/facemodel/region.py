"""Derive the face region (no neck, no ears) and a UV parameterisation from the full BFM.

The rule is two anatomical cutting planes defined by the model's own 68 landmarks on the mean shape:
  * a *jaw plane* through the chin (landmark 8) and the two jaw corners (4 and 12), moved down by
    4 % of the face height (brow-to-chin) so the chin's underside stays: removes the neck;
  * an *ear plane*, the vertical plane facing the camera through the contour's ear-side ends
    (landmarks 0 and 16), moved back by 2 % of the face height: removes the ears and the back of the head.
On the BFM this keeps 38,834 of 53,215 vertices (the reference's hand-made region keeps 38,365; 98 % of
those are in ours). Every landmark lies inside.
"""
from __future__ import annotations

import numpy as np

JAW_MARGIN = 0.04
EAR_MARGIN = 0.02


def face_region_mask(mean: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Boolean ``(V,)`` mask of the face region of a mean shape ``(V, 3)`` with 68 ``keypoints``."""
    lm = mean[keypoints]
    height = lm[17:27, 1].mean() - lm[8, 1]
    chin, jaw_l, jaw_r = lm[8], lm[4], lm[12]
    normal = np.cross(jaw_l - chin, jaw_r - chin)
    normal /= np.linalg.norm(normal)
    if normal[1] < 0:  # point up, into the face
        normal = -normal
    above_jaw = (mean - chin) @ normal >= -JAW_MARGIN * height
    before_ears = mean[:, 2] >= lm[[0, 16], 2].mean() - EAR_MARGIN * height
    return above_jaw & before_ears


def restrict_mesh(mask: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the triangles whose three vertices are in ``mask``; return ``(old_index_of_new, triangles)``."""
    keep_idx = np.flatnonzero(mask)
    remap = np.full(mask.shape[0], -1, np.int64)
    remap[keep_idx] = np.arange(keep_idx.size)
    tri = remap[triangles]
    tri = tri[(tri >= 0).all(axis=1)]
    return keep_idx, tri.astype(np.int32)


def orient_outward(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Flip the winding if most triangles face away from +z (the viewer), so normals point outward."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    nz = np.cross(b - a, c - a)[:, 2]
    return triangles if (nz > 0).sum() >= (nz < 0).sum() else triangles[:, [0, 2, 1]].copy()


def cylindrical_uv(vertices: np.ndarray) -> np.ndarray:
    """UV ``(V, 2)`` in [0, 1] by a cylindrical projection about the vertical axis of the head.

    The axis passes behind the face at the centre of the fitted x-z circle, so the angle grows
    monotonically from ear to ear; u is that angle and v the height, both scaled to fill [0, 1]
    with equal texel density (the face keeps its aspect ratio in the texture).
    """
    x, y, z = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    # least-squares circle in the x-z plane: x^2 + z^2 = 2 a x + 2 b z + c
    A = np.stack([2 * x, 2 * z, np.ones_like(x)], 1).astype(np.float64)
    sol, *_ = np.linalg.lstsq(A, (x.astype(np.float64) ** 2 + z.astype(np.float64) ** 2), rcond=None)
    cx, cz = sol[0], sol[1]
    radius = np.sqrt(sol[2] + cx ** 2 + cz ** 2)
    theta = np.arctan2(x - cx, z - cz)  # 0 at the front
    u = theta * radius  # arc length, same units as y
    v = y.astype(np.float64)
    span = max(u.max() - u.min(), v.max() - v.min())
    uu = (u - (u.max() + u.min()) / 2) / span + 0.5
    vv = (v - (v.max() + v.min()) / 2) / span + 0.5
    return np.stack([uu, vv], 1).astype(np.float32)
