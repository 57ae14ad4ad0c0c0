import cv2
import numpy as np
import pytest

from tddfa.errors import InputError
from tddfa.train.roi_scale import measure_roi_box_scale


def _pack(tmp_path, n=3, side=100.0):
    (tmp_path / "images").mkdir()
    names, pts = [], []
    g = np.linspace(0, side, 17)
    square = np.array([(x, y) for x in g for y in (0, side)] + [(0, side / 2), (side, side / 2)])[:68]
    for i in range(n):
        cv2.imwrite(str(tmp_path / "images" / f"f{i}.jpg"), np.full((300, 300, 3), 128 + i, np.uint8))
        names.append(f"f{i}")
        pts.append(square + 60 + 10 * i)
    np.savez(tmp_path / "annotations.npz", names=np.array(names), pts68=np.array(pts, np.float32),
             split=np.array(["train"] * n), subset=np.array(["helen", "helen", "afw"][:n]))
    return tmp_path


def test_scale_maps_the_detector_box_onto_the_landmark_roi(tmp_path):
    root = _pack(tmp_path)

    def detector(img):  # a box of side 100 whose 1.58 ROI (moved down by 0.14 of the side) centres on the face
        k = int(img[0, 0, 0]) - 128
        c = 60 + 10 * k + 50.0
        return np.array([[c - 50, c - 50 - 14, c + 50, c + 50 - 14, 0.9]], np.float32)

    m = measure_roi_box_scale(detector, root)
    assert m["n_faces"] == 2 and m["missed"] == 0  # the afw face is never used
    # landmark ROI side = sqrt(2) * 100; detector ROI side = floor(1.58 * 100) = 158
    assert m["ratio_median"] == pytest.approx(158 / (np.sqrt(2) * 100), rel=1e-3)
    assert m["scale"] == pytest.approx(1.58 * np.sqrt(2) * 100 / 158, rel=1e-3)
    assert np.allclose(m["centre_offset_median"], 0, atol=0.02)


def test_no_detection_counts_as_missed_and_none_at_all_is_an_error(tmp_path):
    root = _pack(tmp_path)
    with pytest.raises(InputError):
        measure_roi_box_scale(lambda img: np.zeros((0, 5), np.float32), root)
    with pytest.raises(InputError):
        measure_roi_box_scale(lambda img: np.zeros((0, 5), np.float32), tmp_path / "nowhere")
