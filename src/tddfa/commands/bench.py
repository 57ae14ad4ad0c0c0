"""``tddfa bench``: per-stage speed (median, p90) at several thread counts, with ratios to a default-options
ONNX Runtime baseline measured in the same run. Each setting runs in its own process."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .options import REFERENCE_DIR_HELP


def _run(args: argparse.Namespace) -> int:
    from ..bench.runner import format_table, run_bench

    threads = tuple(int(t) for t in args.threads.split(","))
    result = run_bench(reference=args.reference, threads=threads, budget_s=args.budget, regressor=args.model,
                       detector=args.detector, face=args.face, int8=args.int8, rounds=args.rounds, refine=args.refine,
                       fast=args.fast,
                       log=lambda m: print(m, file=sys.stderr))
    print(format_table(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="per-stage speed benchmark (median / p90, 1 and 2 threads, vs a baseline)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--reference", metavar="DIR",
                   help=f"{REFERENCE_DIR_HELP}; here: timed where a shipped model is missing or does not load")
    p.add_argument("--model", help="regressor for the pipeline (default: the shipped one, else --reference)")
    p.add_argument("--detector", help="detector spec (default: the shipped one, else --reference)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds of timing per stage (default 1.0)")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat all settings round-robin; keep each stage's least-disturbed median (shared machines)")
    p.add_argument("--int8", metavar="PACK_300W",
                   help="also time INT8 regressors (static quantization calibrated on this 300W pack's train split)")
    p.add_argument("--refine", type=int, metavar="N",
                   help="the pipelines' re-crops from each face's own landmarks (default: FaceAligner's, 1)")
    p.add_argument("--fast", action="store_true",
                   help="time FaceAligner.fast() (INT8 mb05 + INT8 detector, refine 0) against the FP32 files they "
                        "were made from; regress_ms then reports the INT8 copies")
    p.add_argument("--face", help="face photo pasted into the test frames (default: examples/astronaut.jpg)")
    p.set_defaults(func=_run)
