"""Choose the default detector's score threshold on real scenes, never on AFW or AFLW2000-3D.

    pip download --no-deps yuface==2023.5.1 -d DL && pip install --no-deps --target YU DL/yuface-*.whl
    python benchmarks/detector_threshold.py --scenes ../shared/data/scenes-wider200/images --yuface-path YU

Data: the 200 WIDER FACE scenes of ``scenes-wider200`` (training material). Pseudo ground truth: the faces two
teachers agree on (IoU >= 0.5) on the image upscaled 2x: RetinaFace without an input cap and YuNet (``yuface``,
libfacedetection, BSD-3), both at score > 0.8; the box is RetinaFace's. Faces of side >= 20 px must be found;
a detection on a smaller pseudo-face or on anything either teacher reports at > 0.3 counts neither way. The
deployed detector (``load_detector("default")``, input capped at 416 px) runs on the original image. Rule:
the threshold of the ``eval.detection`` grid with the largest F1 at IoU 0.4, ties to the higher threshold.

``--rescore`` chooses the second look (``detect.retinaface.Rescore``) the same way, jointly with the threshold:
the (threshold, floor, zoom side) of thresholds 0.4-0.8, floors 0.1 / 0.2 and sides 48 / 64 px with the largest
F1, ties to the higher threshold, then the higher floor (fewer second looks); the cut-out size (160 px) and the
least zoom (1.5x) are fixed beforehand, the number of second looks is ``Rescore``'s (``--most`` chooses it).

``--most K...`` chooses the second look jointly with how many unsure boxes get it (``Rescore.most``), on the scenes
and on the folders of ``--photos``: the (threshold, floor, side, K) of the grid above and these K with the largest
mean F1 over the sets, ties to the higher threshold, the higher floor, then the smaller K. ``--photos`` takes real photos of any size (public sample photos of
face-analysis repositories: group photos, crowds); their teachers run at full resolution when the longer side is
1,000 px or more (2x upscaled below that, as for the scenes).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from tddfa.detect import InputPolicy
from tddfa.runtime.registry import load_detector
from tddfa.detect.boxes import iou_matrix
from tddfa.detect.retinaface import Rescore
from tddfa.eval.detection import CURVE_THRESHOLDS, match_detections

MIN_SIDE, TEACHER_SCORE, LOOSE_SCORE = 20.0, 0.8, 0.3
GRID = [(t, floor, side) for t in (0.4, 0.5, 0.6, 0.7, 0.8) for floor in (0.1, 0.2) for side in (48.0, 64.0)]


def yunet_boxes(yuface, img: np.ndarray, conf: float) -> np.ndarray:
    confs, xywh, _ = yuface.detect(img, conf=conf)
    xywh = np.asarray(xywh, np.float32).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:], np.asarray(confs, np.float32)[:, None] / 100], 1)


def pseudo_labels(teacher, yuface, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(must (G, 4), loose (L, 4))`` in original pixels: agreed faces >= MIN_SIDE, and everything else that
    either teacher reports at > LOOSE_SCORE (detections there are ignored)."""
    f = 2.0 if max(img.shape[:2]) < 1000 else 1.0  # large photos: their own pixels are enough for the teachers
    big = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC) if f != 1.0 else img
    r = teacher(big, score_threshold=LOOSE_SCORE)
    r[:, :4] /= f
    y = yunet_boxes(yuface, big, LOOSE_SCORE)
    y[:, :4] /= f
    rs, ys = r[r[:, 4] > TEACHER_SCORE], y[y[:, 4] > TEACHER_SCORE]
    agreed = rs[(iou_matrix(rs[:, :4], ys[:, :4]) >= 0.5).any(1)] if len(rs) and len(ys) else rs[:0]
    side = ((agreed[:, 2] - agreed[:, 0]) + (agreed[:, 3] - agreed[:, 1])) / 2
    return agreed[side >= MIN_SIDE, :4], np.concatenate([r[:, :4], y[:, :4]])


