"""Batched torch port of :mod:`tddfa.train.augment` (runs on whatever device the images are on).

Same geometry (see ``augment``'s module docstring), same :class:`~tddfa.train.augment.AugmentConfig`
fields, same distributions, probabilities and order of operations as ``augment_one``
(geometric -> colour -> grayscale -> low resolution -> blur -> occlusion), but whole batches at once:

* every per-sample random value is drawn in one call from the caller's ``torch.Generator`` (on its
  device; a CPU generator avoids host syncs) and the few host-side decisions (sizes, which samples an op
  touches) are taken from those CPU values, so nothing waits on the accelerator;
* ops are applied where a sample's gate fires (``torch.where`` or a sub-batch), so a sample with no op
  keeps its exact input values;
* images stay float32 on the 0..255 scale between ops (no uint8 rounding after each op, unlike
  ``augment``), and are normalised at the end like ``tddfa.train.dataset.to_input``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry.crop import PIXEL_MEAN, PIXEL_SCALE
from .augment import AugmentConfig

# Columns of the per-sample uniform draws (one (B, _N_U) tensor per call).
_GEO, _ANGLE, _SCALE, _SHIFT = 0, 1, 2, 3  # shift: 3, 4 (x, y)
_COLOR, _CONTRAST, _BRIGHT, _GAIN = 5, 6, 7, 8  # gains: 8, 9, 10 (B, G, R)
_GRAY = 11
_LOWRES, _LOWRES_F = 12, 13
_BLUR, _SIGMA = 14, 15
_OCC, _OCC_H, _OCC_W, _OCC_Y, _OCC_X, _OCC_FLAT, _OCC_RGB = 16, 17, 18, 19, 20, 21, 22  # colour: 22..24
_N_U = 25

_GRAY_W = (0.114, 0.587, 0.299)  # cv2 BGR2GRAY weights, B G R


def _lerp(u: torch.Tensor, lo_hi) -> torch.Tensor:
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    return lo + (hi - lo) * u


def similarity_matrices(angle_deg: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
                        size: int = 120) -> torch.Tensor:
    """Batched ``augment.similarity_matrix``: ``(B,)``, ``(B,)``, ``(B, 2)`` -> ``(B, 2, 3)`` (dtype of input).

    ``cv2.getRotationMatrix2D`` about the centre ``(size - 1) / 2``: positive angle = counter-clockwise on
    screen (y down), then a pixel shift.
    """
    c = (size - 1) / 2.0
    t = torch.deg2rad(angle_deg)
    al, be = scale * torch.cos(t), scale * torch.sin(t)
    row0 = torch.stack([al, be, (1 - al) * c - be * c + shift[:, 0]], -1)
    row1 = torch.stack([-be, al, be * c + (1 - al) * c + shift[:, 1]], -1)
    return torch.stack([row0, row1], -2)


def warp_params(params: torch.Tensor, a: torch.Tensor, size: int = 120) -> torch.Tensor:
    """Batched ``augment.warp_params``: parameters ``(B, 62)`` after similarities ``a`` ``(B, 2, 3)``.

    Computed in float64 (like numpy) and returned as float32 on ``params``' device.
    """
    p = params.to(torch.float64).clone()
    a = a.to(device=p.device, dtype=torch.float64)
    lin, off = a[:, :, :2], a[:, :, 2]
    d = torch.tensor([1.0, -1.0], dtype=torch.float64, device=p.device)
    b_mat = d[:, None] * lin * d[None, :]  # D L D
    c = torch.tensor([-1.0, float(size)], dtype=torch.float64, device=p.device)
    b_off = d * (lin @ c + off) + torch.tensor([1.0, float(size)], dtype=torch.float64, device=p.device)
    s = torch.linalg.det(lin).abs().sqrt()
    cam = p[:, :12].reshape(-1, 3, 4)
    new = cam.clone()
    new[:, :2, :] = b_mat @ cam[:, :2, :]
    new[:, :2, 3] += b_off
    new[:, 2, :3] = s[:, None] * cam[:, 2, :3]
    new[:, 2, 3] = s * (cam[:, 2, 3] - 1) + 1  # depth offset of one pixel scales like x, y
    p[:, :12] = new.reshape(-1, 12)
    return p.to(torch.float32)


def warp_points(pts: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Batched ``augment.warp_points``: points ``(B, N, 2)`` mapped by ``a`` ``(B, 2, 3)`` -> float32."""
    a = a.to(device=pts.device, dtype=torch.float64)
    return (pts.to(torch.float64) @ a[:, :, :2].transpose(1, 2) + a[:, None, :, 2]).to(torch.float32)


