"""Calibrate a regressor's face/no-face threshold (``FaceAligner(verify="auto")``).

``FaceAligner`` drops a detection when the landmarks of a second, shifted and enlarged crop disagree with the
first by more than a threshold (fraction of the ROI side). How much true faces disagree depends on the model (a
better-trained model is more self-consistent, and then also agrees with itself on more non-faces), so each shipped
model stores its own threshold: ``margin`` x the largest disagreement over true faces of the **300W train** split
(AFW excluded; never the evaluation sets), detected by the shipped detector.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..detect.boxes import iou_matrix
from ..errors import InputError
from ..geometry.roi import box_from_landmarks
from .roi_scale import iter_300w

MARGIN = 1.3


def measure_verify_threshold(aligner, data_300w: str | Path, split: str = "train", step: int = 2,
                             margin: float = MARGIN) -> dict:
    """Disagreement statistics of the detected true faces (IoU >= 0.5 with the annotation) and the threshold."""
    faces_300w = iter_300w(data_300w, split, step)
    n = next(faces_300w)  # checks the pack before the aligner is touched
    verify, aligner.verify = aligner.verify, None
    try:
        values, missed = [], 0
        for img, pts in faces_300w:
            faces = aligner(img)
            iou = (iou_matrix(np.stack([f.box for f in faces]).astype(np.float64),
                              box_from_landmarks(pts[None]))[:, 0]
                   if faces else np.zeros(0))
            if not len(iou) or iou.max() < 0.5:
                missed += 1
                continue
            values.append(float(aligner.recrop_disagreement(img, [faces[int(iou.argmax())]])[0]))
    finally:
        aligner.verify = verify
    if not values:
        raise InputError(f"no face of the {n} was detected")
    v = np.asarray(values)
    return {"threshold": round(float(margin * v.max()), 3), "margin": margin, "median": float(np.median(v)),
            "p99": float(np.percentile(v, 99)), "max": float(v.max()), "n_faces": int(len(v)), "missed": int(missed),
            "split": split}


def write_verify_threshold(model_json: str | Path, stats: dict) -> None:
    """Store ``stats["threshold"]`` (and how it was measured) in a shipped model's ``.json``."""
    p = Path(model_json)
    meta = json.loads(p.read_text())
    meta["verify_threshold"] = stats["threshold"]
    meta["verify_threshold_note"] = (
        f"{stats['margin']} x the largest re-crop disagreement of {stats['n_faces']} detected 300W {stats['split']} "
        f"faces (no AFW): median {stats['median']:.3f}, p99 {stats['p99']:.3f}, max {stats['max']:.3f}")
    p.write_text(json.dumps(meta, indent=1) + "\n")
