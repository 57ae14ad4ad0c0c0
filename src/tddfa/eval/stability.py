"""Temporal stability benchmark: ``tddfa eval stability``.

**Synthetic** (AFLW2000-3D, the issue's protocol): faces with |yaw| < 30 (``yaw_deg`` of annotations.npz), ``n`` of
them drawn with a fixed seed; for each, ``frames`` random similarity transforms of the still image about the centre of
its ROI (rotation U(-5, 5) degrees, scale U(0.95, 1.05), shift U(-3, 3) % of the face size per axis; face size = the
NME normaliser sqrt(w h) of the ground-truth landmark box), ``cv2.warpAffine`` with black borders; the ground-truth
``roi_box`` moved by the same transform (centre mapped, side scaled); the predicted 68 points mapped back through the
inverse transform. Jitter of a sequence = mean over frames and points of the distance to the sequence's mean shape,
divided by the face size (NME normalisation), in %; ``jitter_nme`` is the mean over sequences.

**Real clips** (``../shared/data/videos``): each clip is tracked once (raw landmarks of its first track); smoothers are
replayed on the raw sequence. Jitter proxy: for consecutive frames, the landmarks of frame t are mapped onto frame
t+1 by the least-squares similarity; the mean residual (the motion a rigid head move does not explain) divided by
the face size, in %. ``fps`` is tracking throughput (decode + detect + align + failure test), no drawing.

**Lag** on the fast-motion clip (the clip whose raw face centre moves most per frame): cross-correlation of the
frame-to-frame velocity of the face centre, smoothed against raw, over lags -5..5 frames, refined with a parabola
through the peak; a positive lag means the smoothed trajectory trails the raw one by that many frames.

**Failure detection**: on every 5th tracked frame of the clips, the face's crop region is replaced by black, noise or
a background patch; the share of such frames the tracker's failure test flags, and of intact frames it flags.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import InputError
from .aflw2000 import load_annotations

ROT_DEG, SCALE, SHIFT = 5.0, (0.95, 1.05), 0.03


# --- synthetic -----------------------------------------------------------------------------------------------------
def select_faces(yaw_deg: np.ndarray, n: int, seed: int = 0, max_yaw: float = 30.0) -> np.ndarray:
    """Sorted indices of ``n`` faces with ``|yaw| < max_yaw``, drawn without replacement with ``seed``."""
    eligible = np.flatnonzero(np.abs(yaw_deg) < max_yaw)
    if len(eligible) < n:
        raise InputError(f"only {len(eligible)} faces with |yaw| < {max_yaw}; asked for {n}")
    return np.sort(np.random.default_rng(seed).choice(eligible, n, replace=False))


def random_similarities(rng: np.random.Generator, frames: int, centre: np.ndarray, face_size: float) -> np.ndarray:
    """``(frames, 2, 3)`` affine matrices: rotation/scale about ``centre`` then a shift, drawn as in the protocol."""
    out = np.empty((frames, 2, 3))
    for k in range(frames):
        angle = rng.uniform(-ROT_DEG, ROT_DEG)
        scale = rng.uniform(*SCALE)
        shift = rng.uniform(-SHIFT, SHIFT, 2) * face_size
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        m[:, 2] += shift
        out[k] = m
    return out


def transform_roi(roi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Square ROI ``(4,)`` moved by the similarity ``m (2, 3)``: centre mapped, side scaled."""
    c = np.array([(roi[0] + roi[2]) / 2, (roi[1] + roi[3]) / 2])
    half = np.array([roi[2] - roi[0], roi[3] - roi[1]]) / 2 * np.sqrt(abs(np.linalg.det(m[:, :2])))
    c2 = m[:, :2] @ c + m[:, 2]
    return np.concatenate([c2 - half, c2 + half])


