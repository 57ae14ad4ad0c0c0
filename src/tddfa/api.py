"""The public API: ``FaceAligner`` turns an image into a list of :class:`Face`.

image (H, W, 3 BGR uint8) -> detect -> roi -> crop (N, 120, 120, 3) -> regress (N, 62)
-> reconstruct (sparse 68 / dense V, image frame) -> pose.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, UsageError
from .facemodel import FaceModel
from .geometry import (
    camera_to_image,
    crop_faces,
    normalize,
    pose_from_camera,
    roi_from_box,
    roi_from_landmarks,
)
from .geometry.camera import reframe_params
from .geometry.consistency import pair_rois, recrop_rois, tracking_signals
from .io.images import read_image, to_bgr
from .runtime.onnx import OnnxRegressor
from .runtime.registry import RegressorSpec, resolve_regressor


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_count(name: str, value: object, low: int) -> None:
    """A whole number >= ``low`` (bools and NaN refused), else :class:`UsageError`."""
    if not (_is_number(value) and np.isfinite(value) and int(value) == value and value >= low):
        raise UsageError(f"{name} must be a whole number >= {low}, got {value!r}")


def _array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array with finite entries, else :class:`InputError` naming ``name``."""
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array, got {type(value).__name__} ({exc})") from None
    if a.size and not np.isfinite(a).all():
        raise InputError(f"{name} contain NaN or infinite values")
    return a


_MAX_REACH = 8  # box coordinates may reach this many image sides beyond the image (crops of a partial face)