def warp_images(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Float images ``(B, C, H, W)`` warped by pixel-space ``a`` ``(B, 2, 3)`` (``dst = A @ src``).

    Like ``cv2.warpAffine(..., INTER_LINEAR, BORDER_CONSTANT 0)``. ``grid_sample`` needs, for each output
    pixel, the source position in normalised coordinates (align_corners=True: ``n = 2 p / (W - 1) - 1``),
    so ``theta = N A^-1 N^-1`` with ``N`` the pixel->normalised map (built in float64, used in float32).
    """
    b, _, h, w = x.shape
    a = a.detach().to("cpu", torch.float64)
    a3 = torch.cat([a, a.new_tensor([0.0, 0.0, 1.0]).expand(b, 1, 3)], 1)
    n = a.new_tensor([[2.0 / (w - 1), 0.0, -1.0], [0.0, 2.0 / (h - 1), -1.0], [0.0, 0.0, 1.0]])
    theta = (n @ torch.linalg.inv(a3) @ torch.linalg.inv(n))[:, :2]
    grid = F.affine_grid(theta.to(device=x.device, dtype=torch.float32), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``(n, C, H, W)`` float blurred with per-sample ``sigma`` ``(n,)`` (CPU float64).

    Separable grouped convolution; each kernel is truncated at radius ``ceil(3 sigma)`` (zero beyond it
    inside the batch's common width) and normalised; reflect-101 borders like cv2's default.
    """
    n, ch, h, w = x.shape
    rad = torch.ceil(3 * sigma).to(torch.int64)
    r = int(rad.max())
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    ker = torch.exp(-k[None] ** 2 / (2 * sigma[:, None] ** 2)) * (k[None].abs() <= rad[:, None])
    ker = (ker / ker.sum(1, keepdim=True)).to(device=x.device, dtype=x.dtype)
    ker = ker.repeat_interleave(ch, 0)  # (n*C, K), one kernel per sample and channel
    y = x.reshape(1, n * ch, h, w)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), ker[:, None, None, :], groups=n * ch)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), ker[:, None, :, None], groups=n * ch)
    return y.reshape(n, ch, h, w)


