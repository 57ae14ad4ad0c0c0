"""The public API: ``FaceAligner`` turns an image into a list of :class:`Face`, composing the stages of
:mod:`tddfa.stages`:

image (H, W, 3 BGR uint8) -> detect ``(N, 5)`` -> roi ``(N, 4)`` -> crop + regress ``(N, 62)``
-> reconstruct (sparse 68 / dense V, image frame) -> pose -> :class:`Face`.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import stages
from .checks import as_array, check_boxes, check_count, check_detections, check_landmarks, is_number
from .errors import InputError, UsageError
from .face import Face
from .face import faces_from_params as _faces_from_params
from .facemodel import FaceModel
from .facemodel.mirror import can_mirror
from .geometry import roi_from_landmarks
from .io.images import read_image, to_bgr
from .runtime import registry
from .runtime.registry import list_models, resolve_regressor
from .runtime.regressor import Regressor
from .runtime.regressor import regress as _regress

__all__ = ["FaceAligner", "Face", "Regressor", "FAST", "list_models", "choose_models"]


# The fastest shipped setting: the INT8 copy of mb05 behind the default detector, crops from the detector box only
# with no mirrored crop (docs/benchmarks.md). AFLW2000-3D 4.635 against the default regressor's 4.493 with one crop
# and 4.411 with the default mirrored crop.
FAST = {"model": "tddfa_mb05_int8", "detector": "default", "refine": 0, "flip": False}


def choose_models(model: str | None = None, detector: str | Callable | None = None, reference: str | Path | None = None,
                  fast: bool = False, refine: int | None = None, ours_refine: int = 1, flip: bool | None = None) -> dict:
    """``FaceAligner`` keywords ``model``, ``detector``, ``refine`` and ``flip`` from the model options every command
    shares.

    ``None`` (or ``"default"``) means not given. ``reference``: 3DDFA_V2's checkpoints in that directory stand in for
    whichever of ``model`` and ``detector`` is not given. ``fast``: :data:`FAST`, refused together with any of the
    others. ``refine``: as given, else 0 for a reference regressor (its own one-pass protocol) and ``ours_refine``
    for ours. ``flip``: as given (``None``: the aligner's default), else ``False`` for a reference regressor."""
    given = {k: v for k, v in (("model", model), ("detector", detector)) if v is not None and v != "default"}
    if fast:
        if given or refine is not None or reference or flip:
            raise UsageError("--fast sets --model, --detector and --refine itself: give either --fast or those")
        return dict(FAST)
    if reference:
        ref = Path(reference)
        if not ref.is_dir():
            raise InputError(f"--reference {ref}: not a directory")
        given = {"model": f"reference:{ref}", "detector": f"reference:{ref}", **given}
    model = given.get("model", "default")
    theirs = str(model).startswith("reference:")
    if refine is None:
        refine = 0 if theirs else ours_refine
    if flip is None and theirs:
        flip = False
    return {"model": model, "detector": given.get("detector", "default"), "refine": int(refine), "flip": flip}


class FaceAligner:
    """Detect faces and regress their 3DMM parameters.

    Args:
        model: regressor spec: ``"default"``, a name of :func:`tddfa.list_models`, a path or ``"reference:DIR"``
            (:func:`tddfa.runtime.registry.resolve_regressor`).
        detector: a detector spec of the same kinds (:func:`tddfa.runtime.registry.load_detector`), or a callable
            ``img -> (N, 5)`` boxes+scores.
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
            box-only pipeline (3DDFA_V2's). With the RetinaFace detector the same validation gives refine 0 / 1 / 2
            / 3: 3.597 / 3.547 / 3.576 / 3.602 % (mean of the two sets).
        flip: also regress each crop mirrored left-right, in the same batch, and answer the mean of the crop's
            parameters and the mirrored ones mapped back (:mod:`tddfa.facemodel.mirror`): one more crop per face
            and regression. ``None`` (default): on with ``crops=1`` and a dense face model (off with ``crops=3`` and
            for 3DDFA_V2's keypoint-only model, as in its own protocol). On the same validation
            (refine 1) it lowers NME from 3.547 % to 3.493 % (300W test 3.053 -> 2.985, profiled views 4.042 ->
            4.002).
    """

    def __init__(self, model: str | Path = "default", detector: str | Callable | None = "default",
                 threads: int = 1, max_faces: int | None = None, face_model: FaceModel | None = None,
                 verify: float | str | None = "auto", crops: int = 1, refine: int = 1, flip: bool | None = None):
        if crops not in (1, 3):
            raise UsageError(f"crops must be 1 or 3, got {crops!r}")
        if not (flip is None or isinstance(flip, (bool, np.bool_))):
            raise UsageError(f"flip must be True, False or None, got {flip!r}")
        if flip and crops != 1:
            raise UsageError("flip applies to crops=1 (crops=3 has its own shifted crops)")
        check_count("refine", refine, 0)
        check_count("threads", threads, 1)
        if max_faces is not None:
            check_count("max_faces", max_faces, 1)
        if not (verify is None or verify == "auto" or (is_number(verify) and np.isfinite(verify) and verify >= 0)):
            raise UsageError(f"verify must be 'auto', None or a number >= 0, got {verify!r}")
        self.crops, self.refine = crops, int(refine)
        self.spec = resolve_regressor(model)
        self.regressor = Regressor(self.spec, threads=threads)
        self.face_model = face_model or self.spec.load_face_model()
        if flip and not can_mirror(self.face_model):
            raise UsageError(f"flip needs a dense face model; {self.face_model.name} has "
                             f"{self.face_model.n_vertices} vertices")
        self.flip = (crops == 1 and can_mirror(self.face_model)) if flip is None else bool(flip)
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
    def detector_spec(self) -> str | Callable | None:
        """The ``detector`` argument as given (a spec string or a callable)."""
        return self._detector_spec

    @property
    def detector(self) -> Callable:
        if self._detector is None:
            self._detector = registry.load_detector(self._detector_spec or "default", threads=self.threads)
        return self._detector

    def __call__(self, image: np.ndarray | str | Path) -> list[Face]:
        img = read_image(image) if isinstance(image, (str, Path)) else to_bgr(image)
        dets = stages.keep_detections(check_detections(self.detect(img)), img.shape, self.max_faces)
        faces = self.align(img, boxes=dets[:, :4], scores=dets[:, 4])
        if self.verify is not None and faces:
            # the re-crop test, whatever ``crops``: the shifted pair's disagreement is a weaker face/no-face signal
            # (on the example image it passes three false boxes that the re-crop drops at the same threshold).
            # It judges the box crops, as its threshold was calibrated: after refinement it passes more false boxes
            keep = self.recrop_disagreement(img, faces) <= self.verify
            faces, dets = [f for f, k in zip(faces, keep) if k], dets[keep]
        for _ in range(self.refine if faces else 0):
            rois = stages.refine_rois(np.stack([f.landmarks_2d for f in faces]), np.stack([f.roi for f in faces]),
                                      img.shape)
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
        return stages.recrop_disagreement(self.regressor, self.face_model, image, np.stack([f.roi for f in faces]),
                                          np.stack([f.landmarks_2d for f in faces]))

    def align(self, image: np.ndarray, boxes: np.ndarray | None = None, rois: np.ndarray | None = None,
              landmarks: np.ndarray | None = None, scores: np.ndarray | None = None) -> list[Face]:
        """Regress faces given detector ``boxes`` ``(N, 4)``, square ``rois`` ``(N, 4)`` or previous ``landmarks``
        ``(N, 68, 2)`` (one face may drop the N axis). Coordinates are pixels, x1 < x2 and y1 < y2, each box at
        least one pixel and overlapping the image; ``scores`` ``(N,)``. Empty inputs give ``[]``; anything else
        raises :class:`InputError` (a ``ValueError``) saying what is wrong."""
        img = to_bgr(image)
        if boxes is None and rois is None and landmarks is None:
            raise UsageError("give boxes, rois or landmarks")
        boxes = check_boxes("boxes", boxes, img.shape)
        rois = check_boxes("rois", rois, img.shape)
        landmarks = check_landmarks(landmarks)
        n = next(len(a) for a in (rois, landmarks, boxes) if a is not None)
        sizes = {k: len(a) for k, a in (("boxes", boxes), ("rois", rois), ("landmarks", landmarks)) if a is not None}
        if scores is not None:
            scores = as_array("scores", scores).reshape(-1)
            sizes["scores"] = len(scores)
        if len(set(sizes.values())) > 1:
            raise InputError("boxes, rois, landmarks and scores must give one row per face; got "
                             + ", ".join(f"{v} {k}" for k, v in sizes.items()))
        if n == 0:
            return []
        if rois is None:
            if landmarks is not None:
                rois = check_boxes("the ROIs of the landmarks", roi_from_landmarks(landmarks), img.shape)
            else:
                rois = self.rois_from_boxes(boxes)
        if boxes is None:
            boxes = rois
        if self.crops == 1:
            params = (stages.regress_mirrored(self.regressor, self.face_model, img, rois) if self.flip
                      else self.regress(img, rois))
            return self.faces_from_params(params, rois, boxes=boxes, scores=scores)
        params, disagreement = self.regress_three(img, rois)
        faces = self.faces_from_params(params, rois, boxes=boxes, scores=scores)
        for f, d in zip(faces, disagreement):
            f.disagreement = float(d)
        return faces

    def rois_from_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Square crop ROIs ``(N, 4)`` from boxes ``(N, 4)`` in the convention of this aligner's detector
        (:func:`tddfa.stages.rois_from_boxes`)."""
        return stages.rois_from_boxes(boxes, self.spec, self.detector)

    def regress_three(self, image: np.ndarray, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Three crops per face (see ``crops``; :func:`tddfa.stages.regress_three`): ``(N, 62)`` mean parameters in
        the frame of ``rois`` ``(N, 4)`` and ``(N,)`` the two shifted crops' disagreement."""
        return stages.regress_three(self.regressor, self.face_model, image, rois)

    def faces_from_params(self, params: np.ndarray, rois: np.ndarray, boxes: np.ndarray | None = None,
                          scores: np.ndarray | None = None, landmarks_3d: np.ndarray | None = None) -> list[Face]:
        """:class:`Face` objects from regressed ``params`` ``(N, 62)`` and their crop ``rois`` ``(N, 4)``
        (:func:`tddfa.face.faces_from_params` with this aligner's face model)."""
        return _faces_from_params(self.face_model, params, rois, boxes=boxes, scores=scores,
                                  landmarks_3d=landmarks_3d, size=self.spec.input_size)

    def regress(self, image: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """All faces of a frame in one batched network call: ``(N, 62)`` unwhitened parameters."""
        return _regress(self.regressor, image, rois)
