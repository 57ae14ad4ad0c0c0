"""``tddfa batch INPUT... --out DIR [-o KIND...]``: a resumable batch job, local or on Ray (docs/batch.md).

The engine lives in :mod:`tddfa.batch`; this module parses options, builds the worker spec and prints the
summary. Exit codes: 0 every item succeeded (items without faces included), 1 at least one item failed
(``DIR/errors.jsonl``), 2 usage (also: ``DIR`` holds a job made with other options), 130 interrupted (re-run
to resume); other errors as docs/errors.md.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

from ..errors import INTERRUPTED_EXIT_CODE, UsageError
from ..io.writers import ALL_KINDS, check_extras, check_kinds, prepare_out_dir
from .image import _make_aligner, add_aligner_options, aligner_option_names, split_kinds
from .options import count

FAILED_EXIT_CODE = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="resumable batch job over folders, globs and manifests -> faces.parquet (local or Ray)",
        description="Align every image (and every --every-th video frame) of the inputs; write faces.parquet, "
                    "errors.jsonl and the requested per-item outputs below --out, mirroring the input paths. "
                    "Re-running the same command resumes. See docs/batch.md.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="folders (recursive), quoted globs, files, or manifests (.txt, .csv/.jsonl/.parquet with a "
                        "'path' column)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (also the job's ledger)")
    p.add_argument("-o", "--output", dest="kinds", nargs="+", default=None, metavar="KIND",
                   help=f"per-item files to write as `tddfa IMAGE -o KIND` does (default: none); any of: "
                        f"{' '.join(ALL_KINDS)}")
    p.add_argument("--every", type=count(1), default=1, metavar="N", help="videos: align every N-th frame (default 1)")
    p.add_argument("--vertices", action="store_true", help="also write dense vertices to DIR/vertices.parquet")
    p.add_argument("--dense", action="store_true", help="-o json: also write dense vertices in each JSON")
    p.add_argument("--workers", type=count(1), default=None, metavar="N",
                   help="worker processes, each with its own models (default 1; with --ray ADDRESS: the cluster's "
                        "CPUs over --threads)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: no ADDRESS starts a local cluster of --workers CPUs; 'auto' or HOST:PORT joins "
                        "one (pip install 'tddfa[ray]')")
    p.add_argument("--retry-failed", action="store_true", help="process the items of errors.jsonl again")
    p.add_argument("--quiet", action="store_true", help="no progress bar: one progress line every 10 s")
    add_aligner_options(p)
    p.set_defaults(func=run)


def _is_address(value: str) -> bool:
    return value in ("local", "auto") or value.startswith("ray://") or (":" in value and not os.path.exists(value))


def run(args: argparse.Namespace) -> int:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError("tddfa batch needs pyarrow: pip install 'tddfa[batch]'") from None
    from ..batch.inputs import check_inputs
    from ..batch.job import run_job
    from ..batch.worker import WorkerSpec

    kinds, inputs = split_kinds(args.kinds, args.inputs)
    if args.ray is not None and not _is_address(args.ray):  # `--ray photos/`: the path is an input
        inputs, args.ray = [args.ray, *inputs], "local"
    if not inputs:
        raise UsageError("the following arguments are required: INPUT (see 'tddfa batch --help')")
    kinds = list(dict.fromkeys(kinds))
    check_kinds(kinds)
    check_extras(kinds)
    check_inputs(inputs)
    out_dir = prepare_out_dir(args.out, hint=" (--out names the output folder)")
    model_args = argparse.Namespace(**{k: getattr(args, k) for k in aligner_option_names()})
    settings = {"inputs": [os.path.abspath(s) for s in inputs], "kinds": kinds, "every": args.every,
                "vertices": args.vertices, "dense": args.dense,
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(model_args).items() if k != "threads"}}
    spec = WorkerSpec(make_aligner=functools.partial(_make_aligner, model_args), out_dir=str(out_dir), kinds=kinds,
                      every=args.every, vertices=args.vertices, dense_json=args.dense, max_faces=args.max_faces)
    if args.ray is not None:
        from ..batch.ray_engine import RayEngine, import_ray

        import_ray()
        engine = RayEngine(spec, address=args.ray, workers=args.workers, threads=args.threads)
    else:
        from ..batch.local import LocalEngine

        engine = LocalEngine(spec, workers=args.workers or 1)
    summary = run_job(inputs, out_dir, engine, settings, retry_failed=args.retry_failed, vertices=args.vertices,
                      quiet=args.quiet)
    for note in summary.notes:
        print(f"tddfa: note: {note}", file=sys.stderr)
    if not summary.complete:
        print(f"tddfa: interrupted after {summary.processed} item(s); run the same command again to resume",
              file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    print(summary.line(), file=sys.stderr)
    return FAILED_EXIT_CODE if summary.failed else 0
