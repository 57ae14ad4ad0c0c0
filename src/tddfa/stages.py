"""The pipeline's stages as plain functions, shared by :class:`tddfa.FaceAligner`, the video tracker and the
benchmarks (so a benchmark times what users run):

detections ``(N, 5)`` -> :func:`keep_detections` -> :func:`rois_from_boxes` ``(N, 4)`` -> crop + regress
(:func:`tddfa.runtime.regressor.regress`, ``(N, 62)``; :func:`regress_mirrored` with the mirrored crop,
:func:`regress_three` for three crops per face) ->
:func:`tddfa.reconstruct.reconstruct` (image-frame points) -> :func:`tddfa.face.faces_from_params`.
The face/no-face and tracking checks: :func:`recrop_disagreement`, :func:`regress_with_recrop`.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .checks import usable
from .facemodel import FaceModel
from .facemodel.mirror import mirror_params, model_mirror
from .geometry import crop_faces, roi_from_box, roi_from_landmarks
from .geometry.camera import reframe_params
from .geometry.consistency import pair_rois, recrop_rois, tracking_signals
from .reconstruct import reconstruct
from .runtime.regressor import Regressor, regress
from .runtime.registry import RegressorSpec


def keep_detections(dets: np.ndarray, shape: tuple[int, ...], max_faces: int | None = None) -> np.ndarray:
    """Detector rows ``(N, 5)`` that are usable boxes in an image of ``shape`` (degenerate ones are no faces),
    the ``max_faces`` largest when given."""
    dets = dets[usable(dets[:, :4], shape)]
    if max_faces is not None and len(dets) > max_faces:
        area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
        dets = dets[np.argsort(-area)[:max_faces]]
    return dets


def rois_from_boxes(boxes: np.ndarray, spec: RegressorSpec, detector: Callable | None = None) -> np.ndarray:
    """Square crop ROIs ``(N, 4)`` from boxes ``(N, 4)`` in the convention of ``detector``: its own calibration
    against landmark ROIs (``box_to_roi``) for a regressor trained on them, else the regressor's
    ``roi_box_scale`` with 3DDFA_V2's rule."""
    cal = getattr(detector, "box_to_roi", None) if spec.landmark_rois else None
    if cal is not None:
        return roi_from_box(boxes, scale=cal[0], shift=cal[1])
    return roi_from_box(boxes, scale=spec.roi_box_scale)


def refine_rois(landmarks: np.ndarray, rois: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """ROIs ``(N, 4)`` of the faces' own landmarks ``(N, 68, 2)``; a wild regression (a false box at the border)
    whose ROI is unusable in an image of ``shape`` keeps its crop ``rois`` ``(N, 4)``."""
    new = roi_from_landmarks(landmarks)
    wild = ~usable(new, shape)
    new[wild] = np.asarray(rois, np.float64)[wild]
    return new


def regress_mirrored(regressor: Regressor, face_model: FaceModel, image: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Each face regressed from its crop and from the crop mirrored left-right, in one batch: ``(N, 62)`` mean
    parameters in the frame of ``rois`` ``(N, 4)`` (the mirrored face's parameters mapped back by
    :func:`tddfa.facemodel.mirror.mirror_params`)."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    n, size = len(rois), regressor.input_size
    crops = crop_faces(image, rois, size)
    p = regressor(np.concatenate([crops, crops[:, :, ::-1]]))
    r = np.round(rois)
    back = mirror_params(p[n:], model_mirror(face_model), r[:, 2] - r[:, 0], size)
    return ((p[:n] + back) / 2).astype(np.float32)


def regress_three(regressor: Regressor, face_model: FaceModel, image: np.ndarray,
                  rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Three crops per face in one batch (``FaceAligner(crops=3)``): ``(N, 62)`` mean parameters in the frame of
    ``rois`` ``(N, 4)`` and ``(N,)`` the mean landmark distance between the two shifted crops over the ROI side."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    n, size = len(rois), regressor.input_size
    shifted = pair_rois(rois)
    p = regress(regressor, image, np.concatenate([rois, shifted]))
    pa = reframe_params(p[n:2 * n], shifted[:n], rois, size)
    pb = reframe_params(p[2 * n:], shifted[n:], rois, size)
    la, lb = (reconstruct(face_model, q, rois, size=size)[..., :2] for q in (pa, pb))
    disagreement = np.linalg.norm(la - lb, axis=-1).mean(-1) / (rois[:, 2] - rois[:, 0])
    return ((p[:n] + pa + pb) / 3).astype(np.float32), disagreement


def recrop_disagreement(regressor: Regressor, face_model: FaceModel, image: np.ndarray, rois: np.ndarray,
                        landmarks: np.ndarray) -> np.ndarray:
    """``(N,)`` mean distance between faces' ``landmarks`` ``(N, 68, 2)`` from crops ``rois`` ``(N, 4)`` and those of
    a re-crop of each (:func:`tddfa.geometry.consistency.recrop_rois`), over the ROI side: the face/no-face test."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    second = recrop_rois(rois)
    pts = reconstruct(face_model, regress(regressor, image, second), second, size=regressor.input_size)
    return tracking_signals(landmarks, rois, pts[..., :2])["disagreement"]


def regress_with_recrop(regressor: Regressor, face_model: FaceModel, image: np.ndarray, rois: np.ndarray,
                        frame_index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face regressed from ``rois`` ``(N, 4)`` and from its re-crop, all in one network call: parameters
    ``(N, 62)``, landmarks ``(N, 68, 3)`` and the re-crops' landmarks ``(N, 68, 3)`` (image frame). The re-crop
    direction cycles with ``frame_index`` (the video tracker's check)."""
    rois = np.asarray(rois, np.float64).reshape(-1, 4)
    n = len(rois)
    both = np.concatenate([rois, recrop_rois(rois, frame_index)])
    params = regress(regressor, image, both)
    pts = reconstruct(face_model, params, both, size=regressor.input_size)
    return params[:n], pts[:n], pts[n:]
