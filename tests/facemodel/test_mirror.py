"""The mirror of the 3DMM: mirrored parameters give the mirror image of a face (tddfa.facemodel.mirror)."""
from __future__ import annotations

import numpy as np
import pytest

from tddfa.facemodel.mirror import mirror_params, model_mirror
from tddfa.reconstruct import reconstruct
from tddfa.train.fitting import FLIP_PERM

ROI = np.array([[10.0, 20.0, 250.0, 260.0]])  # 240 px square: 2 image pixels per crop pixel


def _params(bfm, rng, n=4):
    return (bfm.param_mean + 0.5 * rng.standard_normal((n, 62)) * bfm.param_std).astype(np.float32)


def _mirror_image(pts, roi):
    """Image-frame points mirrored about the ROI's column centre (pixel x1..x2-1 <-> x2-1..x1)."""
    out = np.array(pts, np.float64, copy=True)
    out[..., 0] = roi[0, 0] + roi[0, 2] - 1 - out[..., 0]
    return out


def test_the_model_is_almost_symmetric(bfm):
    assert model_mirror(bfm).residual < 0.01


def test_mirrored_params_draw_the_mirror_image(bfm, rng):
    """Parameters read as if regressed from the flipped crop come back as the mirror image of the face, with the
    iBUG-68 points swapped left for right."""
    p = _params(bfm, rng)
    pts = reconstruct(bfm, p, np.repeat(ROI, len(p), 0))
    back = mirror_params(p, model_mirror(bfm), np.full(len(p), 240.0), 120)
    mirrored = reconstruct(bfm, back, np.repeat(ROI, len(p), 0))[:, FLIP_PERM]
    expected = _mirror_image(pts, ROI)
    err = np.linalg.norm(mirrored[..., :2] - expected[..., :2], axis=-1).mean(axis=1)
    width = np.ptp(pts[..., 0], axis=1)
    assert np.all(err < 0.01 * width), err / width
    # depth is not mirrored
    assert np.allclose(mirrored[..., 2], expected[..., 2], atol=0.02 * width.max())


def test_mirroring_twice_is_the_identity(bfm, rng):
    p = _params(bfm, rng)
    mir = model_mirror(bfm)
    twice = mirror_params(mirror_params(p, mir, np.full(len(p), 240.0), 120), mir, np.full(len(p), 240.0), 120)
    assert np.allclose(twice[:, :12], p[:, :12], rtol=1e-5, atol=1e-3)
    a = reconstruct(bfm, p, np.repeat(ROI, len(p), 0))
    b = reconstruct(bfm, twice, np.repeat(ROI, len(p), 0))
    assert np.abs(a - b).max() < 0.005 * np.ptp(a[..., 0])


def test_a_wrong_column_offset_is_caught(bfm, rng):
    """The crop-width term matters: reading the 240 px ROI as 60 px moves the mirror by 1.5 crop pixels (3 image
    pixels here)."""
    p = _params(bfm, rng, 1)
    pts = _mirror_image(reconstruct(bfm, p, ROI), ROI)
    good = reconstruct(bfm, mirror_params(p, model_mirror(bfm), [240.0], 120), ROI)[:, FLIP_PERM]
    bad = reconstruct(bfm, mirror_params(p, model_mirror(bfm), [60.0], 120), ROI)[:, FLIP_PERM]
    assert np.abs((good - pts)[..., 0].mean()) < 0.3
    assert np.abs((bad - pts)[..., 0].mean()) == pytest.approx(3.0, abs=0.3)
