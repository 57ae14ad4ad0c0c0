"""Regress: face crops -> 62 3DMM parameters (camera 12, shape 40, expression 10), on ONNX Runtime."""
from __future__ import annotations

import numpy as np

from ..geometry import crop_faces, normalize
from .onnx import OnnxRegressor
from .registry import RegressorSpec


class Regressor:
    """ONNX regressor plus its parameter statistics: uint8 crops ``(N, S, S, 3)`` -> params ``(N, 62)``."""

    def __init__(self, spec: RegressorSpec, threads: int = 1):
        self.spec = spec
        self.net = OnnxRegressor(spec.onnx, threads=threads)

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        out = self.net(normalize(crops))
        return out * self.spec.param_std + self.spec.param_mean


def regress(regressor: Regressor, image: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Crop + regress all faces of an image in one batched network call: ROIs ``(N, 4)`` -> float32 ``(N, 62)``
    unwhitened parameters, in the camera frame of each ROI's crop."""
    crops = crop_faces(image, rois, regressor.input_size)
    return regressor(crops).astype(np.float32)
