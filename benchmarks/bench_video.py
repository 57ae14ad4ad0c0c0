"""Frames per second of ``tddfa video`` on a 10-second 720p clip with sparse landmarks (a benchmark, not a test).

The clip is built once from a real face clip of ../shared/data/videos (each frame scaled to 720 px high and centred on
a 1280 x 720 canvas, looped to 10 s at 30 fps, written with OpenCV's mp4v encoder) and cached in the temp folder.
Three end-to-end runs are timed, each the whole pipeline (decode, detect on schedule, track with the failure test,
One Euro smoothing, draw, encode):

* ``video``: overlay video out (``-o``);
* ``video+jsonl``: overlay video and JSON lines;
* ``jsonl only``: no drawing or encoding.

Wall-clock frames/s depend on what else runs on the machine; the CPU milliseconds per frame (all threads of this
process) and the load average are printed next to them.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_video.py [--reference DIR] [--model SPEC] [--detector SPEC]``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TDDFA_SHARED", ROOT.parent / "shared" / "data"))


def make_clip(src: Path, out: Path, seconds: float = 10.0, fps: float = 30.0) -> Path:
    if out.exists():
        return out
    cap = cv2.VideoCapture(str(src))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    if not frames:
        sys.exit(f"cannot read {src}")
    w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for k in range(int(seconds * fps)):
        f = frames[k % len(frames)]
        s = 720 / f.shape[0]
        f = cv2.resize(f, (round(f.shape[1] * s), 720), interpolation=cv2.INTER_LINEAR)
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        x0 = (1280 - f.shape[1]) // 2
        canvas[:, x0:x0 + f.shape[1]] = f[:, : 1280]
        w.write(canvas)
    w.release()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(SHARED / "videos" / "liveportrait_driving_d10.mp4"))
    ap.add_argument("--reference", default=str(SHARED / "reference" / "3ddfa_v2"))
    ap.add_argument("--model", default=None, help="regressor (default: the shipped one if any, else the reference)")
    ap.add_argument("--detector", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()

    from tddfa.cli import main as tddfa_main
    from tddfa.errors import ModelNotAvailableError
    from tddfa.runtime.registry import resolve_regressor

    model = args.model
    if model is None:
        try:
            resolve_regressor("default")
            model = "default"
        except ModelNotAvailableError:
            model = f"reference:{args.reference}"
    detector = args.detector or (f"reference:{args.reference}" if model.startswith("reference:") else "default")
    tmp = Path(tempfile.gettempdir()) / "tddfa_bench"
    tmp.mkdir(exist_ok=True)
    clip = make_clip(Path(args.source), tmp / "clip_720p_10s.mp4")
    common = ["--model", model, "--detector", detector, "--threads", str(args.threads), "--quiet"]
    runs = {"video": ["-o", str(tmp / "out.mp4"), "--no-audio"],
            "video+jsonl": ["-o", str(tmp / "out.mp4"), "--jsonl", str(tmp / "out.jsonl"), "--no-audio"],
            "jsonl only": ["--jsonl", str(tmp / "out.jsonl")]}
    n = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    tddfa_main(["video", str(clip), "--jsonl", str(tmp / "warm.jsonl"), "--max-frames", "10", *common])  # warm-up
    results = {"clip": str(clip), "frames": n, "size": "1280x720", "model": model, "detector": detector,
               "threads": args.threads, "overlay": "sparse", "fps": {}}
    for name, extra in runs.items():
        t0, c0 = time.perf_counter(), time.process_time()
        rc = tddfa_main(["video", str(clip), *extra, *common])
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if rc != 0:
            print(f"{name}: tddfa video exited with {rc}", file=sys.stderr)
        results["fps"][name] = round(n / dt, 1)
        results.setdefault("cpu_ms_per_frame", {})[name] = round(1000 * cpu / n, 2)
        print(f"{name:<12} {n} frames in {dt:.2f} s = {n / dt:.1f} frames/s (CPU {1000 * cpu / n:.1f} ms/frame, "
              f"all threads; load average {os.getloadavg()[0]:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
