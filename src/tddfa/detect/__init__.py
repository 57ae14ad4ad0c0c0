"""Face detection on ONNX Runtime (numpy priors, decoding and NMS; no torch at run time).

Detectors: :class:`RetinaFaceDetector` (the default), :class:`FaceBoxesDetector` (ours and 3DDFA_V2's) and
:class:`HaarDetector` (OpenCV's cascade). A spec string becomes one in :func:`tddfa.runtime.registry.load_detector`.
"""
from __future__ import annotations

from .boxes import decode, encode, iou_matrix, nms, vote
from .faceboxes import FaceBoxesDetector, InputPolicy, parse_input_size
from .haar import HaarDetector
from .priors import prior_boxes
from .retinaface import RetinaFaceDetector

__all__ = ["FaceBoxesDetector", "RetinaFaceDetector", "HaarDetector", "InputPolicy", "parse_input_size", "decode",
           "encode", "iou_matrix", "nms", "vote", "prior_boxes"]
