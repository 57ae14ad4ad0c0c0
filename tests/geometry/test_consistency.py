import numpy as np
import pytest

from tddfa.geometry.consistency import PAIR_SHIFT, pair_rois


def test_pair_rois_are_symmetric_shifts_of_the_same_size():
    rois = np.array([[10.0, 20.0, 110.0, 120.0], [0.0, 0.0, 50.0, 50.0]])
    p = pair_rois(rois)
    assert p.shape == (4, 4)
    np.testing.assert_allclose((p[:2] + p[2:]) / 2, rois)  # centred on the ROI
    np.testing.assert_allclose(p[:, 2] - p[:, 0], np.tile(rois[:, 2] - rois[:, 0], 2))  # same size
    shift = np.linalg.norm(p[0, :2] - rois[0, :2]) / 100
    assert shift == pytest.approx(PAIR_SHIFT)
    assert np.all(p[0, :2] > rois[0, :2])  # diagonal: both x and y move
