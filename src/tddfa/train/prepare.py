"""Build the cached training data (see ``data_format``) from the 300W pack (``<data>/300w``).

Stages, each written atomically as soon as it is done so a trainer can start early:
  1. ``val.npz`` (300W test, real) and ``train.npz`` (300W train, real + flips), labels by 3DMM fitting;
  2. ``train.npz`` again with ``profiles`` synthesised views per train face (and their flips);
  3. ``video_train.npz``: short clips of small motions of each train face.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..facemodel import FaceModel, load_bfm
from ..geometry import crop_faces
from . import data_format as fmt
from .fitting import FitConfig, camera_to_pixels, contour_candidates, fit_landmarks, pixels_to_camera
from .profiling import flip_landmarks, roi_box, square_roi, to_crop_pixels

SIZE = fmt.SIZE


def load_300w(data_dir: str | Path, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The 300W pack: ``images`` (N,256,256,3) uint8 BGR, ``pts`` (N,68,2), ``split`` (N,), ``names`` (N,).

    ``indices`` selects rows of ``annotations.npz`` (all by default).
    """
    root = Path(data_dir) / "300w"
    ann = root / "annotations.npz"
    if not ann.exists():
        raise InputError(f"300W annotations not found at {ann} (give the folder that holds 300w/ with --data, or set "
                         "TDDFA_DATA)")
    with np.load(ann, allow_pickle=False) as z:
        names, pts, split = z["names"], z["pts68"].astype(np.float64), z["split"]
    if indices is not None:
        names, pts, split = names[indices], pts[indices], split[indices]
    images = np.empty((len(names), 256, 256, 3), np.uint8)
    for i, n in enumerate(names):
        img = cv2.imread(str(root / "images" / f"{n}.jpg"), cv2.IMREAD_COLOR)
        if img is None or img.shape != (256, 256, 3):
            raise InputError(f"cannot read 300W image {n}.jpg (or it is not 256x256)")
        images[i] = img
    return {"images": images, "pts": pts, "split": split, "names": names}


def _fix_tz(model: FaceModel, params: np.ndarray) -> np.ndarray:
    p = np.asarray(params, np.float32).copy()
    p[:, 11] = model.param_mean[11]
    return p


def real_samples(model: FaceModel, images: np.ndarray, pts: np.ndarray, source: np.ndarray,
                 cfg: FitConfig, lines: np.ndarray, flips: bool = True) -> dict[str, np.ndarray]:
    """Crops, fitted params and annotated landmarks of real faces (and their mirror images)."""
    sq = square_roi(pts)
    boxes = roi_box(sq)
    crops = np.stack([crop_faces(img, b[None], SIZE)[0] for img, b in zip(images, boxes)])
    lm = to_crop_pixels(pts, sq, SIZE)
    parts = [("real", crops, lm)]
    if flips:
        parts.append(("flip", np.ascontiguousarray(crops[:, :, ::-1]), flip_landmarks(lm, SIZE)))
    out = []
    for kind, ims, lms in parts:
        fit = fit_landmarks(model, pixels_to_camera(lms, SIZE), cfg, lines)
        out.append({"images": ims, "params": _fix_tz(model, fit.params), "landmarks": lms.astype(np.float32),
                    "kind": np.full(len(ims), kind), "source": source.astype(np.int32),
                    "fit_nme": fit.nme.astype(np.float32)})
    return fmt.concat(out)


def fit_report(samples: dict[str, np.ndarray]) -> dict[str, float]:
    """Residual statistics of the fitted params against the stored landmarks (contour on the silhouette)."""
    nme = samples["fit_nme"]
    return {"n": int(len(nme)), "nme_mean_pct": float(100 * nme.mean()), "nme_median_pct": float(100 * np.median(nme))}


