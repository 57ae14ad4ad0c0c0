"""``tddfa eval detection``: face detection recall / AP / speed on AFW scenes (``../shared/data/afw-scenes``).

Ground truth are the tight 68-point boxes of the 337 annotated faces (185 images); other faces in the
photos are not annotated, so AP counts detections of them as false positives (it is a lower bound),
while recall is exact. Matching is greedy one-to-one by descending score (VOC style).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..detect.boxes import iou_matrix

IOUS = (0.4, 0.5)


def match_detections(dets: np.ndarray, gts: np.ndarray, iou_thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching of ``dets (D, 5)`` (any order) to ``gts (G, 4)``.

    Returns ``tp (D,)`` bool in the order of ``dets`` and ``gt_hit (G,)`` bool."""
    dets = np.asarray(dets, np.float32).reshape(-1, 5)
    gts = np.asarray(gts, np.float32).reshape(-1, 4)
    tp = np.zeros(len(dets), bool)
    hit = np.zeros(len(gts), bool)
    if len(dets) == 0 or len(gts) == 0:
        return tp, hit
    iou = iou_matrix(dets[:, :4], gts)
    for d in np.argsort(-dets[:, 4], kind="stable"):
        cand = np.where(hit, -1.0, iou[d])
        g = int(cand.argmax())
        if cand[g] >= iou_thr:
            tp[d], hit[g] = True, True
    return tp, hit


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP (VOC 2010+) from pooled detection ``scores`` and their ``tp`` flags."""
    if n_gt == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(tp, float)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], rec, [rec[-1] if len(rec) else 0.0]])
    mpre = np.concatenate([[1.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def detection_metrics(all_dets: list[np.ndarray], all_gts: list[np.ndarray], score_threshold: float,
                      ious=IOUS) -> dict:
    """Recall and detections/image above ``score_threshold``; AP over all given detections."""
    n_gt = sum(len(g) for g in all_gts)
    out = {"n_images": len(all_gts), "n_faces": n_gt, "recall": {}, "ap": {}}
    above = [d[d[:, 4] > score_threshold] for d in all_dets]
    out["dets_per_image"] = float(np.mean([len(d) for d in above])) if above else 0.0
    for t in ious:
        key = f"iou_{t}"
        hits = sum(int(match_detections(d, g, t)[1].sum()) for d, g in zip(above, all_gts))
        out["recall"][key] = 100.0 * hits / max(n_gt, 1)
        sc, tps = [], []
        for d, g in zip(all_dets, all_gts):
            tp, _ = match_detections(d, g, t)
            sc.append(d[:, 4])
            tps.append(tp)
        out["ap"][key] = 100.0 * average_precision(np.concatenate(sc) if sc else np.zeros(0),
                                                   np.concatenate(tps) if tps else np.zeros(0, bool), n_gt)
    return out


def load_afw_scenes(data: str | Path) -> tuple[list[Path], list[np.ndarray]]:
    """Image paths and per-image tight 68-point face boxes ``(G, 4)`` of the AFW-scenes pack."""
    from ..errors import InputError

    root = Path(data)
    ann_path = root / "annotations.npz"
    if not ann_path.exists():
        raise InputError(f"{root}: not the afw-scenes pack (no annotations.npz)")
    ann = np.load(ann_path)
    paths = [root / "images" / f"{n}.jpg" for n in ann["names"]]
    gts = [ann["face_box"][s:s + c] for s, c in zip(ann["face_start"], ann["face_count"])]
    return paths, gts


def latency_720p(detector, image: np.ndarray, repeats: int = 20) -> float:
    """Median wall time (ms) of one whole detector call on ``image`` resized to 1280x720."""
    import cv2

    img = cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA)
    detector(img)  # warm-up (session allocation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        detector(img)
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def negative_images(folder: str | Path) -> list[Path]:
    """The image files of a face-free folder (sorted); InputError when there are none."""
    from ..errors import InputError
    from ..io.images import IMAGE_SUFFIXES

    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) \
        if root.is_dir() else []
    if not files:
        raise InputError(f"{root}: no images (--negatives takes a folder of face-free photos)")
    return files


def _detect_all(detector, paths: list[Path], progress: bool, what: str) -> list[np.ndarray]:
    """Detections down to a score of 0.05 for each image (the kept boxes above any higher threshold are the same:
    NMS runs over the boxes above the threshold asked for, highest first)."""
    from ..io.images import read_image

    thr = detector.score_threshold
    detector.score_threshold = min(thr, 0.05)
    try:
        it = paths
        if progress:
            from tqdm import tqdm
            it = tqdm(paths, desc=f"{what} ({detector.name})", leave=False, disable=None)
        return [detector(read_image(p)) for p in it]
    finally:
        detector.score_threshold = thr


def pr_curve(all_dets: list[np.ndarray], all_gts: list[np.ndarray], neg_dets: list[np.ndarray] | None,
             thresholds=CURVE_THRESHOLDS, iou_thr: float = 0.4) -> list[dict]:
    """Per score threshold: AFW recall and precision at ``iou_thr`` (precision is a lower bound: unannotated
    faces count as false), detections per AFW image and, with ``neg_dets``, false faces per face-free photo."""
    n_gt = sum(len(g) for g in all_gts)
    rows = []
    for t in thresholds:
        above = [d[d[:, 4] > t] for d in all_dets]
        tp = sum(int(match_detections(d, g, iou_thr)[0].sum()) for d, g in zip(above, all_gts))
        n_det = sum(len(d) for d in above)
        row = {"threshold": t, "recall": 100.0 * tp / max(n_gt, 1), "precision": 100.0 * tp / max(n_det, 1),
               "detections_per_image": n_det / max(len(all_dets), 1)}
        if neg_dets is not None:
            row["false_per_image"] = float(np.mean([(d[:, 4] > t).sum() for d in neg_dets]))
        rows.append(row)
    return rows


def format_curve(name: str, rows: list[dict]) -> str:
    neg = "false_per_image" in rows[0]
    lines = [f"{name}: score threshold vs AFW recall / precision @IoU0.4" + (" and false faces per face-free photo"
                                                                            if neg else ""),
             f"{'threshold':>9}  {'recall %':>8}  {'precision %':>11}  {'dets/img':>8}" + (f"  {'false/img':>9}"
                                                                                          if neg else "")]
    for r in rows:
        lines.append(f"{r['threshold']:>9.2f}  {r['recall']:>8.2f}  {r['precision']:>11.2f}  "
                     f"{r['detections_per_image']:>8.2f}" + (f"  {r['false_per_image']:>9.3f}" if neg else ""))
    return "\n".join(lines)


def evaluate_detector(detector, data: str | Path, repeats: int = 20, progress: bool = True,
                      negatives: str | Path | None = None) -> dict:
    """All detection metrics of ``detector`` on the AFW-scenes pack; with ``negatives`` (a folder of face-free
    photos) also ``false_per_image``: the mean number of faces it reports per photo there."""
    from ..io.images import read_image

    paths, gts = load_afw_scenes(data)
    thr = detector.score_threshold
    dets = _detect_all(detector, paths, progress, "detect")
    neg = _detect_all(detector, negative_images(negatives), progress, "negatives") if negatives else None
    out = detection_metrics(dets, gts, thr)
    out["detections_per_image"] = out["dets_per_image"]
    if neg is not None:
        out["false_per_image"] = float(np.mean([(d[:, 4] > thr).sum() for d in neg]))
        out["n_negatives"] = len(neg)
    out["curve"] = pr_curve(dets, gts, neg)
    out["misses"] = {f"iou_{t}": miss_causes(dets, gts, thr, t) for t in IOUS}
    out["score_threshold"] = thr
    out["latency_ms_720p"] = latency_720p(detector, read_image(paths[0]), repeats)
    out["model"] = detector.name
    out["onnx"] = str(detector.onnx_path)
    return out


MISS_CAUSES = ("shared_box", "below_threshold", "misplaced", "weak_and_misplaced", "nothing")


def miss_causes(all_dets: list[np.ndarray], all_gts: list[np.ndarray], score_threshold: float,
                iou_thr: float = 0.4) -> dict[str, int]:
    """Why each annotated face missed at ``iou_thr`` is missed, counted per cause (first that applies):

    ``shared_box``: a box above the threshold overlaps it enough but was matched to another face;
    ``below_threshold``: a box overlaps it enough but scores at or under the threshold;
    ``misplaced``: a box above the threshold overlaps it, but at IoU 0.1 to ``iou_thr`` (wrong size or place);
    ``weak_and_misplaced``: only boxes under the threshold overlap it, at IoU 0.1 to ``iou_thr``;
    ``nothing``: no box overlaps it at IoU >= 0.1. ``all_dets`` are what the detector returned (the evaluation
    keeps boxes down to a score of 0.05)."""
    out = dict.fromkeys(MISS_CAUSES, 0)
    for d, g in zip(all_dets, all_gts):
        d = np.asarray(d, np.float32).reshape(-1, 5)
        g = np.asarray(g, np.float32).reshape(-1, 4)
        hit = match_detections(d[d[:, 4] > score_threshold], g, iou_thr)[1]
        iou = iou_matrix(d[:, :4], g) if len(d) else np.zeros((0, len(g)), np.float32)
        strong = d[:, 4] > score_threshold
        for j in np.flatnonzero(~hit):
            col = iou[:, j]
            if (strong & (col >= iou_thr)).any():
                out["shared_box"] += 1
            elif (col >= iou_thr).any():
                out["below_threshold"] += 1
            elif (strong & (col >= 0.1)).any():
                out["misplaced"] += 1
            elif (col >= 0.1).any():
                out["weak_and_misplaced"] += 1
            else:
                out["nothing"] += 1
    return out


def format_table(results: dict[str, dict]) -> str:
    """Rows = metrics, one column per evaluated model."""
    names = list(results)
    rows = [("faces (images)", lambda r: f"{r['n_faces']} ({r['n_images']})"),
            ("recall @IoU0.4 %", lambda r: f"{r['recall']['iou_0.4']:.2f}"),
            ("recall @IoU0.5 %", lambda r: f"{r['recall']['iou_0.5']:.2f}"),
            ("AP @IoU0.4 %", lambda r: f"{r['ap']['iou_0.4']:.2f}"),
            ("AP @IoU0.5 %", lambda r: f"{r['ap']['iou_0.5']:.2f}"),
            ("detections / image", lambda r: f"{r['dets_per_image']:.2f}"),
            ("false faces / face-free photo", lambda r: f"{r['false_per_image']:.3f}" if "false_per_image" in r
             else "-"),
            ("score threshold", lambda r: f"{r['score_threshold']:.2f}"),
            ("latency 1280x720 ms", lambda r: f"{r['latency_ms_720p']:.1f}")]
    if all("misses" in results[n] for n in names):
        rows += [(f"misses @0.4: {c.replace('_', ' ')}", lambda r, c=c: str(r["misses"]["iou_0.4"][c]))
                 for c in MISS_CAUSES]
    w0 = max(len(r[0]) for r in rows)
    ws = [max(len(n), 12) for n in names]
    lines = [" " * w0 + "  " + "  ".join(n.rjust(w) for n, w in zip(names, ws))]
    for label, fn in rows:
        lines.append(label.ljust(w0) + "  " + "  ".join(fn(results[n]).rjust(w) for n, w in zip(names, ws)))
    return "\n".join(lines)


def size_tradeoff(detector, data: str | Path, sizes: list[tuple[int, int]], repeats: int = 20) -> list[dict]:
    """Recall / detections / 720p latency of ``detector`` at each input-size cap ``(W, H)``."""
    from ..detect import InputPolicy

    keep = detector.policy
    rows = []
    try:
        for w, h in sizes:
            detector.policy = InputPolicy.from_size((w, h))
            r = evaluate_detector(detector, data, repeats, progress=False)
            rows.append({"input_size": f"{w}x{h}", "recall": r["recall"], "dets_per_image": r["dets_per_image"],
                         "latency_ms_720p": r["latency_ms_720p"]})
    finally:
        detector.policy = keep
    return rows


def format_tradeoff(name: str, rows: list[dict]) -> str:
    lines = [f"{name}: input-size cap (W x H) vs AFW recall and 1280x720 latency",
             f"{'input size':>12}  {'recall@0.4':>10}  {'recall@0.5':>10}  {'dets/img':>8}  {'720p ms':>8}"]
    for r in rows:
        lines.append(f"{r['input_size']:>12}  {r['recall']['iou_0.4']:>10.2f}  {r['recall']['iou_0.5']:>10.2f}  "
                     f"{r['dets_per_image']:>8.2f}  {r['latency_ms_720p']:>8.1f}")
    return "\n".join(lines)
