"""Per-track smoothers on hand-made tracker output (no model needed)."""
import numpy as np
import pytest

from tddfa.api import Face
from tddfa.video.smooth import NoSmoother, OneEuroSmoother, WindowSmoother, make_smoother
from tddfa.video.tracker import TrackResult


def result(track_id, lm, detected=False, roi=(0, 0, 100, 100)):
    params = np.zeros(62, np.float32)
    params[[0, 5, 10]] = 1e-3  # a valid (scaled identity) camera so the pose can be rebuilt
    return TrackResult(track_id, Face(box=np.array(roi, np.float32), score=1.0, roi=np.array(roi, np.float32),
                                      params=params, landmarks_3d=np.asarray(lm, np.float32),
                                      pose=np.zeros(3, np.float32)), detected=detected)


def base_shape(rng):
    return np.concatenate([rng.uniform(20, 80, (68, 2)), rng.uniform(-10, 10, (68, 1))], axis=1)


def test_one_euro_constant_and_noise(rng):
    shape = base_shape(rng)
    sm = OneEuroSmoother(fps=30)
    outs = [sm.push(t, [result(0, shape)])[0][1][0].face.landmarks_3d for t in range(20)]
    np.testing.assert_allclose(outs[-1], shape, atol=1e-4)
    sm = OneEuroSmoother(fps=30)
    noisy = [shape + rng.normal(0, 1.0, shape.shape) for _ in range(200)]
    outs = np.array([sm.push(t, [result(0, x)])[0][1][0].face.landmarks_3d for t, x in enumerate(noisy)])
    raw_jitter = np.abs(np.diff(np.array(noisy), axis=0)).mean()
    assert np.abs(np.diff(outs[50:], axis=0)).mean() < 0.5 * raw_jitter


def test_one_euro_restarts_on_detection(rng):
    shape = base_shape(rng)
    sm = OneEuroSmoother(fps=30)
    for t in range(10):
        sm.push(t, [result(0, shape)])
    jumped = shape + 40
    out = sm.push(10, [result(0, jumped, detected=True)])[0][1][0]
    np.testing.assert_allclose(out.face.landmarks_3d, jumped, atol=1e-4)  # no drag across a re-detection
    assert out.face.box[0] == pytest.approx(jumped[:, 0].min(), abs=1e-3)


def test_window_delay_and_mean(rng):
    shapes = [base_shape(rng) for _ in range(6)]
    sm = WindowSmoother(n_pre=1, n_next=2)
    emitted = []
    for t, s in enumerate(shapes):
        ready = sm.push(t, [result(0, s)])
        assert all(i <= t - 2 for i, _ in ready)  # held back by n_next frames
        emitted += ready
    emitted += sm.flush()
    assert [i for i, _ in emitted] == list(range(6))
    out = {i: rs[0].face.landmarks_3d for i, rs in emitted}
    np.testing.assert_allclose(out[2], np.mean(shapes[1:5], axis=0), atol=1e-4)
    np.testing.assert_allclose(out[0], np.mean(shapes[0:3], axis=0), atol=1e-4)
    np.testing.assert_allclose(out[5], np.mean(shapes[4:6], axis=0), atol=1e-4)


def test_window_does_not_mix_tracks_or_segments(rng):
    a, b = base_shape(rng), base_shape(rng) + 200
    sm = WindowSmoother(n_pre=2, n_next=2)
    emitted = []
    for t in range(6):
        rs = [result(0, a if t < 3 else a + 50, detected=(t == 3)), result(1, b)]
        emitted += sm.push(t, rs)
    emitted += sm.flush()
    out = dict(emitted)
    np.testing.assert_allclose(out[2][0].face.landmarks_3d, a, atol=1e-4)  # frame 3 starts a new segment
    np.testing.assert_allclose(out[3][0].face.landmarks_3d, a + 50, atol=1e-4)
    np.testing.assert_allclose(out[4][1].face.landmarks_3d, b, atol=1e-3)


def test_make_smoother():
    assert isinstance(make_smoother("none"), NoSmoother)
    assert isinstance(make_smoother("window", n_pre=2, n_next=3), WindowSmoother)
    assert make_smoother("window", n_next=3).delay == 3
    with pytest.raises(ValueError):
        make_smoother("kalman")
