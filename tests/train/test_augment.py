"""Augmentation moves image, landmarks and 3DMM parameters together; photometric ops keep uint8."""
from __future__ import annotations

import numpy as np
import pytest

from tddfa.train import augment as A
from toy_face import crop_points, toy_model, toy_params


@pytest.mark.parametrize("angle,scale,shift",
                         [(0, 1, (0, 0)), (17, 1, (0, 0)), (-30, 1.2, (5, -7)), (90, 0.8, (-3, 2))])
def test_warped_params_give_warped_landmarks(rng, angle, scale, shift):
    fm = toy_model(rng)
    p = toy_params(rng)
    a = A.similarity_matrix(angle, scale, shift)
    before, after = crop_points(fm, p), crop_points(fm, A.warp_params(p, a))
    np.testing.assert_allclose(after[:, :2], A.warp_points(before[:, :2], a), atol=2e-3)
    # depth scales with the similarity (relative to the centroid: absolute depth has no pixel meaning)
    dz0, dz1 = before[:, 2] - before[:, 2].mean(), after[:, 2] - after[:, 2].mean()
    np.testing.assert_allclose(dz1, scale * dz0, rtol=1e-4, atol=1e-3)


def test_warped_image_moves_like_the_points():
    img = np.zeros((120, 120, 3), np.uint8)
    pts = np.array([[30.0, 40.0], [85.0, 70.0], [60.0, 95.0]])
    for x, y in pts.astype(int):
        img[y - 1:y + 2, x - 1:x + 2] = 255
    a = A.similarity_matrix(25, 1.1, (4, -3))
    out = A.warp_image(img, a)[..., 0].astype(float)
    for q in A.warp_points(pts, a):
        x, y = np.round(q).astype(int)
        win = out[y - 4:y + 5, x - 4:x + 5]
        yy, xx = np.mgrid[y - 4:y + 5, x - 4:x + 5]
        c = np.array([(xx * win).sum(), (yy * win).sum()]) / win.sum()
        np.testing.assert_allclose(c, q, atol=0.35)


def test_augment_batch_is_consistent_and_deterministic(rng):
    fm = toy_model(rng)
    p = np.stack([toy_params(rng) for _ in range(6)])
    lm = np.stack([crop_points(fm, q)[:, :2] for q in p])
    imgs = rng.integers(0, 256, (6, 120, 120, 3), dtype=np.uint8)
    cfg = A.AugmentConfig(p_geometric=1.0)
    i1, p1, l1 = A.augment_batch(imgs, p, lm, cfg, np.random.default_rng(5))
    i2, p2, l2 = A.augment_batch(imgs, p, lm, cfg, np.random.default_rng(5))
    assert i1.dtype == np.uint8 and i1.shape == imgs.shape
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(p1, p2)
    for q, pts in zip(p1, l1):
        np.testing.assert_allclose(crop_points(fm, q)[:, :2], pts, atol=3e-3)
    assert not np.allclose(p1, p)


def test_photometric_ops(rng):
    img = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    lm = np.zeros((68, 2), np.float32)
    p = np.zeros(62, np.float32)
    gray = A.AugmentConfig(p_geometric=0, p_color=0, p_gray=1, p_blur=0, p_lowres=0, p_occlude=0)
    out, p2, lm2 = A.augment_one(img, p, lm, gray, rng)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    np.testing.assert_array_equal(p2, p)
    occ = A.AugmentConfig(p_geometric=0, p_color=0, p_gray=0, p_blur=0, p_lowres=0, p_occlude=1)
    out, _, _ = A.augment_one(img, p, lm, occ, rng)
    assert 0 < (out != img).any(-1).mean() < 0.5
    blur = A.AugmentConfig(p_geometric=0, p_color=0, p_gray=0, p_blur=1, p_lowres=1, p_occlude=0)
    out, _, _ = A.augment_one(img, p, lm, blur, rng)
    assert out.astype(float).std() < img.astype(float).std()


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="rotat"):
        A.AugmentConfig.from_dict({"rotation": 3})
    assert A.AugmentConfig.from_dict({"scale": [0.8, 1.2]}).scale == (0.8, 1.2)
