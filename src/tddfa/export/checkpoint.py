"""Ship a training checkpoint (regressor or detector): ``<name>.onnx`` + ``<name>.json`` (read by
``tddfa.runtime.registry``) + a slim ``<name>.pth`` (``{"config", "model"}`` only), optionally made the default
regressor (``default.json``).

The ONNX graph is checked against PyTorch on random input before anything is written to the final names.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, ModelNotAvailableError
from ..geometry.crop import INPUT_SIZE
from ..runtime.registry import MODELS_DIR

MAX_BYTES = 20 * 1024 * 1024


def load_training_checkpoint(path: str | Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise ModelNotAvailableError(f"checkpoint not found: {p}")
    ck = torch.load(p, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise InputError(f"{p} is not a tddfa training checkpoint (needs 'config' and 'model')")
    return ck


def export_checkpoint(ckpt: str | Path, name: str, out_dir: str | Path = MODELS_DIR, make_default: bool = False,
                      card: str = "", roi_box_scale: float | None = None,
                      roi_box_scale_note: str = "", pth: bool = True) -> dict[str, Path]:
    """Write ``out_dir/<name>.{onnx,json,pth}`` (and ``default.json`` if asked); return the paths.

    ``pth=False`` skips the ``.pth`` (an ensemble whose members ship as ``.pth`` already).

    ``roi_box_scale``: detector box side -> crop side for this model (see ``tddfa.train.roi_scale``); it is
    stored in the ``.json`` and the ``.pth`` so both load the same way."""
    from ..nets import create_model
    from ..runtime.onnx import OnnxRegressor
    from .onnx import export_onnx

    if not name or "/" in name or name.startswith("."):
        raise InputError(f"bad model name {name!r}")
    ck = load_training_checkpoint(ckpt)
    cfg = ck["config"]
    size = int(cfg.get("input_size", INPUT_SIZE))
    model = create_model(cfg["arch"])
    model.load_state_dict(ck["model"])
    model.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{name}.{k}" for k in (("onnx", "json", "pth") if pth else ("onnx", "json"))}

    tmp_onnx = out / f".{name}.tmp.onnx"
    export_onnx(model, tmp_onnx, (1, 3, size, size))
    x = np.random.default_rng(0).normal(0, 0.5, (2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = OnnxRegressor(tmp_onnx)(x)
    if not np.allclose(got, want, atol=1e-3, rtol=1e-3):
        tmp_onnx.unlink()
        raise RuntimeError(f"ONNX export differs from PyTorch (max |diff| {np.abs(got - want).max():.2e})")
    os.replace(tmp_onnx, paths["onnx"])

    meta = {"name": name, "arch": cfg["arch"], "input_size": size,
            "param_mean": [float(v) for v in cfg["param_mean"]], "param_std": [float(v) for v in cfg["param_std"]],
            "face_model": cfg.get("face_model", "bfm"), "card": card}
    if roi_box_scale is not None:
        meta["roi_box_scale"] = round(float(roi_box_scale), 4)
        if roi_box_scale_note:
            meta["roi_box_scale_note"] = roi_box_scale_note
    paths["json"].write_text(json.dumps(meta, indent=1) + "\n")
    slim = {"config": {k: cfg[k] for k in ("name", "arch", "input_size", "param_mean", "param_std", "face_model")
                       if k in cfg},
            "model": {k: v.contiguous() for k, v in ck["model"].items()},
            "epoch": ck.get("epoch"), "best_nme": ck.get("best_nme")}
    slim["config"]["name"] = name
    if roi_box_scale is not None:
        slim["config"]["roi_box_scale"] = meta["roi_box_scale"]
    if pth:
        torch.save(slim, paths["pth"])
    for k in [k for k in ("onnx", "pth") if k in paths]:
        size_b = paths[k].stat().st_size
        if size_b > MAX_BYTES:
            raise RuntimeError(f"{paths[k]} is {size_b / 2**20:.1f} MiB (> 20 MiB)")
    if make_default:
        paths["default"] = out / "default.json"
        paths["default"].write_text(json.dumps({"regressor": name}) + "\n")
    return paths


def ensemble_checkpoint(ckpts: list[str | Path], out: str | Path) -> dict:
    """Write a checkpoint of the registered ensemble (``nets.ensemble``) whose members are ``ckpts``, in order.

    The output whitening is the first member's, so its ``.json`` reads like that member's; ``roi_box_scale``
    too (members must have been trained on the same crops). Returns the checkpoint's config."""
    from ..nets import create_model
    from ..nets.ensemble import ENSEMBLES

    cks = [load_training_checkpoint(c) for c in ckpts]
    archs = tuple(ck["config"]["arch"] for ck in cks)
    name = next((n for n, a in ENSEMBLES.items() if a == archs), None)
    if name is None:
        raise InputError(f"no registered ensemble of {archs}; known: {dict(ENSEMBLES)}")
    sizes = {int(ck["config"].get("input_size", INPUT_SIZE)) for ck in cks}
    if len(sizes) != 1:
        raise InputError(f"members have different input sizes {sorted(sizes)}")
    model = create_model(name)
    for m, ck in zip(model.members, cks):
        m.load_state_dict(ck["model"])
    with torch.no_grad():
        model.in_mean.copy_(torch.tensor([ck["config"]["param_mean"] for ck in cks]))
        model.in_std.copy_(torch.tensor([ck["config"]["param_std"] for ck in cks]))
        model.out_mean.copy_(model.in_mean[0])
        model.out_std.copy_(model.in_std[0])
    first = cks[0]["config"]
    cfg = {"name": Path(out).stem, "arch": name, "input_size": sizes.pop(), "param_mean": list(first["param_mean"]),
           "param_std": list(first["param_std"]), "face_model": first.get("face_model", "bfm"),
           "members": [str(c) for c in ckpts]}
    if "roi_box_scale" in first:
        cfg["roi_box_scale"] = first["roi_box_scale"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": cfg, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, out)
    return cfg


def export_detector_checkpoint(ck_path: Path, out_dir: Path, name: str | None = None) -> dict:
    """EMA weights of a training checkpoint -> ``out_dir/{name}.pth`` (plain state dict), ``.onnx``, ``.json``;
    ``name`` defaults to the architecture's (``faceboxes``, ``faceboxes_lite`` or ``faceboxes_s16``), so another
    architecture never replaces the default detector by accident."""
    from ..detect.faceboxes import BGR_MEAN, InputPolicy
    from ..nets.faceboxes import arch_of, export_faceboxes_onnx, faceboxes_for
    from ..train.detector.trainer import weights_of

    ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    sd = weights_of(ck)
    arch = arch_of(sd)
    name = name or arch
    net = faceboxes_for(sd)
    net.load_state_dict(sd, strict=True)
    net.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, out_dir / f"{name}.pth")
    export_faceboxes_onnx(net, out_dir / f"{name}.onnx")
    cap = InputPolicy()
    meta = {"name": f"tddfa-{name}", "arch": arch, "score_threshold": 0.5, "nms_threshold": 0.3,
            "max_height": cap.max_height, "max_width": cap.max_width,
            "input": f"BGR uint8 minus {tuple(int(v) for v in BGR_MEAN)}, NCHW float32",
            "trained_steps": int(ck.get("step", -1)), "validation": ck.get("val"),
            "source_checkpoint": str(ck_path)}
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {**meta, "file": name}
