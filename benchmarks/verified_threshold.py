"""Choose the detector score down to which ``FaceAligner`` takes proposals when its face/no-face test is on.

Validation only: the two sets of ``detector_val.py`` (mosaics of held-out 300W **test** faces, frontal and turned;
other people's faces in the crops ignored), never AFW or AFLW2000-3D. Each face found by the whole ``FaceAligner``
(detector, alignment, re-crop test) is scored by the box of its 68 predicted landmarks against the face's tight
68-point box; the rule is the threshold with the best F1 at IoU 0.5, averaged over the two sets.

Usage: ``python benchmarks/verified_threshold.py [--model SPEC] [--thresholds 0.5 0.4 ...]`` (needs torch for the sets)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from detector_val import val_sets
from tddfa.api import FaceAligner
from tddfa.runtime.registry import load_detector
from tddfa.eval.detection import detection_metrics
from tddfa.train.detector.data import BOX_MAPPING
from tddfa.train.detector.teacher import load_other_faces
from tddfa.train.detector.trainer import drop_ignored


def tight_boxes(boxes: np.ndarray, mapping=BOX_MAPPING) -> np.ndarray:
    """Detector-style boxes ``(K, 4)`` -> the 68-point boxes they were made from (inverse of
    ``face_box_from_landmarks``)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    wh = (b[:, 2:] - b[:, :2]) / np.array(mapping[2:])
    c = (b[:, :2] + b[:, 2:]) / 2 - np.array(mapping[:2]) * wh
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32)


def score_set(aligner: FaceAligner, val: list) -> dict:
    found, gts = [], []
    for img, boxes, ignore in val:
        faces = aligner(img)
        det = np.array([[*f.box, f.score] for f in faces], np.float32).reshape(-1, 5)
        lm = np.array([[*f.landmarks_2d.min(0), *f.landmarks_2d.max(0), f.score] for f in faces],
                      np.float32).reshape(-1, 5)
        kept = drop_ignored(det, ignore) if len(ignore) else det  # faces on ignored people are not false alarms
        found.append(lm[np.isin(det[:, 0], kept[:, 0])])
        gts.append(tight_boxes(boxes))
    m = detection_metrics(found, gts, 0.0)
    n_gt, n_found = sum(len(g) for g in gts), sum(len(f) for f in found)
    tp = m["recall"]["iou_0.5"] / 100 * n_gt
    return {"recall50": m["recall"]["iou_0.5"], "precision50": 100 * tp / max(n_found, 1),
            "f1": 2 * tp / (n_found + n_gt), "faces_per_image": m["dets_per_image"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--detector", default="default")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1])
    ap.add_argument("--data-300w", default="../shared/data/300w")
    ap.add_argument("--profiles", default="cache/train/val_profiles.npz")
    ap.add_argument("--teacher-boxes", default="cache/detector/teacher_300w.npz")
    args = ap.parse_args()
    others = load_other_faces(args.teacher_boxes) if Path(args.teacher_boxes).exists() else None
    sets = val_sets(args.data_300w, args.profiles, others=others)
    best = None
    for thr in args.thresholds:
        aligner = FaceAligner(model=args.model, detector=load_detector(args.detector, verified_threshold=thr))
        r = {name: score_set(aligner, val) for name, val in sets.items()}
        f1 = float(np.mean([v["f1"] for v in r.values()]))
        print(f"proposals > {thr:.2f}: mean F1 {f1:.4f} | " + " | ".join(
            f"{k} recall {v['recall50']:.2f} precision {v['precision50']:.2f} faces/img {v['faces_per_image']:.2f}"
            for k, v in r.items()), flush=True)
        best = max(best or (f1, thr), (f1, thr))
    print(f"best: {best[1]:.2f} (mean F1 {best[0]:.4f})")


if __name__ == "__main__":
    main()