def apply_affine(pts: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` through ``m (2, 3)``."""
    return pts @ m[:, :2].T + m[:, 2]


def sequence_jitter(pred: np.ndarray, norm: float) -> float:
    """``pred (T, K, 2)`` back in the original frame -> mean distance to the per-point mean, / ``norm``, in %."""
    return float(100 * np.linalg.norm(pred - pred.mean(0, keepdims=True), axis=-1).mean() / norm)


def synthetic_jitter(aligner, data: Path, n: int = 200, frames: int = 10, seed: int = 0,
                     progress: bool = True) -> dict:
    """The synthetic protocol (module docstring) for one :class:`tddfa.FaceAligner`."""
    from ..io.images import read_image

    ann = load_annotations(data)
    idx = select_faces(ann["yaw_deg"], n, seed)
    rng = np.random.default_rng(seed)
    per_seq = np.empty(n)
    t0 = time.perf_counter()
    for s, i in enumerate(tqdm(idx, disable=not progress, desc="stability (synthetic)", unit="seq", file=sys.stderr)):
        img = read_image(Path(data) / "images" / str(ann["names"][i]))
        roi = ann["roi_box"][i].astype(np.float64)
        norm = float(ann["nme_norm"][i])
        mats = random_similarities(rng, frames, np.array([(roi[0] + roi[2]) / 2, (roi[1] + roi[3]) / 2]), norm)
        pred = np.empty((frames, 68, 2))
        for k, m in enumerate(mats):
            warped = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            face = aligner.align(warped, rois=transform_roi(roi, m)[None])[0]
            pred[k] = apply_affine(face.landmarks_2d.astype(np.float64), cv2.invertAffineTransform(m))
        per_seq[s] = sequence_jitter(pred, norm)
    return {"jitter_nme": float(per_seq.mean()), "jitter_nme_median": float(np.median(per_seq)),
            "n_sequences": int(n), "frames": int(frames), "seed": int(seed),
            "protocol": {"max_yaw": 30, "rotation_deg": ROT_DEG, "scale": list(SCALE), "shift_face_frac": SHIFT,
                         "face_size": "sqrt(w*h) of the ground-truth landmark box", "border": "black"},
            "seconds": round(time.perf_counter() - t0, 2)}


# --- real clips ----------------------------------------------------------------------------------------------------
def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src (K, 2)`` onto ``dst (K, 2)``: returns ``src`` mapped."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    # complex-number form: dst ~ z * src, z = sum(conj(a) b) / sum(|a|^2)
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    z = np.vdot(za, zb) / max(np.vdot(za, za).real, 1e-12)
    m = z * za
    return np.stack([m.real, m.imag], 1) + md


def face_size(lm: np.ndarray) -> float:
    """sqrt(w h) of the landmark box (the NME normaliser)."""
    w, h = np.ptp(lm[:, 0]), np.ptp(lm[:, 1])
    return float(np.sqrt(max(w * h, 1e-12)))


def nonrigid_motion(seq: np.ndarray, valid: np.ndarray) -> float:
    """Jitter proxy of ``seq (T, 68, 2)``: mean residual of the frame-to-frame similarity fit / face size, in %.
    Pairs where either frame is not ``valid`` are skipped."""
    res = [100 * np.linalg.norm(similarity_fit(seq[t], seq[t + 1]) - seq[t + 1], axis=1).mean() / face_size(seq[t])
           for t in range(len(seq) - 1) if valid[t] and valid[t + 1]]
    return float(np.mean(res)) if res else float("nan")


def estimate_lag(raw: np.ndarray, smooth: np.ndarray, max_lag: int = 5) -> float:
    """Frames by which ``smooth (T, D)`` trails ``raw (T, D)``: peak of the cross-correlation of their velocities."""
    vr, vs = np.diff(raw, axis=0), np.diff(smooth, axis=0)
    vr = vr - vr.mean(0)
    vs = vs - vs.mean(0)
    lags = np.arange(-max_lag, max_lag + 1)
    t = len(vr)
    # mean (not sum) over the overlap, so shorter overlaps at larger |k| are not penalised
    cc = np.array([np.mean(vr[max(0, -k):t - max(0, k)] * vs[max(0, k):t - max(0, -k)]) * vr.shape[1]
                   for k in lags])
    j = int(np.argmax(cc))
    if 0 < j < len(lags) - 1:  # parabola through the peak and its neighbours
        den = cc[j - 1] - 2 * cc[j] + cc[j + 1]
        off = 0.5 * (cc[j - 1] - cc[j + 1]) / den if den != 0 else 0.0
        return float(lags[j] + off)
    return float(lags[j])


def estimate_lag_position(raw: np.ndarray, smooth: np.ndarray, max_lag: float = 5.0, step: float = 0.05) -> float:
    """Frames ``k`` (``-max_lag..max_lag``) minimising the mean distance between ``smooth (T, D)`` at t and ``raw`` at
    t - k (linear interpolation between frames): the delay that best explains the smoothed positions."""
    t = np.arange(len(raw), dtype=np.float64)
    m = int(np.ceil(max_lag))
    inner = slice(m, len(raw) - m)
    best, best_k = np.inf, 0.0
    for k in np.arange(-max_lag, max_lag + step / 2, step):
        shifted = np.stack([np.interp(t - k, t, raw[:, d]) for d in range(raw.shape[1])], 1)
        e = np.linalg.norm(smooth[inner] - shifted[inner], axis=1).mean()
        if e < best:
            best, best_k = e, float(k)
    return best_k


def track_clip(aligner, path: Path, detect_every: int = 30) -> tuple[list, float, float]:
    """Raw results of the first track per frame (None where absent), the clip's fps and the tracking frames/s."""
    from ..video.reader import open_frames
    from ..video.tracker import FaceTracker, TrackerConfig

    tracker = FaceTracker(aligner, TrackerConfig(detect_every=detect_every))
    seq = []
    with open_frames(path) as frames:
        fps = frames.fps
        t0 = time.perf_counter()
        first_id = None
        for frame in frames:
            res = tracker.update(frame)
            if first_id is None and res:
                first_id = res[0].track_id
            seq.append(next((r for r in res if r.track_id == first_id), None))
        dt = time.perf_counter() - t0
    return seq, fps, len(seq) / dt if dt > 0 else 0.0


def replay(seq: list, smoother) -> np.ndarray:
    """Landmarks ``(T, 68, 2)`` (NaN where absent) after running ``smoother`` over the raw results ``seq``."""
    out = np.full((len(seq), 68, 2), np.nan)
    emitted = []
    for t, r in enumerate(seq):
        emitted += smoother.push(t, [r] if r is not None else [])
    emitted += smoother.flush()
    for t, rs in emitted:
        if rs:
            out[t] = rs[0].face.landmarks_2d
    return out


def real_clips(aligner, clips: list[Path], fps_hint: float = 30.0, progress: bool = True,
               window: tuple[int, int] = (1, 1)) -> dict:
    from ..video.smooth import NoSmoother, OneEuroSmoother, WindowSmoother

    per_clip = {}
    raw_tracks = {}
    for clip in tqdm(clips, disable=not progress, desc="stability (clips)", unit="clip", file=sys.stderr):
        seq, fps, speed = track_clip(aligner, clip)
        raw = replay(seq, NoSmoother())
        valid = np.isfinite(raw).all(axis=(1, 2))
        one = replay(seq, OneEuroSmoother(fps))
        win = replay(seq, WindowSmoother(*window))
        centre = raw.mean(1)
        sizes = np.array([face_size(x) for x in raw[valid]]) if valid.any() else np.array([np.nan])
        v = np.linalg.norm(np.diff(centre, axis=0), axis=1)
        per_clip[clip.name] = {
            "frames": len(seq), "tracked": int(valid.sum()), "fps": round(speed, 1), "clip_fps": fps,
            "raw": nonrigid_motion(raw, valid), "one_euro": nonrigid_motion(one, valid),
            "window": nonrigid_motion(win, valid),
            "head_speed": float(np.nanmean(v) / np.nanmean(sizes) * 100) if valid.sum() > 1 else float("nan")}
        raw_tracks[clip.name] = (raw, one, win, valid)
    names = [k for k, v in per_clip.items() if np.isfinite(v["raw"])]
    out = {"clips": per_clip}
    if not names:
        return out
    total = sum(per_clip[k]["frames"] for k in names)
    secs = sum(per_clip[k]["frames"] / per_clip[k]["fps"] for k in names if per_clip[k]["fps"] > 0)
    out.update({"raw": float(np.mean([per_clip[k]["raw"] for k in names])),
                "one_euro": float(np.mean([per_clip[k]["one_euro"] for k in names])),
                "window": float(np.mean([per_clip[k]["window"] for k in names])),
                "fps": round(total / secs, 1) if secs else 0.0})
    fast = max(names, key=lambda k: per_clip[k]["head_speed"])
    raw, one, win, valid = raw_tracks[fast]
    # the longest run of tracked frames
    best, cur, start = (0, 0), 0, 0
    for t, ok in enumerate(list(valid) + [False]):
        if ok:
            cur += 1
        else:
            if cur > best[1] - best[0]:
                best = (start, start + cur)
            cur, start = 0, t + 1
    sl = slice(*best)
    c_raw, c_one, c_win = raw[sl].mean(1), one[sl].mean(1), win[sl].mean(1)
    out["lag"] = {"clip": fast, "frames": best[1] - best[0], "one_euro": estimate_lag(c_raw, c_one),
                  "window": estimate_lag(c_raw, c_win),
                  "one_euro_position": estimate_lag_position(c_raw, c_one),
                  "window_position": estimate_lag_position(c_raw, c_win),
                  "method": "peak of the cross-correlation of face-centre velocities (smoothed vs raw), "
                            "lags -5..5, parabolic refinement; *_position: the delay of the raw face-centre path "
                            "(interpolated, 0.05-frame steps) closest to the smoothed one; positive = smoothed trails"}
    return out


def cut_aways(img: np.ndarray, roi: np.ndarray, rng: np.random.Generator, filler: np.ndarray) -> dict:
    """``img`` as is (``"face"``) and with the ``roi (4,)`` region painted ``"black"``, ``"noise"`` or ``"background"``
    (``filler``, an image piece, stretched over it): inputs where a tracker must notice the face is gone.
    Empty if the ROI covers under 9 x 9 pixels of the image."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = np.round(roi).astype(int)
    xa, ya, xb, yb = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if xb - xa <= 8 or yb - ya <= 8:
        return {}
    fills = {"black": 0, "noise": rng.integers(0, 256, (yb - ya, xb - xa, 3), dtype=np.uint8),
             "background": cv2.resize(filler, (xb - xa, yb - ya))}
    out = {"face": img}
    for name, fill in fills.items():
        g = img.copy()
        g[ya:yb, xa:xb] = fill
        out[name] = g
    return out


def failure_detection(aligner, clips: list[Path], every: int = 5, seed: int = 0, progress: bool = True) -> dict:
    """Share of cut-away frames flagged as failures (per cut kind) and of intact frames flagged (false alarms)."""
    from ..geometry import roi_from_landmarks
    from ..video.reader import open_frames
    from ..video.tracker import FaceTracker, TrackerConfig, align_and_check

    cfg = TrackerConfig()
    rng = np.random.default_rng(seed)
    flags: dict[str, list[bool]] = {"face": [], "black": [], "noise": [], "background": []}
    for clip in tqdm(clips, disable=not progress, desc="stability (failure)", unit="clip", file=sys.stderr):
        tracker = FaceTracker(aligner, cfg)
        with open_frames(clip) as frames:
            prev = None
            for k, frame in enumerate(frames):
                if prev is not None and k % every == 0:
                    h, w = frame.shape[:2]
                    # the frame's top-left corner, stretched over the face
                    cuts = cut_aways(frame, roi_from_landmarks(prev[None])[0], rng,
                                     frame[: max(h // 5, 2), : max(w // 5, 2)])
                    if cuts:
                        for name, img in cuts.items():
                            flags[name].append(bool(align_and_check(aligner, img, prev[None], cfg, k)[2][0]))
                res = tracker.update(frame)
                prev = res[0].face.landmarks_2d.copy() if res else None
    out = {name: {"flagged": float(np.mean(v)) if v else float("nan"), "n": len(v)} for name, v in flags.items()}
    out["false_alarm_rate"] = out["face"]["flagged"]
    out["detection_rate"] = float(np.mean([x for k in ("black", "noise", "background") for x in flags[k]])) \
        if flags["black"] else float("nan")
    return out


# --- choosing the One Euro setting (on 300W-train, never on the test data above) ------------------------------------
def motion_sequence(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator, frames: int = 90,
                    fps: float = 30.0, canvas: int = 512) -> tuple[list[np.ndarray], np.ndarray]:
    """A still face moved by a smooth random similarity per frame (sums of sinusoids: slow drifts and swings; mean
    centre speed ~2 % of the face size per frame at 30 fps, peaks near 8 %, like the real clips' 0.2-6.5 %), pasted on
    a grey canvas. Returns the frames and the ``(T, 2, 3)`` transforms."""
    t = np.arange(frames) / fps
    size = float(np.sqrt(np.ptp(pts[:, 0]) * np.ptp(pts[:, 1])))
    centre = pts.mean(0)

    def wave(amp: float) -> np.ndarray:
        out = np.zeros(frames)
        for f in (rng.uniform(0.1, 0.4), rng.uniform(0.4, 1.0)):
            out += amp * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        return out

    dx, dy, ang, sc = wave(0.25 * size), wave(0.15 * size), wave(8.0), 1 + wave(0.04)
    mats = np.empty((frames, 2, 3))
    out = []
    off = canvas / 2 - centre
    for k in range(frames):
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(ang[k]), float(sc[k]))
        m[:, 2] += off + [dx[k], dy[k]]
        mats[k] = m
        out.append(cv2.warpAffine(img, m, (canvas, canvas), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90)))
    return out, mats


def still_sequence(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator, frames: int = 60,
                   canvas: int = 512) -> tuple[list[np.ndarray], np.ndarray]:
    """A face that holds still; only sensor-like noise (sigma 4 grey levels) changes between frames, so any motion of
    the output is jitter. Returns the frames and the ``(T, 2, 3)`` transforms (all the same)."""
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    m[:, 2] = canvas / 2 - pts.mean(0)
    mats = np.repeat(m[None], frames, 0)
    base = cv2.warpAffine(img, m, (canvas, canvas), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(90, 90, 90)).astype(np.float32)
    out = [np.clip(base + rng.normal(0, 4.0, base.shape), 0, 255).astype(np.uint8) for _ in range(frames)]
    return out, mats


def _track_synthetic(aligner, frames: list[np.ndarray], start: np.ndarray) -> list:
    """Track by alignment from ``start`` landmarks ``(68, 2)`` of frame 0 (no detector)."""
    from ..geometry import roi_from_landmarks
    from ..video.tracker import TrackResult

    seq, prev = [], None
    for k, fr in enumerate(frames):
        if prev is None:
            face = aligner.align(fr, rois=roi_from_landmarks(start[None]))[0]
        else:
            face = aligner.align(fr, landmarks=prev[None])[0]
        prev = face.landmarks_2d.copy()
        seq.append(TrackResult(0, face, detected=(k == 0)))
    return seq


def tune_smoother(aligner, data_300w: Path, n: int = 24, seed: int = 0, progress: bool = True) -> dict:
    """Jitter and lag of One Euro settings on synthetic clips of 300W-train faces (never the test data).

    Per face, a still clip (:func:`still_sequence`) and a moving one (:func:`motion_sequence`), tracked by alignment.
    ``jitter_still``: predictions mapped back to the still image, mean distance to their mean, / face size, in %.
    ``lag``: :func:`estimate_lag` of the face centre on the moving clip, frames. ``error_moving``: as ``jitter_still``
    but on the moving clip (lag and jitter together). Choice: the lowest ``jitter_still`` with ``lag <= 0.5``."""
    from ..video.smooth import NoSmoother, OneEuroSmoother, WindowSmoother

    z = np.load(Path(data_300w) / "annotations.npz")
    idx = np.flatnonzero(z["split"] == "train")
    idx = np.sort(np.random.default_rng(seed).choice(idx, n, replace=False))
    rng = np.random.default_rng(seed + 1)
    grid = [(mc, b, dc) for mc in (0.5, 1.0, 2.0) for b in (2.0, 4.0, 8.0, 16.0, 32.0) for dc in (1.0, 4.0)]
    makers = {"raw": NoSmoother, "window(1,1)": lambda: WindowSmoother(1, 1),
              **{g: (lambda g=g: OneEuroSmoother(30.0, min_cutoff=g[0], beta=g[1], d_cutoff=g[2])) for g in grid}}
    rows: dict = {k: {"jitter_still": [], "lag": [], "error_moving": []} for k in makers}
    speed: list[float] = []

    def back_error(lms: np.ndarray, mats: np.ndarray, target: np.ndarray) -> float:
        back = np.stack([apply_affine(lms[k], cv2.invertAffineTransform(mats[k])) for k in range(len(mats))])
        return float(100 * np.linalg.norm(back - target, axis=-1).mean() / face_size(target))

    from ..io.images import read_image

    for i in tqdm(idx, disable=not progress, desc="tune (300W-train)", unit="face", file=sys.stderr):
        img = read_image(Path(data_300w) / "images" / f"{z['names'][i]}.jpg")
        pts = z["pts68"][i].astype(np.float64)
        clips = {}
        for kind, make in (("still", still_sequence), ("moving", motion_sequence)):
            frames, mats = make(img, pts, rng)
            seq = _track_synthetic(aligner, frames, apply_affine(pts, mats[0]))
            raw = replay(seq, NoSmoother())
            back = np.stack([apply_affine(raw[k], cv2.invertAffineTransform(mats[k])) for k in range(len(mats))])
            clips[kind] = (seq, mats, raw, back.mean(0))
        seq, mats, raw, target = clips["moving"]
        speed.append(float(np.linalg.norm(np.diff(raw.mean(1), axis=0), axis=1).mean() / face_size(target)))
        for key, make in makers.items():
            s_seq, s_mats, _, s_target = clips["still"]
            rows[key]["jitter_still"].append(back_error(replay(s_seq, make()), s_mats, s_target))
            sm = replay(seq, make())
            rows[key]["error_moving"].append(back_error(sm, mats, target))
            rows[key]["lag"].append(estimate_lag(raw.mean(1), sm.mean(1)))
    table = {(k if isinstance(k, str) else f"min_cutoff={k[0]},beta={k[1]},d_cutoff={k[2]}"):
             {m: float(np.mean(v)) for m, v in r.items()} for k, r in rows.items()}
    ok = [g for g in grid if np.mean(rows[g]["lag"]) <= 0.5]
    best = min(ok or grid, key=lambda g: np.mean(rows[g]["jitter_still"]))
    return {"settings": table, "best": {"min_cutoff": best[0], "beta": best[1], "d_cutoff": best[2]},
            "rule": "lowest jitter_still with lag <= 0.5 frames", "n_faces": int(n),
            "mean_speed_face_per_frame": float(np.mean(speed))}
