"""Fit the 62 3DMM parameters to 68 2D landmarks (robust, prior-regularised, contour-aware).

Model: the 2D landmarks are the scaled-orthographic projection ``x = s R2 (m + B a) + t2`` of the model's
68 keypoints, where ``R2`` is the first two rows of a rotation, ``a`` the 40 shape + 10 expression
coefficients. The fit alternates, vectorised over all faces:

1. **pose**: weighted affine fit of the current 3D landmarks to the 2D ones, projected to the nearest
   scaled rotation (SVD), translation re-estimated;
2. **contour** ("landmark marching"): the 2D jaw contour (points 0-16, chin 8 excepted) lies on the visible
   silhouette, not on fixed vertices. Each contour point owns a horizontal line of vertices running from
   its keypoint towards the face's centre; at the current pose it takes the vertex of that line that is
   outermost in the image. On the side turned away this slides onto the cheek; elsewhere it stays on the keypoint;
3. **coefficients**: linear least squares with a Gaussian prior ``a ~ N(param_mean, param_std^2)`` (the
   model's own 50 coefficient statistics; the BFM basis columns are ~unit-norm eigenvectors, so the
   prior scale lives in ``param_std``), weighted by Huber IRLS weights so a few bad landmarks cannot pull the fit.

All arithmetic is in the *camera frame of the target crop* (x right, y up, 1-based like
``tddfa.geometry.camera``): pass 2D targets already in that frame (``pixels_to_camera``).
Depth ``t_z`` is unobservable from 2D; it is set to the constant ``param_mean[11]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..facemodel import FaceModel

# iBUG-68 horizontal mirror permutation: point i of a flipped face is point FLIP_PERM[i] of the original.
FLIP_PERM = np.array(
    list(range(16, -1, -1))                      # jaw
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]    # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]     # outer mouth
    + [64, 63, 62, 61, 60, 67, 66, 65],          # inner mouth
    dtype=np.int64)

CONTOUR = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16])  # chin (8) stays fixed


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of :func:`fit_landmarks` (units: pixels of the 120 crop)."""

    iterations: int = 10
    noise_px: float = 1.5      # landmark noise sigma: sets the prior's weight
    huber_px: float = 3.0      # Huber threshold on a landmark's residual length
    prior_scale: float = 1.0   # multiplies the prior's inverse variance
    contour: bool = True       # landmark marching on the jaw contour


@dataclass
class FitResult:
    """Per-face fit: ``params`` (N, 62) float32, ``landmarks`` (N, 68, 2) model projections (camera frame,
    contour on the silhouette), ``index`` (N, 68) vertex used for each landmark, ``nme`` (N,) mean residual
    over sqrt(w*h) of the target landmarks' box, ``residual_px`` (N,) mean residual in camera-frame units."""

    params: np.ndarray
    landmarks: np.ndarray
    index: np.ndarray
    nme: np.ndarray
    residual_px: np.ndarray


def contour_candidates(model: FaceModel, max_per_line: int = 96) -> np.ndarray:
    """``(16, M)`` vertex indices: for each contour point in ``CONTOUR`` the line of vertices it may slide on.

    The line is the band of vertices at the keypoint's height, on its side of the face, from the keypoint
    inwards (not further out, not further back), on the prior's mean face (``param_mean`` coefficients).
    Column 0 is the keypoint itself; short lines are padded with it.
    """
    mean = model.shape_model(model.param_mean[None, 12:])[0]
    kp = mean[model.keypoints]
    spacing = np.median(np.abs(np.diff(kp[:17, 1])))
    band = 0.08 * spacing
    lines = np.empty((CONTOUR.size, max_per_line), np.int64)
    for j, k in enumerate(CONTOUR):
        p = kp[k]
        side = np.sign(p[0])
        ok = ((np.abs(mean[:, 1] - p[1]) <= band) & (mean[:, 0] * side >= 0)
              & (mean[:, 0] * side <= abs(p[0])) & (mean[:, 2] >= p[2]))
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-np.abs(mean[idx, 0]))]  # outermost first
        if idx.size > max_per_line - 1:
            idx = idx[np.linspace(0, idx.size - 1, max_per_line - 1).round().astype(int)]
        row = np.full(max_per_line, model.keypoints[k])
        row[1:1 + idx.size] = idx
        lines[j] = row
    return lines


