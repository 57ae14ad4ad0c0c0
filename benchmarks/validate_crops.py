"""Validation of ``FaceAligner(crops=...)`` on the 300W **test** split (never AFLW2000-3D): NME and synthetic jitter.

Each face: ROI from its annotated landmarks (``roi_from_landmarks``), 10 frames of the stability protocol's random
similarity transforms (``tddfa.eval.stability``), predictions mapped back; NME and jitter normalised by
sqrt(w * h) of the landmark box. Usage: ``python benchmarks/validate_crops.py [--model default] [--step 1]``.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from tddfa import FaceAligner
from tddfa.eval.stability import apply_affine, random_similarities, sequence_jitter, transform_roi
from tddfa.geometry.roi import roi_from_landmarks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/300w")
    ap.add_argument("--model", default="default")
    ap.add_argument("--step", type=int, default=1, help="every STEP-th test face")
    ap.add_argument("--frames", type=int, default=10)
    args = ap.parse_args()
    ann = np.load(f"{args.data}/annotations.npz")
    idx = np.flatnonzero(ann["split"] == "test")[::args.step]
    aligners = {c: FaceAligner(model=args.model, detector=lambda im: np.zeros((0, 5)), crops=c) for c in (1, 3)}
    res = {c: ([], []) for c in aligners}
    rng = np.random.default_rng(0)
    for i in idx:
        img = cv2.imread(f"{args.data}/images/{ann['names'][i]}.jpg")
        pts = ann["pts68"][i].astype(np.float64)
        wh = pts.max(0) - pts.min(0)
        norm = float(np.sqrt(wh[0] * wh[1]))
        roi = roi_from_landmarks(pts[None])[0]
        mats = random_similarities(rng, args.frames, (roi[:2] + roi[2:]) / 2, norm)
        preds = {c: np.empty((args.frames, 68, 2)) for c in aligners}
        for f, m in enumerate(mats):
            warped = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT)
            inv = cv2.invertAffineTransform(m)
            for c, al in aligners.items():
                face = al.align(warped, rois=transform_roi(roi, m)[None])[0]
                preds[c][f] = apply_affine(face.landmarks_2d.astype(np.float64), inv)
        for c in aligners:
            res[c][0].append(sequence_jitter(preds[c], norm))
            res[c][1].append(100 * np.linalg.norm(preds[c] - pts, axis=-1).mean() / norm)
    for c, (jit, err) in res.items():
        print(f"{args.model} crops={c}: jitter {np.mean(jit):.3f} %  NME {np.mean(err):.3f} %  ({len(jit)} faces x "
              f"{args.frames} frames, 300W test)")


if __name__ == "__main__":
    main()
