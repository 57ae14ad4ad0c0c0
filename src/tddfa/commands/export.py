"""``tddfa export``: a PyTorch network (ours or a 3DDFA_V2 checkpoint) to ONNX with a dynamic batch dimension.

Regressors (``mb1``, ``mb05``, ``mobilenet_v3``, ``resnet22``) get a sibling ``OUT.json`` with their input
spec and 62-d parameter statistics when those are known (our checkpoints carry them; 3DDFA_V2's come from
``--reference DIR``), so ``FaceAligner(model="OUT.onnx")`` and ``tddfa eval aflw2000 --weights OUT.onnx``
load the result. FaceBoxes exports with dynamic batch, height and width. ``--int8 PACK_300W`` also
quantizes a regressor to INT8 (static, calibrated on the 300W train split; see ``docs/benchmarks.md``).

Examples::

    tddfa export --arch mb05 --reference ../shared/data/reference/3ddfa_v2 -o mb05.onnx
    tddfa export --arch faceboxes --reference ../shared/data/reference/3ddfa_v2 -o faceboxes.onnx
    tddfa export --arch mb1 --weights runs/mb1/best.pth -o mb1.onnx --check
    tddfa export --arch mb05 --reference ../shared/data/reference/3ddfa_v2 --int8 ../shared/data/300w -o mb05_int8.onnx
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelNotAvailableError, require

REGRESSORS = ("mb1", "mb05", "mobilenet_v3", "resnet22")
# file names of 3DDFA_V2's weights inside a reference directory
REFERENCE_FILES = {"mb05": "mb05_120x120.pth", "mb1": "mb1_120x120.pth", "faceboxes": "FaceBoxesProd.pth"}


def _torch():
    require("torch", "export needs PyTorch: pip install 'tddfa[train]'")
    import torch

    return torch


def _weights_path(arch: str, weights: str | None, reference: str | None) -> Path | None:
    if weights:
        p = Path(weights)
        if not p.is_file():
            raise InputError(f"weights file not found: {p}")
        return p
    if reference:
        name = REFERENCE_FILES.get(arch)
        p = Path(reference) / name if name else None
        if p is None or not p.is_file():
            raise ModelNotAvailableError(f"no 3DDFA_V2 weights for {arch} in {reference} "
                                         f"(expected {name or 'none for this architecture'}); use --weights FILE")
        return p
    return None


def _first_problem(exc: Exception) -> str:
    """The first informative line of torch's load_state_dict error (its first line only names the class)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return (lines[1] if len(lines) > 1 else lines[0] if lines else type(exc).__name__)[:200]


def build_regressor(arch: str, weights: Path | None):
    """The network (eval mode) and the sidecar config its checkpoint carries (``None`` for 3DDFA_V2 weights)."""
    torch = _torch()
    from ..nets import create_model
    from ..nets.checkpoint import load_checkpoint

    model = create_model(arch)
    config = None
    if weights is not None:
        ck = torch.load(weights, map_location="cpu", weights_only=False)
        if isinstance(ck, dict) and "config" in ck:
            config = dict(ck["config"])
            if config.get("arch", arch) != arch:
                raise InputError(f"{weights} holds a {config['arch']!r} network, not {arch!r}: "
                                 f"pass --arch {config['arch']}")
        try:
            load_checkpoint(model, weights)
        except RuntimeError as exc:  # missing/unexpected keys or shape mismatch
            raise InputError(f"{weights} does not fit a {arch} network: {_first_problem(exc)}") from None
    return model.eval(), config


def build_faceboxes(weights: Path | None):
    _torch()
    from ..nets.faceboxes import FaceBoxesNet, load_faceboxes

    if weights is None:
        return FaceBoxesNet().eval()
    try:
        return load_faceboxes(weights)
    except RuntimeError as exc:
        raise InputError(f"{weights} does not fit FaceBoxes: {_first_problem(exc)}") from None


def regressor_sidecar(arch: str, config: dict | None, reference: str | None, name: str) -> dict | None:
    """The JSON that ``tddfa.runtime.registry`` reads next to an ``.onnx`` (None when the statistics are unknown)."""
    if config is not None:
        if "param_mean" not in config or "param_std" not in config:
            return None
        return {"name": name, "arch": arch, "input_size": int(config.get("input_size", 120)),
                "param_mean": np.asarray(config["param_mean"], float).tolist(),
                "param_std": np.asarray(config["param_std"], float).tolist(),
                "face_model": config.get("face_model", "bfm")}
    if reference:
        from ..facemodel.provision import safe_unpickle

        stats_file = Path(reference) / "param_mean_std_62d_120x120.pkl"
        if not stats_file.is_file():
            return None
        stats = safe_unpickle(stats_file.read_bytes())
        return {"name": name, "arch": arch, "input_size": 120,
                "param_mean": np.asarray(stats["mean"], float).tolist(),
                "param_std": np.asarray(stats["std"], float).tolist(),
                "face_model": f"reference:{Path(reference).resolve()}"}
    return None