def pixels_to_camera(pts: np.ndarray, size: int = 120) -> np.ndarray:
    """Crop pixels ``(..., 2)`` (x right, y down, 0-based) -> camera frame ``(..., 2)`` (x+1, size-y)."""
    pts = np.asarray(pts, np.float64)
    return np.stack([pts[..., 0] + 1.0, size - pts[..., 1]], axis=-1)


def camera_to_pixels(pts: np.ndarray, size: int = 120) -> np.ndarray:
    """Inverse of :func:`pixels_to_camera` (extra coordinates ignored)."""
    pts = np.asarray(pts, np.float64)
    return np.stack([pts[..., 0] - 1.0, size - pts[..., 1]], axis=-1)


def _rows(index: np.ndarray) -> np.ndarray:
    """Basis rows ``(..., 3)`` of vertex indices ``(...)``."""
    return 3 * index[..., None] + np.arange(3)


def _fit_pose(S: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted scaled-orthographic pose: S (N,L,3), x (N,L,2), w (N,L) -> s (N,), R (N,3,3), t (N,2)."""
    H = np.concatenate([S, np.ones(S.shape[:2] + (1,))], axis=2)  # (N,L,4)
    G = np.einsum("nl,nli,nlj->nij", w, H, H) + 1e-9 * np.eye(4)
    b = np.einsum("nl,nli,nlj->nij", w, H, x)  # (N,4,2)
    A = np.linalg.solve(G, b).transpose(0, 2, 1)  # (N,2,4) affine camera
    U, sig, Vt = np.linalg.svd(A[:, :, :3], full_matrices=False)  # (N,2,2),(N,2),(N,2,3)
    R2 = U @ Vt
    s = sig.mean(axis=1)
    r3 = np.cross(R2[:, 0], R2[:, 1])
    R = np.concatenate([R2, r3[:, None]], axis=1)
    proj = s[:, None, None] * np.einsum("nij,nlj->nli", R2, S)
    t = np.einsum("nl,nli->ni", w, x - proj) / w.sum(axis=1, keepdims=True)
    return s, R, t


def select_contour(model: FaceModel, lines: np.ndarray, alpha: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Vertex index ``(N, 68)`` of each landmark at rotation ``R`` (N,3,3) for coefficients ``alpha`` (N,50).

    Contour points take the vertex of their line (``lines``, from :func:`contour_candidates`) that is
    outermost in the image, i.e. on the silhouette seen from the camera.
    """
    n = alpha.shape[0]
    flat = lines.ravel()
    verts = (np.asarray(alpha, np.float32) @ model.basis[_rows(flat).ravel()].T).reshape(n, flat.size, 3)
    verts = verts + model.mean[flat]
    verts = verts.reshape(n, *lines.shape, 3)  # (N,16,M,3)
    side = np.sign(model.mean[model.keypoints[CONTOUR], 0])  # (16,)
    # image direction of the model's outward x axis, for each face and contour point
    out_dir = R[:, None, :2, 0] * side[None, :, None]  # (N,16,2)
    proj = np.einsum("nij,nkmj->nkmi", R[:, :2], verts)  # (N,16,M,2)
    score = np.einsum("nkmi,nki->nkm", proj, out_dir)
    best = np.argmax(score, axis=2)  # (N,16)
    index = np.broadcast_to(model.keypoints, (n, 68)).copy()
    index[:, CONTOUR] = lines[np.arange(CONTOUR.size)[None], best]
    return index


def _landmarks3d(model: FaceModel, index: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model-frame points (N,68,3) and their basis (N,68,3,50) for per-face vertex ``index`` (N,68)."""
    B = model.basis[_rows(index)]  # (N,68,3,50)
    S = model.mean[index].astype(np.float64) + np.einsum("nlcj,nj->nlc", B, alpha)
    return S, B


def box_size(pts: np.ndarray) -> np.ndarray:
    """sqrt(w*h) of the tight box of ``(N, K, 2)`` points, ``(N,)``."""
    wh = pts.max(axis=1) - pts.min(axis=1)
    return np.sqrt(np.maximum(wh[:, 0] * wh[:, 1], 1e-12))


def fit_landmarks(model: FaceModel, targets: np.ndarray, config: FitConfig = FitConfig(),
                  lines: np.ndarray | None = None, chunk: int = 512) -> FitResult:
    """Fit ``(N, 68, 2)`` camera-frame landmarks; returns a :class:`FitResult` (see module docstring)."""
    targets = np.asarray(targets, np.float64)
    if targets.ndim != 3 or targets.shape[1:] != (68, 2):
        raise ValueError(f"targets must be (N, 68, 2), got {targets.shape}")
    if not np.isfinite(targets).all():
        raise ValueError("targets contain non-finite values")
    if lines is None:
        lines = contour_candidates(model)
    outs = [_fit_chunk(model, targets[i:i + chunk], config, lines) for i in range(0, len(targets), chunk)]
    return FitResult(*(np.concatenate([o[k] for o in outs]) for k in range(5)))


def _fit_chunk(model: FaceModel, x: np.ndarray, cfg: FitConfig, lines: np.ndarray):
    n = x.shape[0]
    prior_mu = model.param_mean[12:].astype(np.float64)
    prior_prec = cfg.prior_scale / model.param_std[12:].astype(np.float64) ** 2
    alpha = np.broadcast_to(prior_mu, (n, 50)).copy()
    index = np.broadcast_to(model.keypoints, (n, 68)).copy()
    w = np.ones((n, 68))
    inv_var = 1.0 / cfg.noise_px ** 2
    for it in range(cfg.iterations):
        S, B = _landmarks3d(model, index, alpha)
        s, R, t = _fit_pose(S, x, w)
        if cfg.contour and it > 0:
            index = select_contour(model, lines, alpha, R)
            S, B = _landmarks3d(model, index, alpha)
        sR2 = s[:, None, None] * R[:, :2]
        J = np.einsum("nic,nlcj->nlij", sR2, B).reshape(n, 136, 50)
        base = np.einsum("nic,nlc->nli", sR2, model.mean[index]) + t[:, None]
        r = (x - base).reshape(n, 136)
        ww = np.repeat(w, 2, axis=1) * inv_var
        A = np.einsum("nk,nki,nkj->nij", ww, J, J) + np.diag(prior_prec)
        rhs = np.einsum("nk,nki,nk->ni", ww, J, r) + prior_prec * prior_mu
        alpha = np.linalg.solve(A, rhs[..., None])[..., 0]
        pred = base + (J @ alpha[..., None])[..., 0].reshape(n, 68, 2)
        res = np.linalg.norm(pred - x, axis=2)
        w = np.minimum(1.0, cfg.huber_px / np.maximum(res, 1e-9))
    # final pose for the final coefficients and contour
    S, _ = _landmarks3d(model, index, alpha)
    s, R, t = _fit_pose(S, x, w)
    cam = np.concatenate([s[:, None, None] * R, np.zeros((n, 3, 1))], axis=2)
    cam[:, :2, 3] = t
    cam[:, 2, 3] = model.param_mean[11]
    params = np.concatenate([cam.reshape(n, 12), alpha], axis=1).astype(np.float32)
    # report what the stored params give (contour re-chosen at the final pose)
    index = select_contour(model, lines, params[:, 12:], R) if cfg.contour else index
    pred = project_landmarks(model, params, lines, contour=cfg.contour)
    res = np.linalg.norm(pred - x, axis=2).mean(axis=1)
    return params, pred.astype(np.float32), index, (res / box_size(x)).astype(np.float32), res.astype(np.float32)


def project_landmarks(model: FaceModel, params: np.ndarray, lines: np.ndarray | None = None,
                      contour: bool = True) -> np.ndarray:
    """2D camera-frame landmarks ``(N, 68, 2)`` of ``params`` (N, 62), contour on the silhouette if ``contour``."""
    params = np.asarray(params, np.float64)
    cam = params[:, :12].reshape(-1, 3, 4)
    alpha = params[:, 12:]
    n = params.shape[0]
    if contour:
        if lines is None:
            lines = contour_candidates(model)
        scale = np.linalg.norm(cam[:, 0, :3], axis=1)
        R = cam[:, :, :3] / scale[:, None, None]
        index = select_contour(model, lines, alpha, R)
    else:
        index = np.broadcast_to(model.keypoints, (n, 68))
    S, _ = _landmarks3d(model, index, alpha)
    return np.einsum("nij,nlj->nli", cam[:, :2, :3], S) + cam[:, None, :2, 3]
