"""Score training checkpoints on cached splits (``val.npz``, ``val_profiles.npz``), by yaw bin.

For choosing between runs on the validation split only: the same NME as the trainer's validation
(68 reconstructed landmarks vs the labelled ones in crop pixels, normalised by ``sqrt(w*h)`` of their box),
plus the mean over |yaw| bins 0-30, 30-60, 60-90 (yaw from the labels' camera), like the AFLW2000-3D protocol.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..facemodel import load_bfm
from ..geometry import pose_from_camera
from . import losses as L
from .dataset import load_arrays, to_input
from ..export.checkpoint import load_training_checkpoint

YAW_BINS = ((0, 30), (30, 60), (60, 90))


def yaw_bins(nme: np.ndarray, yaw: np.ndarray) -> dict:
    """Per-bin mean NME ``{"0-30": ..}`` of ``nme`` (N,) over |yaw| (N,) in degrees, and their mean."""
    out = {}
    for lo, hi in YAW_BINS:
        sel = (np.abs(yaw) >= lo) & (np.abs(yaw) <= hi if hi == 90 else np.abs(yaw) < hi)
        out[f"{lo}-{hi}"] = {"n": int(sel.sum()), "nme": float(nme[sel].mean()) if sel.any() else float("nan")}
    vals = [b["nme"] for b in out.values() if b["n"]]
    out["mean_of_bins"] = float(np.mean(vals)) if vals else float("nan")
    return out


@torch.no_grad()
def predict_landmarks(model: torch.nn.Module, images: np.ndarray, unwhiten, vm: L.VertexModel, batch: int = 256,
                      n: int | None = None) -> np.ndarray:
    """Crop-pixel landmarks ``(N, K, 2)`` of uint8 crops ``(N, 120, 120, 3)``: network -> ``unwhiten`` -> the first
    ``n`` vertices of ``vm`` (all if None) -> pixels (camera frame x, y up -> u = X - 1, v = 120 - Y)."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for i in range(0, len(images), batch):
        pts = vm.reconstruct(unwhiten(model(to_input(images[i:i + batch]).to(device))), n=n)
        preds.append(torch.stack([pts[..., 0] - 1, 120 - pts[..., 1]], -1).cpu().numpy())
    return np.concatenate(preds)


@torch.no_grad()
def checkpoints_nme(ckpts: list[str | Path], data: list[str | Path], batch: int = 256, threads: int = 1) -> dict:
    """``{ckpt: {npz path: {"n", "nme", "nme_median", "yaw_bins"}}}`` for training checkpoints (best/last.pth).

    The splits, their yaw and the face model are loaded once for all checkpoints."""
    from ..nets import create_model

    torch.set_num_threads(threads)
    fm = load_bfm()
    vm = L.VertexModel.from_face_model(fm, np.asarray(fm.keypoints))
    splits = {str(p): load_arrays(p) for p in data}
    yaws = {p: pose_from_camera(a.params[:, :12])[:, 0] for p, a in splits.items()}
    out = {}
    for ckpt in ckpts:
        ck = load_training_checkpoint(ckpt)
        cfg = ck["config"]
        model = create_model(cfg["arch"])
        model.load_state_dict(ck["model"])
        mean = torch.tensor(cfg["param_mean"], dtype=torch.float32)
        std = torch.tensor(cfg["param_std"], dtype=torch.float32)
        res = {}
        for path, arr in splits.items():
            nme = L.nme_68(predict_landmarks(model, arr.images, lambda o: o * std + mean, vm, batch), arr.landmarks)
            res[path] = {"n": len(arr), "nme": float(nme.mean()), "nme_median": float(np.median(nme)),
                         "yaw_bins": yaw_bins(nme, yaws[path])}
        out[str(ckpt)] = res
    return out


def checkpoint_nme(ckpt: str | Path, data: list[str | Path], batch: int = 256, threads: int = 1) -> dict:
    """``{npz path: {...}}`` for one checkpoint (see :func:`checkpoints_nme`)."""
    return checkpoints_nme([ckpt], data, batch, threads)[str(ckpt)]


__all__ = ["checkpoint_nme", "checkpoints_nme", "predict_landmarks", "yaw_bins", "YAW_BINS"]
