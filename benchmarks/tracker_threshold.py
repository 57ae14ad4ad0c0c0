"""Pick the tracking check's threshold for 3-crop alignment on 300W **train** faces (AFW excluded; no test data).

For every STEP-th face: its ROI from the annotated landmarks (as tracking crops), the intact crop and three cut-away
versions (``tddfa.eval.stability.cut_aways``: ROI painted black, noise, or another photo's piece). Signals: the 1-crop check (landmarks vs a shifted,
enlarged re-crop) and the 3-crop check (the two shifted crops of ``FaceAligner(crops=3)``). The re-crop check's
threshold (0.03) sets a false-alarm rate on intact faces; the 3-crop threshold with the same rate is printed, with
how many cut-away faces each catches. Usage: ``python benchmarks/tracker_threshold.py [--step 2]``.
"""
from __future__ import annotations

import argparse

import numpy as np

from tddfa import FaceAligner
from tddfa.eval.stability import cut_aways
from tddfa.geometry.consistency import tracking_signals
from tddfa.geometry.roi import roi_from_landmarks
from tddfa.stages import regress_with_recrop
from tddfa.train.roi_scale import iter_300w
from tddfa.video.tracker import TrackerConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/300w")
    ap.add_argument("--step", type=int, default=2)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    one = FaceAligner(model=args.model, detector=lambda im: np.zeros((0, 5)), crops=1)
    three = FaceAligner(model=args.model, detector=lambda im: np.zeros((0, 5)), crops=3)
    rng = np.random.default_rng(0)
    faces = iter_300w(args.data, "train", args.step)
    n = next(faces)
    sig = {k: {"recrop": [], "pair": []} for k in ("face", "black", "noise", "background")}
    prev = None
    for k, (img, pts) in enumerate(faces):
        roi = roi_from_landmarks(pts[None])
        # the previous photo's top-left corner (hair, background) stretched over the face
        cuts = cut_aways(img, roi[0], rng, prev[:64, :64] if prev is not None else img[:64, :64])
        if prev is None:
            cuts.pop("background", None)
        prev = img
        for name, im in cuts.items():
            _, lm, lm2 = regress_with_recrop(one.regressor, one.face_model, im, roi, k)
            sig[name]["recrop"].append(tracking_signals(lm[..., :2], roi, lm2[..., :2])["disagreement"][0])
            sig[name]["pair"].append(three.align(im, rois=roi)[0].disagreement)
    thr = TrackerConfig().max_disagreement
    face_r, face_p = np.array(sig["face"]["recrop"]), np.array(sig["face"]["pair"])
    fa = float((face_r > thr).mean())
    t_pair = float(np.quantile(face_p, 1 - fa)) if fa > 0 else float(face_p.max())
    print(f"{n} train faces (every {args.step}th, AFW excluded)")
    print(f"re-crop check at {thr}: false alarms on intact faces {100 * fa:.2f} %")
    print(f"3-crop check, same false-alarm rate: threshold {t_pair:.4f} (intact faces: median {np.median(face_p):.4f})")
    for name in ("black", "noise", "background"):
        r, p = np.array(sig[name]["recrop"]), np.array(sig[name]["pair"])
        print(f"  {name:6s} caught: re-crop at {thr} {100 * np.mean(~(r <= thr)):.1f} %, 3-crop at {thr} "
              f"{100 * np.mean(~(p <= thr)):.1f} %, 3-crop at {t_pair:.4f} {100 * np.mean(~(p <= t_pair)):.1f} %")


if __name__ == "__main__":
    main()
