"""One network (a regressor or FaceBoxes; ours or a 3DDFA_V2 checkpoint) to ONNX with a dynamic batch dimension,
with the sibling ``.json`` the model registry reads (``tddfa export``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelNotAvailableError, require
from ..geometry.crop import INPUT_SIZE
from ..runtime.registry import REFERENCE_DETECTOR, REFERENCE_REGRESSOR

REGRESSORS = ("mb1", "mb05", "mobilenet_v3", "resnet22")
# file names of 3DDFA_V2's weights inside a reference directory
REFERENCE_FILES = {"mb05": REFERENCE_REGRESSOR, "mb1": "mb1_120x120.pth", "faceboxes": REFERENCE_DETECTOR}


def _torch():
    require("torch", "export needs PyTorch: pip install 'tddfa[train]'")
    import torch

    return torch


def weights_path(arch: str, weights: str | None, reference: str | None) -> Path | None:
    """The checkpoint to export: ``weights`` if given, else 3DDFA_V2's file for ``arch`` in ``reference``."""
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
        return {"name": name, "arch": arch, "input_size": int(config.get("input_size", INPUT_SIZE)),
                "param_mean": np.asarray(config["param_mean"], float).tolist(),
                "param_std": np.asarray(config["param_std"], float).tolist(),
                "face_model": config.get("face_model", "bfm")}
    if reference:
        from ..facemodel.provision import safe_unpickle

        stats_file = Path(reference) / "param_mean_std_62d_120x120.pkl"
        if not stats_file.is_file():
            return None
        stats = safe_unpickle(stats_file.read_bytes())
        return {"name": name, "arch": arch, "input_size": INPUT_SIZE,
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
                   opset: int = 17, input_size: int = INPUT_SIZE, model=None,
                   config: dict | None = None) -> tuple[Path, dict | None]:
    """Export one network (``model`` with its checkpoint ``config`` if given, else built from ``weights``);
    returns the ONNX path and the sidecar written next to it (or None)."""
    if model is None:
        model, config = load_network(arch, weights)
    if arch == "faceboxes":
        from ..nets.faceboxes import export_faceboxes_onnx

        return export_faceboxes_onnx(model, out, opset=opset), None
    from .onnx import export_onnx

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
    shape = (n, 3, 240, 320) if arch == "faceboxes" else (n, 3, INPUT_SIZE, INPUT_SIZE)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    sess = make_session(onnx_path, threads=1)
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    return max(float(np.abs(a - b).max()) for a, b in zip(torch_outputs(arch, model, x), got))
