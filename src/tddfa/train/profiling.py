"""Out-of-plane view synthesis ("face profiling", as 300W-LP was made from 300W), flips and short clips.

Frames: a square image of side ``H`` has a *camera frame* (x right, y up, z towards the viewer,
1-based like ``tddfa.geometry.camera``): pixel ``u = X - 1``, ``v = H - Y``, depth ``d = Z - 1``.
Parameters move between frames by a similarity ``X' = a X + b`` (:func:`reframe_params`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..geometry import roi_from_landmarks
from .fitting import FLIP_PERM


def square_roi(landmarks: np.ndarray) -> np.ndarray:
    """Integer square ROIs ``(N, 3)`` = (x1, y1, side) from ``roi_from_landmarks`` of ``(N, 68, 2)`` pixels.

    Rounding the corner and the side (not the four edges) keeps the crop square, so the crop frame is an
    isotropic scaling of the image frame and the camera stays a scaled rotation.
    """
    roi = roi_from_landmarks(landmarks)
    side = np.maximum(np.round(roi[:, 2] - roi[:, 0]), 1.0)
    return np.stack([np.round(roi[:, 0]), np.round(roi[:, 1]), side], axis=1)


def roi_box(sq: np.ndarray) -> np.ndarray:
    """``(N, 4)`` (x1, y1, x2, y2) boxes of square ROIs ``(N, 3)``."""
    return np.stack([sq[:, 0], sq[:, 1], sq[:, 0] + sq[:, 2], sq[:, 1] + sq[:, 2]], axis=1)


def crop_similarity(sq: np.ndarray, src_size: float, size: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame similarity from an image of side ``src_size`` to the ``size`` crop of ROIs ``sq`` (N,3).

    Returns ``a`` (N,) and ``b`` (N,3) with ``X_crop = a X_src + b`` (pixels: ``u_c = (u - x1) size/side``).
    """
    k = size / sq[:, 2]
    b = np.stack([1 - (1 + sq[:, 0]) * k, size - (src_size - sq[:, 1]) * k, 1 - k], axis=1)
    return k, b


