"""``tddfa prepare-data``: build the cached training data (crops + fitted 3DMM labels) from the 300W pack."""
from __future__ import annotations

import argparse

from .options import add_data_option


def _run(args: argparse.Namespace) -> int:
    from ..train.prepare import more_profiles, prepare

    if args.more_profiles:
        path = more_profiles(args.data, args.out, args.profiles, args.seed, split=args.more_profiles,
                             workers=args.workers, log=lambda msg: print(f"prepare-data: {msg}", flush=True))
        print(f"prepare-data: wrote {path}")
        return 0
    summary = prepare(args.data, args.out, profiles=args.profiles, workers=args.workers,
                      video_clips=args.video_clips, video_frames=args.video_frames, seed=args.seed,
                      log=lambda msg: print(f"prepare-data: {msg}", flush=True))
    print(f"prepare-data: done in {summary['seconds']}s -> {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare-data", help="fit 3DMM labels to 300W, synthesise profiled views, cache 120x120 crops")
    add_data_option(p, "--data", "", "the data folder (with 300w/)")
    p.add_argument("--out", default="cache/train", help="output folder for train.npz, val.npz, video_train.npz")
    p.add_argument("--profiles", type=int, default=10, help="synthesised views per train face (0: real + flips only)")
    p.add_argument("--workers", type=int, default=1, help="processes for view synthesis")
    p.add_argument("--video-clips", type=int, default=1, help="synthetic clips per train face (0: none)")
    p.add_argument("--video-frames", type=int, default=4, help="frames per synthetic clip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--more-profiles", choices=["train", "test"],
                   help="only add profiled views: 'train' re-profiles train.npz's faces with --seed into "
                        "profiles_s<seed>.npz (for data.extra); 'test' writes val_profiles.npz from the test split")
    p.set_defaults(func=_run)
