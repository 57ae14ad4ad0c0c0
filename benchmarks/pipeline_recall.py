"""AFW recall of the whole pipeline (``FaceAligner``: detector, alignment, face/no-face check), not the detector alone.

A face counts as found when a returned face's box matches its tight 68-point box at IoU >= 0.4 / 0.5; both the
detector's box and the box of the face's own 68 predicted landmarks are scored, with and without the
face/no-face check (``verify``). Test data: report, never tune on it.

Usage: ``python benchmarks/pipeline_recall.py [DETECTOR_SPEC...] [--data DIR] [--refine N]`` (``default``, ``reference:DIR``, a file)
"""
from __future__ import annotations

import argparse

import numpy as np

from tddfa.api import FaceAligner
from tddfa.eval.detection import detection_metrics, load_afw_scenes
from tddfa.io.images import read_image


def pipeline_recall(detector: str, data: str, verify, refine: int | None = None) -> dict[str, dict]:
    paths, gts = load_afw_scenes(data)
    al = FaceAligner(detector=detector, verify=verify, **({} if refine is None else {"refine": refine}))
    boxes, lm_boxes = [], []
    for p in paths:
        faces = al(read_image(p))
        boxes.append(np.array([[*f.box, f.score] for f in faces], np.float32).reshape(-1, 5))
        lm_boxes.append(np.array([[*f.landmarks_2d.min(0), *f.landmarks_2d.max(0), f.score] for f in faces],
                                 np.float32).reshape(-1, 5))
    return {k: detection_metrics(d, gts, 0.0) for k, d in (("detector box", boxes), ("landmark box", lm_boxes))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("detectors", nargs="*", default=["default"])
    ap.add_argument("--data", default="../shared/data/afw-scenes")
    ap.add_argument("--refine", type=int, help="FaceAligner's refine (default: its own, 1)")
    args = ap.parse_args()
    for det in args.detectors:
        for verify in ("auto", None):
            for kind, m in pipeline_recall(det, args.data, verify, args.refine).items():
                print(f"{det}, refine {args.refine if args.refine is not None else 'default'}, verify {'on' if verify else 'off'}, {kind}: recall @0.4 {m['recall']['iou_0.4']:.2f} %, "
                      f"@0.5 {m['recall']['iou_0.5']:.2f} %, {m['dets_per_image']:.2f} faces / image", flush=True)


if __name__ == "__main__":
    main()
