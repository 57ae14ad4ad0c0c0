"""Sparse overlay drawing (pure OpenCV; dense/3d go through tddfa.render and are tested there)."""
import numpy as np

from tddfa.api import Face
from tddfa.video.draw import draw_frame, draw_sparse
from tddfa.video.tracker import TrackResult


def test_draw_sparse_marks_landmarks_only(rng):
    img = np.zeros((200, 200, 3), np.uint8)
    lm = rng.uniform(60, 140, (68, 2))
    draw_sparse(img, lm, (0, 255, 0))
    for p in np.round(lm).astype(int)[:5]:
        assert img[p[1], p[0], 1] > 0  # a dot on every landmark
    assert img[:40].max() == 0 and img[:, :40].max() == 0  # nothing far away


def test_draw_frame_copies_and_skips_nan(rng):
    img = np.full((120, 160, 3), 50, np.uint8)
    lm = np.concatenate([rng.uniform(30, 90, (68, 2)), np.zeros((68, 1))], 1)
    face = Face(box=np.array([30, 30, 90, 90], np.float32), score=1.0, roi=np.array([20, 20, 100, 100], np.float32),
                params=np.zeros(62, np.float32), landmarks_3d=lm.astype(np.float32), pose=np.zeros(3, np.float32))
    out = draw_frame(img, [TrackResult(3, face)], "sparse")
    assert out.shape == img.shape and (img == 50).all() and (out != 50).any()
    face.landmarks_3d[:] = np.nan
    draw_sparse(img, face.landmarks_2d)  # no exception, nothing drawn
    assert (img == 50).all()