def _usable(b: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(N,)`` which boxes ``(N, 4)`` are at least one pixel, not inverted and overlap an image of ``shape``."""
    h, w = shape[:2]
    reach = _MAX_REACH * max(h, w)
    return (np.isfinite(b).all(1) & (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1) & (b[:, 0] < w)
            & (b[:, 1] < h) & (b[:, 2] > 0) & (b[:, 3] > 0) & (np.abs(b) <= reach).all(1))


def _boxes(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """Validated ``(N, 4)`` x1, y1, x2, y2 boxes (None stays None; ``[]`` is ``(0, 4)``)."""
    if value is None:
        return None
    b = _array(name, value)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.shape == (4,):
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        hint = "; detector rows are x1, y1, x2, y2, score: pass dets[:, :4]" if b.ndim == 2 and b.shape[1] == 5 else ""
        raise InputError(f"{name} must have shape (N, 4), x1, y1, x2, y2 per face; got shape {b.shape}{hint}")
    bad = np.flatnonzero(~_usable(b, shape))
    if bad.size:
        i, (x1, y1, x2, y2) = bad[0], b[bad[0]]
        h, w = shape[:2]
        if x2 - x1 < 1 or y2 - y1 < 1:
            why = "is inverted or smaller than one pixel (need x1 < x2, y1 < y2)"
        else:
            why = f"lies outside the {w}x{h} image"
        raise InputError(f"{name}[{i}] = ({x1:g}, {y1:g}, {x2:g}, {y2:g}) {why}")
    return b


def _landmarks(value: object) -> np.ndarray | None:
    """Validated ``(N, 68, 2)`` landmarks (a third coordinate is dropped; ``[]`` is ``(0, 68, 2)``)."""
    if value is None:
        return None
    a = _array("landmarks", value)
    if a.size == 0:
        return np.zeros((0, 68, 2))
    b = a[None] if a.ndim == 2 else a
    if b.ndim != 3 or b.shape[1] != 68 or b.shape[2] not in (2, 3):
        raise InputError(f"landmarks must have shape (N, 68, 2) (the 68-point layout), got shape {a.shape}")
    return b[..., :2]


def _detections(value: object) -> np.ndarray:
    """A detector's output as ``(N, 5)`` float32 rows x1, y1, x2, y2, score."""
    a = np.asarray(value, np.float32)
    if a.size == 0:
        return np.zeros((0, 5), np.float32)
    if a.ndim != 2 or a.shape[1] != 5:
        raise InputError(f"the detector must return (N, 5) rows x1, y1, x2, y2, score; it returned shape {a.shape}")
    return a


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

    @property
    def landmarks_2d(self) -> np.ndarray:
        return self.landmarks_3d[:, :2]

    @property
    def vertices(self) -> np.ndarray:
        """Dense vertices ``(V, 3)`` in the image frame, computed on first access."""
        if self._vertices is None:
            if self._face_model is None or self._face_model.triangles.shape[0] == 0:
                raise InputError("this model has no dense face model (sparse keypoints only)")
            cam = self._face_model.reconstruct(self.params[None])
            self._vertices = camera_to_image(cam, self.roi[None])[0]
        return self._vertices

    def to_dict(self) -> dict:
        yaw, pitch, roll = (float(v) for v in self.pose)
        return {"box": [float(v) for v in self.box], "score": float(self.score),
                "roi": [float(v) for v in self.roi], "params": [float(v) for v in self.params],
                "landmarks_2d": self.landmarks_2d.round(3).tolist(), "landmarks_3d": self.landmarks_3d.round(3).tolist(),
                "pose": {"yaw": yaw, "pitch": pitch, "roll": roll}}


class Regressor:
    """ONNX regressor plus its parameter statistics: uint8 crops ``(N, S, S, 3)`` -> params ``(N, 62)``."""

    def __init__(self, spec: RegressorSpec, threads: int = 1):
        self.spec = spec
        self.net = OnnxRegressor(spec.onnx, threads=threads)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        out = self.net(normalize(crops))
        return out * self.spec.param_std + self.spec.param_mean


# The fastest shipped setting: the INT8 copy of mb05 behind the default detector, crops from the detector box only
# (docs/benchmarks.md). AFLW2000-3D 4.635 against the default regressor's 4.493.
FAST = {"model": "tddfa_mb05_int8", "detector": "default", "refine": 0}


def list_models() -> dict[str, list[str]]:
    """Names accepted as ``model=`` and ``detector=`` specs: ``{"regressors": [...], "detectors": [...]}``, each
    with ``"default"`` first; paths and ``"reference:DIR"`` are accepted too."""
    from .detect import DEFAULT as DEFAULT_DETECTOR, MODELS_DIR

    regs = sorted(p.stem for p in MODELS_DIR.glob("*.json")
                  if p.stem != "default" and p.with_suffix(".onnx").exists() and "param_mean" in p.read_text())
    dets = sorted(p.stem for p in MODELS_DIR.glob("faceboxes*.onnx"))
    return {"regressors": ["default", *regs], "detectors": ["default", DEFAULT_DETECTOR, *dets]}


class FaceAligner:
    """Detect faces and regress their 3DMM parameters.

    Args:
        model: regressor name or path (see :func:`tddfa.runtime.registry.resolve_regressor`).
        detector: ``"default"``, a detector spec string, or a callable ``img -> (N, 5)`` boxes+scores.
        threads: ONNX Runtime intra-op threads per session.
        max_faces: keep at most this many faces (largest first).
        verify: drop detections whose landmarks from two crops disagree by more than this fraction of the ROI
            side (a face/no-face test). ``"auto"``: the model's ``verify_threshold`` if its ``.json`` has one
            (``tddfa calibrate-verify``), else 0.08 (see docs/models.md). ``None`` disables it.
        crops: 1 (default for images): one crop per face (plus ``refine`` re-crops); verify then regresses a shifted,
            enlarged re-crop (3 crops in all with the defaults). 3 (the default of ``tddfa video`` / ``webcam`` and
            of ``tddfa eval stability``): each face is regressed from its ROI and from two copies shifted by +-4 % of
            the side along the diagonal, in one batch; the answer is the mean of the three (in the ROI's frame), and
            the two shifted ones' disagreement (``Face.disagreement``) is the video tracker's check (``verify`` keeps the re-crop test). On the 300W
            test split (``benchmarks/validate_crops.py``) 3 crops lower synthetic jitter from 0.359 % to 0.250 % and
            NME from 2.991 % to 2.973 %, for 50 % more network work than 1 crop + verify.
        refine: after regressing a face from its detector box, crop it again this many times from the ROI of its own
            landmarks (the crop the regressor was trained on, and the one the video tracker uses from frame 2 on)
            and regress again; each pass costs one more regression per face. Default 1: on held-out 300W test faces
            (``benchmarks/validate_refine.py``) it lowered the detected-box pipeline's NME from 3.429 % to 3.212 % (2
            passes: 3.196 %); see docs/models.md. The face/no-face check (``verify``) judges the box crops, before
            refinement, as its threshold was calibrated; refining never changes which faces are kept. 0 gives the
            box-only pipeline (3DDFA_V2's).
    """

    def __init__(self, model: str | Path = "default", detector: str | Callable | None = "default",
                 threads: int = 1, max_faces: int | None = None, face_model: FaceModel | None = None,
                 verify: float | str | None = "auto", crops: int = 1, refine: int = 1):
        if crops not in (1, 3):
            raise UsageError(f"crops must be 1 or 3, got {crops!r}")
        _check_count("refine", refine, 0)
        _check_count("threads", threads, 1)
        if max_faces is not None:
            _check_count("max_faces", max_faces, 1)
        if not (verify is None or verify == "auto" or (_is_number(verify) and np.isfinite(verify) and verify >= 0)):
            raise UsageError(f"verify must be 'auto', None or a number >= 0, got {verify!r}")
        self.crops, self.refine = crops, int(refine)
        self.spec = resolve_regressor(model)
        self.regressor = Regressor(self.spec, threads=threads)
        self.face_model = face_model or self.spec.load_face_model()
        self.threads = threads
        self.max_faces = max_faces
        self.verify = self.spec.verify_threshold if verify == "auto" else verify
        self._detector_spec = detector
        self._detector: Callable | None = detector if callable(detector) else None

    @classmethod
    def fast(cls, **kw) -> "FaceAligner":
        """The fastest shipped setting (:data:`FAST`); other keyword arguments as for the constructor."""
        clash = sorted(set(kw) & set(FAST))
        if clash:
            raise ValueError(f"FaceAligner.fast() sets {', '.join(clash)} itself")
        return cls(**FAST, **kw)

    @property
    def detector(self) -> Callable:
        if self._detector is None:
            from .detect import load_detector

            self._detector = load_detector(self._detector_spec or "default", threads=self.threads)
        return self._detector

    def __call__(self, image: np.ndarray | str | Path) -> list[Face]:
        img = read_image(image) if isinstance(image, (str, Path)) else to_bgr(image)
        dets = _detections(self.detect(img))
        dets = dets[_usable(dets[:, :4], img.shape)]  # a detector's degenerate boxes are no faces
        if self.max_faces is not None and len(dets) > self.max_faces:
            area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
            dets = dets[np.argsort(-area)[: self.max_faces]]
        faces = self.align(img, boxes=dets[:, :4], scores=dets[:, 4])
        if self.verify is not None and faces:
            # the re-crop test, whatever ``crops``: the shifted pair's disagreement is a weaker face/no-face signal
            # (on the example image it passes three false boxes that the re-crop drops at the same threshold).
            # It judges the box crops, as its threshold was calibrated: after refinement it passes more false boxes
            keep = self.recrop_disagreement(img, faces) <= self.verify
            faces, dets = [f for f, k in zip(faces, keep) if k], dets[keep]
        for _ in range(self.refine if faces else 0):
            rois = roi_from_landmarks(np.stack([f.landmarks_2d for f in faces]))
            wild = ~_usable(rois, img.shape)  # a wild regression (a false box at the border) keeps its ROI
            rois[wild] = np.stack([f.roi for f in faces])[wild]
            faces = self.align(img, boxes=dets[:, :4], scores=dets[:, 4], rois=rois)
        return faces

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes ``(N, 5)`` for ``__call__``. With the face/no-face test on, a FaceBoxes detector proposes
        down to its ``verified_threshold``; otherwise its own ``score_threshold`` applies. The shipped detector
        keeps both at 0.5: 0.25 was the best on validation but let more false faces through (docs/models.md)."""
        det = self.detector
        thr = getattr(det, "verified_threshold", None)
        if self.verify is None or thr is None:
            return det(image)
        return det(image, score_threshold=min(thr, det.score_threshold))

    def recrop_disagreement(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """``(N,)`` mean landmark distance between each face and a re-crop of it, over the ROI side."""
        rois = np.stack([f.roi for f in faces]).astype(np.float64)
        second = recrop_rois(rois)
        pts = camera_to_image(self.face_model.reconstruct(self.regress(image, second), sparse=True), second,
                              self.spec.input_size)
        lms = np.stack([f.landmarks_2d for f in faces])
        return tracking_signals(lms, rois, pts[..., :2])["disagreement"]

    def align(self, image: np.ndarray, boxes: np.ndarray | None = None, rois: np.ndarray | None = None,
              landmarks: np.ndarray | None = None, scores: np.ndarray | None = None) -> list[Face]:
        """Regress faces given detector ``boxes`` ``(N, 4)``, square ``rois`` ``(N, 4)`` or previous ``landmarks``
        ``(N, 68, 2)`` (one face may drop the N axis). Coordinates are pixels, x1 < x2 and y1 < y2, each box at
        least one pixel and overlapping the image; ``scores`` ``(N,)``. Empty inputs give ``[]``; anything else
        raises :class:`InputError` (a ``ValueError``) saying what is wrong."""
        img = to_bgr(image)
        if boxes is None and rois is None and landmarks is None:
            raise UsageError("give boxes, rois or landmarks")
        boxes = _boxes("boxes", boxes, img.shape)
        rois = _boxes("rois", rois, img.shape)
        landmarks = _landmarks(landmarks)
        n = next(len(a) for a in (rois, landmarks, boxes) if a is not None)
        sizes = {k: len(a) for k, a in (("boxes", boxes), ("rois", rois), ("landmarks", landmarks)) if a is not None}
        if scores is not None:
            scores = _array("scores", scores).reshape(-1)
            sizes["scores"] = len(scores)
        if len(set(sizes.values())) > 1:
            raise InputError("boxes, rois, landmarks and scores must give one row per face; got "
                             + ", ".join(f"{v} {k}" for k, v in sizes.items()))
        if n == 0:
            return []
        if rois is None:
            if landmarks is not None:
                rois = _boxes("the ROIs of the landmarks", roi_from_landmarks(landmarks), img.shape)
            else:
                rois = self.rois_from_boxes(boxes)
        if boxes is None:
            boxes = rois
        if self.crops == 1:
            return self.faces_from_params(self.regress(img, rois), rois, boxes=boxes, scores=scores)
        params, disagreement = self.regress_three(img, rois)
        faces = self.faces_from_params(params, rois, boxes=boxes, scores=scores)
        for f, d in zip(faces, disagreement):
            f.disagreement = float(d)
        return faces

    def rois_from_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Square crop ROIs ``(N, 4)`` from boxes ``(N, 4)`` in the convention of this aligner's detector: its own
        calibration against landmark ROIs (``box_to_roi``) for a regressor trained on them, else the regressor's
        ``roi_box_scale`` with 3DDFA_V2's rule."""
        cal = getattr(self.detector, "box_to_roi", None) if self.spec.landmark_rois else None
        if cal is not None:
            return roi_from_box(boxes, scale=cal[0], shift=cal[1])
        return roi_from_box(boxes, scale=self.spec.roi_box_scale)

    def regress_three(self, image: np.ndarray, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Three crops per face in one batch (see ``crops``): ``(N, 62)`` mean parameters in the frame of ``rois``
        ``(N, 4)`` and ``(N,)`` the mean landmark distance between the two shifted crops over the ROI side."""
        rois = np.asarray(rois, np.float64).reshape(-1, 4)
        n = len(rois)
        shifted = pair_rois(rois)
        p = self.regress(image, np.concatenate([rois, shifted]))
        pa = reframe_params(p[n:2 * n], shifted[:n], rois, self.spec.input_size)
        pb = reframe_params(p[2 * n:], shifted[n:], rois, self.spec.input_size)
        la, lb = (camera_to_image(self.face_model.reconstruct(q, sparse=True), rois, self.spec.input_size)[..., :2]
                  for q in (pa, pb))
        disagreement = np.linalg.norm(la - lb, axis=-1).mean(-1) / (rois[:, 2] - rois[:, 0])
        return ((p[:n] + pa + pb) / 3).astype(np.float32), disagreement

    def faces_from_params(self, params: np.ndarray, rois: np.ndarray, boxes: np.ndarray | None = None,
                          scores: np.ndarray | None = None, landmarks_3d: np.ndarray | None = None) -> list[Face]:
        """:class:`Face` objects from regressed ``params`` ``(N, 62)`` and their crop ``rois`` ``(N, 4)``.

        ``landmarks_3d`` ``(N, 68, 3)`` (image frame) may be passed when already reconstructed."""
        rois = np.asarray(rois, np.float64).reshape(-1, 4)
        n = rois.shape[0]
        boxes = rois if boxes is None else np.asarray(boxes).reshape(-1, 4)
        if landmarks_3d is None:
            landmarks_3d = camera_to_image(self.face_model.reconstruct(params, sparse=True), rois, self.spec.input_size)
        poses = pose_from_camera(params[:, :12])
        scores = np.ones(n, np.float32) if scores is None else np.asarray(scores, np.float32)
        return [Face(box=np.asarray(boxes[i], np.float32), score=float(scores[i]), roi=rois[i].astype(np.float32),
                     params=params[i], landmarks_3d=landmarks_3d[i], pose=poses[i].astype(np.float32),
                     _face_model=self.face_model) for i in range(n)]

    def regress(self, image: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """All faces of a frame in one batched network call: ``(N, 62)`` unwhitened parameters."""
        crops = crop_faces(image, rois, self.spec.input_size)
        return self.regressor(crops).astype(np.float32)
