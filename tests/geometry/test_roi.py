import numpy as np

from tddfa.geometry import box_from_landmarks, roi_from_box, roi_from_landmarks


def test_roi_from_box_matches_reference_rule():
    roi = roi_from_box(np.array([[100, 100, 200, 220, 0.9]]))[0]
    size = np.floor(110 * 1.58)
    cx, cy = 150, 160 + 0.14 * 110
    np.testing.assert_allclose(roi, [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2])


def test_roi_from_landmarks_is_diagonal_square():
    pts = np.array([[0, 0], [10, 0], [10, 20], [0, 20]], np.float64)
    roi = roi_from_landmarks(pts)[0]
    side = np.sqrt(2) * 20
    np.testing.assert_allclose(roi, [5 - side / 2, 10 - side / 2, 5 + side / 2, 10 + side / 2])
    np.testing.assert_allclose(box_from_landmarks(pts)[0], [0, 0, 10, 20])


def test_roi_from_landmarks_reproduces_aflw_boxes(shared_data):
    z = np.load(shared_data / "aflw2000-3d" / "annotations.npz")
    pts = z["pts68"][:, :2].transpose(0, 2, 1)
    roi = roi_from_landmarks(pts)
    # the official boxes are MATLAB-rounded versions of this rule (before clipping)
    assert np.abs(np.floor(roi + 0.5) - z["roi_box_full"]).max() <= 1.0
    assert (np.floor(roi + 0.5) == z["roi_box_full"]).mean() > 0.85  # the rest: float32 rounding at .5
