"""The result type: one aligned :class:`Face` per detection, built from regressed parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .facemodel import FaceModel
from .geometry import INPUT_SIZE, pose_from_camera
from .reconstruct import reconstruct


@dataclass
class Face:
    """One aligned face. Image frame: x right, y down, pixels; z towards the viewer (same scale)."""

    box: np.ndarray  # (4,) x1, y1, x2, y2 (detector box, or the ROI when none)
    score: float
    roi: np.ndarray  # (4,) the square crop region used
    params: np.ndarray  # (62,) unwhitened parameters: camera (12), shape (40), expression (10)
    landmarks_3d: np.ndarray  # (68, 3)
    pose: np.ndarray  # (3,) yaw, pitch, roll in degrees
    # landmarks from the two shifted crops (``crops=3``) disagree by this fraction of the ROI side (NaN: not measured)
    disagreement: float = float("nan")
    _face_model: FaceModel | None = field(default=None, repr=False)
    _vertices: np.ndarray | None = field(default=None, repr=False)
    _input_size: int = field(default=INPUT_SIZE, repr=False)

    @property
    def landmarks_2d(self) -> np.ndarray:
        return self.landmarks_3d[:, :2]

    @property
    def vertices(self) -> np.ndarray:
        """Dense vertices ``(V, 3)`` in the image frame, computed on first access."""
        if self._vertices is None:
            if self._face_model is None or self._face_model.triangles.shape[0] == 0:
                raise InputError("this model has no dense face model (sparse keypoints only)")
            self._vertices = reconstruct(self._face_model, self.params[None], self.roi[None], sparse=False,
                                         size=self._input_size)[0]
        return self._vertices

    def to_dict(self) -> dict:
        yaw, pitch, roll = (float(v) for v in self.pose)
        return {"box": [float(v) for v in self.box], "score": float(self.score),
                "roi": [float(v) for v in self.roi], "params": [float(v) for v in self.params],
                "landmarks_2d": self.landmarks_2d.round(3).tolist(), "landmarks_3d": self.landmarks_3d.round(3).tolist(),
                "pose": {"yaw": yaw, "pitch": pitch, "roll": roll}}


def faces_from_params(face_model: FaceModel, params: np.ndarray, rois: np.ndarray, boxes: np.ndarray | None = None,
                      scores: np.ndarray | None = None, landmarks_3d: np.ndarray | None = None,
                      size: int = INPUT_SIZE) -> list[Face]:
    """:class:`Face` objects from regressed ``params`` ``(N, 62)`` and their crop ``rois`` ``(N, 4)``; ``boxes``
    ``(N, 4)`` default to the ROIs, ``scores`` ``(N,)`` to 1. ``landmarks_3d`` ``(N, 68, 3)`` (image frame) may be
    passed when already reconstructed."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    n = rois.shape[0]
    boxes = rois if boxes is None else np.asarray(boxes).reshape(-1, 4)
    if landmarks_3d is None:
        landmarks_3d = reconstruct(face_model, params, rois, sparse=True, size=size)
    poses = pose_from_camera(params[:, :12])
    scores = np.ones(n, np.float32) if scores is None else np.asarray(scores, np.float32)
    return [Face(box=np.asarray(boxes[i], np.float32), score=float(scores[i]), roi=rois[i].astype(np.float32),
                 params=params[i], landmarks_3d=landmarks_3d[i], pose=poses[i].astype(np.float32),
                 _face_model=face_model, _input_size=size) for i in range(n)]
