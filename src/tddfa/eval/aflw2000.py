"""AFLW2000-3D benchmark, standard 3DDFA protocol (see ../shared/data/aflw2000-3d/README.md).

Crop each original with the given ROI (the reference's way: rounded, 0-based slice, zero padding, bilinear to
120x120), predict 68 points, map them back, NME of the 2D points normalised by sqrt(w*h) of the ground-truth
landmark box, per yaw bin and the mean of the three bin means. Head pose: MAE of yaw/pitch/roll against
``Pose_Para`` in the convention of :mod:`tddfa.geometry.pose`, skipping ground-truth angles beyond 99 degrees.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError

BINS = ("bin_0_30", "bin_30_60", "bin_60_90")


def load_annotations(data: Path) -> dict[str, np.ndarray]:
    f = Path(data) / "annotations.npz"
    if not f.exists():
        raise InputError(f"{f}: not found (expected the AFLW2000-3D pack with annotations.npz and images/)")
    with np.load(f, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def nme_per_image(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``pred`` and ``gt`` ``(N, 68, 2)``, ``norm`` ``(N,)`` -> NME per image in percent."""
    return 100 * np.linalg.norm(pred - gt, axis=-1).mean(axis=-1) / norm


def summarize(nme: np.ndarray, yaw_bin: np.ndarray, pose_pred: np.ndarray | None = None,
              pose_gt: np.ndarray | None = None) -> dict:
    bins = {name: float(nme[yaw_bin == b].mean()) for b, name in enumerate(BINS)}
    out = {"nme": {**bins, "mean": float(np.mean(list(bins.values()))), "overall": float(nme.mean())},
           "n": int(nme.size), "counts": {name: int((yaw_bin == b).sum()) for b, name in enumerate(BINS)}}
    if pose_pred is not None and pose_gt is not None:
        ok = (np.abs(pose_gt) <= 99).all(axis=1)
        err = np.abs(pose_pred[ok] - pose_gt[ok])
        err = np.minimum(err, 360 - err)
        mae = {k: float(v) for k, v in zip(("yaw", "pitch", "roll"), err.mean(axis=0))}
        out["pose_mae"] = {**mae, "mean": float(np.mean(list(mae.values()))), "n": int(ok.sum())}
    return out


def gt_pose_degrees(pose_para: np.ndarray) -> np.ndarray:
    """AFLW2000-3D ``Pose_Para`` (pitch, yaw, roll in radians, ...) -> ``(N, 3)`` (yaw, pitch, roll) degrees."""
    return np.degrees(pose_para[:, [1, 0, 2]])


def evaluate(aligner, data: Path, limit: int | None = None, progress: bool = True,
             detector: bool = False) -> dict:
    """Run ``aligner`` (a :class:`tddfa.FaceAligner`) on AFLW2000-3D; return the summary dict."""
    from ..io.images import read_image

    ann = load_annotations(data)
    n = len(ann["names"]) if limit is None else min(limit, len(ann["names"]))
    gt = ann["pts68"][:n, :2].transpose(0, 2, 1)
    pred = np.zeros((n, 68, 2), np.float32)
    pose = np.zeros((n, 3), np.float32)
    missed = 0
    t0 = time.perf_counter()
    for i in tqdm(range(n), disable=not progress, desc="aflw2000", unit="img", file=sys.stderr):
        img = read_image(Path(data) / "images" / str(ann["names"][i]))
        if detector:
            faces = aligner(img)
            if not faces:  # counted as missed; scored with the ground-truth ROI so NME stays comparable
                missed += 1
                faces = aligner.align(img, rois=ann["roi_box"][i][None])
            else:  # the detection that overlaps the ground-truth box most
                gb = ann["gt_bbox"][i]
                faces = [max(faces, key=lambda f: _iou(f.box, gb))]
        else:
            faces = aligner.align(img, rois=ann["roi_box"][i][None])
        pred[i] = faces[0].landmarks_2d
        pose[i] = faces[0].pose
    elapsed = time.perf_counter() - t0
    nme = nme_per_image(pred, gt, ann["nme_norm"][:n])
    out = summarize(nme, ann["yaw_bin"][:n], pose, gt_pose_degrees(ann["pose_para"][:n]))
    out["seconds"] = round(elapsed, 2)
    if detector:
        out["missed"] = missed
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def format_table(rows: dict[str, dict]) -> str:
    head = f"{'model':<22} {'[0,30)':>8} {'[30,60)':>8} {'[60,90]':>8} {'mean':>8} | {'yaw':>6} {'pitch':>6} {'roll':>6} {'mean':>6}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        nme, pm = r["nme"], r.get("pose_mae", {})
        lines.append(f"{name:<22} {nme['bin_0_30']:>8.3f} {nme['bin_30_60']:>8.3f} {nme['bin_60_90']:>8.3f} "
                     f"{nme['mean']:>8.3f} | {pm.get('yaw', float('nan')):>6.2f} {pm.get('pitch', float('nan')):>6.2f} "
                     f"{pm.get('roll', float('nan')):>6.2f} {pm.get('mean', float('nan')):>6.2f}")
    return "\n".join(lines)
