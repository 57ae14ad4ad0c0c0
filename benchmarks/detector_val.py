"""Score detector checkpoints on validation mosaics of held-out 300W **test** faces (never AFW, never AFLW2000-3D).

Two sets: ``frontal``, the training run's own validation (120 mosaics of 300W test crops, seed 1000) and ``turned``,
120 mosaics drawing half their faces from the profiled views of the same test faces (``cache/train/val_profiles.npz``,
made by ``tddfa prepare-data``), so a detector trained on more turned faces is judged on them too. With ``--group``,
a third set ``group`` of 120 group photos of the test faces (``MosaicGenerator(p_group=1)``, seed 3000).

With ``--teacher-boxes NPZ`` (``tddfa train-detector --make-teacher-boxes``) other people's faces in the test crops
are ignored: detections on them are not counted as false alarms.

Usage: ``python benchmarks/detector_val.py CKPT_OR_PTH... [--data-300w DIR] [--profiles NPZ] [--teacher-boxes NPZ]``
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from tddfa.eval.detection import detection_metrics
from tddfa.nets.faceboxes import faceboxes_for
from tddfa.train.detector.data import FacePool, MosaicGenerator, load_300w
from tddfa.train.detector.pools import profile_pool
from tddfa.train.detector.teacher import load_other_faces
from tddfa.train.detector.trainer import detect_batch, drop_ignored, load_weights


def val_sets(data_300w: str, profiles: str, n: int = 120, size: int = 512, others=None,
             group: bool = False) -> dict[str, list]:
    test = load_300w(data_300w, splits=("test",), others=others)
    frontal = MosaicGenerator(test, size, seed=1000)  # = the trainer's validation (seed + 1000)
    prof = profile_pool(profiles, f"{data_300w}/annotations.npz", every=1)
    both = FacePool.concat([test, prof])
    p = np.r_[np.full(len(test), 0.5 / len(test)), np.full(len(prof), 0.5 / len(prof))]
    turned = MosaicGenerator(both, size, seed=2000, face_p=p, n_background=len(test))
    sets = {"frontal": [frontal(i) for i in range(n)], "turned": [turned(i) for i in range(n)]}
    if group:
        gen = MosaicGenerator(test, size, seed=3000, p_group=1.0)
        sets["group"] = [gen(i) for i in range(n)]
    return sets


def score(weights: str, sets: dict[str, list]) -> dict[str, dict]:
    sd = load_weights(weights)
    net = faceboxes_for(sd)  # any of our FaceBoxes architectures
    net.load_state_dict(sd)
    net.eval()
    out = {}
    for name, val in sets.items():
        dets = []
        for i in range(0, len(val), 8):
            dets += detect_batch(net, [v[0] for v in val[i:i + 8]])
        dets = [drop_ignored(d, v[2]) for d, v in zip(dets, val)]
        m = detection_metrics(dets, [v[1] for v in val], 0.5)
        out[name] = {"ap50": m["ap"]["iou_0.5"], "recall50": m["recall"]["iou_0.5"], "dets": m["dets_per_image"]}
    out["mean_ap50"] = float(np.mean([out[k]["ap50"] for k in sets]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--data-300w", default="../shared/data/300w")
    ap.add_argument("--profiles", default="cache/train/val_profiles.npz")
    ap.add_argument("--teacher-boxes", help="ignore other people's faces in the crops (npz of --make-teacher-boxes)")
    ap.add_argument("--group", action="store_true", help="also a third set of group photos")
    args = ap.parse_args()
    torch.set_num_threads(1)
    sets = val_sets(args.data_300w, args.profiles,
                    others=load_other_faces(args.teacher_boxes) if args.teacher_boxes else None, group=args.group)
    for w in args.weights:
        r = score(w, sets)
        print(f"{w}: mean AP50 {r['mean_ap50']:.2f} | " + " | ".join(
            f"{k} AP50 {r[k]['ap50']:.2f} recall50 {r[k]['recall50']:.2f} dets/img {r[k]['dets']:.2f}"
            for k in sets), flush=True)


if __name__ == "__main__":
    main()
