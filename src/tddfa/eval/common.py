"""Pieces shared by the ``tddfa eval`` commands: which models to evaluate, and the JSON they write."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_model_args(p: argparse.ArgumentParser, reference_help: str) -> None:
    """The options every ``tddfa eval`` command shares: data, which models, and whether to compare."""
    p.add_argument("--data", default="../shared/data/aflw2000-3d", help="AFLW2000-3D pack folder")
    p.add_argument("--reference", metavar="DIR", help=reference_help)
    p.add_argument("--weights", metavar="FILE", help="evaluate this model (.onnx with .json, or our .pth)")
    p.add_argument("--compare", action="store_true", help="also evaluate the shipped default next to the others")
    p.add_argument("--crops", type=int, choices=(1, 3), default=None,
                   help="crops per face (FaceAligner's crops); default: the setting this benchmark measures for our "
                        "models (images: 1, video: 3), and 1 for --reference (3DDFA_V2's own protocol)")


def refine_for(spec: str, args: argparse.Namespace, ours: int = 1) -> int:
    """``--refine`` if given, else 0 for the reference (its own protocol) and ``ours`` for our models."""
    if getattr(args, "refine", None) is not None:
        return int(args.refine)
    return 0 if str(spec).startswith("reference:") else ours


def crops_for(spec: str, args: argparse.Namespace, ours: int = 1) -> int:
    """``--crops`` if given, else 1 for the reference (its own one-crop protocol) and ``ours`` for our models."""
    if getattr(args, "crops", None):
        return int(args.crops)
    return 1 if str(spec).startswith("reference:") else ours


def regressor_specs(args: argparse.Namespace) -> dict[str, str]:
    """``{display name: model spec}`` from ``--reference``, ``--weights`` and ``--compare``.

    No flag means the shipped default; ``--compare`` adds the default in front of the others."""
    models: dict[str, str] = {}
    if args.reference:
        models["reference-mb05"] = f"reference:{args.reference}"
    if args.weights:
        models[Path(args.weights).stem] = args.weights
    if not models or args.compare:
        models = {"tddfa (default)": "default", **models}
    return models


def write_results(path: str | Path, results: dict[str, dict]) -> None:
    """The first model's results at the top level (the contract keys), all of them under ``models``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(results.values()))
    payload = {**first, "models": results} if len(results) > 1 else first
    p.write_text(json.dumps(payload, indent=2))
