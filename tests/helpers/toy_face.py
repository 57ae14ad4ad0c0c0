"""A small random face model and a camera that keeps its points inside the 120x120 crop (augmentation tests)."""
from __future__ import annotations

import numpy as np

from tddfa.facemodel import FaceModel
from tddfa.geometry import camera_to_image

ROI = np.array([[0, 0, 120, 120]])


def toy_model(rng: np.random.Generator, v: int = 80) -> FaceModel:
    return FaceModel(mean=rng.normal(0, 5e4, (v, 3)).astype(np.float32),
                     basis=rng.normal(0, 1e3, (3 * v, 50)).astype(np.float32),
                     triangles=np.zeros((0, 3), np.int32), keypoints=np.arange(68), uv=np.zeros((v, 2), np.float32),
                     param_mean=np.zeros(62, np.float32), param_std=np.ones(62, np.float32))


def toy_params(rng: np.random.Generator) -> np.ndarray:
    r, _ = np.linalg.qr(rng.normal(size=(3, 3)) + 3 * np.eye(3))
    cam = np.concatenate([4e-4 * r, [[60.0], [62.0], [50.0]]], 1)
    return np.concatenate([cam.ravel(), rng.normal(0, 1, 50)]).astype(np.float32)


def crop_points(fm: FaceModel, p: np.ndarray) -> np.ndarray:
    """The model's 68 keypoints of parameters ``p`` (62,) in crop pixels ``(68, 2)``."""
    return camera_to_image(fm.reconstruct(p[None], sparse=True), ROI)[0]