def reframe_params(params: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Parameters ``(N, 62)`` in the frame ``X' = a X + b`` (camera scaled by ``a``, translation mapped)."""
    p = np.asarray(params, np.float64).copy()
    cam = p[:, :12].reshape(-1, 3, 4)
    cam[:, :, :3] *= np.asarray(a, np.float64).reshape(-1, 1, 1)
    cam[:, :, 3] = cam[:, :, 3] * np.asarray(a, np.float64).reshape(-1, 1) + b
    p[:, :12] = cam.reshape(-1, 12)
    return p


def to_crop_pixels(pts: np.ndarray, sq: np.ndarray, size: int = 120) -> np.ndarray:
    """Image pixels ``(N, K, 2)`` -> crop pixels of square ROIs ``(N, 3)``."""
    return (np.asarray(pts, np.float64) - sq[:, None, :2]) * (size / sq[:, 2])[:, None, None]


def flip_landmarks(pts: np.ndarray, width: int = 120) -> np.ndarray:
    """Landmarks ``(N, 68, 2)`` of the horizontally flipped image (x -> width - 1 - x, points permuted)."""
    pts = np.asarray(pts)
    out = pts[:, FLIP_PERM].copy()
    out[..., 0] = width - 1 - out[..., 0]
    return out


def inverse_similarity(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``X' = a X + b``."""
    a = np.asarray(a, np.float64)
    return 1.0 / a, -np.asarray(b, np.float64) / np.reshape(a, (-1, 1))


def flip_roi(sq: np.ndarray, src_size: int, size: int = 120) -> np.ndarray:
    """The ROI in the mirrored source image whose crop is the mirrored crop of ``sq`` (N,3).

    Mirroring maps source pixel ``u -> W-1-u`` and crop pixel ``u_c -> size-1-u_c``; with
    ``u_c = (u - x1) size/side`` that is the ROI corner ``x1' = W-1 - x1 - (size-1) side/size``.
    """
    out = np.asarray(sq, np.float64).copy()
    out[:, 0] = src_size - 1 - sq[:, 0] - (size - 1) * sq[:, 2] / size
    return out


# --------------------------------------------------------------------------------------------------
# Scene: the source image as a height field (face depth from the fitted mesh, background falling off
# to the depth of the head's centre), so that rotating it about the head re-renders face and surroundings.

class Scene:
    """A source image lifted to 3D, in the source's camera frame.

    Attributes: ``image`` (H,H,3) uint8, ``vertices`` (V,3) camera frame, ``triangles`` (T,3) int32,
    ``uv`` (V,2) float32 source pixel of each vertex, ``params`` (62,) source-frame parameters,
    ``center`` (3,) rotation centre (the model origin, near the centre of the head).
    """

    def __init__(self, image, vertices, triangles, uv, params, center):
        self.image, self.vertices, self.triangles, self.uv = image, vertices, triangles, uv
        self.params, self.center = params, center


_GRID_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel grid points ``(G, 2)`` (u, v) every ``step`` px covering ``[0, size-1]`` and its triangles."""
    key = (size, step)
    if key not in _GRID_CACHE:
        ticks = np.arange(0, size - 1 + step, step, dtype=np.float64)
        ticks[-1] = min(ticks[-1], size - 1)
        n = ticks.size
        uu, vv = np.meshgrid(ticks, ticks)
        pts = np.stack([uu.ravel(), vv.ravel()], axis=1)
        i = np.arange(n - 1)
        a = (i[:, None] * n + i[None, :]).ravel()  # top-left of each cell
        tri = np.concatenate([np.stack([a, a + 1, a + n], 1), np.stack([a + 1, a + n + 1, a + n], 1)])
        _GRID_CACHE[key] = (pts, tri.astype(np.int32))
    return _GRID_CACHE[key]


def build_scene(model, image: np.ndarray, params: np.ndarray, step: int = 2, falloff: float = 0.12) -> Scene:
    """Lift a square ``image`` (H,H,3) with fitted ``params`` (62,) in its camera frame to a :class:`Scene`.

    Face pixels take the depth of the rendered fitted mesh; other pixels the depth of the nearest face pixel,
    relaxing towards the depth of the head's centre over ``falloff`` x the face width.
    """
    from scipy.ndimage import distance_transform_edt

    from ..render.rasterize import rasterize

    h = image.shape[0]
    p = np.asarray(params, np.float64).reshape(1, 62)
    verts = model.reconstruct(p.astype(np.float32))[0].astype(np.float64)
    pix = np.stack([verts[:, 0] - 1, h - verts[:, 1], verts[:, 2] - 1], axis=1)
    _, depth = rasterize(pix.astype(np.float32), model.triangles, None, h, h)
    center = p[0, [3, 7, 11]].copy()
    z_c = center[2] - 1
    face = np.isfinite(depth)
    if face.any():
        dist, (iy, ix) = distance_transform_edt(~face, return_indices=True)
        width = np.ptp(pix[model.keypoints[:17], 0]) + 1e-6
        near = depth[iy, ix]
        full = np.where(face, depth, z_c + (near - z_c) * np.exp(-dist / (falloff * max(width, 8.0))))
    else:
        full = np.full((h, h), z_c)
    grid, tri = _grid(h, step)
    gi = np.clip(np.round(grid).astype(int), 0, h - 1)
    d = full[gi[:, 1], gi[:, 0]]
    cam = np.stack([grid[:, 0] + 1, h - grid[:, 1], d + 1], axis=1)
    return Scene(image, cam, tri, grid.astype(np.float32), p[0], center)


def rotate_params(params: np.ndarray, R_delta: np.ndarray) -> np.ndarray:
    """``(62,)`` params of the face rotated by ``R_delta`` (3,3) about the model origin (camera frame)."""
    p = np.asarray(params, np.float64).copy()
    cam = p[:12].reshape(3, 4)
    cam[:, :3] = R_delta @ cam[:, :3]
    p[:12] = cam.ravel()
    return p


def render_view(model, scene: Scene, R_delta: np.ndarray, lines: np.ndarray, size: int = 120,
                roi_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)):
    """Re-render ``scene`` rotated by ``R_delta`` about its centre, cropped on the new landmarks' ROI.

    ``roi_shift`` = (dx, dy, ds): ROI moved by (dx, dy) x side and scaled by (1 + ds) (for clips).
    Returns ``crop`` (size,size,3) uint8, ``params`` (62,) in the crop frame, ``landmarks`` (68,2) crop pixels.
    """
    from ..render.rasterize import rasterize
    from .fitting import camera_to_pixels, project_landmarks

    h = scene.image.shape[0]
    p_new = rotate_params(scene.params, R_delta)
    lm_cam = project_landmarks(model, p_new[None], lines)
    lm_pix = camera_to_pixels(lm_cam, h)
    sq = square_roi(lm_pix).astype(np.float64)
    dx, dy, ds = roi_shift
    if dx or dy or ds:
        side = sq[:, 2]
        new_side = np.round(side * (1 + ds))
        sq = np.stack([np.round(sq[:, 0] + (side - new_side) / 2 + dx * side),
                       np.round(sq[:, 1] + (side - new_side) / 2 + dy * side), new_side], axis=1)
    a, b = crop_similarity(sq, h, size)
    params = reframe_params(p_new[None], a, b)[0]
    c = scene.center
    v = (scene.vertices - c) @ R_delta.T + c
    v = v * a[0] + b[0]
    pix = np.stack([v[:, 0] - 1, size - v[:, 1], v[:, 2] - 1], axis=1).astype(np.float32)
    buf, depth = rasterize(pix, scene.triangles, scene.uv, size, size)
    empty = ~np.isfinite(depth)
    buf[empty] = -10.0  # outside the source: black
    crop = cv2.remap(scene.image, buf[..., 0], buf[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    lm = to_crop_pixels(lm_pix, sq, size)[0]
    return crop, params, lm


# --------------------------------------------------------------------------------------------------
# Datasets: profiled views and short clips of the 300W train faces (run by ``tddfa.train.prepare``).

def source_scene(model, image256: np.ndarray, pts256: np.ndarray, params_crop: np.ndarray, flipped: bool,
                 size: int = 120) -> Scene:
    """The scene of one train sample from its 256 source image, for a ``real`` or ``flip`` sample.

    ``params_crop`` are the sample's parameters in its crop frame; the crop's ROI follows from ``pts256``.
    """
    h = image256.shape[0]
    sq = square_roi(np.asarray(pts256, np.float64)[None])
    img = image256
    if flipped:
        sq = flip_roi(sq, h, size)
        img = np.ascontiguousarray(image256[:, ::-1])
    a, b = crop_similarity(sq, h, size)
    ai, bi = inverse_similarity(a, b)
    return build_scene(model, img, reframe_params(np.asarray(params_crop)[None], ai, bi)[0])


def _pose(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from ..geometry import rotation_to_angles

    R = np.asarray(params[:12], np.float64).reshape(3, 4)[:, :3]
    R = R / np.linalg.norm(R[0])
    return R, rotation_to_angles(R)


def profile_targets(yaw0: float, pitch0: float, k: int, rng: np.random.Generator,
                    max_yaw: float = 90.0) -> np.ndarray:
    """``(k, 2)`` target (|yaw|, pitch) in degrees: |yaw| stratified over [|yaw0|, max_yaw], pitch within 20
    degrees of ``pitch0`` and inside [-30, 30] (or the source's own pitch when that is outside)."""
    edges = np.linspace(min(abs(yaw0), max_yaw), max_yaw, k + 1)
    yaw = rng.uniform(edges[:-1], edges[1:])
    lo, hi = min(-30.0, pitch0), max(30.0, pitch0)
    pitch = np.clip(pitch0 + rng.uniform(-20, 20, k), lo, hi)
    return np.stack([rng.permutation(yaw), pitch], axis=1)


def _profile_one(model, lines, image256, pts256, pr, pf, k, seed, src):
    """``k`` views of one face, alternating between its real (params ``pr``) and flipped (``pf``) version."""
    from ..geometry import angles_to_rotation

    rng = np.random.default_rng([seed, int(src)])
    scenes = [source_scene(model, image256, pts256, pr, False), source_scene(model, image256, pts256, pf, True)]
    poses = [_pose(sc.params) for sc in scenes]
    targets = profile_targets(float(poses[0][1][0]), float(poses[0][1][1]), k, rng)
    crops, params, lms, kinds = [], [], [], []
    first = int(rng.integers(2))
    for j, (ayaw, pitch) in enumerate(targets):
        which = (first + j) % 2
        R0, (y0, p0, r0) = poses[which]
        default = 1.0 if which == 0 else -1.0
        sign = np.sign(y0) if abs(y0) >= 2.0 else default
        R_delta = angles_to_rotation(sign * ayaw, pitch, r0) @ R0.T
        c, p, lm = render_view(model, scenes[which], R_delta, lines)
        crops.append(c), params.append(p), lms.append(lm), kinds.append("profile" if which == 0 else "profile_flip")
    return crops, params, lms, kinds


_WORKER: dict = {}


def _init_worker() -> None:
    from ..facemodel import load_bfm
    from .fitting import contour_candidates

    _WORKER["model"] = load_bfm()
    _WORKER["lines"] = contour_candidates(_WORKER["model"])


def _profile_chunk(job):
    images, pts, pr, pf, fit_nme, sources, k, seed = job
    model, lines = _WORKER["model"], _WORKER["lines"]
    out = {"images": [], "params": [], "landmarks": [], "kind": [], "source": [], "fit_nme": []}
    for i in range(len(sources)):
        c, p, lm, kinds = _profile_one(model, lines, images[i], pts[i], pr[i], pf[i], k, seed, sources[i])
        out["images"] += c
        out["params"] += p
        out["landmarks"] += lm
        out["kind"] += kinds
        out["source"] += [sources[i]] * len(c)
        out["fit_nme"] += [fit_nme[i]] * len(c)
    return out


def _pack(out: dict, tz: float) -> dict[str, np.ndarray]:
    params = np.asarray(out["params"], np.float32).reshape(-1, 62)
    params[:, 11] = tz
    return {"images": np.asarray(out["images"], np.uint8).reshape(-1, 120, 120, 3), "params": params,
            "landmarks": np.asarray(out["landmarks"], np.float32).reshape(-1, 68, 2),
            "kind": np.asarray(out["kind"], dtype="<U12"), "source": np.asarray(out["source"], np.int32),
            "fit_nme": np.asarray(out["fit_nme"], np.float32)}


def _run_jobs(fn, jobs, workers: int, log, what: str):
    import time

    t0 = time.time()
    results = []
    if workers <= 1:
        _init_worker()
        for i, job in enumerate(jobs):
            results.append(fn(job))
            if log and (i + 1) % 10 == 0:
                log(f"{what}: {i + 1}/{len(jobs)} chunks ({time.time() - t0:.0f}s)")
        return results
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
        for i, r in enumerate(pool.imap(fn, jobs)):
            results.append(r)
            if log and (i + 1) % 10 == 0:
                log(f"{what}: {i + 1}/{len(jobs)} chunks ({time.time() - t0:.0f}s)")
    return results


def _pairs(base: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the ``real`` samples and of their ``flip`` partners (same source), in source order."""
    real = np.flatnonzero(base["kind"] == "real")
    flip = np.flatnonzero(base["kind"] == "flip")
    by_src = {int(s): i for i, s in zip(flip, base["source"][flip])}
    return real, np.array([by_src[int(s)] for s in base["source"][real]])


def profile_dataset(model, images256: np.ndarray, pts256: np.ndarray, base: dict[str, np.ndarray], k: int,
                    seed: int = 0, workers: int = 1, chunk: int = 16, log=None) -> dict[str, np.ndarray]:
    """``k`` profiled views per real train face of ``base`` (rows ``real`` + ``flip``), in the data format.

    ``images256`` / ``pts256`` are indexed by ``base['source']``.
    """
    real, flip = _pairs(base)
    src = base["source"][real]
    jobs = [(images256[src[i:i + chunk]], pts256[src[i:i + chunk]], base["params"][real[i:i + chunk]],
             base["params"][flip[i:i + chunk]], base["fit_nme"][real[i:i + chunk]], src[i:i + chunk], k, seed)
            for i in range(0, len(real), chunk)]
    res = _run_jobs(_profile_chunk, jobs, workers, log, "profiles")
    merged = {key: sum((r[key] for r in res), []) for key in res[0]}
    return _pack(merged, float(model.param_mean[11]))


def _video_chunk(job):
    from ..geometry import angles_to_rotation

    images, pts, pr, sources, clips, frames, seed = job
    model, lines = _WORKER["model"], _WORKER["lines"]
    out = {"images": [], "params": [], "landmarks": [], "source": []}
    for i in range(len(sources)):
        rng = np.random.default_rng([seed, int(sources[i])])
        scene = source_scene(model, images[i], pts[i], pr[i], False)
        R0, (y0, p0, r0) = _pose(scene.params)
        for _ in range(clips):
            # random walks: angles in degrees, ROI shift/scale as fractions of its side
            ang = np.cumsum(rng.normal(0, [2.0, 1.5, 1.5], (frames, 3)), axis=0)
            roi = np.cumsum(rng.normal(0, [0.01, 0.01, 0.015], (frames, 3)), axis=0)
            ang[0], roi[0] = 0, 0
            ims, ps, lms = [], [], []
            for t in range(frames):
                R_delta = angles_to_rotation(y0 + ang[t, 0], p0 + ang[t, 1], r0 + ang[t, 2]) @ R0.T
                c, p, lm = render_view(model, scene, R_delta, lines, roi_shift=tuple(roi[t]))
                ims.append(c), ps.append(p), lms.append(lm)
            out["images"].append(ims), out["params"].append(ps), out["landmarks"].append(lms)
            out["source"].append(sources[i])
    return out


def video_dataset(model, images256: np.ndarray, pts256: np.ndarray, base: dict[str, np.ndarray], clips: int,
                  frames: int, seed: int = 1, workers: int = 1, chunk: int = 16, log=None) -> dict[str, np.ndarray]:
    """``clips`` clips of ``frames`` frames per real face of ``base``: ``images`` (M,T,120,120,3) etc."""
    real = np.flatnonzero(base["kind"] == "real")
    src = base["source"][real]
    jobs = [(images256[src[i:i + chunk]], pts256[src[i:i + chunk]], base["params"][real[i:i + chunk]],
             src[i:i + chunk], clips, frames, seed) for i in range(0, len(real), chunk)]
    res = _run_jobs(_video_chunk, jobs, workers, log, "video")
    params = np.asarray(sum((r["params"] for r in res), []), np.float32).reshape(-1, frames, 62)
    params[..., 11] = model.param_mean[11]
    return {"images": np.asarray(sum((r["images"] for r in res), []), np.uint8).reshape(-1, frames, 120, 120, 3),
            "params": params,
            "landmarks": np.asarray(sum((r["landmarks"] for r in res), []), np.float32).reshape(-1, frames, 68, 2),
            "source": np.asarray(sum((r["source"] for r in res), []), np.int32)}
