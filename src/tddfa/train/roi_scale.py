"""Calibrate ``roi_box_scale``: how to turn a detector's box into the crop a landmark-ROI model was trained on.

Our regressors are trained on landmark ROIs (:func:`tddfa.geometry.roi_from_landmarks`); at run time the crop
comes from a detector box (:func:`tddfa.geometry.roi_from_box`, side = ``scale`` x box side). The right
``scale`` is the one that makes the two ROIs the same size on average, measured on **300W train** faces (never
AFW, never the evaluation sets) with the detector that ships alongside.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detect.boxes import iou_matrix
from ..errors import InputError
from ..geometry.roi import BOX_SCALE, box_from_landmarks, roi_from_box, roi_from_landmarks


def iter_300w(data_300w: str | Path, split: str = "train", step: int = 1):
    """``(image BGR, pts68 (68, 2) float64)`` of every ``step``-th face of a 300W split, AFW excluded (it is the
    detector's test set); the count first, so callers can report it. Raises InputError for a missing pack/image."""
    import cv2

    root = Path(data_300w)
    if not (root / "annotations.npz").exists():
        raise InputError(f"no 300W pack at {root} (annotations.npz missing)")
    ann = np.load(root / "annotations.npz")
    idx = np.flatnonzero((ann["split"] == split) & (ann["subset"] != "afw"))[::step]
    yield len(idx)
    for i in idx:
        img = cv2.imread(str(root / "images" / f"{ann['names'][i]}.jpg"))
        if img is None:
            raise InputError(f"cannot read {ann['names'][i]}.jpg in {root / 'images'}")
        yield img, ann["pts68"][i].astype(np.float64)


def measure_roi_box_scale(detector, data_300w: str | Path, split: str = "train", step: int = 1) -> dict:
    """Detect every ``split`` face of the 300W pack (AFW excluded) and compare ``roi_from_box(det, 1.58)`` with
    ``roi_from_landmarks(annotation)``. Returns ``scale`` (= 1.58 / median side ratio), the ratio's spread, the
    median centre offset (fraction of the landmark ROI side) and how many faces were matched / missed."""
    faces = iter_300w(data_300w, split, step)
    n = next(faces)
    ratios, offsets, missed = [], [], 0
    for img, pts in faces:
        dets = np.asarray(detector(img), np.float64).reshape(-1, 5)
        iou = iou_matrix(dets[:, :4], box_from_landmarks(pts[None]))[:, 0]
        if not len(dets) or iou.max() < 0.3:
            missed += 1
            continue
        det_roi = roi_from_box(dets[int(iou.argmax())][None, :4], scale=BOX_SCALE)[0]
        lm_roi = roi_from_landmarks(pts[None])[0]
        side = lm_roi[2] - lm_roi[0]
        ratios.append((det_roi[2] - det_roi[0]) / side)
        offsets.append(((det_roi[:2] + det_roi[2:]) / 2 - (lm_roi[:2] + lm_roi[2:]) / 2) / side)
    if not ratios:
        raise InputError(f"the detector found none of the {n} faces")
    r = np.asarray(ratios)
    return {"scale": float(BOX_SCALE / np.median(r)), "ratio_median": float(np.median(r)),
            "ratio_p10_p90": [float(v) for v in np.percentile(r, [10, 90])],
            "centre_offset_median": [float(v) for v in np.median(np.asarray(offsets), axis=0)],
            "n_faces": int(len(r)), "missed": int(missed), "split": split}


def fit_box_to_roi(detector, data_300w: str | Path, split: str = "train", step: int = 1) -> dict:
    """Fit the box -> ROI mapping of :func:`tddfa.geometry.roi_from_box` for ``detector`` so that its ROIs match
    ``roi_from_landmarks`` of the annotations of a 300W ``split`` (AFW excluded): ``scale`` = median landmark-ROI
    side over box side (box side = mean of width and height), ``shift`` = median ``(dx, dy)`` of the landmark ROI's
    centre from the box centre, in box sides. Also reports the IoU of the fitted ROIs with the landmark ROIs."""
    faces = iter_300w(data_300w, split, step)
    n = next(faces)
    rows, missed = [], 0
    for img, pts in faces:
        dets = np.asarray(detector(img), np.float64).reshape(-1, 5)
        iou = iou_matrix(dets[:, :4], box_from_landmarks(pts[None]))[:, 0] if len(dets) else np.zeros(0)
        if not len(dets) or iou.max() < 0.3:
            missed += 1
            continue
        b = dets[int(iou.argmax()), :4]
        lm = roi_from_landmarks(pts[None])[0]
        side = ((b[2] - b[0]) + (b[3] - b[1])) / 2
        rows.append([(lm[2] - lm[0]) / side, ((lm[0] + lm[2]) - (b[0] + b[2])) / 2 / side,
                     ((lm[1] + lm[3]) - (b[1] + b[3])) / 2 / side, *b, *lm])
    if not rows:
        raise InputError(f"the detector found none of the {n} faces")
    r = np.asarray(rows)
    scale, sx, sy = (float(np.median(r[:, k])) for k in range(3))
    fitted = roi_from_box(r[:, 3:7], scale=scale, shift=(sx, sy))
    ious = np.diag(iou_matrix(fitted, r[:, 7:11]))
    return {"scale": scale, "shift": [sx, sy], "scale_p10_p90": [float(v) for v in np.percentile(r[:, 0], [10, 90])],
            "roi_iou_median": float(np.median(ious)), "roi_iou_p10": float(np.percentile(ious, 10)),
            "n_faces": int(len(r)), "missed": int(missed), "split": split}