def score(dets: list[np.ndarray], must: list[np.ndarray], loose: list[np.ndarray], t: float) -> dict:
    tp = fp = n_gt = 0
    for d, g, lo in zip(dets, must, loose):
        d = d[d[:, 4] > t]
        hit_d, _ = match_detections(d, g, 0.4)
        n_gt += len(g)
        tp += int(hit_d.sum())
        rest = d[~hit_d]
        if len(rest) and len(lo):
            rest = rest[iou_matrix(rest[:, :4], lo).max(1) < 0.4]
        fp += len(rest)
    rec, prec = tp / max(n_gt, 1), tp / max(tp + fp, 1)
    return {"threshold": t, "recall": 100 * rec, "precision": 100 * prec,
            "f1": 100 * (2 * rec * prec / max(rec + prec, 1e-12)), "faces": n_gt, "false": fp}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", required=True, help="folder of scene photos (scenes-wider200/images)")
    ap.add_argument("--yuface-path", required=True, help="folder that yuface was installed into (--target)")
    ap.add_argument("--json", help="write the curve and the choice as JSON")
    ap.add_argument("--rescore", action="store_true", help="also choose the second look's floor and zoom side")
    ap.add_argument("--most", type=int, nargs="+", metavar="K",
                    help="choose the second look jointly with Rescore.most among these, on the scenes and --photos")
    ap.add_argument("--photos", nargs="*", default=[], metavar="DIR", help="more photo folders for --most")
    args = ap.parse_args()
    sys.path.insert(0, args.yuface_path)
    import yuface

    paths = sorted(Path(args.scenes).glob("*.jpg"))
    teacher = load_detector("default", policy=InputPolicy(None, None), rescore=None)
    student = load_detector("default", rescore=None)
    imgs, dets, must, loose = [], [], [], []
    for p in paths:
        img = cv2.imread(str(p))
        g, lo = pseudo_labels(teacher, yuface, img)
        imgs.append(img)
        must.append(g)
        loose.append(lo)
        dets.append(student(img, score_threshold=0.05))
    rows = [score(dets, must, loose, t) for t in CURVE_THRESHOLDS]
    out = {"curve": rows}
    if args.rescore:
        grid = []
        for t, floor, side in GRID:
            det = load_detector("default", score_threshold=t, rescore=Rescore(floor=floor, upper=t, side=side))
            grid.append({**score([det(im) for im in imgs], must, loose, t), "floor": floor, "side": side})
        pick = max(grid, key=lambda r: (round(r["f1"], 6), r["threshold"], r["floor"]))
        print(f"{'threshold':>9}  {'floor':>5}  {'side':>4}  {'recall %':>8}  {'precision %':>11}  {'F1':>6}  {'false':>5}")
        for r in grid:
            print(f"{r['threshold']:>9.2f}  {r['floor']:>5.2f}  {r['side']:>4.0f}  {r['recall']:>8.2f}  "
                  f"{r['precision']:>11.2f}  {r['f1']:>6.2f}  {r['false']:>5d}")
        print(f"chosen with the second look: threshold {pick['threshold']}, floor {pick['floor']}, side {pick['side']:.0f}")
        out["rescore_grid"], out["rescore_chosen"] = grid, pick
    if args.most:
        sets = {"scenes": (imgs, must, loose)}
        for folder in args.photos:
            ph = [cv2.imread(str(p)) for p in sorted(Path(folder).glob("*.jpg"))]
            labels = [pseudo_labels(teacher, yuface, im) for im in ph]
            sets[folder] = (ph, [g for g, _ in labels], [lo for _, lo in labels])
        for name, (ims, g, _) in sets.items():
            print(f"{name}: {len(ims)} photos, {sum(len(x) for x in g)} pseudo-labelled faces")
        table = []
        for t, floor, side in GRID:
            for k in args.most:
                det = load_detector("default", score_threshold=t,
                                    rescore=Rescore(floor=floor, upper=t, side=side, most=k))
                per = {n: score([det(im) for im in ims], g, lo, t) for n, (ims, g, lo) in sets.items()}
                table.append({"threshold": t, "floor": floor, "side": side, "most": k, "sets": per,
                              "mean_f1": float(np.mean([r["f1"] for r in per.values()]))})
                cells = "  ".join(f"F1 {v['f1']:.2f} (R {v['recall']:.2f})" for v in per.values())
                print(f"threshold {t:.2f} floor {floor:.2f} side {side:.0f} most {k:>3}: mean F1 "
                      f"{table[-1]['mean_f1']:.2f}  {cells}", flush=True)
        pick = max(table, key=lambda r: (round(r["mean_f1"], 6), r["threshold"], r["floor"], -r["most"]))
        print(f"chosen jointly: threshold {pick['threshold']}, floor {pick['floor']}, side {pick['side']:.0f}, "
              f"second looks {pick['most']}")
        out["joint_grid"], out["joint_chosen"] = table, {k: pick[k] for k in ("threshold", "floor", "side", "most")}
    best = max(rows, key=lambda r: (round(r["f1"], 6), r["threshold"]))
    print(f"{len(paths)} scenes, {rows[0]['faces']} pseudo-labelled faces of side >= {MIN_SIDE:.0f} px")
    print(f"{'threshold':>9}  {'recall %':>8}  {'precision %':>11}  {'F1':>6}  {'false':>5}")
    for r in rows:
        print(f"{r['threshold']:>9.2f}  {r['recall']:>8.2f}  {r['precision']:>11.2f}  {r['f1']:>6.2f}  {r['false']:>5d}")
    print(f"chosen threshold: {best['threshold']}")
    if args.json:
        Path(args.json).write_text(json.dumps({**out, "chosen": best["threshold"]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
