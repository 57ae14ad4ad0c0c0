"""Reconstruct: regressed parameters and their crop ROIs -> image-frame landmarks or vertices.

The one place that chains the 3DMM (:meth:`tddfa.FaceModel.reconstruct`, camera frame of the crop) with the
crop-to-image mapping (:func:`tddfa.geometry.camera_to_image`); every caller (aligner, tracker, benchmarks,
training data) goes through :func:`reconstruct`.
"""
from __future__ import annotations

import numpy as np

from .facemodel import FaceModel
from .geometry import INPUT_SIZE, camera_to_image


def reconstruct(face_model: FaceModel, params: np.ndarray, rois: np.ndarray, *, sparse: bool = True,
                size: int = INPUT_SIZE) -> np.ndarray:
    """Image-frame points ``(N, 68, 3)`` (``sparse``) or dense vertices ``(N, V, 3)`` from parameters ``(N, 62)``
    regressed from ``size`` x ``size`` crops of the square ``rois`` ``(N, 4)`` (x1, y1, x2, y2 pixels).
    Image frame: x right, y down, z towards the viewer in the same pixel scale."""
    params = np.asarray(params, np.float32).reshape(-1, 62)
    return camera_to_image(face_model.reconstruct(params, sparse=sparse), rois, size)

