"""In-memory training arrays: uint8 crops (channels-last), parameters and landmarks, plus batching.

Reads the cached ``.npz`` files described in :mod:`tddfa.train.data_format` (``video_train.npz`` clips are
flattened into single frames) and the compact packs of :mod:`tddfa.train.pack`. Batches become float tensors ``(B, 3, 120, 120)`` in channels-last memory
order, normalised like inference (``(x - 127.5) / 128``, see ``tddfa.geometry.normalize``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry.crop import PIXEL_MEAN, PIXEL_SCALE


@dataclass
class Arrays:
    images: np.ndarray  # (N, 120, 120, 3) uint8 BGR
    params: np.ndarray  # (N, 62) float32, camera frame of the crop
    landmarks: np.ndarray  # (N, 68, 2) float32 crop pixels

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def head(self, n: int | None) -> "Arrays":
        return self if n is None else Arrays(self.images[:n], self.params[:n], self.landmarks[:n])


def load_arrays(path: str | Path, limit: int | None = None) -> Arrays:
    """Load one cached split into memory; clips ``(M, T, ...)`` are flattened to ``(M*T, ...)``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"training data not found: {p} (run `tddfa prepare-data` first)")
    with np.load(p, allow_pickle=False) as z:
        if "webp" in z.files:  # a compact pack (see ``pack``)
            from .pack import load_pack

            return load_pack(p, limit)
        missing = {"images", "params", "landmarks"} - set(z.files)
        if missing:
            raise InputError(f"{p}: missing arrays {sorted(missing)}")
        imgs, params, lms = z["images"], z["params"], z["landmarks"]
    if imgs.ndim == 5:  # video clips
        imgs, params, lms = imgs.reshape(-1, *imgs.shape[2:]), params.reshape(-1, 62), lms.reshape(-1, 68, 2)
    if imgs.dtype != np.uint8 or imgs.shape[1:] != (120, 120, 3) or params.shape[1:] != (62,):
        raise InputError(f"{p}: expected images (N,120,120,3) uint8 and params (N,62), got "
                         f"{imgs.shape} {imgs.dtype}, {params.shape}")
    a = Arrays(np.ascontiguousarray(imgs), params.astype(np.float32), lms.astype(np.float32))
    return a.head(limit)


def concat(parts: list[Arrays]) -> Arrays:
    if len(parts) == 1:
        return parts[0]
    return Arrays(*(np.concatenate([getattr(a, k) for a in parts]) for k in ("images", "params", "landmarks")))


def whitening_stats(params: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std ``(62,)`` of the training parameters; constant ones (e.g. a fixed ``t_z``) get std 1."""
    p = np.asarray(params, np.float64)
    mean, std = p.mean(0), p.std(0)
    std = np.where(std < eps * np.maximum(np.abs(mean), 1.0), 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def to_input(images):
    """uint8 ``(B, H, W, 3)`` (numpy, or a torch tensor on any device) -> float32 torch tensor ``(B, 3, H, W)``,
    channels-last, ``(x - 127.5) / 128``."""
    import torch

    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    return x.permute(0, 3, 1, 2).float().sub_(PIXEL_MEAN).div_(PIXEL_SCALE)  # NCHW view of NHWC memory


def synthetic_arrays(fm, n: int, seed: int = 0) -> Arrays:
    """Fake but consistent samples for tests: random faces of the model, drawn as dots on noise.

    Parameters are sampled around a frontal face filling the crop; landmarks are their projections.
    """
    import cv2

    from ..reconstruct import reconstruct

    rng = np.random.default_rng(seed)
    params = np.zeros((n, 62), np.float32)
    span = float(np.ptp(fm.mean[fm.keypoints, 0]))
    for i in range(n):
        yaw, pitch, roll = np.radians([rng.uniform(-40, 40), rng.uniform(-15, 15), rng.uniform(-15, 15)])
        cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
        r = (np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
             @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]))
        s = rng.uniform(70, 90) / span
        centre = -s * r @ fm.mean[fm.keypoints].mean(0) + np.array([61 + rng.normal(0, 3), 60 + rng.normal(0, 3), 60])
        params[i, :12] = np.concatenate([s * r, centre[:, None]], 1).ravel()
        params[i, 12:] = rng.normal(0, 1, 50) * np.abs(fm.param_std[12:]) * 0.5
    lms = reconstruct(fm, params, np.array([[0, 0, 120, 120]] * n), sparse=True)[..., :2]
    imgs = rng.integers(60, 120, (n, 120, 120, 3), dtype=np.uint8)
    for img, pts in zip(imgs, lms):
        for x, y in pts:
            cv2.circle(img, (int(round(x)), int(round(y))), 2, (230, 230, 230), -1)
    return Arrays(imgs, params, lms.astype(np.float32))
