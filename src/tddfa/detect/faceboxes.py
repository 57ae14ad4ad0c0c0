"""FaceBoxes inference on ONNX Runtime: image (any size) -> boxes + scores in image pixels."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..io.images import to_bgr
from ..runtime.onnx import make_session
from .boxes import decode, nms, vote
from .priors import priors_for

BGR_MEAN = (104.0, 117.0, 123.0)
VOTE_FLOOR, VOTE_IOU = 0.05, 0.5  # box voting: candidates above this score, at this IoU with the kept box


def to_blob(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR -> ``(1, 3, H, W)`` float32 minus ``BGR_MEAN``; equal to
    ``cv2.dnn.blobFromImage(img, mean=BGR_MEAN)`` but ~6x faster (one subtraction per plane)."""
    h, w = img.shape[:2]
    blob = np.empty((1, 3, h, w), np.float32)
    for c, plane in enumerate(cv2.split(img)):
        cv2.subtract(plane, BGR_MEAN[c], dst=blob[0, c], dtype=cv2.CV_32F)
    return blob


@dataclass(frozen=True)
class InputPolicy:
    """How an image is resized before the network: downscale only, keeping the aspect, so that
    height <= ``max_height`` and width <= ``max_width`` (``None`` = no limit). 3DDFA_V2 uses 720 x 1080,
    which keeps a 720p frame at ~16 ms of network time on one core; faces smaller than ~20 px at the
    network's scale are below the smallest anchor (32 px) and are missed either way."""

    max_height: int | None = 720
    max_width: int | None = 1080

    @classmethod
    def from_size(cls, size: tuple[int, int]) -> "InputPolicy":
        """The cap ``(W, H)`` as ``parse_input_size`` returns it."""
        return cls(max_height=int(size[1]), max_width=int(size[0]))

    def scale(self, height: int, width: int) -> float:
        s = 1.0
        if self.max_height and height > self.max_height:
            s = self.max_height / height
        if self.max_width and width * s > self.max_width:
            s *= self.max_width / (width * s)
        return s