def prepare(data_dir: str | Path, out_dir: str | Path, profiles: int = 10, workers: int = 1,
            video_clips: int = 1, video_frames: int = 4, seed: int = 0, log=print) -> dict:
    """Run all stages; returns a summary dict (also written to ``out_dir/summary.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model = load_bfm()
    lines = contour_candidates(model)
    cfg = FitConfig()
    data = load_300w(data_dir)
    train_idx = np.flatnonzero(data["split"] == "train")
    test_idx = np.flatnonzero(data["split"] == "test")
    log(f"loaded 300W: {len(train_idx)} train, {len(test_idx)} test faces ({time.time() - t0:.0f}s)")
    summary: dict = {}

    val = real_samples(model, data["images"][test_idx], data["pts"][test_idx], test_idx, cfg, lines, flips=False)
    fmt.validate(val)
    fmt.save_npz(out / "val.npz", val)
    summary["val"] = fit_report(val)
    log(f"val.npz: {len(val['images'])} samples, fit {summary['val']} ({time.time() - t0:.0f}s)")

    base = real_samples(model, data["images"][train_idx], data["pts"][train_idx], train_idx, cfg, lines)
    fmt.validate(base)
    fmt.save_npz(out / "train.npz", base)
    summary["train_real"] = fit_report(base)
    log(f"train.npz (real+flip): {len(base['images'])} samples, fit {summary['train_real']} ({time.time() - t0:.0f}s)")
    _write_summary(out, summary)

    if profiles > 0:
        from .profiling import profile_dataset
        prof = profile_dataset(model, data["images"], data["pts"], base, profiles, seed=seed, workers=workers,
                               log=log)
        train = fmt.concat([base, prof])
        fmt.validate(train)
        fmt.save_npz(out / "train.npz", train)
        summary["train_profiles"] = int(len(prof["images"]))
        log(f"train.npz (real+flip+profiles): {len(train['images'])} samples ({time.time() - t0:.0f}s)")
        del train, prof
        _write_summary(out, summary)

    if video_clips > 0 and video_frames > 1:
        from .profiling import video_dataset
        vid = video_dataset(model, data["images"], data["pts"], base, video_clips, video_frames, seed=seed + 1,
                            workers=workers, log=log)
        fmt.validate_video(vid)
        fmt.save_npz(out / "video_train.npz", vid)
        summary["video"] = list(vid["images"].shape[:2])
        log(f"video_train.npz: {vid['images'].shape[:2]} ({time.time() - t0:.0f}s)")
    summary["seconds"] = round(time.time() - t0, 1)
    _write_summary(out, summary)
    return summary


def more_profiles(data_dir: str | Path, out_dir: str | Path, profiles: int, seed: int, split: str = "train",
                  workers: int = 1, log=print) -> Path:
    """Another draw of profiled views, written beside the cache as its own file.

    ``split="train"`` re-profiles the real train faces already fitted in ``train.npz`` with a new ``seed``
    (more yaw/pitch targets per face) into ``profiles_s<seed>.npz``, for a config's ``data.extra``.
    ``split="test"`` fits the 300W test faces (with flips) and profiles them into ``val_profiles.npz``:
    a large-pose validation set made only from the validation split.
    """
    from .profiling import profile_dataset

    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', not {split!r}")
    out = Path(out_dir)
    t0 = time.time()
    model = load_bfm()
    data = load_300w(data_dir)
    if split == "train":
        with np.load(out / "train.npz", allow_pickle=False) as z:
            keep = np.isin(z["kind"], ["real", "flip"])
            base = {k: z[k][keep] for k in z.files}
        path = out / f"profiles_s{seed}.npz"
    else:
        idx = np.flatnonzero(data["split"] == "test")
        base = real_samples(model, data["images"][idx], data["pts"][idx], idx, FitConfig(),
                            contour_candidates(model))
        path = out / "val_profiles.npz"
    prof = profile_dataset(model, data["images"], data["pts"], base, profiles, seed=seed, workers=workers, log=log)
    fmt.validate(prof)
    fmt.save_npz(path, prof)
    log(f"{path.name}: {len(prof['images'])} samples ({time.time() - t0:.0f}s)")
    return path


def _write_summary(out: Path, summary: dict) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


__all__ = ["load_300w", "real_samples", "prepare", "more_profiles", "fit_report", "camera_to_pixels"]
