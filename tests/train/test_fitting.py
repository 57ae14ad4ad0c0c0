"""3DMM fitting to 68 landmarks: recovery of known parameters, contour marching, flip permutation."""
from __future__ import annotations

import numpy as np
import pytest

from tddfa.geometry import angles_to_rotation, pose_from_camera
from tddfa.train.fitting import (CONTOUR, FLIP_PERM, FitConfig, box_size, contour_candidates, fit_landmarks,
                                 pixels_to_camera, camera_to_pixels, project_landmarks, select_contour)


def random_params(model, n, rng, max_yaw=40.0):
    """Plausible faces in a 120 crop: random pose, coefficients ~ 0.7 x the model's prior."""
    p = np.zeros((n, 62))
    for i in range(n):
        R = angles_to_rotation(rng.uniform(-max_yaw, max_yaw), rng.uniform(-20, 20), rng.uniform(-15, 15))
        s = 85 / 146000 * rng.uniform(0.9, 1.1)
        p[i, :12] = np.concatenate([s * R, [[60 + rng.normal(0, 2)], [60 + rng.normal(0, 2)], [-70.0]]], 1).ravel()
    p[:, 12:] = model.param_mean[12:] + 0.7 * model.param_std[12:] * rng.standard_normal((n, 50))
    return p


def test_flip_permutation_is_an_involution_that_swaps_sides():
    assert sorted(FLIP_PERM) == list(range(68))
    np.testing.assert_array_equal(FLIP_PERM[FLIP_PERM], np.arange(68))
    # left eye <-> right eye, jaw end <-> jaw end, fixed points on the midline
    assert set(FLIP_PERM[36:42]) == set(range(42, 48))
    assert FLIP_PERM[0] == 16 and FLIP_PERM[36] == 45 and FLIP_PERM[39] == 42 and FLIP_PERM[48] == 54
    for mid in (8, 27, 30, 33, 51, 57, 62, 66):
        assert FLIP_PERM[mid] == mid


def test_flip_permutation_matches_the_model_mirror(bfm):
    # mirroring the (nearly symmetric) mean face and permuting must give back the same keypoints
    kp = bfm.mean[bfm.keypoints]
    mirrored = kp * np.array([-1.0, 1.0, 1.0])
    err = np.linalg.norm(mirrored[FLIP_PERM] - kp, axis=1)
    width = np.ptp(kp[:, 0])
    assert err.max() < 0.03 * width
    # a wrong permutation (identity) is far off: the test can fail
    assert np.linalg.norm(mirrored - kp, axis=1).max() > 0.5 * width


def test_pixel_camera_roundtrip(rng):
    pts = rng.uniform(0, 119, (3, 68, 2))
    np.testing.assert_allclose(camera_to_pixels(pixels_to_camera(pts)), pts, atol=1e-9)


def test_contour_marching_is_identity_when_frontal_and_moves_the_far_side(bfm):
    lines = contour_candidates(bfm)
    assert lines.shape[0] == CONTOUR.size
    np.testing.assert_array_equal(lines[:, 0], bfm.keypoints[CONTOUR])
    alpha = bfm.param_mean[12:][None].astype(np.float64)
    idx = select_contour(bfm, lines, alpha, np.eye(3)[None])
    np.testing.assert_array_equal(idx[0], bfm.keypoints)
    left, right = CONTOUR[CONTOUR < 8], CONTOUR[CONTOUR > 8]
    for yaw in (-40.0, 40.0):
        idx = select_contour(bfm, lines, alpha, angles_to_rotation(yaw, 0, 0)[None])[0]
        moved = idx != bfm.keypoints
        # exactly one side slides onto the silhouette; the other keeps its keypoints
        assert moved[left].sum() >= 5 or moved[right].sum() >= 5
        assert moved[left].sum() == 0 or moved[right].sum() == 0
        assert not moved[np.setdiff1d(np.arange(68), CONTOUR)].any()


def test_fit_recovers_known_parameters(bfm, rng):
    p = random_params(bfm, 32, rng)
    x = project_landmarks(bfm, p)  # contour on the silhouette, like annotations
    fit = fit_landmarks(bfm, x)
    assert fit.params.shape == (32, 62) and fit.params.dtype == np.float32
    assert fit.nme.mean() < 0.01  # real 300W faces fit at ~1.9 %
    pose_err = np.abs(pose_from_camera(fit.params[:, :12]) - pose_from_camera(p[:, :12]))
    assert pose_err.mean() < 2.0
    # the dense face agrees too, not only the 68 points
    dense = np.linalg.norm((bfm.reconstruct(fit.params) - bfm.reconstruct(p.astype(np.float32)))[..., :2], axis=2)
    assert (dense.mean(axis=1) / box_size(x)).mean() < 0.015
    # the stored projections are what the params give
    np.testing.assert_allclose(fit.landmarks, project_landmarks(bfm, fit.params), atol=1e-3)


def test_fit_is_robust_to_a_few_outliers(bfm, rng):
    p = random_params(bfm, 16, rng, max_yaw=20)
    x = project_landmarks(bfm, p)
    bad = x.copy()
    bad[:, [20, 50]] += 25.0  # two grossly wrong points per face
    robust = fit_landmarks(bfm, bad, FitConfig(huber_px=3.0))
    plain = fit_landmarks(bfm, bad, FitConfig(huber_px=1e9))
    good = np.setdiff1d(np.arange(68), [20, 50])

    def err(f):
        return np.linalg.norm(f.landmarks[:, good] - x[:, good], axis=2).mean()

    assert err(robust) < 0.6 * err(plain)


def test_fit_rejects_bad_input(bfm):
    with pytest.raises(ValueError):
        fit_landmarks(bfm, np.zeros((2, 5, 2)))
    with pytest.raises(ValueError):
        fit_landmarks(bfm, np.full((1, 68, 2), np.nan))