def load_network(arch: str, weights: Path | None):
    """The torch network to export (eval mode) and the config its checkpoint carries (None otherwise)."""
    if arch == "faceboxes":
        return build_faceboxes(weights), None
    if arch not in REGRESSORS:
        raise InputError(f"unknown architecture {arch!r}; choose from {', '.join(REGRESSORS + ('faceboxes',))}")
    return build_regressor(arch, weights)


def export_network(arch: str, out: Path, weights: Path | None = None, reference: str | None = None,
                   opset: int = 17, input_size: int = 120, model=None,
                   config: dict | None = None) -> tuple[Path, dict | None]:
    """Export one network (``model`` with its checkpoint ``config`` if given, else built from ``weights``);
    returns the ONNX path and the sidecar written next to it (or None)."""
    if model is None:
        model, config = load_network(arch, weights)
    if arch == "faceboxes":
        from ..nets.faceboxes import export_faceboxes_onnx

        return export_faceboxes_onnx(model, out, opset=opset), None
    from ..runtime.onnx import export_onnx

    size = int(config.get("input_size", input_size)) if config else input_size
    tmp = out.with_name(out.stem + ".tmp.onnx")
    export_onnx(model, tmp, (1, 3, size, size), opset=opset)
    tmp.replace(out)  # a half-written file never looks like a model
    side = regressor_sidecar(arch, config, reference, out.stem)
    if side is not None:
        out.with_suffix(".json").write_text(json.dumps(side))
    return out, side


def torch_outputs(arch: str, model, x: np.ndarray) -> list[np.ndarray]:
    """What the exported graph should return for input ``x``: ``[params]`` or FaceBoxes' ``[loc, score]``."""
    torch = _torch()
    with torch.no_grad():
        if arch == "faceboxes":
            loc, logits = model(torch.from_numpy(x))
            return [loc.numpy(), torch.softmax(logits, -1)[..., 1].numpy()]
        return [model(torch.from_numpy(x)).numpy()]


def check_export(arch: str, model, onnx_path: Path, n: int = 4, seed: int = 0) -> float:
    """Max abs difference between ONNX Runtime and torch on ``n`` random inputs (a quick self-check)."""
    from ..runtime.onnx import make_session

    rng = np.random.default_rng(seed)
    shape = (n, 3, 240, 320) if arch == "faceboxes" else (n, 3, 120, 120)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    sess = make_session(onnx_path, threads=1)
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    return max(float(np.abs(a - b).max()) for a, b in zip(torch_outputs(arch, model, x), got))


def _run(args: argparse.Namespace) -> int:
    weights = _weights_path(args.arch, args.weights, args.reference)
    if weights is None and not args.random_init:
        raise InputError("give --weights FILE.pth or --reference DIR (or --random-init for an untrained network)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    model, config = load_network(args.arch, weights)
    path, side = export_network(args.arch, out, weights, args.reference, opset=args.opset, model=model,
                                config=config)
    print(f"wrote {path} ({args.arch}, {'weights ' + str(weights) if weights else 'random init'})")
    if side is not None:
        print(f"wrote {path.with_suffix('.json')} (input spec and parameter statistics)")
    elif args.arch != "faceboxes":
        print("note: no parameter statistics known (pass --reference DIR for 3DDFA_V2 weights); no .json written")
    if args.int8:
        if args.arch == "faceboxes":
            raise InputError("--int8 is implemented for the regressors only")
        from ..bench.quantize import quantize_for_cpu

        fp32 = path.with_name(path.stem + ".fp32.onnx")
        path.replace(fp32)
        quantize_for_cpu(fp32, path, args.int8, step=args.calib_step)
        print(f"quantized {path} to INT8 (static, calibrated on every {args.calib_step}th 300W train crop); "
              f"FP32 kept as {fp32}")
    if args.check:
        if args.int8:
            print("note: --check compares FP32 only; INT8 differs from torch by design")
            path = path.with_name(path.stem + ".fp32.onnx")
        diff = check_export(args.arch, model, path)
        print(f"ONNX Runtime vs torch: max abs diff {diff:.2e}")
        if diff >= 1e-4:
            return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a network (regressor or FaceBoxes) to ONNX (needs PyTorch)")
    p.add_argument("--arch", required=True, choices=REGRESSORS + ("faceboxes",), help="network architecture")
    p.add_argument("--weights", metavar="FILE.pth", help="checkpoint: ours or 3DDFA_V2's")
    p.add_argument("--reference", metavar="DIR",
                   help="3DDFA_V2 directory: its mb05 / FaceBoxes weights and 62-d parameter statistics")
    p.add_argument("--random-init", action="store_true", help="export an untrained network (benchmarks, tests)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with torch on random inputs")
    p.add_argument("--int8", metavar="PACK_300W",
                   help="also quantize to INT8 (static), calibrated on the train split of this 300W pack")
    p.add_argument("--calib-step", type=int, default=10, help="use every n-th train crop for calibration")
    p.set_defaults(func=_run)
