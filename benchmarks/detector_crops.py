"""Detector recall on single 300W **test** faces in their own photo context (no pasting), at three scales.

Each 300W crop (256 px, side = 2x the landmark box: the face with its hair, neck and background) is one image, used
as is and downscaled by 0.5 and 0.3 (faces about 128, 64 and 38 px wide). Ground truth is the tight 68-point box, as
in ``tddfa eval detection`` on AFW; recall counts boxes above each detector's own threshold. This separates "finds a
face" from "finds faces in a scene": held-out faces, never AFW or AFLW2000-3D.

Usage: ``python benchmarks/detector_crops.py [SPEC...] [--data-300w DIR]`` (SPEC: ``default``, ``reference:DIR``, a file)
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from tddfa.runtime.registry import load_detector
from tddfa.eval.detection import detection_metrics


def crop_recall(spec: str, data_300w: str, scales=(1.0, 0.5, 0.3)) -> list[dict]:
    det = load_detector(spec)
    ann = np.load(f"{data_300w}/annotations.npz")
    idx = np.flatnonzero(ann["split"] == "test")
    images = [cv2.imread(f"{data_300w}/images/{ann['names'][i]}.jpg") for i in idx]
    rows = []
    for sc in scales:
        dets, gts = [], []
        for img, pts in zip(images, ann["pts68"][idx]):
            if sc != 1.0:
                img = cv2.resize(img, None, fx=sc, fy=sc, interpolation=cv2.INTER_AREA)
                pts = (pts + 0.5) * sc - 0.5  # cv2.resize's pixel-centre rule
            dets.append(det(img))
            gts.append(np.concatenate([pts.min(0), pts.max(0)])[None].astype(np.float32))
        m = detection_metrics(dets, gts, det.score_threshold)
        rows.append({"scale": sc, "face_px": float(np.median([g[0, 2] - g[0, 0] for g in gts])),
                     "recall": m["recall"], "dets_per_image": m["dets_per_image"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=["default"])
    ap.add_argument("--data-300w", default="../shared/data/300w")
    args = ap.parse_args()
    for spec in args.specs:
        for r in crop_recall(spec, args.data_300w):
            print(f"{spec}: scale {r['scale']:.1f} (faces ~{r['face_px']:.0f} px): recall @0.4 "
                  f"{r['recall']['iou_0.4']:.2f} %, @0.5 {r['recall']['iou_0.5']:.2f} %, "
                  f"{r['dets_per_image']:.2f} boxes / image", flush=True)


if __name__ == "__main__":
    main()
