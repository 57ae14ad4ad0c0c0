"""Stability benchmark: protocol pieces (pure functions) and the synthetic protocol on 3 faces (needs ../shared)."""
import numpy as np
import pytest

from tddfa.eval.stability import (apply_affine, estimate_lag, estimate_lag_position, nonrigid_motion,
                                  random_similarities, select_faces, sequence_jitter, similarity_fit,
                                  synthetic_jitter, transform_roi)


def test_random_similarities_within_protocol(rng):
    mats = random_similarities(rng, 200, np.array([100.0, 120.0]), face_size=80.0)
    scale = np.sqrt(np.abs(np.linalg.det(mats[:, :, :2])))
    angle = np.degrees(np.arctan2(mats[:, 1, 0], mats[:, 0, 0]))
    assert scale.min() >= 0.95 and scale.max() <= 1.05
    assert np.abs(angle).max() <= 5.0
    centre_moved = np.einsum("kij,j->ki", mats[:, :, :2], [100.0, 120.0]) + mats[:, :, 2] - [100.0, 120.0]
    assert np.abs(centre_moved).max() <= 0.03 * 80 + 1e-9  # about the centre: only the shift moves it


def test_roi_and_points_follow_the_transform(rng):
    m = random_similarities(rng, 1, np.array([50.0, 60.0]), 40.0)[0]
    roi = np.array([30.0, 40.0, 70.0, 80.0])
    r2 = transform_roi(roi, m)
    np.testing.assert_allclose((r2[:2] + r2[2:]) / 2, apply_affine(np.array([50.0, 60.0]), m))
    s = np.sqrt(abs(np.linalg.det(m[:, :2])))
    assert r2[2] - r2[0] == pytest.approx(40 * s)
    import cv2

    pts = rng.uniform(0, 100, (68, 2))
    np.testing.assert_allclose(apply_affine(apply_affine(pts, m), cv2.invertAffineTransform(m)), pts, atol=1e-9)


def test_select_faces_deterministic():
    yaw = np.concatenate([np.full(50, 10.0), np.full(50, 45.0), [-351.0]])
    a, b = select_faces(yaw, 20, seed=3), select_faces(yaw, 20, seed=3)
    np.testing.assert_array_equal(a, b)
    assert (a < 50).all() and len(set(a)) == 20


def test_sequence_jitter_zero_for_still_and_scales_with_noise(rng):
    base = rng.uniform(0, 100, (68, 2))
    assert sequence_jitter(np.repeat(base[None], 10, 0), 100.0) == pytest.approx(0, abs=1e-9)
    noisy = base + rng.normal(0, 1.0, (10, 68, 2))
    j = sequence_jitter(noisy, 100.0)
    assert 0.8 < j < 1.4  # mean of a 2-D Gaussian norm with sigma 1 is ~1.25 (minus the mean's share)


def test_similarity_fit_removes_rigid_motion(rng):
    src = rng.uniform(0, 100, (68, 2))
    a, s, t = 0.3, 1.2, np.array([5.0, -3.0])
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = s * src @ r.T + t
    np.testing.assert_allclose(similarity_fit(src, dst), dst, atol=1e-9)
    seq = np.stack([src, dst, dst + rng.normal(0, 0.5, dst.shape)])
    valid = np.ones(3, bool)
    assert nonrigid_motion(seq[:2], valid[:2]) == pytest.approx(0, abs=1e-9)
    assert nonrigid_motion(seq, valid) > 0


@pytest.mark.parametrize("shift", [0, 1, 3])
def test_estimate_lag_recovers_a_delay(shift):
    t = np.arange(200)
    raw = np.stack([40 * np.sin(t / 7.0), 25 * np.cos(t / 11.0)], 1)
    delayed = np.concatenate([np.repeat(raw[:1], shift, 0), raw[: len(raw) - shift]])
    assert estimate_lag(raw, delayed) == pytest.approx(shift, abs=0.15)
    assert estimate_lag_position(raw, delayed) == pytest.approx(shift, abs=0.06)


def test_synthetic_protocol_on_three_faces(shared_data, reference_dir):
    from tddfa import FaceAligner

    aligner = FaceAligner(model=f"reference:{reference_dir}", detector=lambda img: np.zeros((0, 5)))
    r = synthetic_jitter(aligner, shared_data / "aflw2000-3d", n=3, frames=4, seed=0, progress=False)
    assert r["n_sequences"] == 3 and r["frames"] == 4
    assert 0.05 < r["jitter_nme"] < 2.0  # a real model jitters a little, far below its NME (~3 %)


def test_cut_aways_paint_only_the_roi():
    import numpy as np

    from tddfa.eval.stability import cut_aways

    img = np.full((60, 80, 3), 200, np.uint8)
    filler = np.full((5, 5, 3), 7, np.uint8)
    cuts = cut_aways(img, np.array([10.0, 20.0, 40.0, 50.0]), np.random.default_rng(0), filler)
    assert set(cuts) == {"face", "black", "noise", "background"} and cuts["face"] is img
    assert cuts["black"][20:50, 10:40].max() == 0 and cuts["background"][20:50, 10:40].max() == 7
    for g in cuts.values():  # outside the ROI nothing changes
        assert g[:20].min() == 200 and g[:, 40:].min() == 200
    assert cut_aways(img, np.array([75.0, 55.0, 90.0, 70.0]), np.random.default_rng(0), filler) == {}
