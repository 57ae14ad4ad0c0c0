"""Online augmentation of 120x120 uint8 BGR crops with their 62 parameters and 68 landmarks (numpy/cv2).

Geometry: an in-plane similarity ``A`` (2x3, crop pixel coordinates ``(u, v)``, as ``cv2.warpAffine`` uses
them) moves the image, the landmarks, and the camera of the parameters consistently. The camera frame has
``u = X - 1``, ``v = size - Y`` (y up), so the same map in camera coordinates is ``B = D L D`` (``D =
diag(1, -1)``, ``L = A[:, :2]``) with offset ``b = D (L c + a) + (1, size)``, ``c = (-1, size)``; rows 0-1 of
``[sR | t]`` are multiplied by ``B`` (``t`` also shifted by ``b``) and row 2 is scaled by the similarity's
scale about the one-pixel depth offset (``Z - 1`` scales like x and y).

Photometric: brightness/contrast/colour gains through one LUT, Gaussian blur, low resolution, grayscale,
and occluding rectangles (flat colour or noise). Everything runs on uint8.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

_D = np.diag([1.0, -1.0])


def similarity_matrix(angle_deg: float, scale: float, shift: tuple[float, float] = (0.0, 0.0),
                      size: int = 120) -> np.ndarray:
    """``(2, 3)`` map of crop pixels: rotate by ``angle_deg`` (counter-clockwise on screen) and scale about
    the crop centre, then shift by ``shift`` pixels."""
    c = (size - 1) / 2.0
    a = cv2.getRotationMatrix2D((c, c), float(angle_deg), float(scale))
    a[:, 2] += shift
    return a


def warp_params(params: np.ndarray, a: np.ndarray, size: int = 120) -> np.ndarray:
    """Parameters ``(..., 62)`` after the crop-pixel similarity ``a`` ``(2, 3)`` (see the module docstring)."""
    p = np.array(params, np.float64, copy=True)
    lin, off = np.asarray(a, np.float64)[:, :2], np.asarray(a, np.float64)[:, 2]
    b_mat = _D @ lin @ _D
    b_off = _D @ (lin @ np.array([-1.0, size]) + off) + np.array([1.0, size])
    s = np.sqrt(abs(np.linalg.det(lin)))
    cam = p[..., :12].reshape(p.shape[:-1] + (3, 4))
    new = cam.copy()
    new[..., :2, :] = np.einsum("ij,...jk->...ik", b_mat, cam[..., :2, :])
    new[..., :2, 3] += b_off
    new[..., 2, :3] = s * cam[..., 2, :3]
    new[..., 2, 3] = s * (cam[..., 2, 3] - 1) + 1
    p[..., :12] = new.reshape(p.shape[:-1] + (12,))
    return p.astype(np.float32)


def warp_points(pts: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Crop-pixel points ``(..., 2)`` mapped by ``a`` ``(2, 3)``."""
    a = np.asarray(a, np.float64)
    return (np.asarray(pts, np.float64) @ a[:, :2].T + a[:, 2]).astype(np.float32)


def warp_image(img: np.ndarray, a: np.ndarray, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.warpAffine(img, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0))


@dataclass
class AugmentConfig:
    """Ranges and probabilities; a config's ``augment`` dict overrides these by name."""

    p_geometric: float = 0.9
    rotate_deg: float = 20.0  # uniform in [-r, r]
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.06  # fraction of the crop side, uniform per axis
    p_color: float = 0.8
    brightness: float = 32.0  # additive, uint8 levels
    contrast: tuple[float, float] = (0.7, 1.3)
    channel_gain: float = 0.1  # per-channel multiplicative jitter
    p_gray: float = 0.1
    p_blur: float = 0.15
    blur_sigma: tuple[float, float] = (0.5, 1.8)
    p_lowres: float = 0.1
    lowres: tuple[float, float] = (0.35, 0.7)  # downscale factor before scaling back
    p_occlude: float = 0.25
    occlude_size: tuple[float, float] = (0.15, 0.45)  # fraction of the crop side

    @classmethod
    def from_dict(cls, d: dict | None) -> "AugmentConfig":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        bad = set(d) - known
        if bad:
            raise ValueError(f"unknown augment options: {', '.join(sorted(bad))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _color(img: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    c = rng.uniform(*cfg.contrast)
    b = rng.uniform(-cfg.brightness, cfg.brightness)
    gains = 1 + rng.uniform(-cfg.channel_gain, cfg.channel_gain, 3)
    x = np.arange(256, dtype=np.float32)[:, None]
    lut = np.clip((x - 127.5) * c * gains + 127.5 + b, 0, 255).astype(np.uint8)  # (256, 3)
    return cv2.LUT(img, lut.reshape(1, 256, 3))


def _occlude(img: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    rh, rw = (int(rng.uniform(*cfg.occlude_size) * s) for s in (h, w))
    y0, x0 = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    if rng.random() < 0.5:
        img[y0:y0 + rh, x0:x0 + rw] = rng.integers(0, 256, 3, dtype=np.uint8)
    else:
        img[y0:y0 + rh, x0:x0 + rw] = rng.integers(0, 256, (rh, rw, 3), dtype=np.uint8)
    return img


def augment_one(img: np.ndarray, params: np.ndarray, landmarks: np.ndarray, cfg: AugmentConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``(H, W, 3)`` uint8 crop with its ``(62,)`` parameters and ``(68, 2)`` landmarks -> new copies."""
    size = img.shape[0]
    if rng.random() < cfg.p_geometric:
        a = similarity_matrix(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg), rng.uniform(*cfg.scale),
                              tuple(rng.uniform(-cfg.shift, cfg.shift, 2) * size), size)
        img = warp_image(img, a)
        params = warp_params(params, a, size)
        landmarks = warp_points(landmarks, a)
    else:
        img = img.copy()
    if rng.random() < cfg.p_color:
        img = _color(img, cfg, rng)
    if rng.random() < cfg.p_gray:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < cfg.p_lowres:
        f = rng.uniform(*cfg.lowres)
        small = cv2.resize(img, (max(int(size * f), 8),) * 2, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.p_blur:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.p_occlude:
        img = _occlude(img, cfg, rng)
    return img, params, landmarks


def augment_batch(imgs: np.ndarray, params: np.ndarray, landmarks: np.ndarray, cfg: AugmentConfig,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch version: ``(B, H, W, 3)`` uint8, ``(B, 62)``, ``(B, 68, 2)`` -> augmented copies."""
    out_i = np.empty_like(imgs)
    out_p = np.empty(params.shape, np.float32)
    out_l = np.empty(landmarks.shape, np.float32)
    for k in range(imgs.shape[0]):
        out_i[k], out_p[k], out_l[k] = augment_one(imgs[k], params[k], landmarks[k], cfg, rng)
    return out_i, out_p, out_l