def parse_input_size(text: str) -> tuple[int, int]:
    """``"WxH"`` (largest network input: width x height, e.g. ``"640x360"``) -> ``(W, H)``; ``ValueError`` otherwise."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"expected WIDTHxHEIGHT (e.g. 640x360), got {text!r}") from None
    if w < 32 or h < 32:
        raise ValueError(f"input size {text!r}: both sides must be at least 32")
    return w, h


class FaceBoxesDetector:
    """``detector(img_bgr uint8 (H, W, 3)) -> (N, 5) float32 [x1, y1, x2, y2, score]`` in image pixels,
    highest score first; ``(0, 5)`` when there is no face. Gray / BGRA inputs are converted with ``to_bgr``.

    ``verified_threshold``: the lower score down to which a caller that checks each box itself (``FaceAligner``
    with its face/no-face test) takes proposals; defaults to ``score_threshold``.

    ``box_voting``: replace each box NMS keeps by the score-weighted mean of the candidates (score > 0.05,
    whatever the threshold, so a box does not depend on it) overlapping it at IoU >= 0.5 (see ``boxes.vote``).
    Off for the reference weights, whose boxes then match 3DDFA_V2's exactly.

    ``flip``: also run the network on the mirrored image and pool both images' candidates before NMS (twice the
    network time).
    """

    def __init__(self, onnx_path: str | Path, threads: int = 1, score_threshold: float = 0.5,
                 nms_threshold: float = 0.3, policy: InputPolicy = InputPolicy(), keep_top_k: int = 750,
                 pre_nms_top_k: int = 5000, name: str = "faceboxes", verified_threshold: float | None = None,
                 box_voting: bool = False, flip: bool = False):
        self.session = make_session(onnx_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.onnx_path = Path(onnx_path)
        self.score_threshold = float(score_threshold)
        self.verified_threshold = float(score_threshold if verified_threshold is None else verified_threshold)
        self.nms_threshold = float(nms_threshold)
        self.box_voting = bool(box_voting)
        self.flip = bool(flip)
        self.policy = policy
        self.keep_top_k = int(keep_top_k)
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.name = name

    def preprocess(self, img: np.ndarray) -> tuple[np.ndarray, float]:
        """-> blob ``(1, 3, h, w)`` float32 (BGR minus mean) and the resize factor applied."""
        h, w = img.shape[:2]
        s = self.policy.scale(h, w)
        if s != 1.0:
            # int() truncation as 3DDFA_V2 does, so boxes match the reference detector exactly
            img = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)))
        return to_blob(img), s

    def candidates(self, loc: np.ndarray, score: np.ndarray, net_hw: tuple[int, int], s: float,
                   floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Decoded boxes ``(M, 4)`` in original pixels and scores ``(M,)`` of the anchors scoring above ``floor``."""
        idx = np.flatnonzero(score > floor)
        if idx.size > self.pre_nms_top_k:
            idx = idx[np.argsort(-score[idx], kind="stable")[: self.pre_nms_top_k]]
        h, w = net_hw
        # decode only the candidates: priors and offsets are per-anchor, so this is exact
        boxes = decode(loc[idx], self.priors(h, w, len(loc))[idx]) * np.array([w, h, w, h], np.float32) / s
        return boxes.astype(np.float32), score[idx].astype(np.float32)

    def select(self, boxes: np.ndarray, sc: np.ndarray, thr: float) -> np.ndarray:
        """NMS (and box voting, if on) over candidates -> ``(N, 5)`` of the kept boxes scoring above ``thr``."""
        above = np.flatnonzero(sc > thr)
        if above.size == 0:
            return np.zeros((0, 5), np.float32)
        # offset=1: inclusive pixel areas as the reference's Fast R-CNN NMS; candidates under ``thr`` only vote
        # (they could not have removed a higher-scoring box in greedy NMS anyway)
        keep = above[nms(boxes[above], sc[above], self.nms_threshold, offset=1.0)][: self.keep_top_k]
        kept = vote(boxes, sc, keep, VOTE_IOU) if self.box_voting else boxes[keep]
        return np.concatenate([kept, sc[keep, None]], 1).astype(np.float32)

    def postprocess(self, loc: np.ndarray, score: np.ndarray, net_hw: tuple[int, int], s: float,
                    score_threshold: float | None = None) -> np.ndarray:
        """Network outputs for one image (``loc (P, 4)``, ``score (P,)``) -> ``(N, 5)`` in original pixels, scores
        above ``score_threshold`` (default: the detector's)."""
        thr = self.score_threshold if score_threshold is None else score_threshold
        return self.select(*self.candidates(loc, score, net_hw, s, self._floor(thr)), thr)

    def priors(self, height: int, width: int, count: int) -> np.ndarray:
        """``(P, 4)`` anchors of a ``height x width`` network input that produced ``count`` outputs."""
        return priors_for(height, width, count)

    def forward(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One network call on ``blob (1, 3, h, w)`` -> offsets ``(P, 4)`` and face scores ``(P,)``."""
        loc, score = self.session.run(None, {self.input_name: blob})
        return loc[0], score[0]

    def _floor(self, thr: float) -> float:
        return min(thr, VOTE_FLOOR) if self.box_voting else thr

    def __call__(self, img: np.ndarray, score_threshold: float | None = None) -> np.ndarray:
        img = to_bgr(img)
        blob, s = self.preprocess(img)
        loc, score = self.forward(blob)
        if not self.flip:
            return self.postprocess(loc, score, blob.shape[2:], s, score_threshold)
        thr = self.score_threshold if score_threshold is None else score_threshold
        b, c = self.candidates(loc, score, blob.shape[2:], s, self._floor(thr))
        loc, score = self.forward(np.ascontiguousarray(blob[..., ::-1]))
        bm, cm = self.candidates(loc, score, blob.shape[2:], s, self._floor(thr))
        bm[:, [0, 2]] = blob.shape[3] / s - bm[:, [2, 0]]  # back from the mirrored image
        return self.select(np.concatenate([b, bm]), np.concatenate([c, cm]), thr)
