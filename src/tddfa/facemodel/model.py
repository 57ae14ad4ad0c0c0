"""The linear 3D Morphable Model (3DMM) and its reconstruction.

Frames (see docs/FRAMES.md):
  * model frame: the BFM's own coordinates (units of the BFM, ~1e5 across a face, y up, z towards the viewer).
  * the 62 parameters are ``[P (12, row-major 3x4 = [sR | t]), alpha_shp (40), alpha_exp (10)]``;
    ``P`` maps model points to the *camera frame* of the 120x120 crop, where y points up and the
    reference's one-pixel offset still applies (see ``tddfa.geometry.camera``).

Shapes: vertices are ``(N, V, 3)`` (batch, vertex, xyz) everywhere in this package.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_POSE = 12
N_SHAPE = 40
N_EXP = 10
N_PARAMS = N_POSE + N_SHAPE + N_EXP  # 62


def split_params(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(N, 62)`` parameters into camera ``(N, 3, 4)``, shape ``(N, 40)`` and expression ``(N, 10)``."""
    params = np.asarray(params, dtype=np.float32)
    if params.ndim != 2 or params.shape[1] != N_PARAMS:
        raise ValueError(f"params must be (N, {N_PARAMS}), got {params.shape}")
    cam = params[:, :N_POSE].reshape(-1, 3, 4)
    return cam, params[:, N_POSE:N_POSE + N_SHAPE], params[:, N_POSE + N_SHAPE:]


@dataclass(frozen=True, eq=False)
class FaceModel:
    """A linear 3DMM restricted to a face region.

    Attributes:
        mean: ``(V, 3)`` float32, mean shape plus mean expression, model frame.
        basis: ``(3V, 50)`` float32, shape (40) then expression (10) bases; row ``3*v + c``
            is coordinate ``c`` of vertex ``v`` (xyz interleaved), so one mat-vec gives all offsets.
        triangles: ``(T, 3)`` int32, counter-clockwise seen from the front (outward normals +z).
        keypoints: ``(68,)`` int64 vertex indices of the iBUG-68 landmarks.
        uv: ``(V, 2)`` float32 texture coordinates in [0, 1] (v up, OBJ convention).
        param_mean, param_std: ``(62,)`` whitening statistics of the 62 parameters.
        name: a short identifier.
    """

    mean: np.ndarray
    basis: np.ndarray
    triangles: np.ndarray
    keypoints: np.ndarray
    uv: np.ndarray
    param_mean: np.ndarray
    param_std: np.ndarray
    name: str = "bfm"
    _kpt_mean: np.ndarray = field(init=False, repr=False)
    _kpt_basis: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        v = self.mean.shape[0]
        if self.mean.shape != (v, 3) or self.basis.shape != (3 * v, N_SHAPE + N_EXP):
            raise ValueError(f"inconsistent shapes: mean {self.mean.shape}, basis {self.basis.shape}")
        if self.keypoints.shape != (68,):
            raise ValueError(f"keypoints must be (68,), got {self.keypoints.shape}")
        rows = (3 * self.keypoints[:, None] + np.arange(3)).ravel()
        object.__setattr__(self, "_kpt_mean", np.ascontiguousarray(self.mean[self.keypoints]))
        object.__setattr__(self, "_kpt_basis", np.ascontiguousarray(self.basis[rows]))

    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    def shape_model(self, alpha: np.ndarray, *, sparse: bool = False) -> np.ndarray:
        """Model-frame vertices from ``(N, 50)`` coefficients (shape then expression).

        Returns ``(N, 68, 3)`` if ``sparse`` else ``(N, V, 3)``. Cost: one ``(N,50) x (50,3V)`` product.
        """
        alpha = np.asarray(alpha, dtype=np.float32)
        mean, basis = (self._kpt_mean, self._kpt_basis) if sparse else (self.mean, self.basis)
        offs = alpha @ basis.T  # (N, 3V)
        return offs.reshape(alpha.shape[0], -1, 3) + mean

    def reconstruct(self, params: np.ndarray, *, sparse: bool = False) -> np.ndarray:
        """Camera-frame vertices ``(N, V|68, 3)`` from ``(N, 62)`` parameters: ``X = sR @ S + t``."""
        cam, shp, exp = split_params(params)
        pts = self.shape_model(np.concatenate([shp, exp], axis=1), sparse=sparse)
        return np.matmul(pts, cam[:, :, :3].transpose(0, 2, 1)) + cam[:, None, :, 3]

    def whiten(self, params: np.ndarray) -> np.ndarray:
        return (np.asarray(params, np.float32) - self.param_mean) / self.param_std

    def unwhiten(self, out: np.ndarray) -> np.ndarray:
        return np.asarray(out, np.float32) * self.param_std + self.param_mean
