"""Tracker: matching helpers, failure signals, and a synthetic moving sequence (reference weights; skips without)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.video.tracker import (FaceTracker, TrackerConfig, greedy_match, iou_matrix, recrop_rois,
                                 tracking_signals)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
PATCH = (105, 10, 345, 250)  # x1, y1, x2, y2 of the astronaut's head in the example image
FACE_IN_PATCH = np.array([76.0, 57.0, 165.0, 166.0])  # her face box inside that patch


def test_iou_and_greedy_match():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[21, 21, 31, 31], [0, 0, 10, 10], [100, 100, 110, 110]], float)
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 1] == pytest.approx(1.0) and iou[0, 2] == 0
    assert sorted(greedy_match(iou, 0.3)) == [(0, 1), (1, 0)]
    assert greedy_match(iou, 0.99) == [(0, 1)]
    assert greedy_match(np.zeros((0, 3)), 0.3) == []


def test_tracking_signals():
    lm = np.random.default_rng(0).uniform(40, 80, (1, 68, 2))
    from tddfa.geometry import roi_from_landmarks

    roi = roi_from_landmarks(lm)
    s = tracking_signals(lm, roi, lm)
    assert s["scale_change"][0] == pytest.approx(0, abs=1e-9) and s["shift"][0] == pytest.approx(0, abs=1e-9)
    assert s["disagreement"][0] == 0
    side = roi[0, 2] - roi[0, 0]
    s = tracking_signals(lm + [0.1 * side, 0], roi, lm)  # shifted by 10 % of the ROI side
    assert s["shift"][0] == pytest.approx(0.1) and s["disagreement"][0] == pytest.approx(0.1)
    r2 = recrop_rois(roi, 0)
    assert (r2[0, 2] - r2[0, 0]) > side  # the second opinion is a different, larger crop
    assert not np.allclose(recrop_rois(roi, 0), recrop_rois(roi, 1))


def _patch():
    img = cv2.imread(str(EXAMPLE))
    x1, y1, x2, y2 = PATCH
    return img[y1:y2, x1:x2].copy()


def _stub_detector(img):
    """Faces are pasted patches on a black canvas: one detection per connected non-black blob."""
    mask = (img.max(axis=2) > 0).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    out = [[x + FACE_IN_PATCH[0], y + FACE_IN_PATCH[1], x + FACE_IN_PATCH[2], y + FACE_IN_PATCH[3], 0.99]
           for x, y, w, h, area in stats[1:] if w > 100 and h > 100]
    return np.array(out, np.float32).reshape(-1, 5)


def _canvas(positions, size=(360, 640)):
    patch = _patch()
    img = np.zeros(size + (3,), np.uint8)
    for x, y in positions:
        img[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    return img


@pytest.fixture(scope="module", params=[1, 3], ids=["1crop", "3crops"])
def aligner(reference_dir, request):
    """Both tracking checks: 1 crop + re-crop, and the shifted pair of 3-crop alignment (the video default)."""
    from tddfa import FaceAligner

    return FaceAligner(model=f"reference:{reference_dir}", detector=_stub_detector, crops=request.param)


def test_tracks_a_moving_face_then_loses_and_recovers_it(aligner):
    tracker = FaceTracker(aligner, TrackerConfig(detect_every=0))  # detection only at start / on failure
    xs = [20 + 6 * k for k in range(30)]
    ys = [40 + int(round(15 * np.sin(k / 4))) for k in range(30)]
    first = None
    errs = []
    for k, (x, y) in enumerate(zip(xs, ys)):
        res = tracker.update(_canvas([(x, y)]))
        assert [r.track_id for r in res] == [0]
        lm = res[0].face.landmarks_2d
        if first is None:
            first = lm
        else:  # the face only translates: landmarks follow by the same shift
            errs.append(np.abs(lm - (first + [x - xs[0], y - ys[0]])).mean())
        assert res[0].detected == (k == 0)
    size = np.ptp(first[:, 0])
    assert np.mean(errs) < 0.03 * size
    assert tracker.stats["detections_run"] == 1
    # the face is cut away: the failure test fires, nothing is reported
    for _ in range(3):
        assert tracker.update(_canvas([])) == []
    assert tracker.stats["failures"] >= 1
    # it comes back where it was: same id, from a fresh detection
    res = tracker.update(_canvas([(xs[-1], ys[-1])]))
    assert [r.track_id for r in res] == [0] and res[0].detected


def test_two_faces_keep_their_ids(aligner):
    tracker = FaceTracker(aligner, TrackerConfig(detect_every=5))
    ids_left = set()
    for k in range(15):
        res = tracker.update(_canvas([(10 + 4 * k, 60), (390 - 4 * k, 80)]))
        assert len(res) == 2
        left = min(res, key=lambda r: r.face.landmarks_2d[:, 0].mean())
        ids_left.add(left.track_id)
    assert len(ids_left) == 1 and tracker.next_id == 2


def test_max_faces(aligner):
    tracker = FaceTracker(aligner, TrackerConfig(max_faces=1))
    res = tracker.update(_canvas([(10, 60), (390, 80)]))
    assert len(res) == 1