def _draw(b: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, _N_U)`` float64 uniforms in [0, 1) on the CPU (drawn on the generator's device)."""
    return torch.rand(b, _N_U, generator=generator, device=generator.device, dtype=torch.float64).cpu()


def augment_batch_torch(images: torch.Tensor, params: torch.Tensor, landmarks: torch.Tensor,
                        cfg: AugmentConfig, generator: torch.Generator
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment a batch on ``images``' device, like ``augment.augment_batch`` followed by ``to_input``.

    Args:
        images: uint8 ``(B, H, W, 3)`` BGR crops (not modified).
        params: ``(B, 62)`` parameters (camera frame of the crop).
        landmarks: ``(B, 68, 2)`` crop pixels (x right, y down, 0-based).
        cfg: ranges and probabilities (same meaning as for ``augment_one``).
        generator: source of all randomness; same seed and inputs -> same outputs (on the same device).

    Returns:
        ``x`` float32 ``(B, 3, H, W)`` channels-last, BGR, ``(v - 127.5) / 128``; params float32
        ``(B, 62)``; landmarks float32 ``(B, 68, 2)``; all on ``images.device``.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 (B, H, W, 3) images, got {tuple(images.shape)} {images.dtype}")
    dev = images.device
    b, h, w, _ = images.shape
    size = h  # as augment_one: the crop side (crops are square)
    u = _draw(b, generator)
    # One seed for the large per-pixel noise, so it can be drawn directly on the images' device.
    noise_seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device))
    params = params.to(device=dev, dtype=torch.float32)
    landmarks = landmarks.to(device=dev, dtype=torch.float32)
    x = images.permute(0, 3, 1, 2).float()  # NCHW view of NHWC memory, 0..255

    def gate(col: int, p: float) -> torch.Tensor:
        return u[:, col] < p  # CPU bool (B,): same test as ``rng.random() < p``

    def on_dev(m: torch.Tensor) -> torch.Tensor:
        return m.to(dev, non_blocking=True)

    # Geometric similarity: image, params and landmarks together.
    m = gate(_GEO, cfg.p_geometric)
    if m.any():
        a = similarity_matrices(_lerp(u[:, _ANGLE], (-cfg.rotate_deg, cfg.rotate_deg)),
                                _lerp(u[:, _SCALE], cfg.scale),
                                _lerp(u[:, _SHIFT:_SHIFT + 2], (-cfg.shift, cfg.shift)) * size, size)
        md = on_dev(m)
        x = torch.where(md[:, None, None, None], warp_images(x, a), x)
        params = torch.where(md[:, None], warp_params(params, a, size), params)
        landmarks = torch.where(md[:, None, None], warp_points(landmarks, a), landmarks)

    # Colour: contrast about mid-grey, brightness, per-channel gains; floor mimics the uint8 LUT.
    m = gate(_COLOR, cfg.p_color)
    if m.any():
        c = _lerp(u[:, _CONTRAST], cfg.contrast)
        br = _lerp(u[:, _BRIGHT], (-cfg.brightness, cfg.brightness))
        gain = 1 + _lerp(u[:, _GAIN:_GAIN + 3], (-cfg.channel_gain, cfg.channel_gain))
        mul = on_dev((c[:, None] * gain).float())[:, :, None, None]
        add = on_dev(br.float())[:, None, None, None]
        y = ((x - 127.5) * mul + 127.5 + add).clamp_(0, 255).floor_()
        x = torch.where(on_dev(m)[:, None, None, None], y, x)

    # Grayscale with cv2's BGR2GRAY weights, replicated to three channels.
    m = gate(_GRAY, cfg.p_gray)
    if m.any():
        idx = torch.nonzero(m).flatten().to(dev)
        wts = torch.tensor(_GRAY_W, device=dev, dtype=x.dtype)[None, :, None, None]
        x[idx] = (x[idx] * wts).sum(1, keepdim=True).expand(-1, 3, -1, -1)

    # Low resolution: area-downscale to max(int(side * f), 8), bilinear back up (grouped by small size).
    m = gate(_LOWRES, cfg.p_lowres)
    if m.any():
        f = _lerp(u[:, _LOWRES_F], cfg.lowres)
        sh = (h * f).floor().clamp(min=8).to(torch.int64)  # max(int(side * f), 8)
        sw = (w * f).floor().clamp(min=8).to(torch.int64)
        for s_h, s_w in sorted({(int(sh[i]), int(sw[i])) for i in torch.nonzero(m).flatten()}):
            idx = torch.nonzero(m & (sh == s_h) & (sw == s_w)).flatten().to(dev)
            lo = F.interpolate(x[idx], size=(s_h, s_w), mode="area")
            x[idx] = F.interpolate(lo, size=(h, w), mode="bilinear", align_corners=False)

    # Gaussian blur with a per-sample sigma.
    m = gate(_BLUR, cfg.p_blur)
    if m.any():
        sel = torch.nonzero(m).flatten()
        sigma = _lerp(u[sel, _SIGMA], cfg.blur_sigma)
        idx = sel.to(dev)
        x[idx] = _gaussian_blur(x[idx], sigma)

    # Occluding rectangle: flat random colour or uniform noise, with probability 1/2 each.
    m = gate(_OCC, cfg.p_occlude)
    if m.any():
        sel = torch.nonzero(m).flatten()  # only the occluded samples are touched
        v = u[sel]
        rh = (_lerp(v[:, _OCC_H], cfg.occlude_size) * h).floor()
        rw = (_lerp(v[:, _OCC_W], cfg.occlude_size) * w).floor()
        y0 = torch.minimum((v[:, _OCC_Y] * (h - rh + 1)).floor(), h - rh)  # integers in [0, h - rh]
        x0 = torch.minimum((v[:, _OCC_X] * (w - rw + 1)).floor(), w - rw)
        rgb = (v[:, _OCC_RGB:_OCC_RGB + 3] * 256).floor().clamp(max=255)
        fill = on_dev(rgb.float())[:, :, None, None].expand(-1, -1, h, w)
        noisy = v[:, _OCC_FLAT] >= 0.5  # else a flat colour
        if noisy.any():
            # per-pixel noise is large: draw it on the images' device from a seed of ``generator``
            gd = torch.Generator(device=dev).manual_seed(noise_seed)
            noise = torch.randint(0, 256, (int(noisy.sum()), 3, h, w), generator=gd, device=dev,
                                  dtype=torch.uint8).float()
            fill = fill.clone()
            fill[on_dev(torch.nonzero(noisy).flatten())] = noise
        ys = torch.arange(h, device=dev, dtype=torch.float32)[None, :]
        xs = torch.arange(w, device=dev, dtype=torch.float32)[None, :]
        y0, x0, rh, rw = (on_dev(t.float())[:, None] for t in (y0, x0, rh, rw))
        inside = (((ys >= y0) & (ys < y0 + rh))[:, :, None] & ((xs >= x0) & (xs < x0 + rw))[:, None, :])
        idx = on_dev(sel)
        x[idx] = torch.where(inside[:, None], fill, x[idx])

    # Convex combinations can overshoot 255 by float rounding; clamping is exact for in-range values.
    x = x.clamp(0, 255).contiguous(memory_format=torch.channels_last)
    return x.sub_(PIXEL_MEAN).div_(PIXEL_SCALE), params, landmarks
