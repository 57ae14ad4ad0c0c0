"""Validation of ``FaceAligner(refine=...)`` on the 300W **test** split (never AFLW2000-3D): NME from *detected* boxes.

Two sets of held-out faces: the 554 300W test crops (256 px, the face with its photo context) and the synthesised
profile views of the same faces (``cache/train/val_profiles.npz``, kind ``profile``; 120 px, padded to 240 px with
replicated borders so the detector sees a face in a frame). For each refine count the whole default pipeline runs
(detector, crop, regression, refine passes, face/no-face check). The face kept is the one whose box best overlaps the
annotated tight 68-point box (IoU >= 0.3); NME = mean 2D landmark error / sqrt(w * h) of that box, in %, over the
faces every setting found (so the settings are compared on the same faces); the faces each setting lost are counted.

Usage: ``python benchmarks/validate_refine.py [--model default] [--refine 0 1 2] [--flip 0 1] [--step 1]``
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from tddfa import FaceAligner
from tddfa.detect import iou_matrix
from tddfa.geometry.roi import box_from_landmarks


def face_sets(data_300w: str, profiles: str, step: int) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{set: [(image BGR, pts68 (68, 2)), ...]}``."""
    ann = np.load(f"{data_300w}/annotations.npz")
    idx = np.flatnonzero(ann["split"] == "test")[::step]
    crops = [(cv2.imread(f"{data_300w}/images/{ann['names'][i]}.jpg"), ann["pts68"][i][:, :2].astype(np.float64))
             for i in idx]
    d = np.load(profiles)
    rows = np.flatnonzero(d["kind"] == "profile")[::step]
    images, landmarks = d["images"], d["landmarks"]
    prof = []
    for i in rows:
        img = images[i]
        pad = img.shape[0] // 2
        prof.append((cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE),
                     landmarks[i].astype(np.float64) + pad))
    return {"300w_test": crops, "300w_test_profiles": prof}


def run(aligner: FaceAligner, faces: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per face: NME % of the best-matching returned face, ``nan`` when none matches."""
    out = np.full(len(faces), np.nan)
    for k, (img, pts) in enumerate(faces):
        found = aligner(img)
        if not found:
            continue
        gt = box_from_landmarks(pts)
        iou = iou_matrix(np.array([f.box for f in found], np.float32), gt.astype(np.float32))[:, 0]
        if iou.max() < 0.3:
            continue
        lm = found[int(iou.argmax())].landmarks_2d
        w, h = gt[0, 2:] - gt[0, :2]
        out[k] = 100 * np.linalg.norm(lm - pts, axis=1).mean() / np.sqrt(w * h)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-300w", default="../shared/data/300w")
    ap.add_argument("--profiles", default="cache/train/val_profiles.npz")
    ap.add_argument("--model", default="default")
    ap.add_argument("--refine", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--flip", type=int, nargs="+", default=[0], choices=(0, 1),
                    help="FaceAligner(flip=...): 1 also regresses each crop mirrored")
    ap.add_argument("--step", type=int, default=1, help="every STEP-th face")
    args = ap.parse_args()
    sets = face_sets(args.data_300w, args.profiles, args.step)
    settings = [(r, f) for r in args.refine for f in args.flip]
    nme = {(s, name): run(FaceAligner(model=args.model, refine=s[0], flip=bool(s[1])), faces)
           for s in settings for name, faces in sets.items()}
    means = {s: [] for s in settings}
    for name, faces in sets.items():
        both = np.all([np.isfinite(nme[s, name]) for s in settings], axis=0)
        for s in settings:
            v = nme[s, name]
            means[s].append(float(v[both].mean()))
            print(f"{name}: refine {s[0]} flip {s[1]}: NME {v[both].mean():.3f} % on the {both.sum()} faces all "
                  f"settings found (median {np.median(v[both]):.3f}); not found {int((~np.isfinite(v)).sum())} of "
                  f"{len(v)}", flush=True)
    for s in settings:
        print(f"refine {s[0]} flip {s[1]}: mean of the sets {np.mean(means[s]):.3f} %")


if __name__ == "__main__":
    main()
